"""The runtime API: workflows, cases and the review queue, good and bad paths.

Every bad input answers in the one error shape (never a 500): unknown workflow 404, a bad payload
field 422 naming ``payload.<field>``, a decision without a reason code 422, a second different
decision 409, a reviewer of another use case 403, the auditor read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.roles import ROLE_ACTIONS, SCOPED_ACTIONS, Action, Grant, Role, allowed
from paceline.runtime.registry import REGISTRY
from paceline.runtime.worker import Worker
from paceline.services.access import operator
from tests.runtime.flows import ExpenseCheck
from tests.web.web_helpers import TestClient, token_for

WF = "/api/v1/workflows/expense-check"
PEOPLE = {
    "rex": ("reviewer", "claims-triage"),  # the workflow's use case
    "rosa": ("reviewer", "clinical-documentation"),  # another use case
    "bo": ("business-owner", None),
    "ml": ("ml-engineer", None),
    "pm": ("program-manager", None),
}
BIG = {"amount": 5000, "category": "travel"}  # the amount rule sends it to review
TRAVEL = {"amount": 80, "category": "travel"}  # confident: completes automatically


@pytest.fixture(autouse=True)
def expense_workflow() -> Iterator[None]:
    REGISTRY.register(ExpenseCheck)
    yield
    REGISTRY._workflows.pop(ExpenseCheck.name, None)


@pytest.fixture
def api(client: TestClient, ws: Workspace) -> Any:
    """``api(login).get(path)`` etc. with that user's bearer token."""
    with ws.access() as access:
        for login, (role, use_case) in PEOPLE.items():
            access.add_user(operator(), login, role, use_case)
    tokens: dict[str, str] = {}

    class As:
        def __init__(self, login: str) -> None:
            if login not in tokens:
                tokens[login] = token_for(ws, login)
            self.headers = {"Authorization": f"Bearer {tokens[login]}"}

        def get(self, path: str, **kw: Any) -> Any:
            return client.get(path, headers=self.headers, **kw)

        def post(self, path: str, json: Any = None, **kw: Any) -> Any:
            headers = {**self.headers, **kw.pop("headers", {})}
            return client.post(path, headers=headers, json=json, **kw)

    return As


def drain(ws: Workspace) -> None:
    Worker(ws.runtime, "test", 1).run(until_idle=True)


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


def start(api: Any, external_id: str, payload: dict[str, Any], who: str = "ada") -> Any:
    return api(who).post(f"{WF}/cases", {"external_id": external_id, "payload": payload})


def waiting_item(api: Any, ws: Workspace, external_id: str = "big-1") -> dict[str, Any]:
    """A case sent to review; its open review item."""
    case = start(api, external_id, BIG).json()
    drain(ws)
    items = [r for r in api("ada").get("/api/v1/reviews").json()["reviews"] if r["case_id"] == case["id"]]
    assert len(items) == 1
    return items[0]


# --- permissions -----------------------------------------------------------------------------
def test_the_new_actions_in_the_matrix() -> None:
    starters = {Role.ADMIN, Role.ML_ENGINEER, Role.DATA_ENGINEER, Role.PROGRAM_MANAGER}
    assert {r for r in Role if Action.CASE_START in ROLE_ACTIONS[r]} == starters
    assert {r for r in Role if Action.REVIEW_DECIDE in ROLE_ACTIONS[r]} == {Role.REVIEWER, Role.ADMIN}
    assert Action.REVIEW_DECIDE in SCOPED_ACTIONS and Action.CASE_START not in SCOPED_ACTIONS
    scoped = [Grant(Role.REVIEWER, "claims-triage")]
    assert allowed(scoped, Action.REVIEW_DECIDE, "claims-triage")
    assert not allowed(scoped, Action.REVIEW_DECIDE, "clinical-documentation")
    assert not allowed([Grant(Role.ML_ENGINEER, "claims-triage")], Action.CASE_START, "claims-triage")


