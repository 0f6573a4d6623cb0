"""The KPI engine: one Ibis expression per KPI family, run on DuckDB or Spark.

A query becomes a grouped aggregate over the canonical tables (tasks, usage events,
survey responses) that returns, per period and group, the KPI's ``value``, the rows
it was computed from (``n``) and the distinct people behind it (``n_people``).
Groups with fewer than ``min_group_size`` people are then suppressed: value null,
``suppressed: true``, in every output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from paceline.domain.kpis import KPIS, PEOPLE_DIMS, Grain, KpiDefinition, Stat
from paceline.domain.tables import SYSTEM_PERSON
from paceline.errors import ValidationError
from paceline.services.kpi_frames import (
    PERIOD,
    KpiQuery,
    apply_filters,
    check_dims,
    period_of,
    time_window,
    with_cohort,
    with_people,
)

SUGGESTION_DECISIONS = ("suggestion_accepted", "suggestion_edited", "suggestion_rejected")


def definition(name: str) -> KpiDefinition:
    try:
        return KPIS[name]
    except KeyError:
        raise ValidationError(
            f"unknown KPI {name!r}", field="kpi", fix=f"use one of: {', '.join(KPIS)}"
        ) from None


@dataclass
class KpiResult:
    """A computed KPI: ``to_dict()`` is the JSON of ``paceline kpi compute --format json``."""

    definition: KpiDefinition
    query: KpiQuery
    rows: list[dict[str, Any]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list, repr=False)  # each row's denominator, for explain

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kpi": self.definition.name,
            "unit": self.definition.unit,
            "direction": self.definition.direction.value,
            "grain": self.query.grain.value,
            "by": list(self.query.by),
        }
        if len(self.definition.stats) > 1:
            doc["stat"] = self.query.stat.value
        doc["rows"] = self.rows
        return doc

    def to_pandas(self) -> pd.DataFrame:
        columns = [PERIOD, *self.query.by, "value", "n", "n_people", "suppressed"]
        return pd.DataFrame(self.rows, columns=columns)


# --- task KPIs -----------------------------------------------------------------------


def _events(
    con: Any,
    table: str,
    ts: str,
    row_id: str,
    query: KpiQuery,
    keep: Callable[[ir.Table], ir.BooleanValue] | None = None,
) -> ir.Table:
    """Rows of an event table in the query's window and use case, with period, day, people and cohort."""
    t = time_window(con.table(table), ts, query)
    if keep is not None:
        t = t.filter(keep(t))
    if query.use_case:
        t = t.filter(t.use_case == query.use_case)
    t = t.mutate(**{PERIOD: period_of(t[ts], query.grain), "_day": t[ts].date()})
    t = with_people(t, con.table("people"), t._day, query.dims_needed)
    if "cohort" in query.dims_needed:
        t = with_cohort(t, con.table("assignments"), "_day", row_id)
    return t


def task_frame(con: Any, query: KpiQuery) -> ir.Table:
    """Task events with periods and dimensions (filters are applied by the caller)."""
    return _events(con, "task_events", "completed_at", "event_id", query)


def task_metrics(t: ir.Table, kpi: KpiDefinition, stat: Stat) -> dict[str, ir.Value]:
    human = t.person_id != SYSTEM_PERSON
    n_people = t.person_id.nunique(where=human)
    if kpi.key.startswith("productivity"):
        person_day = t.person_id.concat("|", t._day.cast("string"))
        units = t.units * t.quality.coalesce(1.0) if kpi.key.endswith("quality_adjusted") else t.units
        days = person_day.nunique(where=human)
        value = ibis.ifelse(days > 0, units.sum() / days.cast("float64"), ibis.null().cast("float64"))
        return {"value": value, "n": t.count(), "n_people": n_people, "weight": days}
    if kpi.key == "error_rate":
        known = t.error.count()
        value = t.error.cast("int64").sum().cast("float64") / known.cast("float64")
        people = t.person_id.nunique(where=human & t.error.notnull())
        return {"value": value, "n": known, "n_people": people, "weight": known}
    if kpi.key in ("resolution_time", "handling_time"):
        # whole microseconds: DuckDB's second difference counts boundaries and would truncate
        span = t.completed_at.delta(t.opened_at, unit="microsecond").cast("float64") / 3.6e9
        durations = span if kpi.key == "resolution_time" else t.effort_seconds / 60.0
        value = {
            Stat.MEAN: durations.mean(),
            Stat.MEDIAN: durations.median(),
            Stat.P90: durations.quantile(0.9),
        }[stat]
        return {"value": value, "n": t.count(), "n_people": n_people, "weight": t.count()}
    levels = {
        "automation_rate": ("partial", "full"),
        "automation_full_rate": ("full",),
        "automation_partial_rate": ("partial",),
    }[kpi.key]
    value = t.automation.isin(levels).cast("float64").mean()
    return {"value": value, "n": t.count(), "n_people": n_people, "weight": t.count()}


