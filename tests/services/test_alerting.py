"""Alerting through the workspace: rules, evaluation, de-duplication, notifications by a real
webhook receiver and a real SMTP server on loopback, and the readings the platform computes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from paceline.bootstrap import Workspace
from paceline.domain.alerts import Reading, Scope, Signal, SignalKind
from paceline.domain.roles import Grant, Role
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator
from paceline.storage.alert_repo import SqlRuntimeFigures
from paceline.storage.runtime_models import CaseRow, OutboxRow, ReviewTaskRow, StepRunRow
from tests.runtime.receiver import Received, Receiver
from tests.services.smtp_sink import SmtpSink

OP = operator()
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
RULE = {"name": "errors", "signal": "error_rate", "above": 0.05, "window": "1h", "min_samples": 20}


def who(role: Role, use_case: str | None = None) -> Principal:
    return Principal(f"{role.value}-{use_case or 'all'}", (Grant(role, use_case),))


def errors(value: float, end: datetime = NOW, samples: int = 100, workflow: str = "claims") -> Reading:
    scope = Scope(use_case="claims-triage", workflow=workflow)
    return Reading(Signal(SignalKind.ERROR_RATE), scope, value, end - HOUR, end, samples)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", notify_backoff_seconds=0, notify_max_attempts=3)
    yield workspace
    workspace.close()


class Flaky(Receiver):
    """A receiver that answers 503 to its first *failures* requests, then 200."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def _record(self, key: str | None, case: str | None, path: str, body: object) -> Received:
        with self._lock:
            self._count += 1
            received = Received(key, case, path, body, 503 if self._count <= self.failures else 200)
            self.requests.append(received)
            return received


# --- rules ---------------------------------------------------------------------------------
def test_rules_are_added_listed_replaced_and_removed(ws: Workspace) -> None:
    with ws.alerts(OP) as alerts:
        added = alerts.add_rule(OP, RULE)
        assert added["window"] == "1h" and added["created_by"] == "cli:operator"
        with pytest.raises(Conflict, match="exists already"):
            alerts.add_rule(OP, RULE)
    with ws.alerts(OP) as alerts:
        alerts.replace_rule(OP, "errors", RULE | {"above": 0.1, "severity": "critical"})
        assert [(r["name"], r["threshold"], r["severity"]) for r in alerts.rules(OP)] == [
            ("errors", 0.1, "critical")
        ]
        assert sorted(alerts.add_default_rules(OP)) == sorted(
            [
                "drift-share",
                "f1-low",
                "calibration-off",
                "error-rate-high",
                "latency-p95-high",
                "override-rate-high",
                "review-sla-breached",
            ]
        )
        assert alerts.add_default_rules(OP) == []  # idempotent
        alerts.remove_rule(OP, "errors")
        with pytest.raises(NotFound, match="no alert rule 'errors'"):
            alerts.rule(OP, "errors")
    entries = ws.audit_entries(limit=50)
    assert {"create", "update", "delete"} <= {e["action"] for e in entries if e["entity"] == "alert_rules"}


def test_rule_permissions_follow_the_use_case(ws: Workspace) -> None:
    scoped = who(Role.ML_ENGINEER, "claims-triage")
    with ws.alerts(scoped) as alerts:
        alerts.add_rule(scoped, RULE | {"use_case": "claims-triage"})
        with pytest.raises(PermissionDenied, match="every use case"):
            alerts.add_rule(scoped, RULE | {"name": "everywhere"})
        with pytest.raises(PermissionDenied, match="'notes'"):
            alerts.add_rule(scoped, RULE | {"name": "other", "use_case": "notes"})
    with ws.alerts(OP) as alerts:
        alerts.add_rule(OP, RULE | {"name": "notes-errors", "use_case": "notes"})
    auditor = who(Role.AUDITOR)
    with ws.alerts(auditor) as alerts:
        assert {r["name"] for r in alerts.rules(auditor)} == {"errors", "notes-errors"}
        with pytest.raises(PermissionDenied, match=r"monitor\.manage"):
            alerts.remove_rule(auditor, "errors")
    with ws.alerts(scoped, readonly=True) as alerts:
        assert [r["name"] for r in alerts.rules(scoped)] == ["errors"]


