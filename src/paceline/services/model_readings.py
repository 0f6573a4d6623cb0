"""Drift and performance readings of the registered models, for the alert rules that watch them.

The runtime and latency readings come from :mod:`paceline.services.monitor_readings`; these
come from the drift and performance services. For every model with a production version and
every (signal, window) pair the enabled rules ask for, the window ending now is compared
with the model's reference window (drift) or judged on the labels that arrived for its
predictions (performance). A model with too little data in a window gives no reading rather
than a made-up one; the rule's ``min_samples`` then decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from paceline.analytics.drift import DriftReport
from paceline.domain.alerts import AlertRule, Reading, Scope, Signal, SignalKind
from paceline.errors import NotFound, ValidationError

WATCHED = frozenset({SignalKind.DRIFT_SHARE, SignalKind.COLUMN_DRIFT, SignalKind.PERFORMANCE})
DAY = 86_400


@dataclass(frozen=True)
class WatchedModel:
    """A model the readings are computed for: its name and its use case."""

    name: str
    use_case: str | None


DriftOf = Callable[[str, tuple[date, date]], DriftReport]
PerformanceOf = Callable[[str, date, date], dict[str, Any]]


def wanted(rules: Sequence[AlertRule]) -> list[tuple[SignalKind, int]]:
    """The (signal, window) pairs of the enabled rules that need drift or performance."""
    pairs = {(r.signal.kind, r.window_seconds) for r in rules if r.enabled and r.signal.kind in WATCHED}
    return sorted(pairs)


def window_days(now: datetime, seconds: int) -> tuple[datetime, datetime, date, date]:
    """The rule's window ending at *now*, and the whole UTC days it covers (both ends included).

    Drift and performance work on whole days, so a window shorter than a day reads the
    last full day; the reading still carries the rule's window, so the rule matches it.
    """
    start = now - timedelta(seconds=seconds)
    last = (now - timedelta(seconds=1)).date()
    first = min(start.date(), last) if seconds >= DAY else last
    return start, now, first, last


def drift_readings(
    model: WatchedModel, report: DriftReport, start: datetime, end: datetime, columns: bool = True
) -> list[Reading]:
    """The drifted share of the model's columns, and (with *columns*) each column's PSI."""
    scope = Scope(use_case=model.use_case, model=model.name)
    detail = {"drifted": report.drifted_columns, "current_rows": report.current_rows}
    out = [
        Reading(
            Signal(SignalKind.DRIFT_SHARE),
            scope,
            report.drifted_share,
            start,
            end,
            report.current_rows,
            detail,
        )
    ]
    for column in report.columns if columns else ():
        if column.psi is not None:
            samples = column.current_count
            out.append(
                Reading(
                    Signal(SignalKind.COLUMN_DRIFT, column.column),
                    scope,
                    float(column.psi),
                    start,
                    end,
                    samples,
                    {"drifted": column.drifted, "method": str(column.method)},
                )
            )
    return out


def _metric(realized: dict[str, Any], name: str) -> float | None:
    value = (realized.get("calibration") or {}).get("ece") if name == "ece" else realized.get(name)
    return None if value is None else float(value)


def performance_readings(
    model: WatchedModel, report: dict[str, Any], metrics: Sequence[str], start: datetime, end: datetime
) -> list[Reading]:
    """One reading per metric the rules watch, on the window's labelled predictions."""
    rows = [r for r in report.get("rows", []) if r.get("realized")]
    if not rows:
        return []
    realized = rows[0]["realized"]
    scope = Scope(use_case=model.use_case, model=model.name)
    detail = {"label_coverage": rows[0].get("label_coverage"), "average": realized.get("average")}
    out = []
    for name in metrics:
        value = _metric(realized, name)
        if value is not None:
            out.append(
                Reading(
                    Signal(SignalKind.PERFORMANCE, name), scope, value, start, end, int(realized["n"]), detail
                )
            )
    return out


class ModelReadings:
    """Computes drift and performance readings of the watched models for the rules."""

    def __init__(
        self, models: Sequence[WatchedModel], drift_of: DriftOf, performance_of: PerformanceOf
    ) -> None:
        self.models, self.drift_of, self.performance_of = models, drift_of, performance_of

    def readings(self, rules: Sequence[AlertRule], now: datetime) -> list[Reading]:
        """Every drift and performance reading the *rules* need, over their windows ending *now*."""
        pairs = wanted(rules)
        metrics = sorted({r.signal.qualifier for r in rules if r.signal.kind is SignalKind.PERFORMANCE})
        out: list[Reading] = []
        for seconds in sorted({w for _, w in pairs}):
            kinds = {k for k, w in pairs if w == seconds}
            start, end, first, last = window_days(now, seconds)
            for model in self.models:
                if kinds & {SignalKind.DRIFT_SHARE, SignalKind.COLUMN_DRIFT}:
                    columns = SignalKind.COLUMN_DRIFT in kinds
                    out.extend(self._drift(model, start, end, (first, last), columns))
                if SignalKind.PERFORMANCE in kinds:
                    report = self._performance(model, first, last)
                    out.extend(performance_readings(model, report, metrics, start, end))
        return out

    def _drift(
        self, model: WatchedModel, start: datetime, end: datetime, days: tuple[date, date], columns: bool
    ) -> list[Reading]:
        try:
            report = self.drift_of(model.name, days)
        except (NotFound, ValidationError):  # no predictions in the window, or no reference yet
            return []
        return drift_readings(model, report, start, end, columns)

    def _performance(self, model: WatchedModel, first: date, last: date) -> dict[str, Any]:
        try:
            return self.performance_of(model.name, first, last)
        except (NotFound, ValidationError):
            return {}
