"""Small-cluster inference: CR2 with Bell-McCaffrey (Satterthwaite) degrees of freedom.

CR1 and a normal or t(G - 1) reference are anti-conservative with few clusters and with
unequal cluster sizes (notes/stats.md §3.1). CR2 adjusts each cluster's residuals by a
matrix ``A_g`` chosen so that the variance estimator is exactly unbiased under a *working
model* ``Φ`` of the errors, and takes its degrees of freedom from a Satterthwaite
approximation under the same model (Bell & McCaffrey 2002; Imbens & Kolesár 2016;
Pustejovsky & Tipton 2018, "CR2" in R's clubSandwich).

The working model (:class:`WorkingModel`) is random effects with two components:

    Φ ∝ (1 - rho_u - rho_c) I  +  rho_u · (ones within a cluster)  +  rho_c · (ones within a cell)

a unit component shared by all rows of a cluster and a component of the unit's *cell*
(in a difference-in-differences clustered by person: the person's period, so a person may
shift between the periods). ``rho_u = rho_c = 0`` is Bell & McCaffrey's homoskedastic model,
``rho_c = 0`` Imbens & Kolesár's random-effects model (their recommendation: with unequal
cluster sizes the homoskedastic model's df are too large). :func:`working_model`
estimates both components from the OLS residuals; with one cell per cluster it is the
single intra-cluster correlation of :func:`residual_icc`.

Following Pustejovsky & Tipton (2018, eq. 8) with the symmetric square root,
``A_g = Φ_g^{1/2} (Φ_g^{1/2} M_g Φ_g^{1/2})^{-1/2} Φ_g^{1/2}`` (Moore-Penrose inverse root)
with ``M_g = (I - H)_{g·} Φ (I - H)_{·g}``; for ``Φ = I`` this is ``(I - H_gg)^{-1/2}``.

Everything is as cheap as the cells. Every row of a cell has the same regressors, so with
``U = D W^{-1/2}`` (``D`` the row-to-cell indicator, ``W`` the cell counts) a cluster's rows
split into span(U) and its complement. ``Φ_g``, ``M_g`` and ``A_g`` act on the complement as
multiples of the identity (``A_g`` as the identity), where the residuals add up to nothing,
and on span(U) as small matrices over the cluster's cells:

    φ_g = (1 - rho_u - rho_c) I + rho_u √n √n' + rho_c diag(n)
    m_g = φ_g - h_g φ_g - φ_g h_g + W^{1/2} Z_g (X'X)⁻¹ K (X'X)⁻¹ Z_g' W^{1/2},   K = X'ΦX
    h_g = W^{1/2} Z_g (X'X)⁻¹ Z_g' W^{1/2}

so ``X_g' A_g e_g = Z_g' W^{1/2} alpha_g W^{-1/2} E_g`` with ``E_g`` the cells' residual sums and
``alpha_g`` the cell-sized ``A_g``. A singular ``M_g`` (a cluster that alone pins a coefficient)
uses the Moore-Penrose inverse root, as clubSandwich does. Clusters with the same number of
cells are handled together, and the degrees of freedom use the low-rank structure of the
G x G matrix they need, so a few thousand clusters cost milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from paceline.analytics.ols import OlsFit

MAX_CORRELATION = 0.99  # the working model keeps an iid component


@dataclass(frozen=True)
class WorkingModel:
    """Shares of the error variance: ``unit`` (a cluster's rows) and ``cell`` (a cell's rows)."""

    unit: float = 0.0
    cell: float = 0.0

    def __post_init__(self) -> None:
        if min(self.unit, self.cell) < 0 or self.unit + self.cell > MAX_CORRELATION + 1e-12:
            raise ValueError(f"working model shares must be >= 0 and sum to at most {MAX_CORRELATION}")

    @property
    def error(self) -> float:
        """The share of the rows' own (iid) error."""
        return 1.0 - self.unit - self.cell

    @property
    def is_iid(self) -> bool:
        return self.unit == 0 and self.cell == 0


IID = WorkingModel()


class _Block(NamedTuple):
    """Clusters with the same number ``m`` of cells, ``b`` of them."""

    idx: np.ndarray  # (b, m) cell indices
    root_n: np.ndarray  # (b, m) √(rows per cell)
    zw: np.ndarray  # (b, m, k) W^{1/2} Z_g
    adjust: np.ndarray  # (b, m, m) alpha_g, the CR2 adjustment on span(U)


