"""Drift and performance readings of the registered models, and how the alert rules judge them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from paceline.analytics.drift import ColumnDrift, DriftReport, Kind
from paceline.domain.alerts import SignalKind, default_rules, evaluate, rule_from_dict
from paceline.errors import NotFound, ValidationError
from paceline.services.model_readings import ModelReadings, WatchedModel, wanted, window_days

NOW = datetime(2026, 7, 1, tzinfo=UTC)
MODEL = WatchedModel("claims-router", "claims-triage")


def _column(name: str, psi: float, drifted: bool) -> ColumnDrift:
    return ColumnDrift(name, Kind.NUMERIC, 900, 800, 0, 0, psi=psi, drifted=drifted, threshold=0.2)


def _report(*columns: ColumnDrift) -> DriftReport:
    return DriftReport(reference_rows=1000, current_rows=800, columns=list(columns))


def _performance(f1: float, ece: float, n: int = 400) -> dict[str, Any]:
    realized = {"n": n, "f1": f1, "accuracy": 0.9, "average": "macro", "calibration": {"ece": ece}}
    return {"rows": [{"period_start": None, "label_coverage": 0.7, "realized": realized}]}


class Calls:
    """Records the windows asked for, answering with fixed reports."""

    def __init__(self, drift: DriftReport | Exception, performance: dict[str, Any] | Exception) -> None:
        self.drift, self.performance = drift, performance
        self.drift_days: list[tuple[date, date]] = []
        self.performance_days: list[tuple[date, date]] = []

    def drift_of(self, model: str, days: tuple[date, date]) -> DriftReport:
        self.drift_days.append(days)
        if isinstance(self.drift, Exception):
            raise self.drift
        return self.drift

    def performance_of(self, model: str, first: date, last: date) -> dict[str, Any]:
        self.performance_days.append((first, last))
        if isinstance(self.performance, Exception):
            raise self.performance
        return self.performance


def test_a_week_window_reads_the_seven_days_before_now() -> None:
    start, end, first, last = window_days(NOW, 7 * 86_400)
    assert (start, end) == (datetime(2026, 6, 24, tzinfo=UTC), NOW)
    assert (first, last) == (date(2026, 6, 24), date(2026, 6, 30))
    # shorter than a day: the last whole day
    assert window_days(NOW, 3600)[2:] == (date(2026, 6, 30), date(2026, 6, 30))


def test_only_drift_and_performance_rules_are_wanted() -> None:
    pairs = wanted(default_rules())
    assert {k for k, _ in pairs} == {SignalKind.DRIFT_SHARE, SignalKind.PERFORMANCE}
    assert {w for _, w in pairs} == {7 * 86_400}


def test_readings_carry_the_drifted_share_and_the_watched_metrics() -> None:
    calls = Calls(
        _report(_column("amount", 0.31, True), _column("pages", 0.01, False)), _performance(0.62, 0.04)
    )
    readings = ModelReadings([MODEL], calls.drift_of, calls.performance_of).readings(default_rules(), NOW)
    by_signal = {str(r.signal): r for r in readings}
    assert set(by_signal) == {
        "drift_share",
        "performance:f1",
        "performance:ece",
    }  # no column rule: no column reading
    assert by_signal["drift_share"].value == pytest.approx(0.5)
    assert by_signal["drift_share"].samples == 800
    assert by_signal["performance:f1"].value == pytest.approx(0.62)
    assert by_signal["performance:ece"].value == pytest.approx(0.04)
    assert all(r.scope.model == "claims-router" and r.scope.use_case == "claims-triage" for r in readings)
    assert calls.drift_days == [(date(2026, 6, 24), date(2026, 6, 30))]


def test_a_column_rule_gets_each_columns_psi_and_fires_on_its_column() -> None:
    rule = rule_from_dict(
        {
            "name": "amount-psi",
            "signal": "column_drift:amount",
            "above": 0.25,
            "window": "7d",
            "min_samples": 100,
        }
    )
    calls = Calls(
        _report(_column("amount", 0.31, True), _column("pages", 0.01, False)), _performance(0.9, 0.02)
    )
    readings = ModelReadings([MODEL], calls.drift_of, calls.performance_of).readings([rule], NOW)
    assert sorted(str(r.signal) for r in readings) == [
        "column_drift:amount",
        "column_drift:pages",
        "drift_share",
    ]
    changes, unmatched = evaluate([rule], readings, {}, NOW)
    assert [c.rule.name for c in changes] == ["amount-psi"]
    assert len(unmatched) == 2  # pages and the share: no rule watches them


def test_the_default_rules_fire_on_low_f1_and_drift_but_not_on_good_figures() -> None:
    rules = default_rules()
    bad = Calls(_report(_column("a", 0.4, True), _column("b", 0.3, True)), _performance(0.55, 0.02))
    changes, _ = evaluate(
        rules, ModelReadings([MODEL], bad.drift_of, bad.performance_of).readings(rules, NOW), {}, NOW
    )
    assert sorted(c.rule.name for c in changes) == ["drift-share", "f1-low"]
    good = Calls(_report(_column("a", 0.01, False)), _performance(0.91, 0.02))
    changes, _ = evaluate(
        rules, ModelReadings([MODEL], good.drift_of, good.performance_of).readings(rules, NOW), {}, NOW
    )
    assert changes == []


@pytest.mark.parametrize("error", [NotFound("no predictions"), ValidationError("no reference window")])
def test_a_model_without_data_in_the_window_gives_no_reading(error: Exception) -> None:
    calls = Calls(error, error)
    assert ModelReadings([MODEL], calls.drift_of, calls.performance_of).readings(default_rules(), NOW) == []


def test_no_labels_in_the_window_gives_no_performance_reading() -> None:
    calls = Calls(_report(_column("a", 0.01, False)), {"rows": [{"realized": None}]})
    readings = ModelReadings([MODEL], calls.drift_of, calls.performance_of).readings(default_rules(), NOW)
    assert [str(r.signal) for r in readings] == ["drift_share"]
