"""OLS from cell moments = statsmodels OLS on the rows (1e-8); CR2, BM df and the wild bootstrap
against row-level brute force written from the textbook formulas (tests/analytics/reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from paceline.analytics.bootstrap import webb_weights, wild_cluster_bootstrap
from paceline.analytics.moments import Moments
from paceline.analytics.ols import CellData, CovType, SingularDesign, covariance, did_regressors, fit
from paceline.analytics.robust import bell_mccaffrey_df, cr2_covariance, residual_icc
from paceline.analytics.twosample import welch
from tests.analytics.reference import bm_df_rows, bm_df_rows_rho, cr2_rows, residual_icc_rows, rows_to_cells

TOL = 1e-8


def _did_rows(seed: int, units: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tasks = rng.integers(1, 25, units)
    unit = np.repeat(np.arange(units), tasks)
    treated = (np.arange(units) % 3 == 0)[unit]
    post = rng.integers(0, 2, unit.size).astype(bool)
    y = 5 + 0.4 * treated + 0.2 * post + 0.3 * (treated & post) + rng.normal(0, 1, units)[unit]
    y = y + rng.normal(0, 1 + treated, unit.size)
    return did_regressors(treated, post), y, unit, unit * 2 + post


def _cells(z: np.ndarray, y: np.ndarray, keys: np.ndarray, unit: np.ndarray | None) -> CellData:
    zc, n, mean, m2, first = rows_to_cells(z, y, keys)
    return CellData(zc, n, mean, m2, None if unit is None else np.unique(unit[first], return_inverse=True)[1])


@pytest.mark.parametrize("cov", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
def test_did_without_unit_equals_statsmodels(cov: str) -> None:
    z, y, _, _ = _did_rows(1)
    keys = z[:, 1] * 2 + z[:, 2]
    result = fit(_cells(z, y, keys.astype(int), None))
    ref = sm.OLS(y, z).fit(cov_type=cov)
    np.testing.assert_allclose(result.beta, ref.params, rtol=TOL)
    np.testing.assert_allclose(covariance(result, CovType(cov)), ref.cov_params(), rtol=TOL, atol=1e-14)


def test_did_clustered_equals_statsmodels_cr1() -> None:
    z, y, unit, keys = _did_rows(2)
    result = fit(_cells(z, y, keys, unit))
    ref = sm.OLS(y, z).fit(cov_type="cluster", cov_kwds={"groups": unit}, use_t=True)
    np.testing.assert_allclose(result.beta, ref.params, rtol=TOL)
    np.testing.assert_allclose(covariance(result, CovType.CR1), ref.cov_params(), rtol=TOL, atol=1e-14)
    assert ref.df_resid_inference == result.data.n_clusters - 1


def test_ancova_with_unit_covariate_equals_statsmodels() -> None:
    rng = np.random.default_rng(3)
    units = 60
    tasks = rng.integers(1, 30, units)
    unit = np.repeat(np.arange(units), tasks)
    pre = rng.normal(3, 1, units)
    treated = (np.arange(units) < 30).astype(float)
    y = 1 + 0.2 * treated[unit] + 0.8 * pre[unit] + rng.normal(0, 1, unit.size)
    x = np.column_stack([np.ones(unit.size), treated[unit], pre[unit] - 3])
    result = fit(_cells(x, y, unit, unit))
    ref = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": unit})
    np.testing.assert_allclose(result.beta, ref.params, rtol=TOL)
    np.testing.assert_allclose(covariance(result, CovType.CR1), ref.cov_params(), rtol=TOL, atol=1e-14)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_cr2_and_bell_mccaffrey_df_equal_the_row_level_formulas(seed: int) -> None:
    z, y, unit, keys = _did_rows(seed, units=9)
    result = fit(_cells(z, y, keys, unit))
    vcov_rows, _ = cr2_rows(z, y, unit)
    np.testing.assert_allclose(cr2_covariance(result), vcov_rows, rtol=1e-9, atol=1e-14)
    for j in range(4):
        contrast = np.eye(4)[j]
        assert bell_mccaffrey_df(result, contrast) == pytest.approx(bm_df_rows(z, unit, contrast), rel=1e-9)
        for rho in (0.15, 0.7):
            assert bell_mccaffrey_df(result, contrast, rho) == pytest.approx(
                bm_df_rows_rho(z, unit, contrast, rho), rel=1e-9
            )
    assert residual_icc(result) == pytest.approx(residual_icc_rows(z, y, unit), rel=1e-9)


def test_cr2_with_one_row_per_cluster_is_hc2_and_welch() -> None:
    """A known identity: HC2 for a difference in means is Welch's (Neyman's) variance."""
    rng = np.random.default_rng(8)
    t, c = rng.normal(1, 2, 12), rng.normal(0, 1, 19)
    y = np.concatenate([t, c])
    z = np.column_stack([np.ones(y.size), np.r_[np.ones(t.size), np.zeros(c.size)]])
    idx = np.arange(y.size)
    result = fit(CellData(z, np.ones(y.size, dtype=int), y, np.zeros(y.size), idx))
    w = welch(Moments.from_values(t), Moments.from_values(c)).absolute
    assert np.sqrt(cr2_covariance(result)[1, 1]) == pytest.approx(w.se, rel=1e-10)
    assert np.sqrt(covariance(result, CovType.HC2)[1, 1]) == pytest.approx(w.se, rel=1e-10)
    # Bell-McCaffrey df = the Welch-Satterthwaite formula under the working model's equal variances.
    n1, n0 = t.size, c.size
    expected = (1 / n1 + 1 / n0) ** 2 / (1 / (n1**2 * (n1 - 1)) + 1 / (n0**2 * (n0 - 1)))
    assert bell_mccaffrey_df(result, np.array([0.0, 1.0])) == pytest.approx(expected, rel=1e-9)


def test_wild_bootstrap_equals_refitting_the_rows() -> None:
    z, y, unit, keys = _did_rows(9, units=10)
    result = fit(_cells(z, y, keys, unit))
    weights = webb_weights(199, 10, seed=3)
    contrast = np.array([0.0, 0.0, 0.0, 1.0])
    boot = wild_cluster_bootstrap(result, contrast, weights)
    base = sm.OLS(y, z).fit()
    expected = []
    for v in weights:
        ystar = base.fittedvalues + v[unit] * base.resid
        refit = sm.OLS(ystar, z).fit(cov_type="cluster", cov_kwds={"groups": unit})
        expected.append(abs(refit.params[3] - base.params[3]) / refit.bse[3])
    np.testing.assert_allclose(boot.abs_t_draws, np.sort(expected), rtol=1e-9)
    assert boot.se == pytest.approx(
        sm.OLS(y, z).fit(cov_type="cluster", cov_kwds={"groups": unit}).bse[3], rel=TOL
    )
    assert 0 <= boot.p_value() <= 1
    low, high = boot.ci(0.05)
    assert low < boot.estimate < high


def test_webb_weights_are_seeded_and_six_valued() -> None:
    a, b = webb_weights(500, 7, seed=1), webb_weights(500, 7, seed=1)
    assert np.array_equal(a, b)
    assert np.allclose(
        sorted(set(np.round(a.ravel(), 12))),
        np.round([-(1.5**0.5), -1, -(0.5**0.5), 0.5**0.5, 1, 1.5**0.5], 12),
    )


def test_collinear_design_raises_singular() -> None:
    z = did_regressors(np.array([1, 1, 0, 0]), np.array([0, 0, 0, 0]))
    with pytest.raises(SingularDesign):
        fit(CellData(z, np.array([3, 3, 3, 3]), np.array([1.0, 2, 3, 4]), np.ones(4)))


def test_wild_bootstrap_default_draws_are_the_seeded_webb_weights() -> None:
    z, y, unit, keys = _did_rows(10, units=12)
    result = fit(_cells(z, y, keys, unit))
    contrast = np.array([0.0, 0.0, 0.0, 1.0])
    default = wild_cluster_bootstrap(result, contrast)
    explicit = wild_cluster_bootstrap(result, contrast, webb_weights(9999, 12))
    np.testing.assert_array_equal(default.abs_t_draws, explicit.abs_t_draws)
    assert default.p_value() == wild_cluster_bootstrap(result, contrast).p_value()