def _power(mats: np.ndarray, p: float) -> np.ndarray:
    """``mats^p`` of symmetric PSD matrices; Moore-Penrose (zero) on the null space when p < 0."""
    vals, vecs = np.linalg.eigh(mats)
    scale = np.maximum(vals.max(axis=-1, keepdims=True), 1.0)
    ok = vals > 1e-12 * scale
    safe = np.where(ok, vals, 1.0)
    return np.einsum("bij,bj,bkj->bik", vecs, np.where(ok, safe**p, 0.0), vecs)


def _grouped(fit: OlsFit) -> list[np.ndarray]:
    data = fit.data
    if data.cluster is None:
        raise ValueError("CR2 needs clusters")
    order = np.argsort(data.cluster, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(data.cluster[order]) != 0])
    sizes = np.diff(np.r_[starts, order.size])
    return [order[starts[sizes == m][:, None] + np.arange(m)] for m in np.unique(sizes)]


def _blocks(fit: OlsFit, model: WorkingModel = IID) -> list[_Block]:
    data, bread = fit.data, fit.bread
    parts = []
    for idx in _grouped(fit):
        root_n = np.sqrt(data.n[idx].astype(float))
        zw = data.z[idx] * root_n[..., None]
        parts.append((idx, root_n, zw))
    if model.is_iid:
        out = []
        for idx, root_n, zw in parts:
            gamma = np.eye(idx.shape[1]) - np.einsum("bik,kl,bjl->bij", zw, bread, zw)
            out.append(_Block(idx, root_n, zw, _power(gamma, -0.5)))
        return out
    phis = [
        model.error * np.eye(idx.shape[1])
        + model.unit * root_n[:, :, None] * root_n[:, None, :]
        + model.cell * (root_n**2)[:, :, None] * np.eye(idx.shape[1])
        for idx, root_n, _ in parts
    ]
    k_mat = sum(
        np.einsum("bik,bij,bjl->kl", zw, phi, zw) for (_, _, zw), phi in zip(parts, phis, strict=True)
    )
    inner = bread @ k_mat @ bread
    out = []
    for (idx, root_n, zw), phi in zip(parts, phis, strict=True):
        h = np.einsum("bik,kl,bjl->bij", zw, bread, zw)
        m = phi - h @ phi - phi @ h + np.einsum("bik,kl,bjl->bij", zw, inner, zw)
        half = _power(phi, 0.5)
        out.append(_Block(idx, root_n, zw, half @ _power(half @ m @ half, -0.5) @ half))
    return out


def cr2_covariance(fit: OlsFit, model: WorkingModel = IID) -> np.ndarray:
    """The CR2 coefficient covariance ``(X'X)⁻¹ Σ_g u_g u_g' (X'X)⁻¹`` (no extra factor).

    ``model`` is the working model the adjustment makes the estimator unbiased under (default:
    homoskedastic, the textbook CR2).
    """
    scores = []
    for b in _blocks(fit, model):
        e = fit.resid_sum[b.idx]
        scaled = np.divide(e, b.root_n, out=np.zeros_like(e), where=b.root_n > 0)
        scores.append(np.einsum("bmk,bm->bk", b.zw, np.einsum("bij,bj->bi", b.adjust, scaled)))
    u = np.concatenate(scores)
    return fit.bread @ (u.T @ u) @ fit.bread


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
    return float(min(max(between / total, 0.0), MAX_CORRELATION))


def working_model(fit: OlsFit) -> WorkingModel:
    """The two-component working model, by moments of the OLS residuals.

    With ``sigma²`` the mean squared residual, the mean product of residuals of two rows of
    one *cell* estimates ``sigma_u² + sigma_c²`` and that of two rows of one cluster in
    *different* cells ``sigma_u²``: ``rho_u = sigma_u²/sigma²``, ``rho_c = sigma_c²/sigma²``, each
    clipped at 0 and their sum at 0.99. With one cell per cluster the two components cannot be
    told apart and the model is :func:`residual_icc`'s single one (``rho_c = 0``); with one row per
    cell a cell component cannot be told from the rows' own error (``rho_c = 0``).
    """
    data = fit.data
    if data.cluster is None:
        raise ValueError("a working model needs clusters")
    g, n = data.n_clusters, data.n.astype(float)
    total = float(fit.resid_ss.sum()) / float(n.sum())
    if not total > 0:
        return IID
    e = fit.resid_sum
    cell_pairs = float((n * (n - 1)).sum())
    within = float((e**2 - fit.resid_ss).sum()) / cell_pairs / total if cell_pairs > 0 else None
    sums = np.bincount(data.cluster, weights=e, minlength=g)
    squares = np.bincount(data.cluster, weights=e**2, minlength=g)
    sizes = np.bincount(data.cluster, weights=n, minlength=g)
    size_squares = np.bincount(data.cluster, weights=n**2, minlength=g)
    cross_pairs = float((sizes**2 - size_squares).sum())
    across = float((sums**2 - squares).sum()) / cross_pairs / total if cross_pairs > 0 else None
    if across is None:
        return WorkingModel(unit=min(max(within or 0.0, 0.0), MAX_CORRELATION))
    unit = min(max(across, 0.0), MAX_CORRELATION)
    cell = 0.0 if within is None else min(max(within - unit, 0.0), MAX_CORRELATION - unit)
    return WorkingModel(unit, cell)