def test_a_rule_stores_its_runbook(ws: Workspace) -> None:
    runbook = "https://wiki.example.com/runbooks/errors"
    with ws.alerts(OP) as alerts:
        assert alerts.add_rule(OP, RULE | {"runbook_url": runbook})["runbook_url"] == runbook
        alerts.add_rule(OP, RULE | {"name": "plain"})
    with ws.alerts(OP, readonly=True) as alerts:
        assert {r["name"]: r["runbook_url"] for r in alerts.rules(OP)} == {"errors": runbook, "plain": ""}
        assert alerts.rule(OP, "errors")["runbook_url"] == runbook
    with ws.alerts(OP) as alerts:
        other = "http://runbooks.internal/errors"
        assert alerts.replace_rule(OP, "errors", RULE | {"runbook_url": other})["runbook_url"] == other
        assert alerts.rule(OP, "errors")["runbook_url"] == other
        with pytest.raises(ValidationError, match="'file:///rb' is not an http") as caught:
            alerts.replace_rule(OP, "errors", RULE | {"runbook_url": "file:///rb"})
        assert caught.value.details["field"] == "runbook_url"
    with ws.alerts(OP, readonly=True) as alerts:
        assert alerts.rule(OP, "errors")["runbook_url"] == other  # the refused change left it
    changes = [e["data"].get("runbook_url") for e in ws.audit_entries(limit=50) if e["action"] == "update"]
    assert {"old": runbook, "new": other} in changes  # the change of runbook is audited


def test_a_bad_rule_names_the_field(ws: Workspace) -> None:
    with ws.alerts(OP) as alerts, pytest.raises(ValidationError, match="window") as caught:
        alerts.add_rule(OP, RULE | {"window": "forever"})
    assert caught.value.details["field"] == "window"


# --- evaluation and de-duplication ---------------------------------------------------------
def test_an_alert_opens_updates_escalates_and_resolves(ws: Workspace) -> None:
    with ws.alerts(OP) as alerts:
        alerts.add_rule(OP, RULE)
    first = ws.evaluate_alerts(OP, [errors(0.2, NOW - HOUR)], compute=False, notify=False, now=NOW - HOUR)
    assert first["counts"]["opened"] == 1
    alert_id = first["changes"][0]["alert_id"]
    again = ws.evaluate_alerts(
        OP,
        [errors(0.3, NOW - timedelta(minutes=30))],
        compute=False,
        notify=False,
        now=NOW - timedelta(minutes=30),
    )
    assert again["counts"]["updated"] == 1 and again["changes"][0]["alert_id"] == alert_id
    later = ws.evaluate_alerts(OP, [errors(0.4)], compute=False, notify=False, now=NOW)
    assert later["counts"]["escalated"] == 1
    with ws.alerts(OP, readonly=True) as alerts:
        [alert] = alerts.list(OP)
        assert (alert["id"], alert["count"], alert["value"], alert["severity"]) == (
            alert_id,
            3,
            0.4,
            "critical",
        )
        assert alert["delivery"] == {"pending": 0, "sent": 0, "failed": 0}  # no channel anywhere
    clear = ws.evaluate_alerts(OP, [errors(0.01, NOW + HOUR)], compute=False, notify=False, now=NOW + HOUR)
    assert clear["counts"]["resolved"] == 1
    with ws.alerts(OP, readonly=True) as alerts:
        assert alerts.list(OP) == []
        [resolved] = alerts.list(OP, status="resolved")
        assert resolved["resolved_at"] == (NOW + HOUR).isoformat()
    audited = [e for e in ws.audit_entries(limit=100) if e["entity"] == "alerts"]
    assert len(audited) == 3  # opened, escalated, resolved: repeated sightings are not logged


def test_readings_without_a_rule_or_with_too_few_samples_change_nothing(ws: Workspace) -> None:
    with ws.alerts(OP) as alerts:
        alerts.add_rule(OP, RULE)
    latency = Reading(Signal(SignalKind.LATENCY_P95_MS), Scope(model="m"), 5000.0, NOW - HOUR, NOW, 99)
    result = ws.evaluate_alerts(OP, [errors(0.9, samples=5), latency], compute=False, notify=False, now=NOW)
    assert result["changes"] == [] and [u["signal"] for u in result["unmatched"]] == ["latency_p95_ms"]