# --- usage KPIs ----------------------------------------------------------------------


def _eligible(con: Any, query: KpiQuery, spine: ir.Table) -> ir.Table:
    """Each (period, person, use case) with an assignment active at any time in the period."""
    a = con.table("assignments")
    if query.use_case:
        a = a.filter(a.use_case == query.use_case)
    pairs = a.cross_join(spine).filter(
        (a.eligible_from < spine._end) & (a.eligible_to.isnull() | (a.eligible_to >= spine[PERIOD]))
    )
    rank = ibis.row_number().over(
        group_by=[pairs[PERIOD], pairs.person_id, pairs.use_case], order_by=ibis.desc(pairs.eligible_from)
    )
    pairs = pairs.mutate(_rank=rank)
    return pairs.filter(pairs._rank == 0).select(PERIOD, "_end", "person_id", "use_case", "cohort")


def _spine(con: Any, query: KpiQuery) -> tuple[ir.Table, date | None]:
    """The periods of the query as a small table (``period_start``, exclusive ``_end``), and the first."""
    start, end = query.since, query.until
    if start is None or end is None:
        bounds = _usage_bounds(con, query)
        start = start or bounds[0]
        end = end or bounds[1]
    if start is None or end is None or end < start:
        return _period_table([], []), None
    periods = period_starts(start, end, query.grain)
    ends = [*periods[1:], end + timedelta(days=1)]
    if query.grain is Grain.TOTAL:
        periods = [start]
    return _period_table(periods, ends), periods[0]


def _period_table(starts: list[date], ends: list[date]) -> ir.Table:
    """Typed through Arrow: an empty pandas frame would give float columns that cannot be dates."""
    table = pa.table({PERIOD: pa.array(starts, pa.date32()), "_end": pa.array(ends, pa.date32())})
    return ibis.memtable(table)


def _usage_bounds(con: Any, query: KpiQuery) -> tuple[date | None, date | None]:
    u = con.table("usage_events")
    if query.use_case:
        u = u.filter(u.use_case == query.use_case)
    row = u.aggregate(lo=u.occurred_at.min().date(), hi=u.occurred_at.max().date()).execute()
    lo, hi = row["lo"].iloc[0], row["hi"].iloc[0]
    return (_as_date(lo), _as_date(hi))


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def period_starts(start: date, end: date, grain: Grain) -> list[date]:
    """Start dates of every period of *grain* that overlaps [start, end]."""
    if grain is Grain.TOTAL:
        return [start]
    first = _truncate(start, grain)
    out = [first]
    while True:
        nxt = _next(out[-1], grain)
        if nxt > end:
            return out
        out.append(nxt)


def _truncate(day: date, grain: Grain) -> date:
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    if grain is Grain.MONTH:
        return day.replace(day=1)
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def _next(day: date, grain: Grain) -> date:
    if grain is Grain.DAY:
        return day + timedelta(days=1)
    if grain is Grain.WEEK:
        return day + timedelta(days=7)
    months = 1 if grain is Grain.MONTH else 3
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _adoption(con: Any, query: KpiQuery) -> tuple[ir.Table, dict[str, ir.Value]]:
    spine, first = _spine(con, query)
    eligible = _eligible(con, query, spine)
    u = time_window(con.table("usage_events"), "occurred_at", query)
    if query.use_case:
        u = u.filter(u.use_case == query.use_case)
    u = u.mutate(
        **{
            PERIOD: period_of(u.occurred_at, query.grain)
            if query.grain is not Grain.TOTAL
            else ibis.literal(first, type="date")
        }
    )
    active = u.select(_ap=u[PERIOD], _apid=u.person_id, _auc=u.use_case).distinct()
    joined = eligible.left_join(
        active,
        (eligible[PERIOD] == active._ap)
        & (eligible.person_id == active._apid)
        & (eligible.use_case == active._auc),
    )
    joined = joined.mutate(_active=joined._apid.notnull())
    joined = apply_filters(with_people(joined, con.table("people"), None, query.dims_needed), query.filters)
    n = joined.person_id.nunique()
    value = joined.person_id.nunique(where=joined._active).cast("float64") / n.cast("float64")
    return joined, {"value": value, "n": n, "n_people": n, "weight": n}