def bell_mccaffrey_df(
    fit: OlsFit, contrast: np.ndarray, rho: float | WorkingModel = 0.0, adjust: WorkingModel = IID
) -> float:
    """Satterthwaite degrees of freedom of ``contrast' β`` under CR2.

    The CR2 variance is ``Σ_g (a_g' ε)²`` with ``a_g = (I - H)_{·g} A_g X_g (X'X)⁻¹ l`` (``A_g``
    the adjustment under the working model ``adjust``). Under ``Var ε ∝ Σ`` (``rho``: a
    :class:`WorkingModel`, or a float for ``WorkingModel(unit=rho)``) its Satterthwaite df is
    ``tr(Ψ)² / tr(Ψ²)`` with the G x G matrix ``Ψ_gh = a_g' Σ a_h``
    ``= sigma_e² Ω + rho_u C C' + rho_c C_c C_c'``: ``Ω_gh = a_g'a_h``, ``C_gh = a_g' 1_h`` (cluster
    ``h``'s rows) and ``C_c`` the same per cell. In cell terms, with ``r_g = alpha_g W^{1/2} Z_g
    (X'X)⁻¹ l``, ``w_g = Z_g' W^{1/2} r_g``, ``s_g = √n' r_g``, ``t_g = Σ n r²``, ``v_g = X_g' 1``
    and ``y_g = Σ_c n_c^{3/2} r_c z_c``: ``Ω = diag(r'r) - W B W'``,
    ``C C' = diag(s²) - diag(s) V B W' - W B V' diag(s) + W B V'V B W'`` and
    ``C_c C_c' = diag(t) - Y B W' - W B Y' + W B X'diag(n)X B W'`` (``B = (X'X)⁻¹``). So Ψ is a
    diagonal plus a rank-2k matrix and both traces cost O(G k²).
    """
    sigma = rho if isinstance(rho, WorkingModel) else WorkingModel(unit=float(rho))
    bread, data = fit.bread, fit.data
    m_l = bread @ contrast
    pieces: list[list[np.ndarray]] = [[] for _ in range(6)]
    for b in _blocks(fit, adjust):
        r = np.einsum("bij,bj->bi", b.adjust, b.zw @ m_l)
        n = b.root_n**2
        for out, piece in zip(
            pieces,
            (
                (r * r).sum(axis=1),
                np.einsum("bmk,bm->bk", b.zw, r),
                (b.root_n * r).sum(axis=1),
                (n * r * r).sum(axis=1),
                np.einsum("bmk,bm->bk", b.zw, b.root_n),
                np.einsum("bmk,bm->bk", b.zw, n * r),
            ),
            strict=True,
        ):
            out.append(piece)
    qq, w, s, t, v, y = (np.concatenate(p) for p in pieces)
    n_cells = data.n.astype(float)
    cell_cross = data.z.T @ (data.z * (n_cells**2)[:, None])
    k = bread.shape[0]
    diag = sigma.error * qq + sigma.unit * s**2 + sigma.cell * t
    f = (sigma.unit * s[:, None] * v + sigma.cell * y) @ bread
    p = bread @ (sigma.unit * v.T @ v + sigma.cell * cell_cross) @ bread - sigma.error * bread
    u = np.hstack([w, f])  # Ψ = diag + U M U'
    mid = np.block([[p, -np.eye(k)], [-np.eye(k), np.zeros((k, k))]])
    gram = mid @ (u.T @ u)
    trace = diag.sum() + np.trace(gram)
    squares = (diag**2).sum() + 2 * np.trace(mid @ (u.T @ (u * diag[:, None]))) + np.trace(gram @ gram)
    return float(trace**2 / squares)
