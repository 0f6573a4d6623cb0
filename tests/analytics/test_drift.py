"""Drift statistics: PSI, KS, chi-square and the cell method, against scipy and numpy.

``NumpyEngine`` below does in numpy what the engine does in SQL (cells from the same
bin formula, values of refined cells sorted), so the pure method is tested on its own,
including ties, outliers and zoomed cells, against ``scipy.stats`` computed from the
raw values.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from paceline.analytics import drift_cells as dc
from paceline.analytics.drift import (
    ColumnDrift,
    DriftPolicy,
    DriftReport,
    Kind,
    Method,
    categorical_column,
    chi2_homogeneity,
    decide,
    ks_test,
    numeric_column,
    psi,
)

BINS = 64  # small, so that the fake engine's cells hold many values and refinement is exercised


def numpy_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """The definition of spec/interface.md, written independently (as in the monitoring notes)."""
    edges = np.quantile(ref, np.arange(1, 10) / 10)
    pr = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=10) / len(ref)
    pc = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=10) / len(cur)
    pr, pc = np.maximum(pr, 1e-4), np.maximum(pc, 1e-4)
    return float(np.sum((pc - pr) * np.log(pc / pr)))


class NumpyEngine:
    """The engine's side of the cell method in numpy: cells, order statistics, refinement."""

    def __init__(self, ref: np.ndarray, cur: np.ndarray, bins: int = BINS) -> None:
        self.ref, self.cur = np.sort(ref), np.sort(cur)
        self.origin = float(min(ref.min(), cur.min()))
        span = float(max(ref.max(), cur.max())) - self.origin
        self.scale = bins / span if span > 0 else 0.0
        self.width = span / bins
        self.bins = bins

    def keys(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.floor((x - self.origin) * self.scale), 0, self.bins - 1).astype(np.int64)

    def cells(self) -> dc.Cells:
        kr, kc = self.keys(self.ref), self.keys(self.cur)
        keys = np.union1d(kr, kc)
        ref = np.array([np.sum(kr == k) for k in keys])
        cur = np.array([np.sum(kc == k) for k in keys])
        return dc.Cells.from_arrays(
            key=keys,
            lo=keys * self.width,
            hi=(keys + 1) * self.width,
            ref=ref,
            cur=cur,
            ref_sum=[np.sum(self.ref[kr == k] - self.origin) for k in keys],
            cur_sum=[np.sum(self.cur[kc == k] - self.origin) for k in keys],
        )

    def refine(self, plan: dc.Refinement, n: int, m: int) -> dc.Refined:
        """What the engine returns for the refined cells, by brute force over their values."""
        kr, kc = self.keys(self.ref), self.keys(self.cur)
        ks, w1 = 0.0, 0.0
        for key, lo in zip(plan.keys, plan.lo, strict=True):
            values = np.unique(np.concatenate([self.ref[kr == key], self.cur[kc == key]]))
            after = np.abs(
                np.searchsorted(self.ref, values, side="right") / n
                - np.searchsorted(self.cur, values, side="right") / m
            )
            before = np.abs(
                np.searchsorted(self.ref, values, side="left") / n
                - np.searchsorted(self.cur, values, side="left") / m
            )
            ks = max(ks, float(after.max()))
            w1 += float(np.sum((values - lo) * (before - after)))
        values = [np.unique(np.concatenate([self.ref[kr == k], self.cur[kc == k]])) for k in plan.row_keys]
        keys = np.concatenate([np.full(v.size, k) for k, v in zip(plan.row_keys, values, strict=True)])
        x = np.concatenate(values)
        a = np.searchsorted(self.ref, x, side="right")
        b = np.searchsorted(self.cur, x, side="right")
        ca = a - np.searchsorted(self.ref, x, side="left")
        cb = b - np.searchsorted(self.cur, x, side="left")
        return dc.Refined(ks, w1, dc.CellRows(keys, x, ca, cb, a, b))

    def run(self, row_limit: int = dc.ROW_LIMIT) -> dc.NumericStats:
        n, m = self.ref.size, self.cur.size
        screen = dc.screen(self.cells(), self.origin, n, m)
        plan = dc.refinement(screen, dc.decile_ranks(n), row_limit)
        refined = self.refine(plan, n, m)
        edges = dc.deciles(plan, refined.rows)
        ref_le, cur_le, asks = dc.counts_at(plan, refined.rows, edges)
        for ask in asks:  # the engine's count at a decile whose cells were not returned
            ref_le[ask.decile] = np.sum(self.ref <= ask.edge)
            cur_le[ask.decile] = np.sum(self.cur <= ask.edge)
        return dc.finish(dc.settled(screen, plan), refined, edges, (ref_le, cur_le))