def _suggestions(con: Any, query: KpiQuery, kpi: KpiDefinition) -> tuple[ir.Table, dict[str, ir.Value]]:
    u = suggestion_frame(con, query)
    return u, suggestion_metrics(u, kpi)


def suggestion_frame(con: Any, query: KpiQuery) -> ir.Table:
    """Suggestion decisions (accepted, edited, rejected) with periods and dimensions."""
    u = _events(
        con,
        "usage_events",
        "occurred_at",
        "event_id",
        query,
        keep=lambda t: t.action.isin(SUGGESTION_DECISIONS),
    )
    return apply_filters(u, query.filters)


def suggestion_metrics(u: ir.Table, kpi: KpiDefinition) -> dict[str, ir.Value]:
    verb = kpi.name.removeprefix("suggestions_").removesuffix("_share")
    value = (u.action == f"suggestion_{verb}").cast("float64").mean()
    return {"value": value, "n": u.count(), "n_people": u.person_id.nunique(), "weight": u.count()}


# --- survey KPIs ---------------------------------------------------------------------


def _surveys(con: Any, query: KpiQuery, kpi: KpiDefinition) -> tuple[ir.Table, dict[str, ir.Value]]:
    s = survey_frame(con, query, kpi)
    return s, survey_metrics(s, kpi)


def survey_frame(con: Any, query: KpiQuery, kpi: KpiDefinition) -> ir.Table:
    """Responses to the KPI's survey with periods and dimensions."""
    s = _events(
        con, "survey_responses", "responded_at", "response_id", query, keep=lambda t: t.survey == kpi.name
    )
    if "ai_assisted" in query.dims_needed:
        t = con.table("task_events")
        tasks = t.select(_tid=t.task_id, _ai=t.ai_assisted).distinct()
        s = (
            s.left_join(tasks, s.task_id == tasks._tid)
            .mutate(ai_assisted=lambda x: x._ai)
            .drop("_tid", "_ai")
        )
    return apply_filters(s, query.filters)


def survey_metrics(s: ir.Table, kpi: KpiDefinition) -> dict[str, ir.Value]:
    """Mean score; NPS as the mean of +100 (9-10), 0 (7-8) and -100 (0-6), which is 100 x (share
    of promoters - share of detractors) and, averaged per person, carries the multinomial variance."""
    if kpi.name == "nps":
        value = ((s.score >= 9).cast("float64").mean() - (s.score <= 6).cast("float64").mean()) * 100.0
    else:
        value = s.score.mean()
    return {"value": value, "n": s.count(), "n_people": s.person_id.nunique(), "weight": s.count()}


def person_level(con: Any, query: KpiQuery) -> tuple[ir.Table, Callable[[ir.Table], ir.Value]]:
    """The rows of *query*'s KPI (with ``person_id`` and ``_day``) and how to compute its value on them.

    Pilots group these rows by person, so every KPI measured per person can be an outcome;
    adoption is measured over eligible people, not per person, and is not one.
    """
    kpi = _validate(query)
    if kpi.sources[0] == "task_events":
        return task_frame(con, query), lambda f: task_metrics(f, kpi, query.stat)["value"]
    if kpi.key == "suggestions_share":
        return suggestion_frame(con, query), lambda f: suggestion_metrics(f, kpi)["value"]
    if kpi.name in ("csat", "nps", "esat"):
        return survey_frame(con, query, kpi), lambda f: survey_metrics(f, kpi)["value"]
    raise ValidationError(
        f"{kpi.name} is not measured per person",
        field="kpi",
        fix="use it as an acceptance criterion (e.g. adoption_rate>=0.6)",
    )


# --- the engine ----------------------------------------------------------------------


