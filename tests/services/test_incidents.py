"""Incidents through the workspace: opened from an alert or by hand, the status flow with its
timeline, resolution, retrospective, closing, MTTR, permissions and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.alerts import Reading, Scope, Signal, SignalKind
from paceline.domain.roles import Grant, Role
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator

OP = operator()
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RETRO = {
    "what_happened": "F1 fell to 0.52 after the tariff change",
    "impact": "412 claims misrouted over two days",
    "root_cause": "New tariff codes absent from the training data",
    "actions": [{"text": "Retrain with March data", "owner": "ml-lead", "due": "2026-03-20"}],
}


def who(role: Role, use_case: str | None = None) -> Principal:
    return Principal(f"{role.value}-{use_case or 'all'}", (Grant(role, use_case),))


class Clock:
    """A clock the test moves forward, so MTTR has known values."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws")
    yield workspace
    workspace.close()


def _alert(ws: Workspace, at: datetime = NOW - timedelta(hours=2)) -> int:
    with ws.alerts(OP) as alerts:
        rule = {
            "name": "f1-low",
            "signal": "performance:f1",
            "below": 0.7,
            "window": "7d",
            "severity": "critical",
        }
        alerts.add_rule(OP, rule)
    scope = Scope(use_case="claims-triage", model="claims-router")
    reading = Reading(Signal(SignalKind.PERFORMANCE, "f1"), scope, 0.52, at - timedelta(days=7), at, 400)
    result = ws.evaluate_alerts(OP, [reading], compute=False, notify=False, now=at)
    return int(result["changes"][0]["alert_id"])


def test_an_incident_from_an_alert_runs_its_course(ws: Workspace) -> None:
    alert_id = _alert(ws)
    clock = Clock(NOW)
    with ws.incidents(OP) as incidents:
        incidents.clock = clock
        opened = incidents.open_from_alert(OP, alert_id)
    assert opened["severity"] == "sev2" and opened["kind"] == "performance_degradation"
    assert (opened["use_case"], opened["model"]) == ("claims-triage", "claims-router")
    assert opened["detected_at"] == (NOW - timedelta(hours=2)).isoformat()  # the alert's first sighting
    assert opened["title"].startswith("f1-low: performance:f1 is 0.52 (below 0.7)")
    assert [a["id"] for a in opened["alerts"]] == [alert_id]
    assert [e["kind"] for e in opened["timeline"]] == ["opened", "alert"]
    assert opened["next_statuses"] == ["investigating", "mitigated", "resolved"]
    iid = opened["id"]
    steps = [
        (
            timedelta(minutes=10),
            lambda s: s.set_status(OP, iid, "investigating", "looking at the tariff codes"),
        ),
        (timedelta(minutes=20), lambda s: s.set_runbook(OP, iid, "https://wiki.example.com/runbooks/router")),
        (timedelta(hours=1), lambda s: s.set_status(OP, iid, "mitigated", "rolled back to v3")),
        (timedelta(hours=4), lambda s: s.resolve(OP, iid, "retrained v5 with March data")),
    ]
    for after, step in steps:
        clock.at = NOW + after
        with ws.incidents(OP) as incidents:
            incidents.clock = clock
            step(incidents)
    with ws.incidents(OP) as incidents:
        incidents.clock = clock
        with pytest.raises(Conflict, match="close it after its retrospective"):
            incidents.set_status(OP, iid, "closed")
        incidents.write_retrospective(OP, iid, RETRO)
        closed = incidents.set_status(OP, iid, "closed")
    assert closed["status"] == "closed" and closed["runbook_url"].endswith("/router")
    assert closed["mttr_hours"] == 6.0  # detected two hours before it was opened, resolved four hours after
    assert closed["resolution"] == "retrained v5 with March data"
    kinds = [e["kind"] for e in closed["timeline"]]
    assert kinds == [
        "opened",
        "alert",
        "status",
        "runbook",
        "status",
        "status",
        "resolution",
        "retrospective",
        "status",
    ]
    assert closed["timeline"][2]["text"] == "open → investigating: looking at the tariff codes"
    assert all(e["by"] == "cli:operator" for e in closed["timeline"])
    with ws.incidents(OP) as incidents, pytest.raises(Conflict, match="is closed"):
        incidents.add_note(OP, iid, "too late")
    audited = {e["entity"] for e in ws.audit_entries(limit=200)}
    assert {"incidents", "incident_timeline", "alerts"} <= audited