def test_acknowledging_stops_escalation_and_needs_incident_manage(ws: Workspace) -> None:
    with ws.alerts(OP) as alerts:
        alerts.add_rule(OP, RULE)
    ws.evaluate_alerts(OP, [errors(0.2, NOW - 2 * HOUR)], compute=False, notify=False, now=NOW - 2 * HOUR)
    with ws.alerts(OP, readonly=True) as alerts:
        [alert] = alerts.list(OP)
    for role in (Role.AUDITOR, Role.REVIEWER):
        with ws.alerts(who(role)) as alerts, pytest.raises(PermissionDenied, match=r"incident\.manage"):
            alerts.acknowledge(who(role), alert["id"])
    owner = who(Role.BUSINESS_OWNER, "claims-triage")
    with ws.alerts(owner) as alerts:
        acked = alerts.acknowledge(owner, alert["id"], "looking at the extractor")
        assert (
            acked["status"] == "acknowledged"
            and acked["acknowledged_by"] == "user:business-owner-claims-triage"
        )
        with pytest.raises(Conflict, match="is acknowledged"):
            alerts.acknowledge(owner, alert["id"])
    result = ws.evaluate_alerts(OP, [errors(0.5)], compute=False, notify=False, now=NOW)
    assert result["counts"]["updated"] == 1 and result["counts"]["escalated"] == 0
    other = who(Role.BUSINESS_OWNER, "notes")
    with ws.alerts(other, readonly=True) as alerts:
        assert alerts.list(other) == []
        with pytest.raises(NotFound):
            alerts.get(other, alert["id"])


def test_evaluation_needs_monitor_manage(ws: Workspace) -> None:
    for principal in (who(Role.AUDITOR), who(Role.ML_ENGINEER, "claims-triage")):
        with pytest.raises(PermissionDenied, match=r"monitor\.manage"):
            ws.evaluate_alerts(principal, [errors(0.2)], compute=False, now=NOW)


# --- notifications ---------------------------------------------------------------------------
def test_webhook_gets_each_event_with_a_stable_alert_id(ws: Workspace) -> None:
    runbook = "https://wiki.example.com/runbooks/errors"
    with Receiver() as rx:
        with ws.alerts(OP) as alerts:
            channels = [{"kind": "webhook", "target": rx.url}]
            alerts.add_rule(OP, RULE | {"channels": channels, "cooldown": "30m", "runbook_url": runbook})
        opened = ws.evaluate_alerts(OP, [errors(0.2, NOW - HOUR)], compute=False, now=NOW - HOUR)
        ws.evaluate_alerts(OP, [errors(0.3)], compute=False, now=NOW)  # escalated after the cooldown
        ws.evaluate_alerts(OP, [errors(0.0, NOW + HOUR)], compute=False, now=NOW + HOUR)
    assert opened["delivery"] == {"sent": 1, "retrying": 0, "failed": 0, "errors": []}
    bodies = [r.body for r in rx.requests]
    alert_id = opened["changes"][0]["alert_id"]
    assert [(b["alert_id"], b["event"], b["severity"]) for b in bodies] == [
        (alert_id, "opened", "warning"),
        (alert_id, "escalated", "critical"),
        (alert_id, "resolved", "critical"),
    ]
    assert bodies[0]["rule"] == "errors" and bodies[0]["workflow"] == "claims" and bodies[0]["value"] == 0.2
    assert {b["runbook_url"] for b in bodies} == {runbook}
    assert len({r.key for r in rx.requests}) == 3 and all(
        r.key and str(alert_id) in r.key for r in rx.requests
    )


def test_one_evaluation_delivers_every_due_notification_in_batches(ws: Workspace) -> None:
    with Receiver() as rx:
        with ws.alerts(OP) as alerts:
            alerts.add_rule(OP, RULE | {"channels": [{"kind": "webhook", "target": rx.url}]})
        readings = [errors(0.2, workflow=f"wf-{i}") for i in range(130)]
        result = ws.evaluate_alerts(OP, readings, compute=False, now=NOW)
    assert result["delivery"]["sent"] == 130
    assert sorted(r.body["alert_id"] for r in rx.requests) == sorted(c["alert_id"] for c in result["changes"])


