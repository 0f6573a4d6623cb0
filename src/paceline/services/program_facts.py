"""The warehouse and pilot figures the gates and the ROI need, computed in the engine.

:class:`ProgramFacts` implements :class:`paceline.services.gate_service.WarehouseFacts`
over a warehouse connection and the workspace's cached KPI and pilot evaluations (handed
in as callables, so this layer does not depend on the workspace).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import ibis

from paceline.domain.evidence import PilotEvidence, RoiEvidence
from paceline.domain.kpis import Grain
from paceline.domain.pilots import PilotSpec
from paceline.domain.roi import RoiPoint, measured_benefit, month_start, program_rollup, roi_series
from paceline.domain.usecases import UseCase
from paceline.errors import PacelineError
from paceline.services.kpi import KpiResult
from paceline.services.kpi_frames import KpiQuery

RunKpi = Callable[[KpiQuery], KpiResult]


def _unsuppressed(result: KpiResult) -> list[dict[str, Any]]:
    return [r for r in result.rows if not r["suppressed"] and r["value"] is not None]


class ProgramFacts:
    """Figures for one principal's view of the program (KPIs come from the shared cache)."""

    def __init__(
        self,
        con: Callable[[], Any],
        run_kpi: RunKpi,
        pilot_specs: Callable[[str], list[PilotSpec]],
        judge_pilot: Callable[[str], dict[str, Any]],
        ai_starts: Callable[[], dict[str, date]],
    ) -> None:
        self._con, self._run_kpi = con, run_kpi
        self._specs, self._judge, self._ai_starts = pilot_specs, judge_pilot, ai_starts
        self._roi: dict[str, RoiEvidence | None] = {}

    def pilot_specs(self, use_case: str) -> list[PilotSpec]:
        return self._specs(use_case)

    def pilot_verdicts(self, use_case: str) -> list[PilotEvidence]:
        out = []
        for spec in self._specs(use_case):
            try:
                doc = self._judge(spec.name)
            except PacelineError as exc:
                out.append(PilotEvidence(spec.name, None, error=exc.message))
                continue
            reasons = doc.get("reasons", [])
            primary = [r["met"] for r in reasons if r["criterion"].startswith("primary")]
            accept = [r["met"] for r in reasons if r["criterion"].startswith("acceptance")]
            out.append(
                PilotEvidence(
                    spec.name,
                    doc["verdict"],
                    tuple(r["text"] for r in reasons if r["met"] is not True)
                    or tuple(r["text"] for r in reasons),
                    all(m is True for m in primary) if primary else None,
                    all(m is True for m in accept) if accept else None,
                )
            )
        return out

    def kpi_total(self, kpi: str, use_case: str, since: date | None, until: date | None) -> float | None:
        rows = _unsuppressed(self._run_kpi(KpiQuery(kpi, use_case, (), Grain.TOTAL, since, until)))
        return float(rows[0]["value"]) if rows else None

    def recent_kpi(self, kpi: str, use_case: str, weeks: int = 4) -> float | None:
        """Mean of the last *weeks* weekly values in the data (not the calendar: data may lag)."""
        result = self._run_kpi(KpiQuery(kpi, use_case, (), Grain.WEEK))
        values = [
            float(r["value"]) for r in sorted(_unsuppressed(result), key=lambda r: str(r["period_start"]))
        ]
        return sum(values[-weeks:]) / len(values[-weeks:]) if values else None

    def kpi_by_month(self, kpi: str, use_case: str, since: date | None = None) -> dict[date, float]:
        result = self._run_kpi(KpiQuery(kpi, use_case, (), Grain.MONTH, since, None))
        return {
            date.fromisoformat(str(r["period_start"])[:10]): float(r["value"]) for r in _unsuppressed(result)
        }

    def ai_start(self, use_case: str) -> date | None:
        return self._ai_starts().get(use_case)

    def before_ai(self, use_case: str) -> date | None:
        """The last day before the AI start: the end of the pre-AI baseline (``until`` is inclusive)."""
        start = self.ai_start(use_case)
        return None if start is None else start - timedelta(days=1)

    def eligible_people(self, use_case: str) -> set[str]:
        a = self._con().table("assignments")
        people = a.filter(a.use_case == use_case).select("person_id").distinct()
        return set(people.to_pyarrow().column(0).to_pylist())

    def traceability(self, use_case: str, since: date) -> float | None:
        """Share of AI-assisted tasks since *since* whose output is recorded in the predictions table."""
        con = self._con()
        t, p = con.table("task_events"), con.table("predictions")
        tasks = t.filter((t.use_case == use_case) & t.ai_assisted & (t.completed_at.date() >= since))
        tasks = tasks.select("task_id").distinct()
        traced = p.filter(p.use_case == use_case).select("task_id").distinct()
        joined = tasks.left_join(traced, tasks.task_id == traced.task_id)
        row = (
            joined.aggregate(n=tasks.task_id.count(), hit=ibis.ifelse(traced.task_id.notnull(), 1, 0).sum())
            .to_pyarrow()
            .to_pylist()[0]
        )
        return row["hit"] / row["n"] if row["n"] else None

    def monthly_costs(self, use_case: str) -> list[tuple[date, float]]:
        c = self._con().table("costs")
        rows = (
            c.filter(c.use_case == use_case)
            .group_by("period_start")
            .aggregate(amount=c.amount.sum())
            .to_pyarrow()
            .to_pylist()
        )
        return [(month_start(r["period_start"]), float(r["amount"])) for r in rows]

    def roi_points(self, uc: UseCase) -> list[RoiPoint]:
        """Measured benefit per month since the AI start (through the value model) against the costs."""
        start = self.ai_start(uc.key)
        if start is None:
            return []
        base_prod = self.kpi_total("productivity", uc.key, None, self.before_ai(uc.key))
        base_err = self.kpi_total("error_rate", uc.key, None, self.before_ai(uc.key))
        prod = self.kpi_by_month("productivity", uc.key, month_start(start))
        err = self.kpi_by_month("error_rate", uc.key, month_start(start))
        benefits = []
        for month in sorted(set(prod) | set(err)):
            uplift = prod[month] / base_prod - 1 if base_prod and month in prod else None
            # measured over everyone in the use case, users and non-users: adoption is already in it
            benefit = measured_benefit(uc.value, uplift, base_err, err.get(month), 1.0, 1.0)
            benefits.append((month, benefit.total))
        return roi_series(benefits, self.monthly_costs(uc.key))

    def roi(self, uc: UseCase) -> RoiEvidence | None:
        if uc.key not in self._roi:
            points = self.roi_points(uc)
            if not points:
                self._roi[uc.key] = None
            else:
                rollup = program_rollup({uc.key: points})
                self._roi[uc.key] = RoiEvidence(points[-1].roi, rollup["growing"], rollup["sentence"])
        return self._roi[uc.key]