def test_an_incident_from_an_alert_starts_with_its_rules_runbook(ws: Workspace) -> None:
    runbook = "https://wiki.example.com/runbooks/f1-low"
    rule = {
        "name": "f1-low",
        "signal": "performance:f1",
        "below": 0.7,
        "window": "7d",
        "runbook_url": runbook,
    }
    with ws.alerts(OP) as alerts:
        alerts.add_rule(OP, rule)
    at, models = NOW - timedelta(hours=2), ("router", "coder", "scribe", "triage")
    readings = [
        Reading(Signal(SignalKind.PERFORMANCE, "f1"), Scope(model=m), 0.5, at - timedelta(days=7), at, 400)
        for m in models
    ]
    changes = ws.evaluate_alerts(OP, readings, compute=False, notify=False, now=at)["changes"]
    ids = dict(zip(models, (int(c["alert_id"]) for c in changes), strict=True))
    with ws.alerts(OP, readonly=True) as alerts:
        assert alerts.get(OP, ids["router"])["runbook_url"] == runbook  # the alert shows its rule's
    own = "https://wiki.example.com/runbooks/coder"
    with ws.incidents(OP) as incidents:
        assert incidents.open_from_alert(OP, ids["router"])["runbook_url"] == runbook
        assert incidents.open_from_alert(OP, ids["coder"], {"runbook_url": own})["runbook_url"] == own
        by_hand = incidents.open(OP, {"title": "Scribe F1", "alerts": [ids["scribe"]]})
        assert by_hand["runbook_url"] == runbook
        assert [e["kind"] for e in by_hand["timeline"]] == ["opened", "alert"]
        with pytest.raises(ValidationError, match="not an http") as caught:
            incidents.open_from_alert(OP, ids["triage"], {"runbook_url": "wiki/page"})
        assert caught.value.details["field"] == "runbook_url"
    with ws.alerts(OP) as alerts:
        alerts.replace_rule(OP, "f1-low", rule | {"runbook_url": ""})
    with ws.incidents(OP) as incidents:
        assert incidents.open_from_alert(OP, ids["triage"])["runbook_url"] == ""  # the rule names none now


def test_opening_by_hand_and_the_bad_paths(ws: Workspace) -> None:
    with ws.incidents(OP) as incidents:
        opened = incidents.open(OP, {"title": "Reviewers see blank suggestions", "use_case": "claims-triage"})
        assert opened["severity"] == "sev3" and opened["alerts"] == [] and opened["owner"] == "operator"
        with pytest.raises(ValidationError, match="title is empty"):
            incidents.open(OP, {"severity": "sev1"})
        with pytest.raises(NotFound, match="no alert 99"):
            incidents.open(OP, {"title": "x", "alerts": [99]})
        with pytest.raises(ValidationError, match="not a number"):
            incidents.open(OP, {"title": "x", "alerts": ["first"]})
        with pytest.raises(ValidationError, match="needs a resolution"):
            incidents.resolve(OP, opened["id"], " ")
        with pytest.raises(ValidationError, match="status 'done' is not one of"):
            incidents.set_status(OP, opened["id"], "done")
        with pytest.raises(Conflict, match="a retrospective follows the resolution"):
            incidents.write_retrospective(OP, opened["id"], RETRO)
        with pytest.raises(ValidationError, match="names no model"):
            incidents.model_for_action(OP, opened["id"])
        with pytest.raises(NotFound, match="no incident 404"):
            incidents.get(OP, 404)


def test_an_alert_belongs_to_one_incident(ws: Workspace) -> None:
    alert_id = _alert(ws)
    with ws.incidents(OP) as incidents:
        first = incidents.open_from_alert(OP, alert_id)
        with pytest.raises(Conflict, match=f"belongs to incident {first['id']}"):
            incidents.open_from_alert(OP, alert_id)
        other = incidents.open(OP, {"title": "Second look", "use_case": "claims-triage"})
        with pytest.raises(Conflict, match="already"):
            incidents.link_alert(OP, other["id"], alert_id)
    with ws.alerts(OP, readonly=True) as alerts:
        assert alerts.get(OP, alert_id)["incident_id"] == first["id"]


