"""Drift definitions: PSI, KS and chi-square p-values, the decision policy and the report.

Everything here is pure: the engine (``paceline.services.drift``) supplies counts,
sums and the exact KS/Wasserstein statistics; this module turns them into the
document of ``paceline monitor drift`` (spec/interface.md). Definitions:

* **PSI** — numeric columns: 10 bins cut at the reference deciles (numpy's
  ``quantile(..., method="linear")``, the same as DuckDB ``quantile_cont``), bins
  closed on the right, ``(-inf, q1], (q1, q2], ..., (q9, inf)``; categorical
  columns: one bin per reference category plus one bin for every category the
  reference never saw. Shares are clipped below at 1e-4 and
  ``psi = Σ (cur - ref) · ln(cur / ref)``.
* **KS** — the two-sample statistic and p-value of ``scipy.stats.ks_2samp``
  (exact distribution up to 10,000 values per side, Smirnov's asymptotic one above).
* **chi-square** — the 2 x k homogeneity test of ``scipy.stats.chi2_contingency(...,
  correction=False)`` on the reference and current category counts.

The default decision is distance-based (PSI ≥ 0.2), as the monitoring notes
recommend: p-values at a million rows flag trivial shifts. Tests can be chosen
instead, and then each column's p-value is compared with ``alpha / k``
(Bonferroni over the k columns tested) *and* the effect must pass a floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from paceline.analytics.chisquare import chi2_sf
from paceline.analytics.smirnov import kolmogorov_sf

PSI_FLOOR = 1e-4
KS_EXACT_MAX_N = 10_000  # scipy's MAX_AUTO_N: ks_2samp's "auto" uses the exact distribution up to here


class Kind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class Method(StrEnum):
    """What decides a column's ``drifted`` flag."""

    PSI = "psi"  # psi >= threshold (numeric and categorical)
    KS = "ks"  # KS statistic >= threshold (numeric)
    WASSERSTEIN = "wasserstein"  # wasserstein >= threshold, in the column's unit (numeric)
    KS_TEST = "ks_test"  # ks_p_value < alpha / k and ks >= min_ks (numeric)
    CHI2 = "chi2"  # chi2_p_value < alpha / k and Cramér's V >= min_cramers_v (categorical)
    MISSING = "missing"  # one side has no values at all: drifted when the other has some


NUMERIC_METHODS = (Method.PSI, Method.KS, Method.WASSERSTEIN, Method.KS_TEST)
CATEGORICAL_METHODS = (Method.PSI, Method.CHI2)


@dataclass(frozen=True)
class DriftPolicy:
    """Thresholds and methods, with defaults documented in docs/monitoring.md."""

    numeric_method: Method = Method.PSI
    categorical_method: Method = Method.PSI
    psi: float = 0.2
    ks: float = 0.1
    wasserstein: float | None = None
    alpha: float = 0.05
    min_ks: float = 0.05
    min_cramers_v: float = 0.05

    def problems(self) -> list[tuple[str, str]]:
        """``(field, message)`` for every setting that cannot work; empty when the policy is usable."""
        out: list[tuple[str, str]] = []
        if self.numeric_method not in NUMERIC_METHODS:
            out.append(("numeric_method", f"use one of {', '.join(NUMERIC_METHODS)}"))
        if self.categorical_method not in CATEGORICAL_METHODS:
            out.append(("categorical_method", f"use one of {', '.join(CATEGORICAL_METHODS)}"))
        if self.numeric_method is Method.WASSERSTEIN and self.wasserstein is None:
            out.append(("wasserstein", "a Wasserstein threshold is in the column's unit: give one"))
        for name in ("psi", "ks", "min_ks", "min_cramers_v"):
            if not 0 <= getattr(self, name) <= 10:
                out.append((name, "must be a number between 0 and 10"))
        if self.wasserstein is not None and self.wasserstein < 0:
            out.append(("wasserstein", "must not be negative"))
        if not 0 < self.alpha < 1:
            out.append(("alpha", "must be between 0 and 1"))
        return out


# --- statistics ----------------------------------------------------------------------