# --- workflows ---------------------------------------------------------------------------------
def test_workflows_are_listed_and_described(api: Any) -> None:
    listed = api("rita").get("/api/v1/workflows").json()["workflows"]
    assert "expense-check" in [w["name"] for w in listed]
    doc = api("rita").get(WF).json()
    assert doc["steps"] == ["trigger", "extract", "infer", "rules", "route", "review", "act", "record"]
    assert doc["payload_schema"]["required"] == ["amount", "category"]
    assert doc["example_payload"]["category"] == "travel" and doc["use_case"] == "claims-triage"
    seen_by_rosa = [w["name"] for w in api("rosa").get("/api/v1/workflows").json()["workflows"]]
    assert "expense-check" not in seen_by_rosa  # rosa works on another use case
    error_of(api("rosa").get(WF), 403, "forbidden")


def test_an_unknown_workflow_is_404(api: Any) -> None:
    error = error_of(api("ada").get("/api/v1/workflows/nope"), 404, "not_found")
    assert "expense-check" in error["details"]["fix"]
    error_of(start_on(api, "nope"), 404, "not_found")
    error_of(api("ada").get("/api/v1/cases", params={"workflow": "nope"}), 404, "not_found")


def start_on(api: Any, workflow: str) -> Any:
    return api("ada").post(f"/api/v1/workflows/{workflow}/cases", {"external_id": "x", "payload": TRAVEL})


# --- cases -----------------------------------------------------------------------------------------
def test_a_case_starts_once_per_external_id(api: Any, ws: Workspace) -> None:
    first = start(api, "e-1", TRAVEL, "ml")
    assert first.status_code == 201 and first.json()["status"] == "running"
    assert first.headers["location"] == f"/api/v1/cases/{first.json()['id']}"
    again = start(api, "e-1", {"amount": 99, "category": "meals"}, "ml")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    drain(ws)
    case = api("alan").get(f"/api/v1/cases/{first.json()['id']}").json()
    assert case["status"] == "completed"
    assert len(case["steps"]) == 8 and all(len(s["idempotency_key"]) == 40 for s in case["steps"])
    assert case["actions"][0]["idempotency_key"] and case["actions"][0]["status"] == "recorded"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"amount": -5, "category": "travel"}, "payload.amount"),
        ({"amount": 5}, "payload.category"),
        ({"amount": "lots", "category": "travel"}, "payload.amount"),
    ],
)
def test_a_bad_payload_names_the_field(api: Any, payload: dict[str, Any], field: str) -> None:
    error = error_of(start(api, "bad", payload), 422, "validation_error")
    assert error["details"]["field"] == field and error["message"].startswith(field)
    assert "/api/v1/workflows/expense-check" in error["details"]["fix"]


def test_a_malformed_body_is_422(api: Any) -> None:
    error = error_of(
        api("ada").post(f"{WF}/cases", {"external_id": "x", "payload": [1]}), 422, "validation_error"
    )
    assert error["message"].startswith("body.payload")
    error = error_of(api("ada").post(f"{WF}/cases", {"payload": TRAVEL}), 422, "validation_error")
    assert error["message"].startswith("body.external_id")
    error = error_of(start(api, "  ", TRAVEL), 422, "validation_error")
    assert error["details"]["field"] == "external_id"
    error_of(
        api("ada").post(f"{WF}/cases", {"external_id": "x", "payload": TRAVEL, "extra": 1}),
        422,
        "validation_error",
    )
    garbled = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    error_of(api("ada").post(f"{WF}/cases", **garbled), 422, "validation_error")


@pytest.mark.parametrize("login", ["bo", "alan", "rita", "rex"])
def test_only_starters_start_cases(api: Any, login: str) -> None:
    error = error_of(start(api, "e-x", TRAVEL, login), 403, "forbidden")
    assert "case.start" in error["message"]


