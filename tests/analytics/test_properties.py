"""Invariants that must hold for any data (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paceline.analytics.moments import Moments
from paceline.analytics.pilot import Design, PilotCells, PilotSpec, evaluate_cells
from paceline.analytics.result import PilotResult

values = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=30)
scales = st.floats(0.01, 100.0) | st.floats(-100.0, -0.01)


@st.composite
def clustered(draw: st.DrawFn, did: bool = False) -> tuple[PilotCells, PilotSpec]:
    """Random clustered pilots: 2-12 units per arm, 1-8 rows per cell."""
    per_arm = draw(st.integers(2, 12))
    units = 2 * per_arm
    periods = 2 if did else 1
    cells = units * periods
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 9, cells)
    mean = rng.normal(10, 3, cells)
    m2 = rng.gamma(2.0, 1.0, cells) * (n - 1)
    unit = np.repeat(np.arange(units), periods)
    treated = unit < per_arm
    post = np.tile([False, True], units) if did else None
    spec = PilotSpec(Design.DID if did else Design.AB, "y", se=draw(st.sampled_from(["auto", "cluster_CR1"])))
    return PilotCells(treated, n, mean, m2, post, unit), spec


def _scaled(cells: PilotCells, a: float, b: float) -> PilotCells:
    return PilotCells(cells.treated, cells.n, a * cells.mean + b, a * a * cells.m2, cells.post, cells.unit)


def _swapped(cells: PilotCells) -> PilotCells:
    return PilotCells(~cells.treated, cells.n, cells.mean, cells.m2, cells.post, cells.unit)


def _pair(result: PilotResult) -> tuple[float, float]:
    assert result.estimate is not None
    return result.estimate.estimate, result.estimate.se


@settings(max_examples=60, deadline=None)
@given(st.booleans().flatmap(clustered))
def test_swapping_arms_flips_the_sign(case: tuple[PilotCells, PilotSpec]) -> None:
    cells, spec = case
    est, se = _pair(evaluate_cells(cells, spec))
    est2, se2 = _pair(evaluate_cells(_swapped(cells), spec))
    assert est2 == pytest.approx(-est, rel=1e-9, abs=1e-9)
    assert se2 == pytest.approx(se, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.booleans().flatmap(clustered), scales, st.floats(-1e3, 1e3))
def test_affine_outcome_scales_estimate_and_se(
    case: tuple[PilotCells, PilotSpec], a: float, b: float
) -> None:
    cells, spec = case
    base = evaluate_cells(cells, spec)
    moved = evaluate_cells(_scaled(cells, a, b), spec)
    est, se = _pair(base)
    est2, se2 = _pair(moved)
    assert est2 == pytest.approx(a * est, rel=1e-7, abs=1e-7 * abs(a) * se)
    assert se2 == pytest.approx(abs(a) * se, rel=1e-7)
    assert moved.p_value == pytest.approx(base.p_value, rel=1e-6, abs=1e-12)
    assert moved.estimate is not None and base.estimate is not None
    assert moved.estimate.df == pytest.approx(base.estimate.df, rel=1e-7)


@settings(max_examples=80, deadline=None)
@given(values, values, scales)
def test_welch_swap_and_scale(t: list[float], c: list[float], a: float) -> None:
    arms = np.array([True, False])

    def cells(tv: list[float], cv: list[float], k: float) -> PilotCells:
        mt, mc = Moments.from_values(np.array(tv) * k), Moments.from_values(np.array(cv) * k)
        return PilotCells(
            arms, np.array([mt.n, mc.n]), np.array([mt.mean, mc.mean]), np.array([mt.m2, mc.m2])
        )

    spec = PilotSpec(Design.AB, "y")
    base = evaluate_cells(cells(t, c, 1.0), spec)
    if base.estimate is None:  # both arms constant: a failing check, never an exception
        assert not base.ok
        return
    est, se = _pair(base)
    assert _pair(evaluate_cells(cells(c, t, 1.0), spec))[0] == pytest.approx(-est, rel=1e-9, abs=1e-9)
    est2, se2 = _pair(evaluate_cells(cells(t, c, a), spec))
    assert se2 == pytest.approx(abs(a) * se, rel=1e-7)
    assert est2 == pytest.approx(a * est, rel=1e-7, abs=1e-7 * abs(a) * se)


@settings(max_examples=80, deadline=None)
@given(st.lists(values, min_size=1, max_size=6))
def test_moments_combine_in_any_grouping(groups: list[list[float]]) -> None:
    total = Moments(0, 0.0, 0.0)
    for g in groups:
        total = total + Moments.from_values(g)
    flat = Moments.from_values([v for g in groups for v in g])
    assert total.n == flat.n
    assert total.mean == pytest.approx(flat.mean, rel=1e-9, abs=1e-9)
    assert total.m2 == pytest.approx(flat.m2, rel=1e-7, abs=1e-6)