def psi(ref_counts: NDArray[Any], cur_counts: NDArray[Any]) -> float:
    """Population stability index of two count vectors over the same bins."""
    ref = np.maximum(np.asarray(ref_counts, dtype=np.float64) / max(np.sum(ref_counts), 1), PSI_FLOOR)
    cur = np.maximum(np.asarray(cur_counts, dtype=np.float64) / max(np.sum(cur_counts), 1), PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def ks_test(statistic: float, n: int, m: int) -> tuple[float, float]:
    """``(statistic, p_value)`` exactly as ``scipy.stats.ks_2samp(..., method="auto")`` reports them.

    In its exact branch scipy rounds the statistic to a multiple of ``1/lcm(n, m)``.
    """
    if max(n, m) <= KS_EXACT_MAX_N:
        from scipy.stats._stats_py import _attempt_exact_2kssamp  # the exact branch of ks_2samp

        g = math.gcd(n, m)
        ok, d, p = _attempt_exact_2kssamp(n, m, g, statistic, "two-sided")
        if ok:
            return float(d), float(np.clip(p, 0, 1))
    big, small = sorted([float(n), float(m)], reverse=True)
    en = big * small / (big + small)
    return float(statistic), float(np.clip(kolmogorov_sf(statistic, float(np.round(en))), 0, 1))


@dataclass(frozen=True)
class Chi2:
    statistic: float
    dof: int
    p_value: float
    cramers_v: float


def chi2_homogeneity(ref_counts: NDArray[Any], cur_counts: NDArray[Any]) -> Chi2:
    """The 2 x k test of ``scipy.stats.chi2_contingency(table, correction=False)``."""
    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    dof = table.shape[1] - 1
    if dof == 0:
        return Chi2(0.0, 0, 1.0, 0.0)
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return Chi2(statistic, dof, chi2_sf(dof, statistic), math.sqrt(statistic / total))


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnDrift:
    """One column's statistics and decision; ``to_dict()`` has the spec's keys first."""

    column: str
    kind: Kind
    reference_count: int  # values present (not null, not NaN)
    current_count: int
    reference_missing: int
    current_missing: int
    psi: float | None = None
    ks: float | None = None
    ks_p_value: float | None = None
    wasserstein: float | None = None
    chi2_p_value: float | None = None
    cramers_v: float | None = None
    bins: dict[str, Any] = field(default_factory=dict)
    drifted: bool = False
    method: Method = Method.PSI
    threshold: float | None = None

    @property
    def missing_share(self) -> float:
        """Share of the current rows where the column is missing (null or NaN)."""
        return _share(self.current_missing, self.current_count + self.current_missing)

    @property
    def reference_missing_share(self) -> float:
        return _share(self.reference_missing, self.reference_count + self.reference_missing)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"column": self.column, "kind": self.kind.value, "psi": _num(self.psi)}
        if self.kind is Kind.NUMERIC:
            doc |= {"ks": _num(self.ks), "ks_p_value": _num(self.ks_p_value)}
            doc["wasserstein"] = _num(self.wasserstein)
        else:
            doc["chi2_p_value"] = _num(self.chi2_p_value)
        doc |= {"drifted": self.drifted, "method": self.method.value, "threshold": _num(self.threshold)}
        doc |= {
            "missing_share": self.missing_share,
            "reference_missing_share": self.reference_missing_share,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
        }
        if self.kind is Kind.CATEGORICAL:
            doc["cramers_v"] = _num(self.cramers_v)
        doc["bins"] = self.bins
        return doc


@dataclass(frozen=True)
class DriftReport:
    """The result of ``paceline.drift`` / ``paceline monitor drift`` (``to_dict()`` is its JSON).

    ``windows`` is set for drift over the predictions table: the reference and current
    time windows (ISO 8601 strings) the report compares.
    """

    reference_rows: int
    current_rows: int
    columns: list[ColumnDrift]
    policy: DriftPolicy = field(default_factory=DriftPolicy)
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it was left out
    windows: dict[str, Any] | None = None

    @property
    def drifted_share(self) -> float:
        return _share(sum(c.drifted for c in self.columns), len(self.columns))

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def column(self, name: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "drifted_share": self.drifted_share,
            "columns": [c.to_dict() for c in self.columns],
        }
        if self.skipped:
            doc["skipped"] = dict(self.skipped)
        if self.windows is not None:
            doc["windows"] = dict(self.windows)
        return doc


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


# --- decisions -------------------------------------------------------------------------


def decide(columns: list[ColumnDrift], policy: DriftPolicy) -> list[ColumnDrift]:
    """Each column with ``drifted``, ``method`` and ``threshold`` set by *policy*.

    p-value methods compare with ``alpha / k`` where k counts the columns decided by a
    p-value in this report (Bonferroni): twenty clean columns tested at 0.05 each would
    raise a false alarm in 1 - 0.95**20, about two runs in three.
    """
    tested = sum(1 for c in columns if _method(c, policy) in (Method.KS_TEST, Method.CHI2))
    corrected = policy.alpha / max(tested, 1)
    return [_decide(c, policy, corrected) for c in columns]