def scipy_ks(ref: np.ndarray, cur: np.ndarray) -> stats._stats_py.KstestResult:
    """``ks_2samp``, quiet when its exact branch gives up (it then uses the asymptotic one, as we do)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stats.ks_2samp(ref, cur)


def check_against_scipy(ref: np.ndarray, cur: np.ndarray, row_limit: int = dc.ROW_LIMIT) -> None:
    got = NumpyEngine(ref, cur).run(row_limit)
    assert np.array_equal(got.deciles, np.quantile(ref, np.arange(1, 10) / 10))
    expected = scipy_ks(ref, cur)
    statistic, p_value = ks_test(got.ks, ref.size, cur.size)
    # equal rationals a/n - b/m can round to neighbouring floats: scipy's max may pick another pair
    assert statistic == pytest.approx(expected.statistic, rel=1e-14)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
    assert got.wasserstein == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12, abs=1e-12)
    assert psi(got.ref_psi_counts, got.cur_psi_counts) == pytest.approx(numpy_psi(ref, cur), abs=1e-15)


def test_cell_method_matches_scipy_on_continuous_data() -> None:
    rng = np.random.default_rng(1)
    check_against_scipy(rng.normal(size=3000), rng.normal(0.05, 1.1, size=2500))


def test_cell_method_matches_scipy_with_ties_and_a_shifted_sample() -> None:
    rng = np.random.default_rng(2)
    check_against_scipy(rng.integers(0, 7, 2000).astype(float), rng.integers(1, 9, 1500).astype(float))


def test_cell_method_matches_scipy_when_one_bin_holds_nearly_everything() -> None:
    rng = np.random.default_rng(3)
    ref = np.append(rng.normal(size=1000), 1e6)
    check_against_scipy(ref, rng.normal(size=800))


def test_deciles_whose_cells_are_too_many_to_return_are_counted() -> None:
    """Reference with a gap at its median and the current sample inside the gap: the span is wide."""
    rng = np.random.default_rng(4)
    ref = np.concatenate([rng.uniform(0, 1, 500), rng.uniform(9, 10, 500)])
    check_against_scipy(ref, rng.uniform(1, 9, 800), row_limit=100)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=60),
    st.lists(st.integers(-20, 20), min_size=1, max_size=60),
    st.sampled_from([0.25, 1.0, 3.0]),
)
def test_cell_method_matches_scipy_on_any_small_sample(ref: list[int], cur: list[int], unit: float) -> None:
    check_against_scipy(np.array(ref) * unit, np.array(cur) * unit)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40))
def test_decile_ranks_and_lerp_reproduce_numpy_quantile(values: list[float]) -> None:
    x = np.sort(np.array(values))
    ranks = dc.decile_ranks(x.size)
    got = dc.lerp(x[ranks.below], x[ranks.above], ranks.gamma)
    assert np.array_equal(got, np.quantile(x, np.arange(1, 10) / 10))


def test_screen_settles_cells_without_values_when_the_sign_is_known() -> None:
    """Reference entirely left of current: F - G >= 0 everywhere, nothing to refine, W1 from sums."""
    ref, cur = np.arange(100, dtype=float), np.arange(100, dtype=float) + 1000
    engine = NumpyEngine(ref, cur)
    screen = dc.screen(engine.cells(), engine.origin, ref.size, cur.size)
    assert screen.edge_ks == 1.0
    assert not screen.unsettled.any()
    w1 = float(np.nansum(screen.cell_w1)) + screen.gap_w1
    assert w1 == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)


def test_heavy_cells_are_the_ones_holding_a_large_share() -> None:
    cells = dc.Cells.from_arrays(
        key=[0, 1, 2],
        lo=[0, 1, 2],
        hi=[1, 2, 3],
        ref=[90, 5, 5],
        cur=[0, 0, 0],
        ref_sum=[0, 0, 0],
        cur_sum=[0, 0, 0],
    )
    assert cells.heavy(0.5, 10).tolist() == [0]
    assert cells.heavy(0.01, 2).tolist() == [0, 1]


# --- p-values and PSI -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(5, 7), (40, 40), (300, 1000), (10_000, 9_000), (20_000, 15_000)])
def test_ks_test_reports_what_ks_2samp_reports(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.normal(0.1, size=m)
    expected = stats.ks_2samp(a, b)
    raw = float(
        np.max(
            np.abs(
                np.searchsorted(np.sort(a), np.sort(np.concatenate([a, b])), "right") / n
                - np.searchsorted(np.sort(b), np.sort(np.concatenate([a, b])), "right") / m
            )
        )
    )
    statistic, p = ks_test(raw, n, m)
    assert statistic == expected.statistic
    assert p == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)


def test_psi_clips_empty_bins_at_1e_4() -> None:
    assert psi(np.array([50, 50, 0]), np.array([50, 50, 0])) == 0.0
    expected = 2 * (1 - 1e-4) * math.log(1 / 1e-4)  # shares (1, 0) vs (0, 1), zeros clipped to 1e-4
    assert psi(np.array([100, 0]), np.array([0, 100])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([10, 20, 30], [12, 18, 33]), ([5, 0, 7], [1, 9, 2]), ([100], [50]), ([3, 4], [0, 9])],
)
def test_chi2_homogeneity_is_chi2_contingency_without_correction(ref: list[int], cur: list[int]) -> None:
    got = chi2_homogeneity(np.array(ref), np.array(cur))
    expected = stats.chi2_contingency(np.array([ref, cur]), correction=False)
    assert got.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert got.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert got.dof == expected.dof


def test_categorical_psi_pools_unseen_categories_into_one_bin() -> None:
    col = categorical_column("c", (100, 100, 0, 0), ["a", "b", "x", "y"], [60, 40, 0, 0], [50, 30, 10, 10])
    expected = psi(np.array([60, 40, 0]), np.array([50, 30, 20]))
    assert col.psi == pytest.approx(expected)
    chi = stats.chi2_contingency(np.array([[60, 40, 0, 0], [50, 30, 10, 10]]), correction=False)
    assert col.chi2_p_value == pytest.approx(chi.pvalue)
    assert col.bins["categories"] == ["a", "b", "x", "y"]


# --- decisions and the document ----------------------------------------------------------------


def _numeric(name: str, psi_value: float, ks: float, p: float) -> ColumnDrift:
    return ColumnDrift(
        name, Kind.NUMERIC, 1000, 1000, 0, 0, psi=psi_value, ks=ks, ks_p_value=p, wasserstein=1.0
    )


def test_default_policy_flags_psi_at_or_above_0_2() -> None:
    cols = decide([_numeric("a", 0.2, 0.1, 0.0), _numeric("b", 0.19, 0.3, 0.0)], DriftPolicy())
    assert [(c.drifted, c.method, c.threshold) for c in cols] == [
        (True, Method.PSI, 0.2),
        (False, Method.PSI, 0.2),
    ]


def test_ks_test_uses_bonferroni_and_an_effect_floor() -> None:
    policy = DriftPolicy(numeric_method=Method.KS_TEST)
    cols = decide(
        [_numeric("a", 0, 0.2, 0.02), _numeric("b", 0, 0.2, 0.01), _numeric("c", 0, 0.01, 1e-9)], policy
    )
    assert [c.drifted for c in cols] == [False, True, False]  # 0.02 > 0.05/3; c is below the floor
    assert cols[0].threshold == pytest.approx(0.05 / 3)


def test_chi2_method_needs_cramers_v_above_the_floor() -> None:
    small = ColumnDrift(
        "s", Kind.CATEGORICAL, 10**6, 10**6, 0, 0, psi=0.001, chi2_p_value=1e-6, cramers_v=0.01
    )
    big = ColumnDrift("b", Kind.CATEGORICAL, 10**6, 10**6, 0, 0, psi=0.3, chi2_p_value=1e-6, cramers_v=0.2)
    cols = decide([small, big], DriftPolicy(categorical_method=Method.CHI2))
    assert [c.drifted for c in cols] == [False, True]


def test_a_side_without_values_is_decided_by_the_missing_method() -> None:
    gone = ColumnDrift("g", Kind.NUMERIC, 1000, 0, 0, 1000)
    (col,) = decide([gone], DriftPolicy())
    assert col.drifted and col.method is Method.MISSING and col.missing_share == 1.0


def test_policy_problems_name_the_setting() -> None:
    assert DriftPolicy().problems() == []
    assert DriftPolicy(numeric_method=Method.WASSERSTEIN).problems()[0][0] == "wasserstein"
    assert DriftPolicy(numeric_method=Method.CHI2).problems()[0][0] == "numeric_method"
    assert DriftPolicy(alpha=1.5).problems()[0][0] == "alpha"


def test_report_document_has_the_spec_keys_in_order() -> None:
    col = numeric_column(
        "amount",
        (1000, 1000, 0, 10),
        ks_test(0.12, 1000, 1000),
        14.2,
        np.arange(9, dtype=float),
        np.full(10, 100, dtype=np.int64),
        np.full(10, 100, dtype=np.int64),
    )
    report = DriftReport(1000, 1010, decide([col], DriftPolicy()))
    doc = report.to_dict()
    assert list(doc) == ["reference_rows", "current_rows", "drifted_share", "columns"]
    keys = list(doc["columns"][0])
    assert keys[:9] == [
        "column",
        "kind",
        "psi",
        "ks",
        "ks_p_value",
        "wasserstein",
        "drifted",
        "method",
        "threshold",
    ]
    assert doc["columns"][0]["missing_share"] == pytest.approx(10 / 1010)
    assert doc["drifted_share"] == 0.0
