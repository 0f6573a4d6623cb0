"""Row-level reference implementations, written from the textbook formulas and independent of
the cell algebra in paceline.analytics: the tests compare the two."""

from __future__ import annotations

import numpy as np


def _inv_sqrt(mat: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(mat)
    ok = vals > 1e-12
    return (vecs * np.where(ok, np.where(ok, vals, 1.0) ** -0.5, 0.0)) @ vecs.T


def cr2_rows(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CR2 covariance and the row-level adjustment matrices' Gram pieces, by brute force."""
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ y
    e = y - x @ beta
    meat = np.zeros((x.shape[1], x.shape[1]))
    for g in np.unique(groups):
        rows = groups == g
        xg = x[rows]
        a = _inv_sqrt(np.eye(rows.sum()) - xg @ bread @ xg.T)
        u = xg.T @ a @ e[rows]
        meat += np.outer(u, u)
    return bread @ meat @ bread, beta


def bm_df_rows(x: np.ndarray, groups: np.ndarray, contrast: np.ndarray) -> float:
    """Bell-McCaffrey df: Satterthwaite on Σ_g (a_g'ε)² with a_g = (I-H)_{·g} A_g X_g M l."""
    n = x.shape[0]
    bread = np.linalg.inv(x.T @ x)
    resid_maker = np.eye(n) - x @ bread @ x.T
    cols = []
    for g in np.unique(groups):
        rows = groups == g
        xg = x[rows]
        a = _inv_sqrt(np.eye(rows.sum()) - xg @ bread @ xg.T)
        cols.append(resid_maker[:, rows] @ a @ xg @ bread @ contrast)
    gm = np.column_stack(cols)
    omega = gm.T @ gm
    return float(np.trace(omega) ** 2 / (omega**2).sum())


def rows_to_cells(
    z_rows: np.ndarray, y: np.ndarray, keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group rows by an integer cell key: (z, n, mean, m2, first row index) per cell."""
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    n = np.bincount(inv).astype(float)
    mean = np.bincount(inv, weights=y) / n
    m2 = np.bincount(inv, weights=(y - mean[inv]) ** 2)
    return z_rows[first], n, mean, m2, first


def bm_df_rows_rho(x: np.ndarray, groups: np.ndarray, contrast: np.ndarray, rho: float) -> float:
    """Satterthwaite df of the CR2 variance under Var ε = (1 - rho) I + rho · block ones, by brute force."""
    n = x.shape[0]
    bread = np.linalg.inv(x.T @ x)
    resid_maker = np.eye(n) - x @ bread @ x.T
    cols = []
    for g in np.unique(groups):
        rows = groups == g
        xg = x[rows]
        a = _inv_sqrt(np.eye(rows.sum()) - xg @ bread @ xg.T)
        cols.append(resid_maker[:, rows] @ a @ xg @ bread @ contrast)
    b = np.column_stack(cols)
    sigma = (1 - rho) * np.eye(n) + rho * (groups[:, None] == groups[None, :])
    psi = b.T @ sigma @ b
    return float(np.trace(psi) ** 2 / (psi**2).sum())


def residual_icc_rows(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    e = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    total = float(e @ e) / e.size
    num = den = 0.0
    for g in np.unique(groups):
        eg = e[groups == g]
        num += eg.sum() ** 2 - eg @ eg
        den += eg.size * (eg.size - 1)
    return min(max(num / den / total, 0.0), 0.99)


def _power_rows(mat: np.ndarray, p: float) -> np.ndarray:
    vals, vecs = np.linalg.eigh(mat)
    ok = vals > 1e-12 * max(vals.max(), 1.0)
    return (vecs * np.where(ok, np.where(ok, vals, 1.0) ** p, 0.0)) @ vecs.T


def working_sigma(groups: np.ndarray, cells: np.ndarray, unit: float, cell: float) -> np.ndarray:
    """Var ε = (1 - unit - cell) I + unit · (ones within a cluster) + cell · (ones within a cell)."""
    same_group = groups[:, None] == groups[None, :]
    same_cell = cells[:, None] == cells[None, :]
    return (1 - unit - cell) * np.eye(groups.size) + unit * same_group + cell * same_cell


def cr2_adjustments_rows(
    x: np.ndarray, groups: np.ndarray, cells: np.ndarray, unit: float, cell: float
) -> dict[int, np.ndarray]:
    """Pustejovsky & Tipton (2018) eq. 8 with the symmetric root, on the rows:
    A_g = Φ_g^½ (Φ_g^½ M_g Φ_g^½)^{-½} Φ_g^½ (Moore-Penrose), M_g = (I - H)_{g·} Φ (I - H)_{·g};
    for Φ = I, A_g = (I - H_gg)^{-½}."""
    n = x.shape[0]
    phi = working_sigma(groups, cells, unit, cell)
    resid_maker = np.eye(n) - x @ np.linalg.inv(x.T @ x) @ x.T
    out = {}
    for g in np.unique(groups):
        rows = groups == g
        m = resid_maker[rows] @ phi @ resid_maker[:, rows]
        half = _power_rows(phi[np.ix_(rows, rows)], 0.5)
        out[int(g)] = half @ _power_rows(half @ m @ half, -0.5) @ half
    return out


def cr2_rows_model(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, cells: np.ndarray, unit: float, cell: float
) -> np.ndarray:
    """The CR2 covariance with the working-model adjustment, on the rows."""
    bread = np.linalg.inv(x.T @ x)
    e = y - x @ bread @ x.T @ y
    meat = np.zeros((x.shape[1], x.shape[1]))
    for g, a in cr2_adjustments_rows(x, groups, cells, unit, cell).items():
        rows = groups == g
        u = x[rows].T @ a @ e[rows]
        meat += np.outer(u, u)
    return bread @ meat @ bread


def cr2_weights_rows(
    x: np.ndarray, groups: np.ndarray, cells: np.ndarray, contrast: np.ndarray, adjust: tuple[float, float]
) -> np.ndarray:
    """The columns a_g = (I - H)_{·g} A_g X_g (X'X)⁻¹ l: the CR2 variance of l'β is Σ_g (a_g'ε)²."""
    n = x.shape[0]
    bread = np.linalg.inv(x.T @ x)
    resid_maker = np.eye(n) - x @ bread @ x.T
    cols = []
    for g, a in cr2_adjustments_rows(x, groups, cells, *adjust).items():
        rows = groups == g
        cols.append(resid_maker[:, rows] @ a @ x[rows] @ bread @ contrast)
    return np.column_stack(cols)


def bm_df_rows_model(
    x: np.ndarray,
    groups: np.ndarray,
    cells: np.ndarray,
    contrast: np.ndarray,
    sigma: tuple[float, float],
    adjust: tuple[float, float],
) -> float:
    """Satterthwaite df of the CR2 variance (adjusted under ``adjust``) when Var ε ∝ Σ(``sigma``)."""
    b = cr2_weights_rows(x, groups, cells, contrast, adjust)
    psi = b.T @ working_sigma(groups, cells, *sigma) @ b
    return float(np.trace(psi) ** 2 / (psi**2).sum())


def working_model_rows(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, cells: np.ndarray
) -> tuple[float, float]:
    """Mean residual products over pairs of rows in one cell, and in one cluster but different cells."""
    e = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    total = float(e @ e) / e.size
    off = ~np.eye(e.size, dtype=bool)
    prod = np.outer(e, e)
    same_cell = (cells[:, None] == cells[None, :]) & off
    across = (groups[:, None] == groups[None, :]) & (cells[:, None] != cells[None, :])
    within = prod[same_cell].mean() / total if same_cell.any() else None
    cross = prod[across].mean() / total if across.any() else None
    if cross is None:
        return min(max(within or 0.0, 0.0), 0.99), 0.0
    unit = min(max(cross, 0.0), 0.99)
    return unit, 0.0 if within is None else min(max(within - unit, 0.0), 0.99 - unit)
