"""Alert rules: validation, evaluation of readings, de-duplication, escalation, resolution."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.alert_channels import ChannelKind
from paceline.domain.alerts import (
    AlertState,
    AlertStatus,
    Comparison,
    Condition,
    Event,
    Reading,
    Scope,
    Severity,
    Signal,
    SignalKind,
    applies,
    condition,
    decide,
    dedup_key,
    default_rules,
    evaluate,
    format_duration,
    parse_duration,
    rule_from_dict,
)
from paceline.errors import ValidationError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def rule(**changes: object) -> object:
    doc: dict[str, object] = {
        "name": "errors",
        "signal": "error_rate",
        "above": 0.05,
        "window": "1h",
        "min_samples": 20,
        "cooldown": "1h",
    }
    doc.update(changes)
    return rule_from_dict(doc)


def reading(value: float, samples: int = 100, end: datetime = NOW, **scope: str) -> Reading:
    return Reading(
        Signal(SignalKind.ERROR_RATE),
        Scope(**({"workflow": "claims"} | scope)),
        value,
        end - HOUR,
        end,
        samples,
    )


# --- validation ------------------------------------------------------------------------------
def test_a_rule_document_round_trips() -> None:
    r = rule_from_dict(
        {
            "name": "f1-low",
            "signal": "performance:f1",
            "comparison": "below",
            "threshold": 0.7,
            "window": "7d",
            "min_samples": 50,
            "severity": "critical",
            "cooldown": "1d",
            "model": "claims-clf",
            "channels": [
                {"kind": "webhook", "target": "https://hooks.example.com/x"},
                {"kind": "email", "target": "a@example.com, b@example.com", "smtp_port": 2525},
            ],
        }
    )
    assert r.signal == Signal(SignalKind.PERFORMANCE, "f1")
    assert r.comparison is Comparison.BELOW and r.window_seconds == 7 * 86400
    assert r.scope == Scope(model="claims-clf")
    assert r.channels[1].kind is ChannelKind.EMAIL and r.channels[1].addresses == (
        "a@example.com",
        "b@example.com",
    )
    assert rule_from_dict(r.to_dict()) == r
    assert r.describe() == "performance:f1 below 0.7 over 1w (at least 50 samples)"
    assert r.runbook_url == "" and r.to_dict()["runbook_url"] == ""


def test_a_rule_names_its_runbook() -> None:
    url = "https://wiki.example.com/runbooks/errors"
    r = rule(runbook_url=f"  {url} ")
    assert r.runbook_url == url and r.to_dict()["runbook_url"] == url
    assert rule_from_dict(r.to_dict()) == r
    assert rule(runbook_url="http://wiki/rb").runbook_url == "http://wiki/rb"
    assert rule(runbook_url=None).runbook_url == rule(runbook_url="").runbook_url == ""
    assert rule(description="Runbook: https://wiki.example.com/x").runbook_url == ""  # not read from text


@pytest.mark.parametrize(
    "bad", ["wiki/page", "javascript:alert(1)", "ftp://wiki.example.com/rb", "https:// x"]
)
def test_a_bad_runbook_names_the_field_the_value_and_the_fix(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"is not an http\(s\) URL") as caught:
        rule(runbook_url=bad)
    assert caught.value.details["field"] == "runbook_url"
    assert repr(bad.strip()) in caught.value.message
    assert caught.value.details["fix"].startswith("e.g. https://")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "Bad Name"}, "name", "is not valid"),
        ({"signal": "performance"}, "signal", "needs a metric"),
        ({"signal": "performance:mse"}, "signal", "needs a metric"),
        ({"signal": "column_drift"}, "signal", "needs a column"),
        ({"signal": "error_rate:x"}, "signal", "takes no qualifier"),
        ({"signal": "cpu"}, "signal", "not a known signal"),
        ({"above": 1.5}, "threshold", "outside what error_rate can take"),
        ({"above": "high"}, "threshold", "is not a number"),
        ({"above": None, "threshold": None}, "threshold", "needs a threshold"),
        ({"below": 0.1}, "threshold", "give one threshold"),
        ({"window": "10s"}, "window", "out of range"),
        ({"window": "soon"}, "window", "not a duration"),
        ({"cooldown": "60d"}, "cooldown", "too long"),
        ({"min_samples": 0}, "min_samples", "below 1"),
        ({"min_samples": 2.5}, "min_samples", "not a whole number"),
        ({"severity": "page"}, "severity", "not one of: info, warning, critical"),
        ({"comparison": "equal", "above": None, "threshold": 1}, "comparison", "not one of"),
        ({"channels": [{"kind": "sms", "target": "1"}]}, "channels", "not webhook or email"),
        ({"channels": [{"kind": "webhook", "target": "ftp://x"}]}, "channels", r"not an http\(s\) URL"),
        ({"channels": [{"kind": "email", "target": "nobody"}]}, "channels", "not an e-mail address"),
        ({"channels": [{"kind": "email", "target": "a@b.io", "smtp_port": "x"}]}, "smtp_port", "not a port"),
        ({"enabled": "yes"}, "enabled", "not true or false"),
        ({"workflow": "bad name!"}, "workflow", "not a valid name"),
        ({"runbook_url": "wiki/runbooks/errors"}, "runbook_url", r"not an http\(s\) URL"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_rules_name_the_field(changes: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words) as caught:
        rule(**changes)
    assert caught.value.details["field"] == field
    assert caught.value.details["fix"]


def test_default_rules_are_valid_and_cover_every_runtime_signal() -> None:
    rules = default_rules()
    kinds = {r.signal.kind for r in rules}
    assert {
        SignalKind.DRIFT_SHARE,
        SignalKind.PERFORMANCE,
        SignalKind.ERROR_RATE,
        SignalKind.LATENCY_P95_MS,
        SignalKind.OVERRIDE_RATE,
        SignalKind.REVIEW_SLA_BREACHES,
    } <= kinds
    assert len({r.name for r in rules}) == len(rules)
    assert all(r.scope == Scope() and not r.channels for r in rules)


@given(st.integers(min_value=0, max_value=10**7))
def test_durations_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds), "window") == seconds


def test_durations_accept_units() -> None:
    assert [parse_duration(t, "w") for t in ("90", "15m", "1h", "7d", "2w", 3600)] == [
        90,
        900,
        3600,
        604800,
        1209600,
        3600,
    ]
    with pytest.raises(ValidationError):
        parse_duration(-5, "window")
    with pytest.raises(ValidationError):
        parse_duration(True, "window")


# --- evaluation ------------------------------------------------------------------------------
def test_condition_fires_clears_or_needs_more_samples() -> None:
    r = rule()
    assert condition(r, reading(0.08)) is Condition.FIRING
    assert condition(r, reading(0.05)) is Condition.CLEAR  # equal to the threshold is not above it
    assert condition(r, reading(0.5, samples=19)) is Condition.INSUFFICIENT
    below = rule(above=None, below=0.7, signal="performance:f1")
    f1 = replace(reading(0.65), signal=Signal(SignalKind.PERFORMANCE, "f1"))
    assert condition(below, f1) is Condition.FIRING


def test_a_rule_applies_to_its_signal_scope_and_window_only() -> None:
    scoped = rule(workflow="claims")
    assert applies(scoped, reading(0.1))
    assert not applies(scoped, reading(0.1, workflow="notes"))
    assert applies(rule(), reading(0.1, workflow="notes"))  # no scope: every workflow
    day = Reading(
        Signal(SignalKind.ERROR_RATE), Scope(workflow="claims"), 0.1, NOW - timedelta(days=1), NOW, 50
    )
    assert not applies(scoped, day)
    assert not applies(rule(enabled=False), reading(0.1))
    assert not applies(rule(signal="override_rate", above=0.3), reading(0.1))


def test_a_reading_checks_its_window_and_value() -> None:
    with pytest.raises(ValidationError, match="ends before it starts"):
        Reading(Signal(SignalKind.ERROR_RATE), Scope(), 0.1, NOW, NOW - HOUR, 3)
    with pytest.raises(ValidationError, match="not a finite number"):
        Reading(Signal(SignalKind.ERROR_RATE), Scope(), float("nan"), NOW - HOUR, NOW, 3)


def state(status: AlertStatus = AlertStatus.OPEN, **changes: object) -> AlertState:
    base = AlertState(7, status, Severity.WARNING, NOW - 2 * HOUR, NOW - 2 * HOUR)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_first_firing_opens_and_notifies() -> None:
    change = decide(rule(), reading(0.2), None, NOW)
    assert change is not None and change.event is Event.OPENED and change.notify
    assert change.severity is Severity.WARNING and change.alert_id is None
    assert change.key == "errors|workflow=claims"
    assert "error_rate is 0.2 (above 0.05) for workflow claims over 1h, n=100" in change.message()


def test_firing_again_updates_the_open_alert_without_paging() -> None:
    fresh = state(last_notified_at=NOW - timedelta(minutes=10))
    change = decide(rule(), reading(0.2), fresh, NOW)
    assert change is not None and change.event is Event.UPDATED and not change.notify
    assert change.alert_id == 7


def test_an_unacknowledged_alert_past_its_cooldown_escalates_once_per_cooldown() -> None:
    change = decide(rule(), reading(0.2), state(), NOW)
    assert change is not None and change.event is Event.ESCALATED and change.notify
    assert change.severity is Severity.CRITICAL
    top = state(severity=Severity.CRITICAL)
    assert decide(rule(), reading(0.2), top, NOW).event is Event.UPDATED  # type: ignore[union-attr]
    acked = state(AlertStatus.ACKNOWLEDGED)
    assert decide(rule(), reading(0.2), acked, NOW).event is Event.UPDATED  # type: ignore[union-attr]
    assert decide(rule(cooldown=0), reading(0.2), state(), NOW).event is Event.UPDATED  # type: ignore[union-attr]


def test_clear_resolves_and_insufficient_samples_change_nothing() -> None:
    change = decide(rule(), reading(0.01), state(AlertStatus.ACKNOWLEDGED), NOW)
    assert change is not None and change.event is Event.RESOLVED and change.alert_id == 7
    assert decide(rule(), reading(0.01), None, NOW) is None
    assert decide(rule(), reading(0.9, samples=3), state(), NOW) is None
    resolved = state(AlertStatus.RESOLVED, resolved_at=NOW - 3 * HOUR)
    assert decide(rule(), reading(0.01), resolved, NOW) is None


def test_refiring_within_the_cooldown_reopens_the_same_alert() -> None:
    recent = state(
        AlertStatus.RESOLVED,
        resolved_at=NOW - timedelta(minutes=20),
        last_notified_at=NOW - timedelta(minutes=20),
    )
    change = decide(rule(), reading(0.2), recent, NOW)
    assert change is not None and change.event is Event.REOPENED and change.alert_id == 7
    assert not change.notify  # flapping does not page twice within the cooldown
    old = state(AlertStatus.RESOLVED, resolved_at=NOW - 2 * HOUR)
    again = decide(rule(), reading(0.2), old, NOW)
    assert again is not None and again.event is Event.OPENED and again.alert_id is None


def test_evaluate_deduplicates_by_rule_and_scope() -> None:
    r = rule()
    readings = [
        reading(0.2, end=NOW - 2 * HOUR),
        reading(0.3, end=NOW - HOUR),
        reading(0.01, end=NOW),
        reading(0.4, workflow="notes"),
        Reading(Signal(SignalKind.LATENCY_P95_MS), Scope(model="m"), 900.0, NOW - HOUR, NOW, 10),
    ]
    changes, unmatched = evaluate([r], readings, {}, NOW)
    events = [(c.event, c.reading.scope.workflow) for c in changes]
    assert events == [
        (Event.OPENED, "claims"),
        (Event.UPDATED, "claims"),
        (Event.RESOLVED, "claims"),
        (Event.OPENED, "notes"),
    ]
    assert [str(u.signal) for u in unmatched] == ["latency_p95_ms"]
    assert dedup_key(r, Scope(workflow="notes")) == "errors|workflow=notes"


@given(
    st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 60), st.sampled_from(["a", "b"])),
        max_size=30,
    )
)
def test_evaluate_never_opens_a_second_alert_for_an_open_key(values: list[tuple[float, int, str]]) -> None:
    r = rule()
    readings = [
        reading(v, n, NOW - timedelta(minutes=len(values) - i), workflow=w)
        for i, (v, n, w) in enumerate(values)
    ]
    changes, _ = evaluate([r], readings, {}, NOW)
    live: set[str] = set()
    for change in changes:
        if change.event is Event.OPENED:
            assert change.key not in live
            live.add(change.key)
        elif change.event is Event.RESOLVED:
            assert change.key in live
            live.discard(change.key)
        else:
            assert change.key in live or change.event is Event.REOPENED
            live.add(change.key)
