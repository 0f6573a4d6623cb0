"""The lifecycle and gate services through the workspace, on SQLite and PostgreSQL: the
inventory and its permissions, sign-offs, the audit trail, gates, overrides and send-back."""

from __future__ import annotations

from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.portfolio import FEASIBILITY_KEYS, READINESS_KEYS
from paceline.domain.raci import PROGRAM_ROLES
from paceline.domain.roles import Grant, Role
from paceline.domain.usecases import Phase, Status
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator
from paceline.services.gate_service import GateBlocked

OP = operator()
BO = Principal("bo", (Grant(Role.BUSINESS_OWNER),))
OTHER_BO = Principal("bo2", (Grant(Role.BUSINESS_OWNER),))
SCOPED_BO = Principal("bo3", (Grant(Role.BUSINESS_OWNER, "claims-triage"),))
PM = Principal("pm", (Grant(Role.PROGRAM_MANAGER),))
SEC = Principal("sec", (Grant(Role.SECURITY),))
ENG = Principal("eng", (Grant(Role.DATA_ENGINEER),))
REVIEWER = Principal("rev", (Grant(Role.REVIEWER),))

KEY = "claims-triage"
DOC: dict[str, Any] = {"key": KEY, "title": "Claims triage", "owner": "bo"}
JUSTIFICATION = "pilot ran on the old system; the sponsor accepts the risk until Q3"

READY: dict[str, Any] = {
    "business_process": "claims intake",
    "department": "claims",
    "people_affected": 40,
    "value": {"volume_per_year": 20000, "minutes_per_task": 12, "cost_per_hour": 45},
    "readiness": dict.fromkeys(READINESS_KEYS, 3),
    "feasibility": dict.fromkeys(FEASIBILITY_KEYS, 3),
}


def _create(ws: Workspace, by: Principal = BO, **extra: Any) -> None:
    with ws.lifecycle(by) as lc:
        lc.create(by, {**DOC, **extra})


def _ready_for_phase_2(ws: Workspace) -> None:
    """Phase 1 complete: the business case recorded, every role staffed, the case approved."""
    _create(ws, **READY)
    with ws.lifecycle(BO) as lc:
        for role in PROGRAM_ROLES:
            lc.assign(BO, KEY, role.value, f"someone-{role.value}")
        lc.sign_off(BO, KEY, "business_case_approved", "approved at the steering meeting")


def _phase(ws: Workspace) -> Phase:
    with ws.lifecycle(readonly=True) as lc:
        return lc.get(OP, KEY).phase


# --- the inventory ------------------------------------------------------------------
def test_create_and_read(workspace: Workspace) -> None:
    _create(workspace, department="claims")
    with workspace.lifecycle(readonly=True) as lc:
        view = lc.view(REVIEWER, KEY)
        assert view.use_case.department == "claims" and view.use_case.phase is Phase.ASSESS
        assert view.created_by == BO.actor and view.go_live is None
        assert [uc.key for uc in lc.list(REVIEWER)] == [KEY]
        doc = view.to_dict()
        assert doc["ai_act_tier"] and doc["phase_name"] == "assess"


def test_create_writes_the_default_risk_register(workspace: Workspace) -> None:
    _create(workspace)
    with workspace.program(readonly=True) as prog:
        risks = prog.risks(OP, KEY)
    assert risks["risks"], "a new use case starts with the default register"