def test_cases_are_listed_and_filtered(api: Any, ws: Workspace) -> None:
    start(api, "t-1", TRAVEL)
    start(api, "b-1", BIG)
    drain(ws)
    every = api("rita").get("/api/v1/cases").json()["cases"]
    assert {c["external_id"] for c in every} == {"t-1", "b-1"}
    waiting = api("rita").get(
        "/api/v1/cases", params={"workflow": "expense-check", "status": "awaiting_review"}
    )
    assert [c["external_id"] for c in waiting.json()["cases"]] == ["b-1"]
    assert api("rosa").get("/api/v1/cases").json()["cases"] == []
    error = error_of(api("rita").get("/api/v1/cases", params={"status": "sleeping"}), 422, "validation_error")
    assert error["details"]["field"] == "status"
    error_of(api("rita").get("/api/v1/cases", params={"limit": 0}), 422, "validation_error")


def test_an_unknown_case_is_404_and_a_case_of_another_use_case_403(api: Any) -> None:
    error_of(api("ada").get("/api/v1/cases/no-such-case"), 404, "not_found")
    case = start(api, "t-1", TRAVEL).json()
    error_of(api("rosa").get(f"/api/v1/cases/{case['id']}"), 403, "forbidden")


# --- reviews ---------------------------------------------------------------------------------------
def test_reason_codes(api: Any) -> None:
    doc = api("alan").get("/api/v1/reviews/reason-codes").json()
    assert {"code": "wrong_field", "label": "A field of the suggestion was wrong"} in doc["reason_codes"]
    assert doc["decisions"] == ["accept", "edit", "override", "reject", "escalate"]


def test_the_queue_shows_what_the_reviewer_needs(api: Any, ws: Workspace) -> None:
    item = waiting_item(api, ws)
    assert item["queue"] == "finance" and item["status"] == "open" and item["sla"] == "on_track"
    assert item["use_case"] == "claims-triage"
    shown = item["shown"]
    assert (
        shown["suggestion"]["confidence_band"] == "high" and shown["rule_hits"][0]["rule"] == "amount_limit"
    )
    assert shown["payload"]["amount"] == 5000
    assert (
        api("rex").get("/api/v1/reviews", params={"queue": "finance"}).json()["reviews"][0]["id"]
        == item["id"]
    )
    assert api("rex").get("/api/v1/reviews", params={"queue": "other"}).json()["reviews"] == []
    assert api("rosa").get("/api/v1/reviews").json()["reviews"] == []
    assert api("alan").get(f"/api/v1/reviews/{item['id']}").json()["id"] == item["id"]
    assert len(api("alan").get("/api/v1/reviews", params={"status": "any"}).json()["reviews"]) == 1
    error = error_of(api("ada").get("/api/v1/reviews", params={"status": "stale"}), 422, "validation_error")
    assert error["message"].startswith("query.status")
    error_of(api("rosa").get(f"/api/v1/reviews/{item['id']}"), 403, "forbidden")
    error_of(api("ada").get("/api/v1/reviews/999999"), 404, "not_found")
    error_of(api("ada").get("/api/v1/reviews/abc"), 422, "validation_error")


def test_claim_leases_the_next_item_then_204(api: Any, ws: Workspace) -> None:
    item = waiting_item(api, ws)
    claimed = api("rita").post("/api/v1/reviews/claim", {"queues": ["finance"]})
    assert claimed.status_code == 200 and claimed.json()["id"] == item["id"]
    assert claimed.json()["assignee"] == "rita" and claimed.json()["status"] == "claimed"
    nothing = api("rex").post("/api/v1/reviews/claim", {"queues": []})
    assert nothing.status_code == 204 and nothing.content == b""
    # someone else may not decide it while rita holds the lease
    error = error_of(
        api("ada").post(f"/api/v1/reviews/{item['id']}/decision", {"decision": "accept"}), 409, "conflict"
    )
    assert "rita" in error["message"]


