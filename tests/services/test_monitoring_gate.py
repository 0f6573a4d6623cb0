"""The phase-5 gate's ``monitored`` check and the monitoring deliverables through the workspace, on
SQLite and PostgreSQL: the registry, the alert rules and the incidents are the evidence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.gates import CheckResult, GatePolicy, ModelsMonitored
from paceline.domain.roles import Grant, Role
from paceline.domain.usecases import Phase
from paceline.services.access import Principal, operator
from paceline.services.gate_service import GateBlocked
from paceline.services.model_registry import VersionIn

OP = operator()
UC = "claims-triage"
MODEL = "claims-router"
ENG = Principal("eng", (Grant(Role.ML_ENGINEER),))
BO = Principal("bo", (Grant(Role.BUSINESS_OWNER),))
PM = Principal("pm", (Grant(Role.PROGRAM_MANAGER),))
SHA = "0f" * 32
CARD = {
    "purpose": "Route claims to a queue",
    "intended_use": "A suggestion the adjuster accepts or corrects",
    "training_data": "Claims 2025 with the adjusters' routing",
    "evaluation": "Hold-out accuracy 0.86",
    "limitations": "Few commercial claims",
    "owners": ["claims-ml"],
}
RUNBOOK = "https://wiki.example.com/runbooks/claims-router"
DRIFT = {"name": "router-drift", "signal": "drift_share", "above": 0.3, "window": "7d"}


def _use_case(ws: Workspace, phase: int = 5, key: str = UC) -> None:
    with ws.lifecycle() as lc:
        lc.create(OP, {"key": key, "title": key, "owner": "bo", "phase": phase})


def _version(version: str) -> VersionIn:
    lineage = {"ingest_ids": ["ing-1"], "label_exports": [{"path": "labels.parquet", "sha256": SHA}]}
    trained = datetime(2026, 1, 10, tzinfo=UTC)
    return VersionIn(version, f"models/{MODEL}-{version}.joblib", SHA, lineage, {}, trained, CARD)


def _register(ws: Workspace, version: str = "1.0", model: str = MODEL) -> None:
    with ws.models(ENG) as registry:
        if registry.find(ENG, model) is None:
            registry.register_model(ENG, model, UC)
        registry.register_version(ENG, model, _version(version))


def _to_production(ws: Workspace, version: str = "1.0", model: str = MODEL) -> None:
    _register(ws, version, model)
    with ws.models(ENG) as registry:
        asked = registry.request_stage(ENG, model, version, "production", "hold-out accuracy reviewed")
    with ws.models(BO) as registry:
        registry.approve(BO, asked["approval"]["id"], "evaluation reviewed")


def _rule(ws: Workspace, **doc: Any) -> None:
    with ws.alerts(OP) as alerts:
        alerts.add_rule(OP, {**DRIFT, **doc})


def _incident(ws: Workspace, severity: str = "sev2", **doc: Any) -> int:
    with ws.incidents(OP) as incidents:
        opened = incidents.open(OP, {"title": "F1 fell to 0.52", "severity": severity, "use_case": UC, **doc})
    return int(opened["id"])


def _monitored(ws: Workspace) -> CheckResult:
    with ws.gates(OP, readonly=True) as gates:
        decision = gates.evaluate(OP, UC)
    return next(r for r in decision.results if r.rule == "monitored")


def _deliverables(ws: Workspace) -> dict[str, str]:
    with ws.gates(OP, readonly=True) as gates:
        states = gates.evidence(OP, UC).deliverables
    keys = ("monitoring_dashboards", "runbooks", "lifecycle_processes")
    return {k: states[k].status for k in keys}


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    _use_case(workspace)
    return workspace


def test_pending_until_a_version_is_in_production(ws: Workspace) -> None:
    res = _monitored(ws)
    assert res.status == "pending" and "register the model and promote a version" in res.reason
    _register(ws)  # a candidate serves nobody
    assert _monitored(ws).status == "pending"
    assert _deliverables(ws) == {
        "monitoring_dashboards": "missing",
        "runbooks": "missing",
        "lifecycle_processes": "missing",
    }


def test_an_open_sev2_blocks_the_gate_and_resolving_it_lets_the_use_case_pass(ws: Workspace) -> None:
    _to_production(ws)
    res = _monitored(ws)
    assert res.status == "fail" and "watches claims-router (version 1.0 in production)" in res.reason
    _rule(ws, use_case=UC)
    incident = _incident(ws)
    res = _monitored(ws)
    assert res.status == "fail"
    assert res.reason == (
        f"open sev1/sev2 incident(s): incident {incident} sev2 open: F1 fell to 0.52 (resolve them first)"
    )
    assert {e.href for e in res.evidence} == {f"/models/{MODEL}", "/alerts", f"/incidents/{incident}"}
    with pytest.raises(GateBlocked) as blocked, ws.gates(PM) as gates:
        gates.advance(PM, UC)
    assert "monitored" in blocked.value.details["gate"]["blocking"]
    with ws.incidents(OP) as incidents:
        incidents.resolve(OP, incident, "rolled back to the previous version")
    res = _monitored(ws)
    assert res.status == "pass" and res.reason.startswith("production models watched: claims-router 1.0")
    with ws.gates(PM) as gates:  # the monitoring check alone: the rest needs warehouse data
        gates.policy = GatePolicy([ModelsMonitored()])
        moved = gates.advance(PM, UC)
    assert (moved["from_phase"], moved["to_phase"], moved["passed"]) == (5, 6, True)


def test_only_severe_open_incidents_of_the_use_case_or_its_models_block(ws: Workspace) -> None:
    _to_production(ws)
    _rule(ws)  # a rule for everything watches this model too
    _incident(ws, "sev3")
    _use_case(ws, 2, "other")
    _incident(ws, "sev1", use_case="other")
    assert _monitored(ws).status == "pass"
    by_model = _incident(ws, "sev1", use_case=None, model=MODEL)  # names the model, not the use case
    res = _monitored(ws)
    assert res.status == "fail" and f"incident {by_model} sev1" in res.reason


@pytest.mark.parametrize(
    "rule",
    [
        {"use_case": "other"},  # another use case's
        {"model": "scribe-coder"},  # another model's
        {"signal": "latency_p95_ms", "above": 2000, "window": "1h"},  # the runtime's health, not the model's
        {"enabled": False},
    ],
)
def test_a_rule_that_does_not_watch_the_model_proves_nothing(ws: Workspace, rule: dict[str, Any]) -> None:
    _to_production(ws)
    _rule(ws, **rule)
    assert _monitored(ws).status == "fail"
    assert _deliverables(ws)["monitoring_dashboards"] == "missing"


def test_dashboards_and_runbooks_are_proven_by_rules_and_incidents(ws: Workspace) -> None:
    _to_production(ws)
    _rule(ws, name="other-drift", use_case="other", runbook_url=RUNBOOK)
    assert _deliverables(ws)["runbooks"] == "missing"  # another use case's runbook
    _rule(ws, model=MODEL, description="Drift of the router's inputs.", runbook_url=RUNBOOK)
    assert _deliverables(ws) == {
        "monitoring_dashboards": "done",
        "runbooks": "done",
        "lifecycle_processes": "missing",  # computed from phase 6 on
    }


@pytest.mark.parametrize("scope", [{"use_case": UC}, {}], ids=["the use case's", "everything's"])
def test_a_rules_runbook_url_proves_the_runbooks(ws: Workspace, scope: dict[str, Any]) -> None:
    _to_production(ws)
    _rule(
        ws,
        name="router-latency",
        signal="latency_p95_ms",
        above=2000,
        window="1h",
        runbook_url=RUNBOOK,
        **scope,
    )
    assert _deliverables(ws)["runbooks"] == "done"  # any rule of the use case names the runbook


def test_a_link_in_a_rules_description_is_not_a_runbook(ws: Workspace) -> None:
    _to_production(ws)
    _rule(ws, model=MODEL, description=f"Drift of the router's inputs. Runbook: {RUNBOOK}.")
    assert _deliverables(ws) == {
        "monitoring_dashboards": "done",
        "runbooks": "missing",  # the description is text for people, not the rule's runbook_url
        "lifecycle_processes": "missing",
    }
    with ws.alerts(OP) as alerts:
        alerts.replace_rule(OP, DRIFT["name"], {**DRIFT, "model": MODEL, "runbook_url": RUNBOOK})
    assert _deliverables(ws)["runbooks"] == "done"


def test_an_incident_naming_a_runbook_proves_the_runbooks(ws: Workspace) -> None:
    _to_production(ws)
    incident = _incident(ws, "sev4")
    assert _deliverables(ws)["runbooks"] == "missing"
    with ws.incidents(OP) as incidents:
        incidents.set_runbook(OP, incident, RUNBOOK)
        incidents.resolve(OP, incident, "a near miss; nothing to fix")
    assert _deliverables(ws)["runbooks"] == "done"


def test_lifecycle_processes_need_a_schedule_and_a_deprecation(workspace: Workspace) -> None:
    _use_case(workspace, 6)
    ws = workspace
    _to_production(ws)
    _rule(ws)
    assert _deliverables(ws)["lifecycle_processes"] == "missing"
    with ws.models(ENG) as registry:
        registry.set_schedule(ENG, MODEL, 90, 14)
    assert _deliverables(ws)["lifecycle_processes"] == "missing"  # nothing deprecated yet
    with ws.models(ENG) as registry:
        registry.set_dates(ENG, MODEL, "1.0", deprecation=date(2027, 1, 1))
    assert _deliverables(ws)["lifecycle_processes"] == "done"  # a deprecation planned


def test_a_superseded_version_is_a_deprecation(workspace: Workspace) -> None:
    _use_case(workspace, 6)
    ws = workspace
    _to_production(ws)
    with ws.models(ENG) as registry:
        registry.set_schedule(ENG, MODEL, 90, 14)
    _to_production(ws, "2.0")  # 1.0 moves to deprecated
    assert _deliverables(ws)["lifecycle_processes"] == "done"
    with ws.gates(OP, readonly=True) as gates:  # the recertification checks the monitoring again
        decision = gates.evaluate(OP, UC)
    res = next(r for r in decision.results if r.rule == "monitored")
    assert decision.transition.source is Phase.SCALE and res.status == "fail"  # no rule watches 2.0
