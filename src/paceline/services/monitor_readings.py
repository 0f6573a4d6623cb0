"""Readings the platform computes itself, for the alert rules that watch them.

From the runtime's operational store (counted by the database, per workflow; the scope
names the workflow and its use case):

- ``error_rate``: of the cases created in the window that ended, the share that failed or
  completed but whose downstream action failed for good;
- ``override_rate``: of the review items decided in the window, the share decided edit,
  override or reject (the runtime's "overriding" decisions);
- ``review_sla_breaches``: of the review items due in the window, how many were decided
  after their due time or are still undecided past it (samples: the items due);
- ``cost_per_case``: the mean model-call cost (``paceline.cost``) of the window's cases.

From the warehouse's ``predictions`` table (an Ibis expression run by the engine, per model
and use case): ``latency_p95_ms``, the 95th percentile of ``latency_ms`` by linear
interpolation between order statistics (numpy's default method).

Each rule asks for its signal over its window ending now; every (signal, window) pair is
computed once. Drift and performance readings come from their own services and are fed to
:meth:`paceline.services.alerting.AlertService.evaluate` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

import ibis

from paceline.domain.alerts import AlertRule, Reading, Scope, Signal, SignalKind

Counts = dict[str, dict[str, Any]]
Measured = list[tuple[str, float, int, dict[str, Any]]]  # (workflow, value, samples, detail)


class RuntimeFigures(Protocol):
    def case_outcomes(self, start: datetime, end: datetime) -> Counts: ...
    def review_decisions(self, start: datetime, end: datetime) -> Counts: ...
    def review_sla(self, start: datetime, end: datetime) -> Counts: ...
    def case_costs(self, start: datetime, end: datetime) -> Counts: ...


RUNTIME = (
    SignalKind.ERROR_RATE,
    SignalKind.OVERRIDE_RATE,
    SignalKind.REVIEW_SLA_BREACHES,
    SignalKind.COST_PER_CASE,
)
COMPUTED = frozenset({*RUNTIME, SignalKind.LATENCY_P95_MS})


def _error_rate(figures: RuntimeFigures, start: datetime, end: datetime) -> Measured:
    out = []
    for workflow, c in figures.case_outcomes(start, end).items():
        if c["ended"]:
            errors = c["failed"] + c["action_failed"]
            out.append((workflow, errors / c["ended"], c["ended"], c))
    return out


def _override_rate(figures: RuntimeFigures, start: datetime, end: datetime) -> Measured:
    return [
        (workflow, c["overridden"] / c["decided"], c["decided"], c)
        for workflow, c in figures.review_decisions(start, end).items()
        if c["decided"]
    ]


def _sla(figures: RuntimeFigures, start: datetime, end: datetime) -> Measured:
    return [
        (w, float(c["breached"]), c["due"], c) for w, c in figures.review_sla(start, end).items() if c["due"]
    ]


def _cost(figures: RuntimeFigures, start: datetime, end: datetime) -> Measured:
    return [
        (w, c["cost"] / c["calls"], int(c["calls"]), c)
        for w, c in figures.case_costs(start, end).items()
        if c["calls"]
    ]


MEASURES: dict[SignalKind, Callable[[RuntimeFigures, datetime, datetime], Measured]] = {
    SignalKind.ERROR_RATE: _error_rate,
    SignalKind.OVERRIDE_RATE: _override_rate,
    SignalKind.REVIEW_SLA_BREACHES: _sla,
    SignalKind.COST_PER_CASE: _cost,
}


def latency_p95(con: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per model and use case, the p95 of ``latency_ms`` of predictions made in ``[start, end)``."""
    p = con.table("predictions")
    t = p.filter(
        p.predicted_at >= ibis.literal(start),
        p.predicted_at < ibis.literal(end),
        p.latency_ms.notnull(),
    )
    agg = t.group_by(["model", "use_case"]).aggregate(p95=t.latency_ms.quantile(0.95), n=t.count())
    rows: list[dict[str, Any]] = agg.order_by(["model", "use_case"]).to_pyarrow().to_pylist()
    return rows


class MonitorReadings:
    """Computes the readings of :data:`COMPUTED` signals that the given rules ask for."""

    def __init__(
        self,
        open_figures: Callable[[], AbstractContextManager[RuntimeFigures]],
        warehouse: Callable[[], Any],
        use_case_of: Callable[[str], str | None],
    ) -> None:
        self.open_figures, self.warehouse, self.use_case_of = open_figures, warehouse, use_case_of

    @staticmethod
    def wanted(rules: Sequence[AlertRule]) -> list[tuple[SignalKind, int]]:
        """The (signal, window) pairs of the enabled rules that this monitor can compute."""
        pairs = {(r.signal.kind, r.window_seconds) for r in rules if r.enabled and r.signal.kind in COMPUTED}
        return sorted(pairs)

    def readings(self, rules: Sequence[AlertRule], now: datetime) -> list[Reading]:
        """Every computed reading the *rules* need, each over its window ending at *now*."""
        pairs = self.wanted(rules)
        out: list[Reading] = []
        runtime = [(k, w) for k, w in pairs if k in MEASURES]
        if runtime:
            with self.open_figures() as figures:
                for kind, window in runtime:
                    out.extend(self._runtime(figures, kind, now - timedelta(seconds=window), now))
        for kind, window in pairs:
            if kind is SignalKind.LATENCY_P95_MS:
                out.extend(self._latency(now - timedelta(seconds=window), now))
        return out

    def _runtime(
        self, figures: RuntimeFigures, kind: SignalKind, start: datetime, end: datetime
    ) -> list[Reading]:
        return [
            Reading(
                Signal(kind),
                Scope(use_case=self.use_case_of(workflow), workflow=workflow),
                value,
                start,
                end,
                samples,
                dict(detail),
            )
            for workflow, value, samples, detail in MEASURES[kind](figures, start, end)
        ]

    def _latency(self, start: datetime, end: datetime) -> list[Reading]:
        return [
            Reading(
                Signal(SignalKind.LATENCY_P95_MS),
                Scope(use_case=row["use_case"], model=row["model"]),
                float(row["p95"]),
                start,
                end,
                int(row["n"]),
            )
            for row in latency_p95(self.warehouse(), start, end)
            if row["p95"] is not None
        ]
