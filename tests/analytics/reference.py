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
