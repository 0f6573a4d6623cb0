"""OLS from cell sufficient statistics, with classical, HC0-HC3 and CR1 covariances.

A *cell* is a set of observations that share every regressor value: in a
difference-in-differences with a unit, one (unit, period) pair; without a unit, one
(arm, period) pair. Each cell brings its regressor row ``z``, its count ``n``, the
mean of the outcome and ``m2 = Σ(y - ȳ)²``. That is enough for everything the
row-level regression gives (Σ over rows = Σ over cells):

* ``X'X = Σ n_c z_c z_c'`` and ``X'y = Σ n_c ȳ_c z_c``;
* a cell's residual sum ``E_c = n_c (ȳ_c - ŷ_c)`` and squared residuals
  ``m2_c + n_c (ȳ_c - ŷ_c)²``;
* every row of a cell has the same leverage ``h_c = z_c' (X'X)⁻¹ z_c`` (HC2, HC3).

So a regression over ten million task rows costs as much as one over the few thousand
cells the engine returns, and gives the same numbers as statsmodels on the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class CovType(StrEnum):
    NONROBUST = "nonrobust"
    HC0 = "HC0"
    HC1 = "HC1"
    HC2 = "HC2"
    HC3 = "HC3"
    CR1 = "cluster_CR1"
    CR2 = "cluster_CR2"
    WILD = "wild_bootstrap"


CLUSTERED = frozenset({CovType.CR1, CovType.CR2, CovType.WILD})


class SingularDesign(ValueError):
    """The regressors are collinear in these data (e.g. an arm or period without rows)."""


@dataclass(frozen=True, eq=False)
class CellData:
    """Regressor rows and outcome moments per cell; ``cluster`` holds integer codes 0..G-1."""

    z: np.ndarray  # (cells, k)
    n: np.ndarray  # (cells,)
    mean: np.ndarray
    m2: np.ndarray
    cluster: np.ndarray | None = None

    @property
    def n_obs(self) -> int:
        return int(self.n.sum())

    @property
    def n_clusters(self) -> int:
        return 0 if self.cluster is None else int(self.cluster.max()) + 1


@dataclass(frozen=True, eq=False)
class OlsFit:
    """Coefficients, the bread ``(X'X)⁻¹`` and per-cell residual summaries."""

    data: CellData
    beta: np.ndarray
    bread: np.ndarray
    resid_sum: np.ndarray  # E_c = Σ residuals in the cell
    resid_ss: np.ndarray  # Σ residual² in the cell

    @property
    def n_obs(self) -> int:
        return self.data.n_obs

    @property
    def k(self) -> int:
        return int(self.beta.size)

    def leverage(self) -> np.ndarray:
        z = self.data.z
        return np.einsum("ij,jk,ik->i", z, self.bread, z)

    def cluster_scores(self) -> np.ndarray:
        """``X_g' e_g`` per cluster: (G, k)."""
        codes = self.data.cluster
        if codes is None:
            raise ValueError("no clusters in these data")
        per_cell = self.data.z * self.resid_sum[:, None]
        out = np.zeros((self.data.n_clusters, self.k))
        np.add.at(out, codes, per_cell)
        return out


def fit(data: CellData) -> OlsFit:
    """Least squares over the rows the cells stand for; :class:`SingularDesign` if collinear."""
    z, n = data.z, data.n.astype(float)
    xtx = z.T @ (z * n[:, None])
    if np.linalg.matrix_rank(xtx) < z.shape[1]:
        raise SingularDesign("the regressors are collinear in these data")
    bread = np.linalg.inv(xtx)
    beta = bread @ (z.T @ (n * data.mean))
    gap = data.mean - z @ beta
    return OlsFit(data, beta, bread, n * gap, data.m2 + n * gap**2)


def covariance(result: OlsFit, cov: CovType) -> np.ndarray:
    """The coefficient covariance, with statsmodels' small-sample factors.

    ``nonrobust``: sigmâ² (X'X)⁻¹ with sigmâ² = RSS / (N - k). ``HC1`` multiplies HC0 by
    N / (N - k). ``cluster_CR1`` multiplies CR0 by G/(G - 1) · (N - 1)/(N - k).
    """
    n_obs, k = result.n_obs, result.k
    bread = result.bread
    if cov is CovType.NONROBUST:
        return bread * result.resid_ss.sum() / (n_obs - k)
    if cov in (CovType.HC0, CovType.HC1, CovType.HC2, CovType.HC3):
        return _hc(result, cov)
    if cov is CovType.CR1:
        scores = result.cluster_scores()
        g = scores.shape[0]
        factor = g / (g - 1) * (n_obs - 1) / (n_obs - k)
        return factor * bread @ (scores.T @ scores) @ bread
    raise ValueError(f"covariance() does not compute {cov}; see paceline.analytics.robust")


def _hc(result: OlsFit, cov: CovType) -> np.ndarray:
    z = result.data.z
    weight = result.resid_ss.copy()
    if cov in (CovType.HC2, CovType.HC3):
        room = 1 - result.leverage()
        power = 1 if cov is CovType.HC2 else 2
        safe = room > 1e-12
        weight = np.where(safe, weight / np.where(safe, room, 1.0) ** power, 0.0)
    meat = z.T @ (z * weight[:, None])
    vcov = result.bread @ meat @ result.bread
    if cov is CovType.HC1:
        vcov *= result.n_obs / (result.n_obs - result.k)
    return vcov


def did_regressors(treated: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Rows ``[1, treated, post, treated x post]`` for a two-by-two difference-in-differences."""
    t, p = treated.astype(float), post.astype(float)
    return np.column_stack([np.ones_like(t), t, p, t * p])
