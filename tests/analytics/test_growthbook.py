"""GrowthBook gbstats' public test vectors (notes/stats.md §6 A), to their printed precision.

Vectors from packages/stats/tests of growthbook/growthbook (MIT), re-derived in the notes.
T4/T5 (confidence sequences) and T6-T8 (Bayesian) test methods Paceline does not use.
"""

from __future__ import annotations

import pytest

from paceline.analytics.decisions import benjamini_hochberg, holm
from paceline.analytics.moments import BivariateMoments, Moments
from paceline.analytics.result import Estimate
from paceline.analytics.twosample import cuped, proportions, sample_ratio_p, welch, welch_df

DP5 = 5e-6


def _t1(control_n: int = 3407) -> tuple[Moments, Moments]:
    return Moments.from_sums(3461, 2422.7, 134698.29), Moments.from_sums(control_n, 1396.87, 52377.9767)


def test_t1_welch_absolute() -> None:
    a = welch(*_t1()).absolute
    assert a.estimate == pytest.approx(0.29, abs=DP5)
    assert a.se == pytest.approx(0.12478, abs=DP5)
    assert a.ci(0.05) == pytest.approx((0.04538, 0.53462), abs=DP5)
    assert a.p_value() == pytest.approx(0.02016, abs=DP5)
    assert a.df == pytest.approx(5841.74, abs=0.005)


def test_t1_welch_relative() -> None:
    r = welch(*_t1()).relative
    assert r is not None
    assert r.estimate == pytest.approx(0.70732, abs=DP5)
    assert r.se == pytest.approx(0.37879, abs=DP5)
    assert r.ci(0.05) == pytest.approx((-0.03526, 1.44989), abs=DP5)
    assert r.p_value() == pytest.approx(0.06191, abs=DP5)


def test_t2_binomial_relative() -> None:
    r = proportions(16, 30, 14, 28).relative
    assert r is not None
    # gbstats refers the relative effect to t with the Welch dof of the two p(1-p)/n variances.
    df = welch_df(16 / 30 * 14 / 30 / 30, 30, 0.25 / 28, 28)
    with_df = Estimate(r.estimate, r.se, df)
    assert r.estimate == pytest.approx(0.06667, abs=DP5)
    assert r.se == pytest.approx(0.2717, abs=5e-5)
    assert with_df.ci(0.05) == pytest.approx((-0.47767, 0.61101), abs=DP5)
    assert with_df.p_value() == pytest.approx(0.80707, abs=DP5)


def test_t3_one_sided_greater() -> None:
    effect = welch(*_t1(control_n=3000))
    a, r = effect.absolute, effect.relative
    assert r is not None
    assert (a.estimate, a.se) == pytest.approx((0.234377, 0.129831), abs=5e-7)
    assert a.bound(0.05, lower=True) == pytest.approx(0.020791, abs=5e-7)
    assert a.one_sided_p() == pytest.approx(0.035543, abs=5e-7)
    assert (r.estimate, r.se) == pytest.approx((0.503361, 0.333412), abs=5e-7)
    assert r.bound(0.05, lower=True) == pytest.approx(-0.045137, abs=5e-7)
    assert r.one_sided_p() == pytest.approx(0.065583, abs=5e-7)


def test_t9_srm() -> None:
    assert sample_ratio_p([1000, 1200], [0.5, 0.5]) == pytest.approx(0.000020079, abs=5e-10)


def test_t10_cuped_relative_with_the_exact_delta_method() -> None:
    control = BivariateMoments.from_sums(3001, 300, 600, 210, 415, -20)
    treatment = BivariateMoments.from_sums(3000, 222, 555, 120, 405, -10)
    result = cuped(treatment, control)
    assert result.theta == pytest.approx(-0.0732119, abs=5e-8)
    assert result.absolute.df == pytest.approx(5995.24, abs=0.005)
    assert result.relative is not None
    assert result.relative.estimate == pytest.approx(-0.281707154, abs=5e-10)
    # notes/stats.md: the exact delta method gives SE 0.096062 and z-p 0.00336 (gbstats' own
    # gradient convention gives 0.0971049 and p 0.003732549; Paceline documents the exact one).
    assert result.relative.se == pytest.approx(0.096062, abs=5e-7)
    assert Estimate(result.relative.estimate, result.relative.se).p_value() == pytest.approx(
        0.00336, abs=5e-6
    )


def test_t11_multiple_testing() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005, 0.55, 0.6]) == pytest.approx(
        [0.05, 0.12, 0.12, 0.03, 1, 1], abs=1e-12
    )
    assert benjamini_hochberg([0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138]) == pytest.approx(
        [0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415], abs=5e-5
    )
