"""Small-cluster inference: CR2 (Bell-McCaffrey) with Satterthwaite degrees of freedom.

Paceline's ``cluster_CR2`` uses the random-effects working model with the residual
intra-cluster correlation for the degrees of freedom, as Imbens & Kolesár (2016)
recommend: with unequal cluster sizes the homoskedastic model's df are too large and
the test too liberal.

CR1 and a normal or t(G - 1) reference are anti-conservative when there are few
clusters (notes/stats.md §3.1). CR2 adjusts each cluster's residuals by
``A_g = (I - H_gg)^{-1/2}`` and its degrees of freedom come from a Satterthwaite
approximation under a homoskedastic working model (Bell & McCaffrey 2002; Imbens &
Kolesár 2016; Pustejovsky & Tipton 2018, "CR2" in R's clubSandwich).

``H_gg`` is as large as a cluster's rows, but every row of a cell has the same
regressors, so with ``U = D W^{-1/2}`` (``D`` the row-to-cell indicator, ``W`` the cell
counts) the rows' space splits into span(U), where ``I - H_gg`` acts as the small
matrix ``Γ = I - W^{1/2} Z_g (X'X)⁻¹ Z_g' W^{1/2}`` over the cluster's cells, and its
complement, where ``A_g`` is the identity and the residuals add up to nothing. Hence

    X_g' A_g e_g = Z_g' W^{1/2} Γ^{-1/2} W^{-1/2} E_g

with ``E_g`` the cells' residual sums: exact, and as cheap as the cells. Singular
``Γ`` (a cluster that alone pins a coefficient) uses the Moore-Penrose inverse root,
as clubSandwich does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from paceline.analytics.ols import OlsFit


class _Cluster(NamedTuple):
    zw: np.ndarray  # W^{1/2} Z_g, (cells, k)
    root: np.ndarray  # Γ^{-1/2}, (cells, cells)
    inv: np.ndarray  # Γ^{-1} (Moore-Penrose), (cells, cells)
    e_scaled: np.ndarray  # W^{-1/2} E_g, (cells,)
    counts: np.ndarray  # rows per cell, (cells,)


def _clusters(fit: OlsFit) -> Iterator[_Cluster]:
    data = fit.data
    if data.cluster is None:
        raise ValueError("CR2 needs clusters")
    order = np.argsort(data.cluster, kind="stable")
    bounds = np.flatnonzero(np.diff(data.cluster[order])) + 1
    for idx in np.split(order, bounds):
        w = np.sqrt(data.n[idx].astype(float))
        zw = data.z[idx] * w[:, None]
        gamma = np.eye(idx.size) - zw @ fit.bread @ zw.T
        vals, vecs = np.linalg.eigh(gamma)
        ok = vals > 1e-12
        safe = np.where(ok, vals, 1.0)
        root = (vecs * np.where(ok, safe**-0.5, 0.0)) @ vecs.T
        inv = (vecs * np.where(ok, 1 / safe, 0.0)) @ vecs.T
        yield _Cluster(zw, root, inv, fit.resid_sum[idx] / w, data.n[idx].astype(float))


def cr2_covariance(fit: OlsFit) -> np.ndarray:
    """The CR2 coefficient covariance ``(X'X)⁻¹ Σ_g u_g u_g' (X'X)⁻¹`` (no extra factor)."""
    scores = np.array([c.zw.T @ (c.root @ c.e_scaled) for c in _clusters(fit)])
    return fit.bread @ (scores.T @ scores) @ fit.bread


def residual_icc(fit: OlsFit) -> float:
    """The intra-cluster correlation of the OLS residuals (Imbens & Kolesár 2016, §5).

    ``sigma²`` is the mean squared residual and ``sigma_ν²`` the mean product of residuals of two
    different rows of one cluster, ``Σ_g [(Σ e)² - Σ e²] / Σ_g n_g(n_g - 1)``; rho = sigma_ν²/sigma²,
    clipped to [0, 1).
    """
    data = fit.data
    if data.cluster is None:
        raise ValueError("an intra-cluster correlation needs clusters")
    g = data.n_clusters
    sums = np.bincount(data.cluster, weights=fit.resid_sum, minlength=g)
    squares = np.bincount(data.cluster, weights=fit.resid_ss, minlength=g)
    sizes = np.bincount(data.cluster, weights=data.n.astype(float), minlength=g)
    pairs = float((sizes * (sizes - 1)).sum())
    total = float(squares.sum()) / float(sizes.sum())
    if pairs == 0 or total <= 0:
        return 0.0
    between = float((sums**2 - squares).sum()) / pairs
    return float(min(max(between / total, 0.0), 0.99))


def bell_mccaffrey_df(fit: OlsFit, contrast: np.ndarray, rho: float = 0.0) -> float:
    """Satterthwaite degrees of freedom of ``contrast' β`` under CR2 (Imbens & Kolesár 2016).

    The CR2 variance is ``Σ_g (a_g' ε)²`` with ``a_g = (I - H)_{·g} A_g X_g (X'X)⁻¹ l``. Under
    a working model ``Var ε ∝ (1 - rho) I + rho · (block of ones per cluster)`` its
    Satterthwaite df is ``tr(Ψ)² / tr(Ψ²)`` with the G x G matrix
    ``Ψ = (1 - rho) Ω + rho C C'``, ``Ω_gh = a_g'a_h`` and ``C_gh = a_g' 1_h``. In cell terms,
    with ``q_g = A_g X_g (X'X)⁻¹ l``, ``w_g = X_g' q_g``, ``s_g = 1' q_g`` and
    ``v_h = X_h' 1``: ``Ω = diag(q_g'q_g) - W (X'X)⁻¹ W'`` and ``C = diag(s) - W (X'X)⁻¹ V'``.
    rho = 0 is Bell & McCaffrey's homoskedastic working model; Imbens & Kolesár recommend
    the random-effects model with rho estimated (:func:`residual_icc`), which matters when
    cluster sizes are unequal.
    """
    m_l = fit.bread @ contrast
    qq, ws, ss, vs = [], [], [], []
    for c in _clusters(fit):
        base = c.zw @ m_l
        root_n = np.sqrt(c.counts)
        qq.append(float(base @ c.inv @ base))
        ws.append(c.zw.T @ (c.root @ base))
        ss.append(float(root_n @ (c.root @ base)))
        vs.append(c.zw.T @ root_n)
    w, v = np.array(ws), np.array(vs)
    omega = np.diag(qq) - w @ fit.bread @ w.T
    psi = (1 - rho) * omega
    if rho > 0:
        cross = np.diag(ss) - w @ fit.bread @ v.T
        psi = psi + rho * cross @ cross.T
    return float(np.trace(psi) ** 2 / (psi**2).sum())