def test_a_failing_webhook_is_retried_with_the_same_key_until_it_answers(ws: Workspace) -> None:
    with Flaky(failures=2) as rx:
        with ws.alerts(OP) as alerts:
            alerts.add_rule(OP, RULE | {"channels": [{"kind": "webhook", "target": rx.url}]})
        first = ws.evaluate_alerts(OP, [errors(0.2)], compute=False, now=NOW)
        assert first["delivery"]["retrying"] == 1
        assert ws.deliver_notifications().to_dict()["retrying"] == 1  # backoff 0: due again at once
        assert ws.deliver_notifications().sent == 1
    assert [r.status for r in rx.requests] == [503, 503, 200]
    assert len({r.key for r in rx.requests}) == 1
    with ws.alerts(OP, readonly=True) as alerts:
        alert = alerts.get(OP, first["changes"][0]["alert_id"])
    assert alert["notifications"][0]["attempts"] == 3 and alert["notifications"][0]["status"] == "sent"


def test_a_notification_that_keeps_failing_is_recorded_not_lost(ws: Workspace) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    with ws.alerts(OP) as alerts:
        alerts.add_rule(OP, RULE | {"channels": [{"kind": "webhook", "target": dead}]})
    result = ws.evaluate_alerts(OP, [errors(0.2)], compute=False, now=NOW)
    assert result["delivery"]["retrying"] == 1
    ws.deliver_notifications()
    final = ws.deliver_notifications()
    assert final.failed == 1 and "ConnectError" in final.errors[0]
    assert ws.deliver_notifications().to_dict() == {"sent": 0, "retrying": 0, "failed": 0, "errors": []}
    with ws.alerts(OP, readonly=True) as alerts:
        [alert] = alerts.list(OP)
    assert alert["delivery"]["failed"] == 1
    failed = [e for e in ws.audit_entries(limit=20) if e["action"] == "notify_failed"]
    assert failed and failed[0]["data"]["attempts"] == 3 and failed[0]["entity_id"] == str(alert["id"])


def test_email_goes_through_smtp_with_login(tmp_path: Path) -> None:
    with SmtpSink(login=("alerts", "s3cret-pass")) as sink:
        ws = Workspace.init(
            tmp_path / "ws",
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_user="alerts",
            smtp_password="s3cret-pass",
            smtp_from="paceline@example.com",
            alert_email_to="oncall@example.com",
        )
        try:
            with ws.alerts(OP) as alerts:
                # no channel of its own: the workspace's address
                alerts.add_rule(OP, RULE | {"runbook_url": "https://wiki.example.com/runbooks/errors"})
            result = ws.evaluate_alerts(OP, [errors(0.2)], compute=False, now=NOW)
        finally:
            ws.close()
    assert result["delivery"]["sent"] == 1
    [mail] = sink.messages
    assert mail.recipients == ["oncall@example.com"] and mail.authenticated_as == "alerts"
    message = mail.message
    assert (
        message["Subject"]
        == "[Paceline] WARNING alert opened: errors (use_case claims-triage, workflow claims)"
    )
    assert message["From"] == "paceline@example.com"
    assert message["X-Paceline-Alert"] == str(result["changes"][0]["alert_id"])
    assert "error_rate is 0.2 (above 0.05)" in message.get_content()
    assert "runbook_url: https://wiki.example.com/runbooks/errors" in message.get_content()


def test_a_rules_email_channel_names_its_own_server(ws: Workspace) -> None:
    with SmtpSink(refuse=("gone@example.com",)) as sink:
        channel = {
            "kind": "email",
            "target": "ml@example.com",
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
        }
        refused = channel | {"target": "gone@example.com"}
        with ws.alerts(OP) as alerts:
            alerts.add_rule(OP, RULE | {"channels": [channel, refused]})
        result = ws.evaluate_alerts(OP, [errors(0.2)], compute=False, now=NOW)
    assert result["delivery"]["sent"] == 1 and result["delivery"]["retrying"] == 1
    assert [m.recipients for m in sink.messages] == [["ml@example.com"]]
    assert "runbook_url" not in sink.messages[0].message.get_content()  # the rule names none: no line