def test_claim_refuses_queues_that_are_not_yours(api: Any, ws: Workspace) -> None:
    waiting_item(api, ws)
    error = error_of(api("rosa").post("/api/v1/reviews/claim", {"queues": ["finance"]}), 403, "forbidden")
    assert error["details"]["field"] == "queues"
    assert api("rosa").post("/api/v1/reviews/claim", {}).status_code == 204  # no queue of hers
    error = error_of(api("rita").post("/api/v1/reviews/claim", {"queues": ["nope"]}), 422, "validation_error")
    assert "finance" in error["details"]["fix"]
    error_of(api("alan").post("/api/v1/reviews/claim", {"queues": ["finance"]}), 403, "forbidden")
    error_of(api("rita").post("/api/v1/reviews/claim", {"queues": "finance"}), 422, "validation_error")


def test_a_decision_needs_a_reason_code_except_accept(api: Any, ws: Workspace) -> None:
    item = waiting_item(api, ws)
    path = f"/api/v1/reviews/{item['id']}/decision"
    error = error_of(api("rita").post(path, {"decision": "reject"}), 422, "validation_error")
    assert error["details"]["field"] == "reason_code" and "reason-codes" in error["details"]["fix"]
    error = error_of(
        api("rita").post(path, {"decision": "reject", "reason_code": "nah"}), 422, "validation_error"
    )
    assert error["details"]["field"] == "reason_code"
    error = error_of(api("rita").post(path, {"decision": "maybe"}), 422, "validation_error")
    assert error["details"]["field"] == "decision"
    error = error_of(
        api("rita").post(path, {"decision": "edit", "reason_code": "wrong_field"}), 422, "validation_error"
    )
    assert error["details"]["field"] == "output"
    bad_time = {"decision": "accept", "time_spent_ms": -1}
    assert error_of(api("rita").post(path, bad_time), 422, "validation_error")["message"].startswith(
        "body.time_spent_ms"
    )


def test_an_edit_moves_the_case_on_and_is_idempotent(api: Any, ws: Workspace) -> None:
    item = waiting_item(api, ws)
    path = f"/api/v1/reviews/{item['id']}/decision"
    body = {
        "decision": "edit",
        "output": {"decision": "query"},
        "reason_code": "wrong_field",
        "comment": "receipt missing",
        "time_spent_ms": 41250,
    }
    decided = api("rex").post(path, body)
    assert decided.status_code == 200, decided.text
    doc = decided.json()
    assert doc["status"] == "done" and doc["decision"] == "edit" and doc["time_spent_ms"] == 41250
    assert doc["patch"] == [{"op": "replace", "path": "/decision", "value": "query"}] and doc["sla"] == "met"
    assert api("rex").post(path, body).json() == doc  # the same decision again
    error = error_of(api("rex").post(path, {"decision": "reject", "reason_code": "policy"}), 409, "conflict")
    assert "decided already" in error["message"]
    assert api("alan").get(f"/api/v1/cases/{item['case_id']}").json()["status"] == "running"
    drain(ws)
    case = api("alan").get(f"/api/v1/cases/{item['case_id']}").json()
    assert case["status"] == "completed" and case["reviews"][0]["decision"] == "edit"


def test_accept_needs_no_reason_and_escalate_moves_the_queue(api: Any, ws: Workspace) -> None:
    first = waiting_item(api, ws, "big-1")
    second = waiting_item(api, ws, "big-2")
    accepted = api("rita").post(f"/api/v1/reviews/{first['id']}/decision", {"decision": "accept"})
    assert accepted.status_code == 200 and accepted.json()["output"] == {"decision": "approve"}
    body = {"decision": "escalate", "reason_code": "needs_expert"}
    escalated = api("rita").post(f"/api/v1/reviews/{second['id']}/decision", body).json()
    assert escalated["queue"] == "finance:escalated" and escalated["status"] == "open"
    claimed = api("ada").post("/api/v1/reviews/claim", {"queues": ["finance:escalated"]})
    assert claimed.json()["id"] == second["id"]


