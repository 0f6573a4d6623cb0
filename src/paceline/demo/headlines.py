"""The demo's headline numbers, computed from the warehouse after ingest.

Nothing here is hard-coded: row counts and shares are Ibis expressions over the
canonical views (so they run on any warehouse engine), and the KPI columns come
from Paceline's own KPI engine
(:meth:`paceline.bootstrap.Workspace.kpi`), comparing the baseline months with
the last quarter, exactly as a user of a real workspace would see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis

from paceline.bootstrap import Workspace
from paceline.demo.params import FirmParams
from paceline.domain.tables import SYSTEM_PERSON


@dataclass(frozen=True)
class Headline:
    """One use case's numbers: volumes, AI use, and KPIs before and at the end of the program."""

    use_case: str
    tasks: int
    people: int
    ai_share_end: float | None
    adoption_end: float | None
    automation_end: float | None
    productivity: tuple[float | None, float | None]  # baseline, last quarter
    error_rate: tuple[float | None, float | None]
    resolution_hours: tuple[float | None, float | None]  # median
    effort_minutes: tuple[float | None, float | None]  # mean handling / documentation / repair time


@dataclass(frozen=True)
class ModelLine:
    """One monitored model: predictions, labelled share and accuracy over the last month."""

    model: str
    predictions: int
    accuracy_end: float | None


def month_start(params: FirmParams, month: int) -> date:
    """First day of timeline month *month*."""
    start = params.timeline.start
    index = start.year * 12 + start.month - 1 + month
    return date(index // 12, index % 12 + 1, 1)


def _utc(day: date) -> Any:
    return ibis.literal(datetime(day.year, day.month, day.day, tzinfo=UTC))


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def _by_use_case(
    ws: Workspace, kpi: str, since: date, until: date, **options: Any
) -> dict[str, float | None]:
    result = ws.kpi(kpi, by=["use_case"], grain="total", since=since, until=until, **options)
    return {row["use_case"]: row["value"] for row in result.rows}


def _volumes(ws: Workspace, pilot: date, quarter: date) -> dict[str, dict[str, Any]]:
    """Per use case: tasks, distinct (pseudonymised) people, AI-assisted share in the last
    quarter, and mean effort minutes before the pilot and in the last quarter."""
    t = ws.warehouse_connection().table("task_events")
    human, before, late = (
        t.person_id != SYSTEM_PERSON,
        t.completed_at < _utc(pilot),
        t.completed_at >= _utc(quarter),
    )
    minutes = t.effort_seconds / 60
    expr = t.group_by("use_case").aggregate(
        tasks=t.count(),
        people=t.person_id.nunique(where=human),
        ai_share=t.ai_assisted.cast("float64").mean(where=late),
        effort_base=minutes.mean(where=before & human),
        effort_end=minutes.mean(where=late & human),
    )
    return {r["use_case"]: r for r in _rows(expr.order_by("use_case"))}


def headlines(ws: Workspace, params: FirmParams) -> list[Headline]:
    """Per use case: volumes, AI use at the end, and KPIs baseline vs the last quarter."""
    t = params.timeline
    first, pilot = month_start(params, 0), month_start(params, t.pilot_start)
    quarter, last = month_start(params, t.months - 3), month_start(params, t.months - 1)
    end = month_start(params, t.months) - timedelta(days=1)
    periods = {"base": (first, pilot - timedelta(days=1)), "end": (quarter, end)}

    def both(kpi: str, **options: Any) -> dict[str, tuple[float | None, float | None]]:
        base, now = (_by_use_case(ws, kpi, *periods[p], **options) for p in ("base", "end"))
        return {u: (base.get(u), now.get(u)) for u in set(base) | set(now)}

    productivity, errors = both("productivity"), both("error_rate")
    hours = both("resolution_time", stat="median")
    adoption = _by_use_case(ws, "adoption_rate", last, end)
    automation = _by_use_case(ws, "automation_rate", quarter, end)
    return [
        Headline(
            use_case=use_case,
            tasks=v["tasks"],
            people=v["people"],
            ai_share_end=v["ai_share"],
            adoption_end=adoption.get(use_case),
            automation_end=automation.get(use_case),
            productivity=productivity.get(use_case, (None, None)),
            error_rate=errors.get(use_case, (None, None)),
            resolution_hours=hours.get(use_case, (None, None)),
            effort_minutes=(v["effort_base"], v["effort_end"]),
        )
        for use_case, v in _volumes(ws, pilot, quarter).items()
    ]


def models(ws: Workspace, params: FirmParams) -> list[ModelLine]:
    """Each model's prediction count and its accuracy on labels in the last month."""
    con = ws.warehouse_connection()
    p, labels = con.table("predictions"), con.table("labels")
    j = p.left_join(labels.select("prediction_id", "label"), "prediction_id")
    recent = j.predicted_at >= _utc(month_start(params, params.timeline.months - 1))
    expr = j.group_by("model").aggregate(
        predictions=j.count(), accuracy=(j.prediction == j.label).cast("float64").mean(where=recent)
    )
    return [ModelLine(r["model"], r["predictions"], r["accuracy"]) for r in _rows(expr.order_by("model"))]
