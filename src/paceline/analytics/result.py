"""Result types: an estimate with its uncertainty, checks, and the pilot result document.

:class:`Estimate` is the building block every test returns: a point estimate, its
standard error and the reference distribution (Student t with ``df``, or the normal
when ``df`` is None). Confidence intervals and p-values are derived from it for any
alpha, so the later verdict code can ask for one-sided bounds too.

:class:`PilotResult` is the JSON document of ``paceline pilot evaluate``
(spec/interface.md); ``to_dict()`` returns exactly its keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import stats


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """A named check on the data or the method, with a plain-words detail."""

    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail}


@dataclass(frozen=True)
class Estimate:
    """A point estimate, its standard error and the reference distribution (t with df, or normal)."""

    estimate: float
    se: float
    df: float | None = None

    @property
    def statistic(self) -> float:
        return self.estimate / self.se

    def critical(self, alpha: float) -> float:
        """The two-sided critical value: ``t_{df, 1-alpha/2}`` or ``z_{1-alpha/2}``."""
        return _quantile(1 - alpha / 2, self.df)

    def ci(self, alpha: float = 0.05) -> tuple[float, float]:
        half = self.critical(alpha) * self.se
        return (self.estimate - half, self.estimate + half)

    def p_value(self) -> float:
        """Two-sided p-value of ``estimate = 0``."""
        return 2 * _sf(abs(self.statistic), self.df)

    def one_sided_p(self, null: float = 0.0, greater: bool = True) -> float:
        """p-value of H0 ``θ ≤ null`` (greater) or ``θ ≥ null``: non-inferiority and threshold tests."""
        z = (self.estimate - null) / self.se
        return _sf(z if greater else -z, self.df)

    def bound(self, alpha: float = 0.05, lower: bool = True) -> float:
        """The one-sided ``1 - alpha`` confidence bound."""
        q = _quantile(1 - alpha, self.df) * self.se
        return self.estimate - q if lower else self.estimate + q

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.estimate * factor, self.se * abs(factor), self.df)


@dataclass(frozen=True, eq=False)
class BootstrapEstimate(Estimate):
    """An estimate whose p-value and interval come from bootstrap draws of ``|t*|``."""

    abs_t_draws: np.ndarray = field(default_factory=lambda: np.empty(0))

    def critical(self, alpha: float) -> float:
        return float(np.quantile(self.abs_t_draws, 1 - alpha, method="higher"))

    def p_value(self) -> float:
        return float(np.mean(self.abs_t_draws >= abs(self.statistic)))


def _quantile(q: float, df: float | None) -> float:
    return float(stats.norm.ppf(q) if df is None else stats.t.ppf(q, df))


def _sf(x: float, df: float | None) -> float:
    return float(stats.norm.sf(x) if df is None else stats.t.sf(x, df))


@dataclass(frozen=True)
class Relative:
    """Relative lift and its interval (not always symmetric: log-scale results are exponentiated)."""

    lift: float
    ci: tuple[float, float]

    @classmethod
    def from_estimate(cls, est: Estimate, alpha: float) -> Relative:
        return cls(est.estimate, est.ci(alpha))

    @classmethod
    def from_log(cls, est: Estimate, alpha: float) -> Relative:
        """``exp(Δ log) - 1``: the change of the geometric mean."""
        lo, hi = est.ci(alpha)
        return cls(math.expm1(est.estimate), (math.expm1(lo), math.expm1(hi)))


@dataclass(frozen=True)
class PilotResult:
    """The evaluation of one outcome: the document of ``paceline pilot evaluate`` (spec/interface.md).

    Degenerate data give a result whose statistics are None and whose checks say why
    (status ``fail``), never an exception.
    """

    design: str
    outcome: str
    se_method: str
    alpha: float
    n_obs: int
    n_units: tuple[int, int]  # (treatment, control)
    checks: tuple[Check, ...]
    estimate: Estimate | None = None
    relative: Relative | None = None

    @property
    def ok(self) -> bool:
        """False when a check failed (then the statistics are None)."""
        return all(c.status is not Status.FAIL for c in self.checks)

    @property
    def ci(self) -> tuple[float, float] | None:
        return None if self.estimate is None else self.estimate.ci(self.alpha)

    @property
    def p_value(self) -> float | None:
        return None if self.estimate is None else self.estimate.p_value()

    def to_dict(self) -> dict[str, Any]:
        est = self.estimate
        ci = self.ci
        rel = self.relative
        return {
            "design": self.design,
            "outcome": self.outcome,
            "estimate": _num(est.estimate) if est else None,
            "se": _num(est.se) if est else None,
            "ci": [_num(ci[0]), _num(ci[1])] if ci else None,
            "df": _num(est.df) if est and est.df is not None else None,
            "p_value": _num(self.p_value) if est else None,
            "relative_lift": _num(rel.lift) if rel else None,
            "relative_ci": [_num(rel.ci[0]), _num(rel.ci[1])] if rel else None,
            "se_method": self.se_method,
            "alpha": self.alpha,
            "n_obs": self.n_obs,
            "n_units": {"treatment": self.n_units[0], "control": self.n_units[1]},
            "checks": [c.to_dict() for c in self.checks],
        }


def _num(value: float | None) -> float | None:
    """Plain floats for JSON; NaN and infinities become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