def test_duplicate_and_invalid_use_cases(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(Conflict), workspace.lifecycle(BO) as lc:
        lc.create(BO, DOC)
    with pytest.raises(ValidationError, match=r"readiness\.not_a_question"), workspace.lifecycle(BO) as lc:
        lc.create(BO, {**DOC, "key": "other", "readiness": {"not_a_question": 2}})
    with pytest.raises(NotFound), workspace.lifecycle(readonly=True) as lc:
        lc.get(OP, "nothing-here")


def test_update_changes_fields_but_not_key_or_phase(workspace: Workspace) -> None:
    _create(workspace)
    with workspace.lifecycle(BO) as lc:
        uc = lc.update(BO, KEY, {"goal": "halve triage time", "status": "active", "phase": 1})
    assert uc.goal == "halve triage time" and uc.status is Status.ACTIVE
    with workspace.lifecycle(readonly=True) as lc:
        assert lc.get(OP, KEY).goal == "halve triage time"
    for change in ({"phase": 3}, {"phase": "enable"}, {"key": "renamed"}):
        with pytest.raises(ValidationError), workspace.lifecycle(PM) as lc:
            lc.update(PM, KEY, change)
    assert _phase(workspace) is Phase.ASSESS


def test_business_owners_edit_only_their_own(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(PermissionDenied), workspace.lifecycle(OTHER_BO) as lc:
        lc.update(OTHER_BO, KEY, {"goal": "mine now"})
    with pytest.raises(PermissionDenied), workspace.lifecycle(OTHER_BO) as lc:
        lc.assign(OTHER_BO, KEY, "security", "mallory")
    # nor may they create a use case in someone else's name
    with pytest.raises(PermissionDenied), workspace.lifecycle(OTHER_BO) as lc:
        lc.create(OTHER_BO, {**DOC, "key": "not-mine"})
    # a grant scoped to the use case, managers and admins may
    for who in (SCOPED_BO, PM, OP):
        with workspace.lifecycle(who) as lc:
            lc.update(who, KEY, {"goal": f"set by {who.login}"})
    with workspace.lifecycle(readonly=True) as lc:
        assert lc.get(OP, KEY).goal == "set by operator"


@pytest.mark.parametrize("who", [ENG, SEC, REVIEWER], ids=lambda p: p.login)
def test_other_roles_may_not_edit_the_inventory(workspace: Workspace, who: Principal) -> None:
    _create(workspace)
    with pytest.raises(PermissionDenied), workspace.lifecycle(who) as lc:
        lc.update(who, KEY, {"goal": "x"})
    with pytest.raises(PermissionDenied), workspace.lifecycle(who) as lc:
        lc.create(who, {**DOC, "key": "by-other", "owner": who.login})


# --- deliverables and sign-offs --------------------------------------------------------
def test_document_deliverables_need_a_link_and_records_are_not_set_by_hand(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(ValidationError, match="link"), workspace.lifecycle(ENG) as lc:
        lc.set_deliverable(ENG, KEY, "pilot_datasets", "done")
    with pytest.raises(ValidationError, match="derived"), workspace.lifecycle(PM) as lc:
        lc.set_deliverable(PM, KEY, "value_model", "done", link="https://x")
    with pytest.raises(ValidationError), workspace.lifecycle(PM) as lc:
        lc.set_deliverable(PM, KEY, "no_such_thing", "done", link="https://x")
    with pytest.raises(PermissionDenied), workspace.lifecycle(REVIEWER) as lc:
        lc.set_deliverable(REVIEWER, KEY, "pilot_datasets", "draft")
    with workspace.lifecycle(ENG) as lc:
        lc.set_deliverable(ENG, KEY, "pilot_datasets", "done", link="https://wiki/datasets")
    with workspace.gates(readonly=True) as gates:
        state = gates.evidence(OP, KEY).deliverables["pilot_datasets"]
    assert state.status == "done" and state.link == "https://wiki/datasets" and state.owner == "eng"


def test_sign_off_only_by_the_checkpoints_roles(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(PermissionDenied, match="security"), workspace.lifecycle(BO) as lc:
        lc.sign_off(BO, KEY, "security_review")
    with pytest.raises(PermissionDenied), workspace.lifecycle(PM) as lc:
        lc.sign_off(PM, KEY, "business_case_approved")
    with pytest.raises(ValidationError), workspace.lifecycle(SEC) as lc:
        lc.sign_off(SEC, KEY, "no_such_check")
    with workspace.lifecycle(SEC) as lc:
        signed = lc.sign_off(SEC, KEY, "privacy_assessment", " DPIA done ")
    assert (signed.by, signed.role, signed.note) == (SEC.actor, "security", "DPIA done")
    with workspace.lifecycle(OP) as lc:  # an admin may sign any checkpoint
        assert lc.sign_off(OP, KEY, "canary_release").role == "admin"
    with workspace.gates(readonly=True) as gates:
        assert set(gates.evidence(OP, KEY).signoffs) == {"privacy_assessment", "canary_release"}
    with workspace.lifecycle(SEC) as lc:
        lc.revoke_sign_off(SEC, KEY, "privacy_assessment")
    with pytest.raises(NotFound), workspace.lifecycle(SEC) as lc:
        lc.revoke_sign_off(SEC, KEY, "privacy_assessment")


def test_a_scoped_grant_signs_only_its_use_case(workspace: Workspace) -> None:
    _create(workspace)
    _create(workspace, key="other-case", owner="bo")
    with workspace.lifecycle(SCOPED_BO) as lc:
        lc.sign_off(SCOPED_BO, KEY, "business_case_approved")
    with pytest.raises(PermissionDenied), workspace.lifecycle(SCOPED_BO) as lc:
        lc.sign_off(SCOPED_BO, "other-case", "business_case_approved")


def test_requirements_and_ops_figures_are_validated(workspace: Workspace) -> None:
    from datetime import date

    _create(workspace)
    with pytest.raises(ValidationError, match="measured"), workspace.lifecycle(ENG) as lc:
        lc.record_requirement(ENG, KEY, "latency", "p95", "< 2 s", met=True)
    with pytest.raises(ValidationError), workspace.lifecycle(ENG) as lc:
        lc.record_requirement(ENG, KEY, "speed", "p95", "< 2 s")
    with workspace.lifecycle(ENG) as lc:
        req = lc.record_requirement(ENG, KEY, "latency", "p95", "< 2 s", "1.4 s", met=True)
    assert req.id and req.met and req.verified_by == ENG.actor
    day = date(2025, 1, 1)
    with pytest.raises(ValidationError), workspace.lifecycle(ENG) as lc:
        lc.record_ops_figure(ENG, KEY, "uptime", 99.8, day, day, "monitor")
    with pytest.raises(ValidationError), workspace.lifecycle(ENG) as lc:
        lc.record_ops_figure(ENG, KEY, "uptime", 0.998, day, date(2024, 12, 1), "monitor")
    with pytest.raises(ValidationError), workspace.lifecycle(ENG) as lc:
        lc.record_ops_figure(ENG, KEY, "latency", 0.5, day, day, "monitor")


# --- the audit trail ---------------------------------------------------------------
def test_create_and_transition_are_audited(workspace: Workspace) -> None:
    _ready_for_phase_2(workspace)
    with workspace.gates(BO) as gates:
        gates.advance(BO, KEY)
    entries = workspace.audit_entries(limit=1000)
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_entity.setdefault(e["entity"], []).append(e)
    created = [e for e in by_entity.get("use_cases", []) if e["actor"] == BO.actor]
    assert created, f"no audit entry for the use case: {sorted(by_entity)}"
    moves = by_entity.get("phase_transitions", [])
    assert len(moves) == 1 and moves[0]["actor"] == BO.actor
    assert any(e["entity"] == "signoffs" for e in entries)
    check = workspace.verify_audit()
    assert check.ok and check.entries >= len(entries)


# --- gates ---------------------------------------------------------------------------
def test_a_blocked_gate_names_every_check(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(GateBlocked) as err, workspace.gates(BO) as gates:
        gates.advance(BO, KEY)
    assert err.value.exit_code == 1 and err.value.http_status == 409
    gate = err.value.details["gate"]
    assert gate["passed"] is False and (gate["from_phase"], gate["to_phase"]) == (1, 2)
    assert set(gate["blocking"]) == {"business_case", "deliverables_phase_1", "business_case_approved"}
    assert "blocked" in err.value.message
    assert _phase(workspace) is Phase.ASSESS
    with workspace.gates(readonly=True) as gates:
        assert gates.history(OP, KEY) == []


def test_a_passing_gate_moves_the_use_case(workspace: Workspace) -> None:
    _ready_for_phase_2(workspace)
    with workspace.gates(readonly=True) as gates:
        decision = gates.evaluate(OP, KEY)
    assert decision.passed, decision.to_dict()
    with workspace.gates(BO) as gates:
        record = gates.advance(BO, KEY)
    assert record["to_phase"] == 2 and record["passed"] and not record["overridden"]
    assert _phase(workspace) is Phase.PILOT
    with workspace.gates(readonly=True) as gates:
        history = gates.history(OP, KEY)
    assert [(h["move"], h["from_phase"], h["to_phase"]) for h in history] == [("advance", 1, 2)]
    assert history[0]["decided_by"] == BO.actor
    assert {c["rule"] for c in history[0]["checks"]} >= {"business_case", "business_case_approved"}


def test_reviewers_may_not_pass_a_gate(workspace: Workspace) -> None:
    _ready_for_phase_2(workspace)
    with pytest.raises(PermissionDenied), workspace.gates(REVIEWER) as gates:
        gates.advance(REVIEWER, KEY)
    assert _phase(workspace) is Phase.ASSESS


def test_override_needs_the_role_and_a_justification(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(PermissionDenied, match=r"gate\.override"), workspace.gates(BO) as gates:
        gates.advance(BO, KEY, justification=JUSTIFICATION)
    with pytest.raises(ValidationError, match="justification"), workspace.gates(PM) as gates:
        gates.advance(PM, KEY, justification="   because I say so   ")  # < 20 once stripped
    assert _phase(workspace) is Phase.ASSESS
    with workspace.gates(PM) as gates:
        record = gates.advance(PM, KEY, justification=f"  {JUSTIFICATION}  ")
    assert record["overridden"] is True and record["passed"] is False
    assert _phase(workspace) is Phase.PILOT
    with workspace.gates(readonly=True) as gates:
        (entry,) = gates.history(OP, KEY)
    assert entry["overridden"] is True and entry["justification"] == JUSTIFICATION
    assert entry["decided_by"] == PM.actor
    assert any(c["status"] != "pass" for c in entry["checks"])
    moves = [e for e in workspace.audit_entries(limit=1000) if e["entity"] == "phase_transitions"]
    assert len(moves) == 1 and moves[0]["actor"] == PM.actor


def test_send_back(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(ValidationError, match="previous"), workspace.gates(PM) as gates:
        gates.send_back(PM, KEY, JUSTIFICATION)
    with workspace.gates(PM) as gates:
        gates.advance(PM, KEY, justification=JUSTIFICATION)
    with pytest.raises(ValidationError, match="justification"), workspace.gates(PM) as gates:
        gates.send_back(PM, KEY, "too short")
    with pytest.raises(PermissionDenied), workspace.gates(REVIEWER) as gates:
        gates.send_back(REVIEWER, KEY, JUSTIFICATION)
    with workspace.gates(BO) as gates:
        record = gates.send_back(BO, KEY, "the 30-day review found the pilot data was wrong")
    assert (record["move"], record["from_phase"], record["to_phase"]) == ("return", 2, 1)
    assert record["checks"] == [] and record["overridden"] is False
    assert _phase(workspace) is Phase.ASSESS
    with workspace.gates(readonly=True) as gates:
        assert [h["move"] for h in gates.history(OP, KEY)] == ["advance", "return"]


def test_a_business_owner_moves_only_their_own_use_cases(sqlite_workspace: Workspace) -> None:
    from paceline.domain.roles import Grant, Role
    from paceline.errors import PermissionDenied
    from paceline.services.access import Principal, operator

    op = operator()
    with sqlite_workspace.lifecycle() as lc:
        lc.create(op, {"key": "theirs", "title": "Someone else's", "owner": "carol", "phase": 2})
        lc.create(op, {"key": "mine", "title": "Mine", "owner": "bob", "phase": 2})
    bob = Principal("bob", (Grant(Role.BUSINESS_OWNER),))
    with sqlite_workspace.gates(bob) as gates, pytest.raises(PermissionDenied, match="owned by carol"):
        gates.send_back(bob, "theirs", "the pilot data were incomplete, redo it")
    with sqlite_workspace.gates(bob) as gates:
        assert gates.send_back(bob, "mine", "the pilot data were incomplete, redo it")["to_phase"] == 1


def test_only_a_manager_creates_a_use_case_past_phase_one(sqlite_workspace: Workspace) -> None:
    from paceline.domain.roles import Grant, Role
    from paceline.errors import PermissionDenied
    from paceline.services.access import Principal

    bob = Principal("bob", (Grant(Role.BUSINESS_OWNER),))
    with sqlite_workspace.lifecycle(bob) as lc, pytest.raises(PermissionDenied, match=r"gate\.override"):
        lc.create(bob, {"key": "skip", "title": "Skips gates", "owner": "bob", "phase": 5})