def test_smtp_problems_are_recorded(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        ws = Workspace.init(tmp_path / "ws", smtp_starttls=True, notify_max_attempts=1)
        try:
            with ws.alerts(OP) as alerts:
                tls = {
                    "kind": "email",
                    "target": "a@example.com",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": sink.port,
                }
                alerts.add_rule(OP, RULE | {"channels": [tls, {"kind": "email", "target": "b@example.com"}]})
            result = ws.evaluate_alerts(OP, [errors(0.2)], compute=False, now=NOW)
        finally:
            ws.close()
    assert result["delivery"]["failed"] == 2 and sink.messages == []
    assert "STARTTLS extension not supported" in result["delivery"]["errors"][0]
    assert "no SMTP host" in result["delivery"]["errors"][1]


# --- readings the platform computes --------------------------------------------------------------
def _runtime_rows(ws: Workspace) -> None:
    start = NOW - timedelta(minutes=50)
    with ws.store.write("test") as s:
        for i, status in enumerate(["completed"] * 17 + ["failed"] * 2 + ["running"]):
            s.add(
                CaseRow(
                    id=f"c{i}",
                    workflow="claims",
                    workflow_version="1",
                    external_id=f"e{i}",
                    status=status,
                    step="record",
                    payload={},
                    variant="baseline",
                    version=1,
                    attempts=1,
                    next_run_at=start,
                    created_at=start + timedelta(minutes=i),
                    updated_at=start,
                    completed_at=None,
                )
            )
            s.add(
                StepRunRow(
                    case_id=f"c{i}",
                    step="infer",
                    idempotency_key=f"k{i}",
                    status="succeeded",
                    output={"call": {"attributes": {"paceline.cost": 0.02 * (i % 3)}}},
                    worker="w",
                    duration_ms=1.0,
                    finished_at=start,
                )
            )
        s.add(
            CaseRow(
                id="old",
                workflow="claims",
                workflow_version="1",
                external_id="old",
                status="failed",
                step="act",
                payload={},
                variant="baseline",
                version=1,
                attempts=1,
                next_run_at=start,
                created_at=NOW - 3 * HOUR,
                updated_at=start,
            )
        )
        s.add(
            OutboxRow(
                case_id="c3",
                workflow="claims",
                action="act",
                target=None,
                payload={},
                idempotency_key="o3",
                status="failed",
                attempts=5,
                next_attempt_at=start,
            )
        )
        decisions = ["accept"] * 6 + ["edit", "override", "reject", "escalate"]
        for i, decision in enumerate(decisions):
            due = start + timedelta(minutes=10 + i)
            decided = due + timedelta(minutes=-5 if i % 4 else 5)  # items 0, 4 and 8 decided late
            s.add(
                ReviewTaskRow(
                    case_id=f"c{i}",
                    workflow="claims",
                    queue="q",
                    kind="review",
                    status="done",
                    shown={},
                    due_at=due,
                    escalated=0,
                    decision=decision,
                    comment="",
                    created_at=start,
                    decided_at=decided,
                )
            )
        s.add(
            ReviewTaskRow(
                case_id="c19",
                workflow="claims",
                queue="q",
                kind="review",
                status="open",
                shown={},
                due_at=NOW - timedelta(minutes=1),
                escalated=0,
                comment="",
                created_at=start,
            )
        )


def test_runtime_figures_and_readings(workspace: Workspace) -> None:
    """On SQLite and PostgreSQL: the figures are counted by the database."""
    ws = workspace
    _runtime_rows(ws)
    with ws.store.read() as session:
        figures = SqlRuntimeFigures(session)
        assert figures.case_outcomes(NOW - HOUR, NOW) == {
            "claims": {"ended": 19, "failed": 2, "action_failed": 1}
        }
        assert figures.review_decisions(NOW - HOUR, NOW) == {"claims": {"decided": 10, "overridden": 3}}
        assert figures.review_sla(NOW - HOUR, NOW) == {"claims": {"due": 11, "breached": 4}}
    with ws.alerts(OP) as alerts:
        for doc in (
            RULE | {"min_samples": 10},
            {"name": "overrides", "signal": "override_rate", "above": 0.25, "window": "1h", "min_samples": 5},
            {"name": "sla", "signal": "review_sla_breaches", "above": 0, "window": "1h"},
            {"name": "cost", "signal": "cost_per_case", "above": 0.05, "window": "1h"},
            {
                "name": "daily-overrides",
                "signal": "override_rate",
                "above": 0.25,
                "window": "1d",
                "min_samples": 30,
            },
        ):
            alerts.add_rule(OP, doc)
    readings = {(str(r.signal), r.window_seconds): r for r in ws.monitor_readings().readings(_rules(ws), NOW)}
    assert set(readings) == {
        ("error_rate", 3600),
        ("override_rate", 3600),
        ("override_rate", 86400),
        ("review_sla_breaches", 3600),
        ("cost_per_case", 3600),
    }
    error = readings["error_rate", 3600]
    assert (error.value, error.samples, error.scope.workflow) == (3 / 19, 19, "claims")
    assert error.window_end == NOW and error.detail == {"ended": 19, "failed": 2, "action_failed": 1}
    assert (readings["review_sla_breaches", 3600].value, readings["review_sla_breaches", 3600].samples) == (
        4,
        11,
    )
    assert (readings["override_rate", 3600].value, readings["override_rate", 3600].samples) == (0.3, 10)
    assert readings["cost_per_case", 3600].value == pytest.approx(
        np.mean([0.02 * (i % 3) for i in range(20)])
    )
    result = ws.evaluate_alerts(OP, now=NOW, notify=False)
    fired = sorted(c["message"].split(":")[0] for c in result["changes"])
    assert fired == [
        "errors",
        "overrides",
        "sla",
    ]  # cost is below its threshold; the daily rule lacks samples


def test_concurrent_evaluations_open_one_alert(workspace: Workspace) -> None:
    """Evaluations take turns (PostgreSQL: an advisory lock; SQLite: the write transaction)."""
    with workspace.alerts(OP) as alerts:
        alerts.add_rule(OP, RULE)
    readings = [errors(0.2, workflow=f"wf-{i}") for i in range(40)]
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda _: workspace.evaluate_alerts(OP, readings, compute=False, notify=False, now=NOW),
                range(4),
            )
        )
    assert sorted(r["counts"]["opened"] for r in results) == [0, 0, 0, 40]
    assert sum(r["counts"]["updated"] for r in results) == 120
    with workspace.alerts(OP, readonly=True) as alerts:
        assert len(alerts.list(OP)) == 40 and {a["count"] for a in alerts.list(OP)} == {4}