def build(con: Any, query: KpiQuery) -> ir.Table:
    """The grouped aggregate for *query*: one row per period and group."""
    kpi = _validate(query)
    if kpi.sources[0] == "task_events":
        frame = apply_filters(task_frame(con, query), query.filters)
        metrics = task_metrics(frame, kpi, query.stat)
    elif kpi.name == "adoption_rate":
        frame, metrics = _adoption(con, query)
    elif kpi.key == "suggestions_share":
        frame, metrics = _suggestions(con, query, kpi)
    else:
        frame, metrics = _surveys(con, query, kpi)
    keys = [PERIOD, *query.by]
    return frame.group_by(keys).aggregate(**metrics).order_by(keys)


def _validate(query: KpiQuery) -> KpiDefinition:
    kpi = definition(query.kpi)
    check_dims(query.by, kpi.dims, kpi.name)
    check_dims(tuple(query.filters), kpi.dims, kpi.name)
    if query.stat not in kpi.stats:
        raise ValidationError(
            f"{kpi.name} has no statistic {query.stat.value!r}",
            field="stat",
            fix=f"use one of: {', '.join(s.value for s in kpi.stats)}",
        )
    return kpi


def _frame_key(query: KpiQuery) -> tuple[Any, ...]:
    """Queries with the same key read the same task frame and can share one scan."""
    return (
        query.use_case,
        query.by,
        query.grain,
        query.since,
        query.until,
        tuple(sorted(query.filters.items())),
    )


def compute_many(con: Any, queries: Sequence[KpiQuery], min_group_size: int) -> list[KpiResult]:
    """Like :func:`compute` for each query, with task KPIs over the same frame in one scan.

    The dashboard asks for every task KPI by the same split; one grouped aggregate
    computes them all from a single pass over the task events.
    """
    results: dict[int, KpiResult] = {}
    shared: dict[tuple[Any, ...], list[int]] = {}
    for i, query in enumerate(queries):
        if _validate(query).sources[0] == "task_events":
            shared.setdefault(_frame_key(query), []).append(i)
        else:
            results[i] = compute(con, query, min_group_size)
    for indices in shared.values():
        first = queries[indices[0]]
        frame = apply_filters(task_frame(con, first), first.filters)
        metrics: dict[str, ir.Value] = {}
        for i in indices:
            kpi = definition(queries[i].kpi)
            metrics.update(
                {f"m{i}__{name}": m for name, m in task_metrics(frame, kpi, queries[i].stat).items()}
            )
        keys = [PERIOD, *first.by]
        raw = frame.group_by(keys).aggregate(**metrics).order_by(keys).to_pyarrow().to_pylist()
        for i in indices:
            rows = [
                {
                    **{k: r[k] for k in keys},
                    **{m: r[f"m{i}__{m}"] for m in ("value", "n", "n_people", "weight")},
                }
                for r in raw
            ]
            results[i] = _result(definition(queries[i].kpi), queries[i], rows, min_group_size)
    return [results[i] for i in range(len(queries))]


def _result(kpi: KpiDefinition, query: KpiQuery, raw: list[dict[str, Any]], k: int) -> KpiResult:
    rows = [_row(r, query.by, suppresses(kpi, query.by), k) for r in raw]
    return KpiResult(kpi, query, rows, weights=[float(r["weight"] or 0) for r in raw])


def compute(con: Any, query: KpiQuery, min_group_size: int) -> KpiResult:
    """Run *query* in the engine and apply the small-group rule to its few rows."""
    kpi = definition(query.kpi)
    raw = build(con, query).to_pyarrow().to_pylist()
    return KpiResult(
        kpi,
        query,
        [_row(r, query.by, suppresses(kpi, query.by), min_group_size) for r in raw],
        weights=[float(r["weight"] or 0) for r in raw],
    )


def suppresses(kpi: KpiDefinition, by: Sequence[str]) -> bool:
    """Whether the small-group rule applies: people-based KPIs, or any split by a people dimension."""
    return kpi.people_based or bool(PEOPLE_DIMS & set(by))


def _row(raw: dict[str, Any], by: Sequence[str], suppress_people: bool, k: int) -> dict[str, Any]:
    n_people = int(raw["n_people"] or 0)
    value = raw["value"]
    if value is not None and isinstance(value, float) and not math.isfinite(value):
        value = None
    suppressed = suppress_people and 0 < n_people < k
    period = raw[PERIOD]
    out: dict[str, Any] = {PERIOD: period.isoformat() if period is not None else None}
    out.update({d: raw[d] for d in by})
    out.update(
        value=None if suppressed else value, n=int(raw["n"] or 0), n_people=n_people, suppressed=suppressed
    )
    return out