def test_permissions_follow_the_use_case(ws: Workspace) -> None:
    with ws.incidents(OP) as incidents:
        claims = incidents.open(OP, {"title": "Claims", "use_case": "claims-triage"})["id"]
        program = incidents.open(OP, {"title": "Shared gateway down"})["id"]
    owner = who(Role.BUSINESS_OWNER, "claims-triage")
    with ws.incidents(owner) as incidents:
        incidents.add_note(owner, claims, "told the claims team")
        assert [i["id"] for i in incidents.list(owner)] == [
            claims
        ]  # the program-wide one needs a global grant
        with pytest.raises(NotFound):
            incidents.get(owner, program)
        with pytest.raises(PermissionDenied, match="every use case"):
            incidents.open(owner, {"title": "Everything is slow"})
    for role in (Role.AUDITOR, Role.REVIEWER, Role.PEOPLE):
        reader = who(role)
        with ws.incidents(reader) as incidents:
            assert {i["id"] for i in incidents.list(reader)} == {claims, program}
            assert incidents.get(reader, claims)["may_manage"] is False
            with pytest.raises(PermissionDenied, match=r"incident\.manage"):
                incidents.set_status(reader, claims, "investigating")
    other = who(Role.ML_ENGINEER, "notes")
    with ws.incidents(other) as incidents, pytest.raises(NotFound):
        incidents.add_note(other, claims, "not mine")


def test_severity_and_the_serious_incident_deadline(ws: Workspace) -> None:
    with ws.incidents(OP) as incidents:
        iid = incidents.open(OP, {"title": "Wrong denials", "use_case": "claims-triage",
                                  "detected_at": "2026-03-01T09:00:00+00:00"})["id"]  # fmt: skip
        changed = incidents.set_severity(OP, iid, "sev1", serious_incident=True)
    assert (
        changed["severity"] == "sev1"
        and changed["serious_incident"]
        and changed["report_due"] == "2026-03-16"
    )
    assert changed["timeline"][-1]["text"] == "sev3 → sev1 · serious incident (EU AI Act)"


def test_mttr_over_a_period(workspace: Workspace) -> None:
    """On SQLite and PostgreSQL."""
    ws = workspace
    clock = Clock(NOW)
    durations = {"sev2": [3.0, 5.0], "sev4": [30.0]}
    for severity, hours in durations.items():
        for h in hours:
            with ws.incidents(OP) as incidents:
                incidents.clock = Clock(NOW - timedelta(hours=h))
                iid = incidents.open(OP, {"title": f"{severity} {h}", "severity": severity})["id"]
                incidents.clock = clock
                incidents.resolve(OP, iid, "fixed")
    with ws.incidents(OP) as incidents:
        incidents.open(OP, {"title": "still open"})
    with ws.incidents(OP, readonly=True) as incidents:
        summary = incidents.mttr(OP, NOW - timedelta(days=1), NOW + timedelta(seconds=1))
        empty = incidents.mttr(OP, NOW - timedelta(days=9), NOW - timedelta(days=8))
    assert summary.resolved == 3
    assert summary.mean_hours == pytest.approx((3 + 5 + 30) / 3)
    assert summary.median_hours == pytest.approx(5.0)
    assert summary.by_severity["sev2"] == {"resolved": 2, "mean_hours": 4.0, "median_hours": 4.0}
    assert empty.resolved == 0 and empty.mean_hours is None


def test_reopening_restarts_the_clock(ws: Workspace) -> None:
    clock = Clock(NOW)
    with ws.incidents(OP) as incidents:
        incidents.clock = clock
        iid = incidents.open(OP, {"title": "flaky"})["id"]
        clock.at = NOW + timedelta(hours=1)
        assert incidents.resolve(OP, iid, "restarted")["mttr_hours"] == 1.0
        reopened = incidents.set_status(OP, iid, "investigating", "it came back")
        assert reopened["resolved_at"] is None and reopened["mttr_hours"] is None
        clock.at = NOW + timedelta(hours=3)
        assert incidents.resolve(OP, iid, "fixed the leak")["mttr_hours"] == 3.0
