"""Building blocks of a verdict: multiplicity adjustments and one-sided tests.

notes/stats.md §3.6: "all primary KPIs significant" is an intersection-union test (each
at level alpha, no penalty); "any of several KPIs" needs Holm (family-wise error) or
Benjamini-Hochberg (false discovery rate); guardrails are non-inferiority tests with a
margin; "satisfaction ≥ target" is a one-sided test of the lower confidence bound.

Example:
    >>> holm([0.01, 0.04, 0.03, 0.005, 0.55, 0.6])
    [0.05, 0.12, 0.12, 0.03, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from paceline.analytics.result import Estimate


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (as statsmodels ``multipletests(method="holm")``)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in out]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (as statsmodels ``multipletests(method="fdr_bh")``)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")[::-1]
    stepped = np.minimum.accumulate(p[order] * m / np.arange(m, 0, -1))
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in out]


def intersection_union(p_values: Sequence[float], alpha: float = 0.05) -> bool:
    """True when every hypothesis is rejected at level alpha: the test of "all primary KPIs succeed"."""
    return bool(p_values) and all(p < alpha for p in p_values)


@dataclass(frozen=True)
class OneSidedTest:
    """A one-sided test against a bound: its p-value, the confidence bound, and whether it passed."""

    p_value: float
    bound: float
    passed: bool


def non_inferiority(
    effect: Estimate, margin: float, higher_is_better: bool = True, alpha: float = 0.05
) -> OneSidedTest:
    """Is the treatment no worse than control by more than ``margin`` (a positive number)?

    For a KPI where higher is better, H0: ``effect ≤ -margin`` and the treatment passes
    when the lower ``1 - alpha`` bound is above ``-margin``; where lower is better (error
    rate), H0: ``effect ≥ margin`` and the upper bound must be below ``margin``.
    """
    if margin < 0:
        raise ValueError("the non-inferiority margin is a positive amount of worsening")
    if higher_is_better:
        p = effect.one_sided_p(-margin, greater=True)
        bound = effect.bound(alpha, lower=True)
        return OneSidedTest(p, bound, bound > -margin)
    p = effect.one_sided_p(margin, greater=False)
    bound = effect.bound(alpha, lower=False)
    return OneSidedTest(p, bound, bound < margin)


def exceeds_threshold(value: Estimate, target: float, alpha: float = 0.05) -> OneSidedTest:
    """Is a level (e.g. mean satisfaction) above ``target``? Passes when the lower bound is above it."""
    bound = value.bound(alpha, lower=True)
    return OneSidedTest(value.one_sided_p(target, greater=True), bound, bound > target)
