"""CR2 and Bell-McCaffrey df under the two-component working model (unit and unit-cell random
effects): the cell algebra equals row-level brute force (tests/analytics/reference.py), the
estimator is exactly unbiased under its working model, and the simpler models are special cases."""

from __future__ import annotations

import numpy as np
import pytest

from paceline.analytics.ols import CellData, CovType, OlsFit, covariance, did_regressors, fit
from paceline.analytics.robust import (
    IID,
    WorkingModel,
    bell_mccaffrey_df,
    cr2_covariance,
    residual_icc,
    working_model,
)
from tests.analytics.reference import (
    bm_df_rows_model,
    bm_df_rows_rho,
    cr2_rows,
    cr2_rows_model,
    cr2_weights_rows,
    rows_to_cells,
    working_model_rows,
    working_sigma,
)


def _panel(seed: int, units: int = 9, shift_sd: float = 0.8) -> tuple[np.ndarray, ...]:
    """A did panel whose units shift by their own amount between the periods (the cell component)."""
    rng = np.random.default_rng(seed)
    tasks = rng.integers(1, 14, units)
    unit = np.repeat(np.arange(units), tasks)
    treated = (np.arange(units) % 3 == 0)[unit]
    post = rng.integers(0, 2, unit.size).astype(bool)
    cell = unit * 2 + post
    y = 1 + 0.3 * treated + 0.2 * post + rng.normal(0, 0.8, units)[unit]
    y = y + rng.normal(0, shift_sd, 2 * units)[cell] + rng.normal(0, 1, unit.size)
    return did_regressors(treated, post), y, unit, cell


def _fit(z: np.ndarray, y: np.ndarray, unit: np.ndarray, cell: np.ndarray) -> OlsFit:
    zc, n, mean, m2, first = rows_to_cells(z, y, cell)
    return fit(CellData(zc, n, mean, m2, np.unique(unit[first], return_inverse=True)[1]))


@pytest.mark.parametrize(
    ("seed", "shares"), [(10, "both"), (14, "both"), (11, "unit only"), (21, "cell only")]
)
def test_working_model_cr2_and_df_equal_the_row_level_formulas(seed: int, shares: str) -> None:
    z, y, unit, cell = _panel(seed)
    result = _fit(z, y, unit, cell)
    model = working_model(result)
    assert (model.unit > 0, model.cell > 0) == {
        "both": (True, True),
        "unit only": (True, False),
        "cell only": (False, True),
    }[shares]
    assert (model.unit, model.cell) == pytest.approx(working_model_rows(z, y, unit, cell), rel=1e-9)
    for adjust in (IID, model, WorkingModel(0.3, 0.4)):
        vcov = cr2_rows_model(z, y, unit, cell, adjust.unit, adjust.cell)
        np.testing.assert_allclose(cr2_covariance(result, adjust), vcov, rtol=1e-9, atol=1e-14)
        for j in range(4):
            contrast = np.eye(4)[j]
            for sigma in (IID, model, WorkingModel(0.5, 0.2)):
                expected = bm_df_rows_model(
                    z, unit, cell, contrast, (sigma.unit, sigma.cell), (adjust.unit, adjust.cell)
                )
                assert bell_mccaffrey_df(result, contrast, sigma, adjust) == pytest.approx(expected, rel=1e-9)


def test_cr2_is_unbiased_under_its_working_model() -> None:
    """E[V_CR2] = Var(l'β̂) exactly when Var ε = Φ (Pustejovsky & Tipton 2018, Theorem 1)."""
    z, _, unit, cell = _panel(14)
    contrast = np.array([0.0, 0.0, 0.0, 1.0])
    bread = np.linalg.inv(z.T @ z)
    for unit_share, cell_share in ((0.0, 0.0), (0.3, 0.1), (0.1, 0.5)):
        phi = working_sigma(unit, cell, unit_share, cell_share)
        truth = contrast @ bread @ z.T @ phi @ z @ bread @ contrast
        weights = cr2_weights_rows(z, unit, cell, contrast, (unit_share, cell_share))
        assert np.einsum("ig,ij,jg->", weights, phi, weights) == pytest.approx(truth, rel=1e-9)
        if unit_share or cell_share:  # the textbook (identity) adjustment is not, under this Φ
            plain = cr2_weights_rows(z, unit, cell, contrast, (0.0, 0.0))
            assert np.einsum("ig,ij,jg->", plain, phi, plain) != pytest.approx(truth, rel=1e-3)


def test_one_cell_per_cluster_is_the_single_icc_model() -> None:
    """Randomised designs (one cell per unit): the model is Imbens & Kolesár's single ICC."""
    z, y, unit, _ = _panel(15, units=12)
    z = z[:, :2]
    result = _fit(z, y, unit, unit)
    model = working_model(result)
    assert model == WorkingModel(unit=residual_icc(result))
    contrast = np.array([0.0, 1.0])
    assert bell_mccaffrey_df(result, contrast, model) == pytest.approx(
        bm_df_rows_rho(z, unit, contrast, model.unit), rel=1e-9
    )


def test_one_row_per_cell_has_no_cell_component() -> None:
    """A unit's period as one row (person-phase values): a cell shift is the row's own error."""
    rng = np.random.default_rng(16)
    units = 30
    unit = np.repeat(np.arange(units), 2)
    post = np.tile([False, True], units)
    treated = (np.arange(units) % 2 == 0)[unit]
    y = rng.normal(0, 1, units)[unit] + rng.normal(0, 0.5, unit.size)
    z = did_regressors(treated, post)
    result = _fit(z, y, unit, unit * 2 + post)
    model = working_model(result)
    assert model.cell == 0 and 0 < model.unit < 0.99


def test_identity_working_model_is_the_textbook_cr2() -> None:
    z, y, unit, cell = _panel(17)
    result = _fit(z, y, unit, cell)
    vcov, _ = cr2_rows(z, y, unit)
    np.testing.assert_allclose(cr2_covariance(result, IID), vcov, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(cr2_covariance(result), vcov, rtol=1e-9, atol=1e-14)


def test_many_clusters_are_cheap_and_close_to_cr1() -> None:
    """Thousands of clusters: O(G) memory (no G x G matrix) and CR2 within 1% of CR1's variance."""
    rng = np.random.default_rng(18)
    units = 4000
    tasks = 1 + rng.negative_binomial(2, 2 / 31, units)
    unit = np.repeat(np.arange(units), tasks)
    post = rng.integers(0, 2, unit.size).astype(bool)
    treated = (np.arange(units) % 2 == 0)[unit]
    y = rng.normal(0, 0.5, units)[unit] + rng.normal(0, 0.3, 2 * units)[unit * 2 + post]
    y = y + rng.normal(0, 1, unit.size)
    result = _fit(did_regressors(treated, post), y, unit, unit * 2 + post)
    model = working_model(result)
    contrast = np.array([0.0, 0.0, 0.0, 1.0])
    cr2 = contrast @ cr2_covariance(result, model) @ contrast
    cr1 = contrast @ covariance(result, CovType.CR1) @ contrast
    assert cr2 == pytest.approx(cr1, rel=0.01)
    assert 100 < bell_mccaffrey_df(result, contrast, model, model) < units


def test_working_model_shares_are_validated() -> None:
    with pytest.raises(ValueError, match="shares"):
        WorkingModel(0.6, 0.5)
    with pytest.raises(ValueError, match="shares"):
        WorkingModel(-0.1, 0.0)
