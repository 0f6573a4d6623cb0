"""Group-sequential bounds: published values, and the error rate they promise by Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from paceline.analytics.sequential import group_sequential_bounds, obrien_fleming_bounds, spent


@pytest.mark.parametrize(
    ("looks", "expected"),
    [
        # Lan-DeMets O'Brien-Fleming-type, two-sided alpha = 0.05, equal spacing (the values of
        # R ldbounds / gsDesign sfLDOF tabulated in the group-sequential literature, 4 dp).
        (3, [3.7103, 2.5114, 1.9930]),
        (4, [4.3326, 2.9631, 2.3590, 2.0141]),
        (5, [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]),
    ],
)
def test_two_sided_obrien_fleming_bounds(looks: int, expected: list[float]) -> None:
    assert obrien_fleming_bounds(looks) == pytest.approx(expected, abs=1.5e-4)


def test_one_sided_bounds_match_seqbounds_jl() -> None:
    """PharmCat/SeqBounds.jl README: one-sided OBF, alpha = 0.05, looks at 1/4 … 1 (grid h = 0.05)."""
    b = group_sequential_bounds([0.25, 0.5, 0.75, 1.0], alpha=0.05, sides=1)
    assert b.z == pytest.approx([3.74955, 2.53993, 2.01604, 1.72014], abs=1e-4)
    assert b.nominal_p[0] == pytest.approx(8.85754e-5, rel=1e-5)


def test_first_bound_is_the_spent_quantile_and_final_spend_is_alpha() -> None:
    b = group_sequential_bounds([0.3, 0.7, 1.0])
    assert b.z[0] == pytest.approx(stats.norm.isf(spent(0.3, 0.025, "obrien_fleming")), rel=1e-12)
    assert b.cumulative_alpha[-1] == pytest.approx(0.05, rel=1e-12)
    assert group_sequential_bounds(1).z[0] == pytest.approx(stats.norm.isf(0.025), rel=1e-12)


def test_pocock_bounds_are_nearly_flat() -> None:
    z = group_sequential_bounds(5, spending="pocock").z
    assert z == pytest.approx([2.438, 2.427, 2.410, 2.397, 2.386], abs=1e-3)


@pytest.mark.parametrize(("fractions", "sides"), [([0.25, 0.5, 0.75, 1.0], 2), ([0.2, 0.5, 1.0], 1)])
def test_monte_carlo_error_rate_is_alpha(fractions: list[float], sides: int) -> None:
    b = group_sequential_bounds(fractions, alpha=0.05, sides=sides)
    rng = np.random.default_rng(1)
    sims = 400_000
    steps = np.diff(np.r_[0.0, fractions])
    walk = np.cumsum(rng.normal(size=(sims, len(fractions))) * np.sqrt(steps), axis=1)
    z = walk / np.sqrt(fractions)
    stat = np.abs(z) if sides == 2 else z
    rate = float((stat >= np.array(b.z)).any(axis=1).mean())
    assert rate == pytest.approx(0.05, abs=3 * np.sqrt(0.05 * 0.95 / sims))


def test_first_crossing() -> None:
    b = group_sequential_bounds(4)
    assert b.first_crossing([1.0, -3.1, 0.5]) == 1
    assert b.first_crossing([1.0, 2.0, 2.2, 1.9]) is None


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError):
        group_sequential_bounds([0.5, 0.4, 1.0])
    with pytest.raises(ValueError):
        group_sequential_bounds(3, spending="haybittle")