def _method(col: ColumnDrift, policy: DriftPolicy) -> Method:
    if col.reference_count == 0 or col.current_count == 0:
        return Method.MISSING
    return policy.numeric_method if col.kind is Kind.NUMERIC else policy.categorical_method


def _decide(col: ColumnDrift, policy: DriftPolicy, corrected_alpha: float) -> ColumnDrift:
    method = _method(col, policy)
    threshold: float | None
    if method is Method.MISSING:
        threshold, drifted = None, (col.reference_count > 0) != (col.current_count > 0)
    elif method is Method.PSI:
        threshold, drifted = policy.psi, _at_least(col.psi, policy.psi)
    elif method is Method.KS:
        threshold, drifted = policy.ks, _at_least(col.ks, policy.ks)
    elif method is Method.WASSERSTEIN:
        threshold = policy.wasserstein
        drifted = threshold is not None and _at_least(col.wasserstein, threshold)
    elif method is Method.KS_TEST:
        threshold = corrected_alpha
        drifted = _below(col.ks_p_value, corrected_alpha) and _at_least(col.ks, policy.min_ks)
    else:
        threshold = corrected_alpha
        drifted = _below(col.chi2_p_value, corrected_alpha) and _at_least(col.cramers_v, policy.min_cramers_v)
    return _with(col, drifted=drifted, method=method, threshold=threshold)


def _at_least(value: float | None, threshold: float) -> bool:
    return value is not None and not math.isnan(value) and value >= threshold


def _below(value: float | None, threshold: float) -> bool:
    return value is not None and not math.isnan(value) and value < threshold


def _with(col: ColumnDrift, **changes: Any) -> ColumnDrift:
    return replace(col, **changes)


# --- building column results ---------------------------------------------------------------


def numeric_column(
    name: str,
    counts: tuple[int, int, int, int],
    ks: tuple[float, float],
    wasserstein: float,
    deciles: NDArray[np.float64],
    ref_bins: NDArray[np.int64],
    cur_bins: NDArray[np.int64],
) -> ColumnDrift:
    """A numeric column's statistics.

    *counts* are the (reference, current) present and missing values; *ks* is
    ``ks_test(statistic, n, m)``, computed by the caller.
    """
    n, m, ref_missing, cur_missing = counts
    statistic, p_value = ks
    return ColumnDrift(
        column=name,
        kind=Kind.NUMERIC,
        reference_count=n,
        current_count=m,
        reference_missing=ref_missing,
        current_missing=cur_missing,
        psi=psi(ref_bins, cur_bins),
        ks=statistic,
        ks_p_value=p_value,
        wasserstein=wasserstein,
        bins={
            "edges": [float(v) for v in deciles],
            "reference": _shares(ref_bins),
            "current": _shares(cur_bins),
        },
    )


def categorical_column(
    name: str,
    counts: tuple[int, int, int, int],
    categories: list[str],
    ref_counts: Sequence[int],
    cur_counts: Sequence[int],
) -> ColumnDrift:
    """A categorical column from per-category counts (categories in any order)."""
    n, m, ref_missing, cur_missing = counts
    ref, cur = np.asarray(ref_counts, dtype=np.int64), np.asarray(cur_counts, dtype=np.int64)
    order = sorted(range(len(categories)), key=lambda i: (-int(ref[i]), -int(cur[i]), categories[i]))
    seen = np.array([ref[i] > 0 for i in order], dtype=bool)
    ref_sorted, cur_sorted = ref[order], cur[order]
    psi_ref = np.append(ref_sorted[seen], 0)
    psi_cur = np.append(cur_sorted[seen], cur_sorted[~seen].sum())
    test = chi2_homogeneity(ref_sorted, cur_sorted)
    return ColumnDrift(
        column=name,
        kind=Kind.CATEGORICAL,
        reference_count=n,
        current_count=m,
        reference_missing=ref_missing,
        current_missing=cur_missing,
        psi=psi(psi_ref, psi_cur),
        chi2_p_value=test.p_value,
        cramers_v=test.cramers_v,
        bins={
            "categories": [categories[i] for i in order],
            "reference": _shares(ref_sorted),
            "current": _shares(cur_sorted),
        },
    )


def empty_column(name: str, kind: Kind, counts: tuple[int, int, int, int]) -> ColumnDrift:
    """A column with no values on at least one side: no statistic can be computed."""
    n, m, ref_missing, cur_missing = counts
    return ColumnDrift(name, kind, n, m, ref_missing, cur_missing)


def _shares(counts: NDArray[Any]) -> list[float]:
    total = int(np.sum(counts))
    return [float(c) / total if total else 0.0 for c in counts]