def test_reviewers_of_another_use_case_and_auditors_may_not_decide(api: Any, ws: Workspace) -> None:
    item = waiting_item(api, ws)
    for login in ("rosa", "alan", "bo"):
        path = f"/api/v1/reviews/{item['id']}/decision"
        error = error_of(api(login).post(path, {"decision": "accept"}), 403, "forbidden")
        assert "review.decide" in error["message"] or "workspace.read" in error["message"]
        feedback = api(login).post(f"/api/v1/reviews/{item['id']}/feedback", {"thumbs": "up"})
        error_of(feedback, 403, "forbidden")
    assert api("alan").get(f"/api/v1/reviews/{item['id']}").json()["status"] == "open"


def test_feedback(api: Any, ws: Workspace) -> None:
    item = waiting_item(api, ws)
    path = f"/api/v1/reviews/{item['id']}/feedback"
    error = error_of(api("rita").post(path, {"thumbs": "sideways"}), 422, "validation_error")
    assert error["details"]["field"] == "thumbs"
    doc = api("rita").post(path, {"thumbs": "down", "comment": "missed the VAT line"}).json()
    assert doc["feedback"]["thumbs"] == "down" and doc["feedback"]["by"] == "rita"
    error_of(api("rita").post("/api/v1/reviews/424242/feedback", {"thumbs": "up"}), 404, "not_found")


def test_cookie_calls_need_the_csrf_header(admin: TestClient, ws: Workspace) -> None:
    response = admin.post(f"{WF}/cases", json={"external_id": "c-1", "payload": TRAVEL})
    error_of(response, 403, "csrf_failed")


def test_every_runtime_route_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/workflows",
        "/api/v1/workflows/{workflow}",
        "/api/v1/workflows/{workflow}/cases",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/reviews",
        "/api/v1/reviews/reason-codes",
        "/api/v1/reviews/claim",
        "/api/v1/reviews/{review_id}",
        "/api/v1/reviews/{review_id}/decision",
        "/api/v1/reviews/{review_id}/feedback",
    ):
        assert path in paths, path


def test_non_finite_numbers_are_refused(api: Any, ws: Workspace) -> None:
    raw = b'{"external_id": "n", "payload": {"amount": 5, "category": "travel", "extra": [NaN]}}'
    headers = {"Content-Type": "application/json"}
    error = error_of(api("ada").post(f"{WF}/cases", content=raw, headers=headers), 422, "validation_error")
    assert error["details"]["field"] == "payload.extra.0"
    item = waiting_item(api, ws)
    raw = b'{"decision": "edit", "output": {"decision": Infinity}, "reason_code": "wrong_field"}'
    path = f"/api/v1/reviews/{item['id']}/decision"
    error = error_of(api("rita").post(path, content=raw, headers=headers), 422, "validation_error")
    assert error["details"]["field"] == "output.decision"


def test_sla_states() -> None:
    from datetime import UTC, datetime

    from paceline.web.runtime_api import sla_state

    item = {
        "status": "open",
        "created_at": "2026-03-02T00:00:00+00:00",
        "due_at": "2026-03-03T00:00:00+00:00",
    }
    assert sla_state(item, datetime(2026, 3, 2, 12, tzinfo=UTC)) == "on_track"
    assert sla_state(item, datetime(2026, 3, 2, 19, tzinfo=UTC)) == "due_soon"  # the last 6 hours of 24
    assert sla_state(item, datetime(2026, 3, 3, 1, tzinfo=UTC)) == "overdue"
    done = {**item, "status": "done"}
    assert sla_state({**done, "decided_at": "2026-03-02T23:00:00+00:00"}) == "met"
    assert sla_state({**done, "decided_at": "2026-03-03T02:00:00+00:00"}) == "missed"
