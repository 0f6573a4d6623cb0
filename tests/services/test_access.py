"""Users, tokens and the RBAC matrix: every role x every protected action, allow and deny."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from paceline.bootstrap import Workspace
from paceline.domain.roles import ROLE_ACTIONS, Action, Grant, Role, allowed
from paceline.errors import AuthenticationError, Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator

OP = operator()
PASSWORD = "correct horse battery"


def as_role(role: Role, use_case: str | None = None) -> Principal:
    return Principal(f"someone-{role.value}", (Grant(role, use_case),))


# What each protected action does through the library, run as a given principal.
def _ingest(ws: Workspace, who: Principal, csv: Path) -> None:
    ws.ingest("people", csv, by=who)


def _verify(ws: Workspace, who: Principal, csv: Path) -> None:
    ws.verify_audit(by=who)


def _export(ws: Workspace, who: Principal, csv: Path) -> None:
    ws.audit_export().run(who, f"x-{who.login}", f"file:{csv.parent / who.login}.jsonl")


def _checkpoint(ws: Workspace, who: Principal, csv: Path) -> None:
    ws.audit_checkpoints().checkpoint(who, csv.parent / f"{who.login}.checkpoints")


def _add_user(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.access(who) as a:
        a.add_user(who, f"new-{who.login}", "reviewer")


def _grant(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.access(who) as a:
        a.grant(who, "target", "auditor")


def _list(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.access(who) as a:
        a.list_users(who)


def _token_for_other(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.access(who) as a:
        a.create_token(who, "target")


def _pilot(ws: Workspace, who: Principal, csv: Path) -> None:
    from dataclasses import replace

    from tests.domain.test_pilots import GOOD

    with ws.pilots(who) as pilots:
        pilots.create(who, replace(GOOD, name=f"p-{who.login}"))


SHARED_UC = "shared-case"
JUSTIFICATION = "the steering group accepts the open checks for this test"


def _usecase(ws: Workspace, who: Principal, csv: Path) -> None:
    # a business owner may add a use case they own; managers any
    with ws.lifecycle(who) as lc:
        lc.create(who, {"key": f"uc-{who.login}", "title": "Mine", "owner": who.login})


def _send_back(ws: Workspace, who: Principal, csv: Path) -> None:
    key = f"adv-{who.login}"
    with ws.lifecycle() as lc:
        lc.create(OP, {"key": key, "title": "In phase 2", "owner": who.login, "phase": 2})
    with ws.gates(who) as gates:
        gates.send_back(who, key, JUSTIFICATION)


def _override(ws: Workspace, who: Principal, csv: Path) -> None:
    key = f"ovr-{who.login}"
    with ws.lifecycle() as lc:
        lc.create(OP, {"key": key, "title": "Blocked gate", "owner": who.login})
    with ws.gates(who) as gates:
        gates.advance(who, key, justification=JUSTIFICATION)


def _record(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.lifecycle(who) as lc:
        lc.set_deliverable(who, SHARED_UC, "api_integrations", "draft")


def _training(ws: Workspace, who: Principal, csv: Path) -> None:
    row = {
        "record_id": f"r-{who.login}",
        "person_id": "alice",
        "course": "ai-101",
        "enrolled_on": "2025-01-02",
    }
    report = ws.record_training([row], "test", by=who)
    assert report.loaded == 1


def _governance(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.governance(who) as g:
        g.adopt(who, "eu-ai-act-deployer")


def _evidence(ws: Workspace, who: Principal, csv: Path) -> None:
    from datetime import date

    with ws.governance(who) as g:
        day = date(2026, 1, 5)
        g.upload(who, b"minutes", "minutes.txt", "Minutes", who.login, day, use_case=SHARED_UC)


MODEL_CARD = dict.fromkeys(("purpose", "intended_use", "training_data", "evaluation", "limitations"), "x") | {
    "owners": ["ml"]
}


def _model_register(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.models(who) as m:
        m.register_model(who, f"r-{who.login}", SHARED_UC)


def _model_approve(ws: Workspace, who: Principal, csv: Path) -> None:
    from paceline.services.model_registry import VersionIn

    name = f"a-{who.login}"
    with ws.models() as m:  # asked for by the operator, so approving is someone else's call
        m.register_model(OP, name, SHARED_UC)
        lineage = {"ingest_ids": ["i"]}
        m.register_version(OP, name, VersionIn("1", "m.joblib", "0" * 64, lineage, {}, card=MODEL_CARD))
        asked = m.request_stage(OP, name, "1", "canary", "for the RBAC matrix")
    with ws.models(who) as m:
        m.approve(who, asked["approval"]["id"])


def _monitor(ws: Workspace, who: Principal, csv: Path) -> None:
    rule = {"name": f"errors-{who.login}", "signal": "error_rate", "above": 0.05, "use_case": SHARED_UC}
    with ws.alerts(who) as alerts:
        alerts.add_rule(who, rule)


def _incident(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.incidents(who) as incidents:
        incidents.open(who, {"title": f"Opened by {who.login}", "use_case": SHARED_UC})


def _learning_read(ws: Workspace, who: Principal, csv: Path) -> None:
    with ws.enablement(readonly=True) as en:
        assert "competencies" in en.person_learning(who, "alice")


LIBRARY_ACTIONS: dict[Action, Callable[[Workspace, Principal, Path], None]] = {
    Action.GOVERNANCE_MANAGE: _governance,
    Action.EVIDENCE_UPLOAD: _evidence,
    Action.USECASE_MANAGE: _usecase,
    Action.GATE_ADVANCE: _send_back,
    Action.GATE_OVERRIDE: _override,
    Action.LIFECYCLE_RECORD: _record,
    Action.TRAINING_RECORD: _training,
    Action.LEARNING_READ: _learning_read,
    Action.PILOT_MANAGE: _pilot,
    Action.INGEST: _ingest,
    Action.AUDIT_VERIFY: _verify,
    Action.AUDIT_EXPORT: _export,
    Action.AUDIT_CHECKPOINT: _checkpoint,
    Action.USER_MANAGE: _add_user,
    Action.USER_READ: _list,
    Action.TOKEN_CREATE_ANY: _token_for_other,
    Action.MODEL_REGISTER: _model_register,
    Action.MODEL_APPROVE: _model_approve,
    Action.MONITOR_MANAGE: _monitor,
    Action.INCIDENT_MANAGE: _incident,
}


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace.init(tmp_path_factory.mktemp("rbac") / "ws")
    with ws.access() as a:
        a.add_user(OP, "target", "reviewer")
    with ws.lifecycle() as lc:
        lc.create(OP, {"key": SHARED_UC, "title": "Shared", "owner": "target"})
    return ws


@pytest.fixture(scope="module")
def people_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "people.csv"
    path.write_text("person_id,team\nalice,claims-east\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("action", list(LIBRARY_ACTIONS), ids=lambda a: a.value)
def test_rbac_matrix_through_the_library(
    shared_ws: Workspace, people_csv: Path, role: Role, action: Action
) -> None:
    who = as_role(role)
    run = LIBRARY_ACTIONS[action]
    if action in ROLE_ACTIONS[role]:
        run(shared_ws, who, people_csv)
    else:
        # an override is refused as an override, or before that as a move through the gate
        expected = "gate.(advance|override)" if action is Action.GATE_OVERRIDE else action.value
        with pytest.raises(PermissionDenied, match=expected):
            run(shared_ws, who, people_csv)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_rbac_matrix_of_the_rule(role: Role, action: Action) -> None:
    expected = role is Role.ADMIN or action in ROLE_ACTIONS[role]
    assert allowed([Grant(role)], action) is expected
    assert as_role(role).can(action) is expected


def test_a_use_case_grant_applies_to_that_use_case_only() -> None:
    scoped = as_role(Role.BUSINESS_OWNER, "claims-triage")
    assert scoped.can(Action.READ, "claims-triage")
    assert scoped.can(Action.READ)  # program pages, filtered to what the grant covers
    assert not scoped.can(Action.READ, "clinical-documentation")
    assert not as_role(Role.DATA_ENGINEER, "claims-triage").can(Action.INGEST)
    assert not as_role(Role.ADMIN, "claims-triage").can(Action.USER_MANAGE)


def test_the_admin_role_covers_every_action() -> None:
    assert ROLE_ACTIONS[Role.ADMIN] == frozenset(Action)


def test_users_log_in_with_their_password(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.access() as a:
        a.add_user(OP, "ada", "admin", password=PASSWORD)
    with sqlite_workspace.access() as a:
        who = a.login("ada", PASSWORD)
        assert who.login == "ada" and who.can(Action.USER_MANAGE)
        with pytest.raises(AuthenticationError):
            a.login("ada", "wrong password!")
        with pytest.raises(AuthenticationError):
            a.login("nobody", PASSWORD)


def test_tokens_are_shown_once_and_stored_hashed(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.access() as a:
        a.add_user(OP, "bot", "data-engineer")
        token = a.create_token(OP, "bot", "loader")
    with sqlite_workspace.access() as a:
        assert a.authenticate_token(token).login == "bot"
        with pytest.raises(AuthenticationError):
            a.authenticate_token(token[:-1] + ("x" if token[-1] != "x" else "y"))
        with pytest.raises(AuthenticationError):
            a.authenticate_token("not-a-token")
    with sqlite_workspace.store.read() as s:
        stored = s.execute(text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert token not in stored


def test_users_may_create_their_own_token_only(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.access() as a:
        a.add_user(OP, "rita", "reviewer")
        a.add_user(OP, "sam", "reviewer")
    rita = Principal("rita", (Grant(Role.REVIEWER),))
    with sqlite_workspace.access(rita) as a:
        assert a.create_token(rita, "rita").startswith("pl_")
        with pytest.raises(PermissionDenied):
            a.create_token(rita, "sam")


@pytest.mark.parametrize(
    ("login", "role", "password", "error"),
    [
        ("bad login!", "admin", None, ValidationError),
        ("ok", "wizard", None, ValidationError),
        ("ok", "admin", "short", ValidationError),
    ],
)
def test_bad_user_input_is_named(
    sqlite_workspace: Workspace, login: str, role: str, password: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error), sqlite_workspace.access() as a:
        a.add_user(OP, login, role, password=password)


def test_duplicate_and_unknown_users(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.access() as a:
        a.add_user(OP, "ada", "admin")
    with pytest.raises(Conflict), sqlite_workspace.access() as a:
        a.add_user(OP, "ada", "admin")
    with pytest.raises(NotFound), sqlite_workspace.access() as a:
        a.grant(OP, "nobody", "admin")


def test_grants_are_idempotent_and_scoped(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.access() as a:
        a.add_user(OP, "bo", "business-owner", use_case="claims-triage")
        a.grant(OP, "bo", "business-owner", use_case="claims-triage")
        user = a.grant(OP, "bo", "reviewer")
    assert set(user.grants) == {Grant(Role.BUSINESS_OWNER, "claims-triage"), Grant(Role.REVIEWER)}


def test_certification_needs_an_explicit_grant_and_a_current_completion() -> None:
    from datetime import date, timedelta

    from paceline.services.access import certification_problem, require_certified

    today = date(2026, 3, 2)
    mine = (Grant(Role.REVIEWER, "clinical-documentation"),)
    recent, old = [today - timedelta(days=30)], [today - timedelta(days=366)]
    assert certification_problem(mine, "clinical-documentation", recent, today, 365) is None
    uc = "clinical-documentation"
    assert "training completion" in str(certification_problem(mine, uc, old, today, 365))
    everywhere = (Grant(Role.REVIEWER), Grant(Role.ADMIN))
    assert "needs a grant" in str(certification_problem(everywhere, uc, recent, today, 365))
    not_a_reviewer = (Grant(Role.AUDITOR, "clinical-documentation"),)
    assert certification_problem(not_a_reviewer, "clinical-documentation", recent, today, 365) is not None
    with pytest.raises(PermissionDenied, match="may not decide reviews of clinical-documentation") as err:
        require_certified("ann", everywhere, "clinical-documentation", recent, today, 365)
    assert "paceline user grant ann reviewer --use-case clinical-documentation" in err.value.details["fix"]