def _rules(ws: Workspace) -> list[object]:
    with ws.alerts(OP, readonly=True) as alerts:
        return list(alerts.enabled_rules(OP))


def test_latency_p95_is_computed_by_the_engine(ws: Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    latencies = {"claims-clf": rng.gamma(2.0, 300.0, 80), "notes-llm": rng.gamma(3.0, 500.0, 60)}
    rows = []
    for model, values in latencies.items():
        for i, ms in enumerate(values):
            at = NOW - timedelta(minutes=55) + timedelta(seconds=30 * i)
            rows.append(
                {
                    "prediction_id": f"{model}-{i}",
                    "model": model,
                    "model_version": "1",
                    "use_case": "uc",
                    "predicted_at": at.isoformat(),
                    "prediction": "x",
                    "latency_ms": float(ms),
                }
            )
    rows.append(
        {
            "prediction_id": "old",
            "model": "claims-clf",
            "model_version": "1",
            "use_case": "uc",
            "predicted_at": (NOW - 2 * HOUR).isoformat(),
            "prediction": "x",
            "latency_ms": 1e9,
        }
    )
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert ws.ingest("predictions", path).loaded == len(rows)
    with ws.alerts(OP) as alerts:
        alerts.add_rule(
            OP, {"name": "slow", "signal": "latency_p95_ms", "above": 1500, "window": "1h", "min_samples": 50}
        )
    readings = ws.monitor_readings().readings(_rules(ws), NOW)
    got = {r.scope.model: (r.value, r.samples) for r in readings}
    assert got.keys() == {"claims-clf", "notes-llm"}
    for model, values in latencies.items():
        assert got[model][0] == pytest.approx(float(np.percentile(values, 95)), rel=1e-12)
        assert got[model][1] == len(values)
    result = ws.evaluate_alerts(OP, now=NOW, notify=False)
    opened = {c["message"].split(" for ")[1].split(" over")[0] for c in result["changes"]}
    expected = {f"use case uc, model {m}" for m, v in latencies.items() if np.percentile(v, 95) > 1500}
    assert opened == expected
