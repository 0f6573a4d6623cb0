"""Changes against a baseline, and where a change comes from.

A comparison puts two sides of a KPI next to each other: before and after a date,
or two values of a dimension (pilot vs control cohort, AI-assisted vs not). The
change is expressed as the KPI says (uplift %, reduction %, delta), beside the
framework's typical range when it gives one.

:func:`explain` splits a change by a dimension into a *rate* effect (segments got
better or worse) and a *mix* effect (the work moved between segments), using the
symmetric decomposition

    rate_s = (r_B,s - r_A,s) * (a_s + b_s) / 2,   mix_s = (b_s - a_s) * (r_A,s + r_B,s) / 2

where ``a_s``, ``b_s`` are the segment's shares of the KPI's denominator and
``r`` its value on each side. The contributions add up exactly to the change of
the share-weighted values; what does not (people counted in two segments, groups
under ``min_group_size`` that cannot be shown) is reported as not attributed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from paceline.domain.kpis import Grain, KpiDefinition, Stat, change_value
from paceline.errors import ValidationError
from paceline.services.kpi import KpiResult, definition
from paceline.services.kpi_frames import KpiQuery


@dataclass(frozen=True)
class Sides:
    """What is compared: a split date, or two values of one dimension."""

    split: date | None = None
    dim: str | None = None
    baseline: str | None = None
    current: str | None = None

    def __post_init__(self) -> None:
        by_date = self.split is not None
        by_group = self.dim is not None and self.baseline is not None and self.current is not None
        if by_date == by_group:
            raise ValidationError(
                "compare either before/after a date or two values of a dimension",
                fix="give --split DATE, or --dim DIM --baseline VALUE --current VALUE",
            )

    @property
    def labels(self) -> tuple[str, str]:
        if self.split is not None:
            return f"before {self.split.isoformat()}", f"from {self.split.isoformat()}"
        return f"{self.dim} = {self.baseline}", f"{self.dim} = {self.current}"


@dataclass
class Comparison:
    """Both sides of a KPI per group, and the change."""

    kpi: KpiDefinition
    sides: Sides
    by: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        typical = self.kpi.typical
        return {
            "kpi": self.kpi.name,
            "unit": self.kpi.unit,
            "direction": self.kpi.direction.value,
            "change": self.kpi.change.value,
            "baseline": self.sides.labels[0],
            "current": self.sides.labels[1],
            "typical": None
            if typical is None
            else {"low": typical.low, "high": typical.high, "text": typical.text},
            "by": list(self.by),
            "rows": self.rows,
        }


Run = Callable[[KpiQuery], KpiResult]
"""Computes one query (the workspace passes its cached runner)."""


def _side_results(run: Run, query: KpiQuery, sides: Sides) -> tuple[KpiResult, KpiResult]:
    if sides.split is not None:
        before = replace(query, until=sides.split - timedelta(days=1))
        after = replace(query, since=sides.split)
        return run(before), run(after)
    assert sides.dim is not None
    if sides.dim in query.by:
        raise ValidationError(f"{sides.dim} is the compared dimension; do not also split by it", field="by")
    both = run(replace(query, by=(sides.dim, *query.by)))
    return _pick(both, sides.dim, sides.baseline), _pick(both, sides.dim, sides.current)


def _pick(result: KpiResult, dim: str, value: str | None) -> KpiResult:
    keep = [i for i, r in enumerate(result.rows) if _text(r[dim]) == value]
    rows = [{k: v for k, v in result.rows[i].items() if k != dim} for i in keep]
    query = replace(result.query, by=tuple(d for d in result.query.by if d != dim))
    return KpiResult(result.definition, query, rows, [result.weights[i] for i in keep])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _key(row: dict[str, Any], by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_text(row[d]) for d in by)


def compare(run: Run, query: KpiQuery, sides: Sides) -> Comparison:
    """The KPI on both sides, per group of ``query.by``, with the change."""
    kpi = definition(query.kpi)
    base, cur = _side_results(run, replace(query, grain=Grain.TOTAL), sides)
    left = {_key(r, query.by): r for r in base.rows}
    right = {_key(r, query.by): r for r in cur.rows}
    rows = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        suppressed = bool((a and a["suppressed"]) or (b and b["suppressed"]))
        va = None if suppressed or a is None else a["value"]
        vb = None if suppressed or b is None else b["value"]
        rows.append(
            {
                **dict(zip(query.by, key, strict=True)),
                "baseline": va,
                "current": vb,
                "change": change_value(kpi.change, va, vb),
                "baseline_n": a["n"] if a else 0,
                "current_n": b["n"] if b else 0,
                "suppressed": suppressed,
            }
        )
    return Comparison(kpi, sides, query.by, rows)


@dataclass
class Explanation:
    """A change split into rate and mix effects per segment of one dimension."""

    kpi: KpiDefinition
    sides: Sides
    dim: str
    baseline: float | None
    current: float | None
    segments: list[dict[str, Any]]
    not_attributed: float | None

    def to_dict(self) -> dict[str, Any]:
        delta = None if self.baseline is None or self.current is None else self.current - self.baseline
        return {
            "kpi": self.kpi.name,
            "unit": self.kpi.unit,
            "dim": self.dim,
            "baseline_label": self.sides.labels[0],
            "current_label": self.sides.labels[1],
            "baseline": self.baseline,
            "current": self.current,
            "difference": delta,
            "change": change_value(self.kpi.change, self.baseline, self.current),
            "segments": self.segments,
            "not_attributed": self.not_attributed,
        }


def explain(run: Run, query: KpiQuery, sides: Sides, dim: str) -> Explanation:
    """Decompose the change of ``query.kpi`` between *sides* by *dim* (module docstring)."""
    kpi = definition(query.kpi)
    if query.stat is not Stat.MEAN:
        raise ValidationError(
            f"explain works on means and shares, not the {query.stat.value}",
            field="stat",
            fix="use --stat mean",
        )
    total = replace(query, by=(), grain=Grain.TOTAL)
    overall_a, overall_b = (_single(r) for r in _side_results(run, total, sides))
    seg_a, seg_b = _side_results(run, replace(total, by=(dim,)), sides)
    shares_a, shares_b = _shares(seg_a, dim), _shares(seg_b, dim)
    segments: list[dict[str, Any]] = []
    attributed = 0.0
    for name in sorted(set(shares_a) | set(shares_b)):
        (a, ra, sup_a), (b, rb, sup_b) = (
            shares_a.get(name, (0.0, None, False)),
            shares_b.get(name, (0.0, None, False)),
        )
        if sup_a or sup_b:
            continue
        ra, rb = (ra if ra is not None else rb), (rb if rb is not None else ra)
        if ra is None or rb is None:
            continue
        rate, mix = (rb - ra) * (a + b) / 2, (b - a) * (ra + rb) / 2
        attributed += rate + mix
        segments.append(
            {
                "segment": name,
                "baseline_share": a,
                "current_share": b,
                "baseline": ra,
                "current": rb,
                "rate_effect": rate,
                "mix_effect": mix,
                "contribution": rate + mix,
            }
        )
    segments.sort(key=lambda s: -abs(float(s["contribution"])))
    delta = None if overall_a is None or overall_b is None else overall_b - overall_a
    rest = None if delta is None else delta - attributed
    return Explanation(kpi, sides, dim, overall_a, overall_b, segments, rest)


def _single(result: KpiResult) -> float | None:
    if len(result.rows) != 1 or result.rows[0]["suppressed"]:
        return None
    value = result.rows[0]["value"]
    return None if value is None else float(value)


def _shares(result: KpiResult, dim: str) -> dict[str, tuple[float, float | None, bool]]:
    total = sum(result.weights) or 1.0
    return {
        _text(r[dim]): (w / total, r["value"], bool(r["suppressed"]))
        for r, w in zip(result.rows, result.weights, strict=True)
    }
