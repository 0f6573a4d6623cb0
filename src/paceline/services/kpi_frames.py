"""The Ibis tables KPIs are computed from: filtered, with periods and dimensions attached.

Everything here builds expressions; nothing runs until the engine executes the
final aggregate, so DuckDB and Spark push the whole computation down and only the
small grouped result comes back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from paceline.domain.kpis import Grain, Stat
from paceline.errors import ValidationError

TRUNCATE_UNITS = {Grain.DAY: "D", Grain.WEEK: "W", Grain.MONTH: "M", Grain.QUARTER: "Q"}
PERIOD = "period_start"
# Tenure bands by months of 30.4375 days (see paceline.domain.kpis.tenure_band).
TENURE_EDGES = ((6, "<6m"), (12, "6-12m"), (36, "1-3y"))
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class KpiQuery:
    """What to compute: a KPI, filters, the dimensions to split by and the time grain."""

    kpi: str
    use_case: str | None = None
    by: tuple[str, ...] = ()
    grain: Grain = Grain.TOTAL
    since: date | None = None
    until: date | None = None
    stat: Stat = Stat.MEAN
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def dims_needed(self) -> set[str]:
        """Dimensions the frame must carry: those split by and those filtered on."""
        return set(self.by) | set(self.filters)

    def cache_key(self) -> str:
        parts = [
            self.kpi,
            self.use_case or "",
            ",".join(self.by),
            self.grain.value,
            str(self.since or ""),
            str(self.until or ""),
            self.stat.value,
            ",".join(f"{k}={v}" for k, v in sorted(self.filters.items())),
        ]
        return "|".join(parts)


def utc_start(day: date) -> datetime:
    """Midnight UTC at the start of *day*: periods and windows are whole UTC days."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def time_window(table: ir.Table, column: str, query: KpiQuery) -> ir.Table:
    """Rows whose *column* falls in [since, until] (whole UTC days, both ends included)."""
    ts = table[column]
    if query.since is not None:
        table = table.filter(ts >= ibis.literal(utc_start(query.since)))
    if query.until is not None:
        table = table.filter(ts < ibis.literal(utc_start(query.until + timedelta(days=1))))
    return table


def period_of(ts: ir.TimestampValue, grain: Grain) -> ir.Value:
    """The start date of the period *ts* falls in (UTC; weeks start on Monday)."""
    if grain is Grain.TOTAL:
        return ibis.null().cast("date")
    return ts.truncate(TRUNCATE_UNITS[grain]).date()


def tenure_of(hire_date: ir.DateValue, on: ir.DateValue) -> ir.StringValue:
    """The tenure band on date *on* for a person hired on *hire_date*."""
    months = on.delta(hire_date, unit="day").cast("float64") / DAYS_PER_MONTH
    case = ibis.cases(*((months < edge, label) for edge, label in TENURE_EDGES), else_="3y+")
    return ibis.ifelse(hire_date.isnull() | (months < 0), ibis.null().cast("string"), case)


def with_people(table: ir.Table, people: ir.Table, on: ir.DateValue | None, need: set[str]) -> ir.Table:
    """Attach ``team`` (the row's own, else the person's) and ``tenure_band`` from people."""
    if not need & {"team", "tenure_band"}:
        return table
    p = people.select(_pid=people.person_id, _team=people.team, _hire=people.hire_date)
    joined = table.left_join(p, table.person_id == p._pid)
    extra: dict[str, ir.Value] = {}
    if "team" in need:
        extra["team"] = joined.team.coalesce(joined._team) if "team" in table.columns else joined._team
    if "tenure_band" in need:
        day = on if on is not None else joined[PERIOD]
        extra["tenure_band"] = tenure_of(joined._hire, _rebind(day, joined))
    return joined.mutate(**extra).drop("_pid", "_team", "_hire")


def _rebind(value: ir.Value, table: ir.Table) -> ir.Value:
    """Expressions built on the pre-join table must name the joined table's columns."""
    name = value.get_name()
    return table[name] if name in table.columns else value


def with_cohort(table: ir.Table, assignments: ir.Table, day_column: str, row_id: str) -> ir.Table:
    """Attach the ``cohort`` of the person's assignment to the row's use case on that day.

    When assignments overlap, the one that started last wins, so each row keeps
    exactly one cohort (and is never counted twice).
    """
    a = assignments.select(
        _apid=assignments.person_id,
        _auc=assignments.use_case,
        _cohort=assignments.cohort,
        _from=assignments.eligible_from,
        _to=assignments.eligible_to,
    )
    day = table[day_column]
    joined = table.left_join(
        a,
        (table.person_id == a._apid)
        & (table.use_case == a._auc)
        & (a._from <= day)
        & (a._to.isnull() | (a._to >= day)),
    )
    rank = ibis.row_number().over(group_by=joined[row_id], order_by=ibis.desc(joined._from))
    ranked = joined.mutate(_rank=rank)
    return (
        ranked.filter(ranked._rank == 0)
        .mutate(cohort=ranked._cohort)
        .drop("_apid", "_auc", "_cohort", "_from", "_to", "_rank")
    )


def apply_filters(table: ir.Table, filters: dict[str, Any]) -> ir.Table:
    """Keep the rows of one segment: ``{"team": "claims-east", "ai_assisted": "true"}``."""
    for dim, value in filters.items():
        column = table[dim]
        if column.type().is_boolean():
            table = table.filter(column == (str(value).lower() == "true"))
        else:
            table = table.filter(column == str(value))
    return table


def check_dims(by: tuple[str, ...], allowed: tuple[str, ...], kpi: str) -> None:
    unknown = [d for d in by if d not in allowed]
    if unknown:
        raise ValidationError(
            f"{kpi} cannot be split by {', '.join(unknown)}",
            field="by",
            fix=f"use any of: {', '.join(allowed)}",
        )
    if len(set(by)) != len(by):
        raise ValidationError("a dimension is repeated in --by", field="by")
