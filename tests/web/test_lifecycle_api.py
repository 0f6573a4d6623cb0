"""The lifecycle API: the inventory, gates and overrides, sign-offs, records, portfolio, ROI, training.

Every bad input answers in the one error shape (never a 500): unknown use case 404, a bad field
422 naming it, a blocked gate 409 naming its checks, a missing role 403.
"""

from __future__ import annotations

from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.web.web_helpers import TestClient, token_for

ROLES = {
    "pm": "program-manager",
    "bo": "business-owner",
    "bo2": "business-owner",
    "sec": "security",
    "hr": "people",
    "ml": "ml-engineer",
}
UC = "/api/v1/use-cases"
USE_CASE: dict[str, Any] = {
    "key": "claims-triage",
    "title": "Claims triage",
    "owner": "bo",
    "business_process": "claims intake",
    "department": "claims",
    "people_affected": 60,
    "data_categories": ["personal"],
    "value": {
        "volume_per_year": 120000,
        "minutes_per_task": 40,
        "cost_per_hour": 55,
        "uplift_low": 0.1,
        "uplift_expected": 0.2,
        "uplift_high": 0.3,
        "annual_cost": 50000,
    },
    "readiness": {"data_available": 3},
    "feasibility": {"users_involved": 4, "sponsor_committed": 4},
    "ai_act": ["interacts_with_people"],
}
JUSTIFICATION = "The steering committee accepted the open checks on 3 March; owner: CoE lead"
OPTION = {
    "name": "acme",
    "kind": "vendor",
    "scores": {
        c: 4
        for c in (
            "apis",
            "data_controls",
            "explainability",
            "latency",
            "security",
            "interoperability",
            "exportability",
            "cost",
        )
    },
    "cost": {"price_per_call": 0.01, "licences_per_year": 12000},
}


@pytest.fixture
def api(client: TestClient, ws: Workspace) -> Any:
    """A caller: ``api(login).get(path)`` etc. with that user's bearer token; one use case exists."""
    with ws.access() as access:
        for login, role in ROLES.items():
            access.add_user(operator(), login, role)
    with ws.lifecycle(operator()) as lc:
        lc.create(operator(), USE_CASE)
    tokens: dict[str, str] = {}

    class As:
        def __init__(self, login: str) -> None:
            if login not in tokens:
                tokens[login] = token_for(ws, login)
            self.headers = {"Authorization": f"Bearer {tokens[login]}"}

        def get(self, path: str) -> Any:
            return client.get(path, headers=self.headers)

        def post(self, path: str, body: Any = None) -> Any:
            return client.post(path, json=body, headers=self.headers)

        def patch(self, path: str, body: Any) -> Any:
            return client.patch(path, json=body, headers=self.headers)

        def delete(self, path: str) -> Any:
            return client.delete(path, headers=self.headers)

    return As


def error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The error body of *response*, after checking its status, its code and the one shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    if code is not None:
        assert body["error"]["code"] == code
    return dict(body["error"])


def test_create_read_list_and_update(api: Any) -> None:
    created = api("bo2").post(UC, {**USE_CASE, "key": "intake-mail", "owner": "bo2"})
    assert created.status_code == 201, created.text
    assert created.json()["ai_act_tier"] == "limited" and created.json()["phase"] == 1
    error(api("bo2").post(UC, {**USE_CASE, "key": "intake-mail", "owner": "bo2"}), 409, "conflict")
    keys = [u["key"] for u in api("alan").get(UC).json()["use_cases"]]
    assert sorted(keys) == ["claims-triage", "intake-mail"]
    one = api("rita").get(f"{UC}/claims-triage").json()
    assert one["owner"] == "bo" and one["ai_act_rule"] == "Art. 50(1)"
    updated = api("bo").patch(f"{UC}/claims-triage", {"goal": "Halve the backlog"})
    assert updated.status_code == 200 and updated.json()["goal"] == "Halve the backlog"
    error(api("bo2").patch(f"{UC}/claims-triage", {"goal": "mine now"}), 403, "forbidden")
    error(api("bo2").post(UC, {**USE_CASE, "key": "not-mine", "owner": "bo"}), 403, "forbidden")


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"key": "Bad Key"}, "key"),
    ({"title": ""}, "title"),
    ({"value": {"uplift_expected": 1.5}}, "value.uplift_expected"),
    ({"value": {"volume_per_year": "lots"}}, "value.volume_per_year"),
    ({"readiness": {"vibes": 3}}, "readiness.vibes"),
    ({"feasibility": {"users_involved": 7}}, "feasibility.users_involved"),
    ({"ai_act": ["mind_reading"]}, "ai_act"),
    ({"data_categories": ["gossip"]}, "data_categories"),
    ({"risk_impact": 9}, "risk_impact"),
    ({"colour": "blue"}, "colour"),
]


def test_a_bad_field_is_named(api: Any) -> None:
    for change, field in BAD_FIELDS:
        details = error(api("pm").post(UC, {**USE_CASE, "key": "other", **change}), 422, "validation_error")
        assert details["details"]["field"] == field, change


def test_the_phase_moves_only_through_gates(api: Any) -> None:
    details = error(api("pm").patch(f"{UC}/claims-triage", {"phase": 4}), 422)
    assert details["details"]["field"] == "phase"


PER_USE_CASE: list[tuple[str, str, Any]] = [
    ("get", "", None),
    ("patch", "", {"goal": "x"}),
    ("get", "/gate", None),
    ("post", "/advance", None),
    ("get", "/history", None),
    ("post", "/signoffs", {"check": "security_review"}),
    ("post", "/deliverables/api_integrations", {"status": "draft"}),
    ("post", "/stakeholders", {"role": "security", "person": "sec"}),
    ("post", "/requirements", {"kind": "latency", "title": "p95", "target": "< 2 s"}),
    ("get", "/options", None),
    ("post", "/options/acme/select", None),
    ("get", "/risks", None),
    ("post", "/go-live", {"date": "2025-07-01"}),
    ("get", "/reviews", None),
    ("post", "/reviews/day30", None),
    ("get", "/roi", None),
    (
        "post",
        "/ops-figures",
        {"value": 0.99, "period_start": "2025-07-01", "period_end": "2025-07-31", "source": "x"},
    ),
]


def test_an_unknown_use_case_is_404(api: Any) -> None:
    caller = api("ada")
    for method, path, body in PER_USE_CASE:
        response = getattr(caller, method)(f"{UC}/no-such{path}", *([body] if method != "get" else []))
        assert response.status_code == 404, (method, path, response.text)
        error(response, 404, "not_found")


def test_a_blocked_gate_names_its_checks(api: Any) -> None:
    gate = api("alan").get(f"{UC}/claims-triage/gate").json()
    assert gate["passed"] is False and gate["to_phase"] == 2
    assert "business_case_approved" in gate["blocking"]
    blocked = error(api("bo").post(f"{UC}/claims-triage/advance"), 409, "gate_blocked")
    assert "blocked" in blocked["message"]
    assert set(blocked["details"]["gate"]["blocking"]) == set(gate["blocking"])
    reasons = {c["rule"]: c["reason"] for c in blocked["details"]["gate"]["checks"]}
    assert "readiness" in reasons["business_case"] and "business-owner" in reasons["business_case_approved"]
    assert api("bo").get(f"{UC}/claims-triage").json()["phase"] == 1


def test_overrides_need_the_role_and_a_justification(api: Any) -> None:
    path = f"{UC}/claims-triage"
    error(api("bo").post(f"{path}/advance", {"justification": JUSTIFICATION}), 403, "forbidden")
    short = error(api("pm").post(f"{path}/advance", {"justification": "because"}), 422, "validation_error")
    assert short["details"]["field"] == "justification"
    moved = api("pm").post(f"{path}/advance", {"justification": JUSTIFICATION})
    assert moved.status_code == 200, moved.text
    assert moved.json()["overridden"] is True and moved.json()["to_phase"] == 2
    history = api("alan").get(f"{path}/history").json()["history"]
    assert [h["justification"] for h in history] == [JUSTIFICATION]
    assert api("alan").get(path).json()["phase"] == 2
    error(api("pm").post(f"{path}/send-back", {"justification": "no"}), 422)
    back = api("pm").post(f"{path}/send-back", {"justification": "The pilot data turned out to be unusable"})
    assert back.status_code == 200 and back.json()["to_phase"] == 1 and back.json()["move"] == "return"
    error(api("pm").post(f"{path}/advance", {"justification": 42}), 422, "validation_error")


def test_signoffs_by_their_roles_only(api: Any) -> None:
    path = f"{UC}/claims-triage/signoffs"
    error(api("sec").post(path, {"check": "business_case_approved"}), 403, "forbidden")
    error(api("ml").post(path, {"check": "security_review"}), 403, "forbidden")
    bad = error(api("bo").post(path, {"check": "vibe_check"}), 422)
    assert bad["details"]["field"] == "check"
    signed = api("bo").post(path, {"check": "business_case_approved", "note": "approved at the board"})
    assert signed.status_code == 201 and signed.json()["role"] == "business-owner"
    gate = api("bo").get(f"{UC}/claims-triage/gate").json()
    assert "business_case_approved" not in gate["blocking"]
    assert api("sec").post(path, {"check": "security_review"}).status_code == 201
    assert api("pm").delete(f"{path}/security_review").status_code == 204
    error(api("pm").delete(f"{path}/security_review"), 404, "not_found")
    error(api("bo").post(path, {"note": "which?"}), 422, "validation_error")


def test_the_auditor_reads_but_does_not_write(api: Any) -> None:
    auditor = api("alan")
    for path in ("", "/gate", "/history", "/options", "/risks", "/reviews", "/roi"):
        assert auditor.get(f"{UC}/claims-triage{path}").status_code == 200, path
    assert auditor.get("/api/v1/portfolio").status_code == 200
    assert auditor.get("/api/v1/roi").status_code == 200
    writes = [
        ("post", UC, {**USE_CASE, "key": "audited"}),
        ("patch", f"{UC}/claims-triage", {"goal": "x"}),
        ("post", f"{UC}/claims-triage/advance", {"justification": JUSTIFICATION}),
        ("post", f"{UC}/claims-triage/signoffs", {"check": "business_case_approved"}),
        ("post", f"{UC}/claims-triage/deliverables/api_integrations", {"status": "draft"}),
        ("post", f"{UC}/claims-triage/risks", {"key": "data-quality", "status": "closed"}),
        ("post", f"{UC}/claims-triage/options", OPTION),
        ("post", f"{UC}/claims-triage/go-live", {"date": "2025-07-01"}),
        ("post", "/api/v1/training-records", []),
    ]
    for method, path, body in writes:
        error(getattr(auditor, method)(path, body), 403, "forbidden")


def test_deliverables_stakeholders_and_requirements(api: Any) -> None:
    path = f"{UC}/claims-triage"
    no_link = error(api("ml").post(f"{path}/deliverables/api_integrations", {"status": "done"}), 422)
    assert no_link["details"]["field"] == "link"
    derived = error(api("ml").post(f"{path}/deliverables/value_model", {"status": "done", "link": "x"}), 422)
    assert derived["details"]["field"] == "deliverable"
    done = api("ml").post(
        f"{path}/deliverables/api_integrations", {"status": "done", "link": "https://wiki/runbook"}
    )
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["owner"] == "ml"
    error(api("bo").post(f"{path}/stakeholders", {"role": "admin", "person": "ada"}), 422)
    named = api("bo").post(f"{path}/stakeholders", {"role": "security", "person": "sec"})
    assert named.status_code == 201 and named.json()["stakeholders"] == {"security": ["sec"]}
    unmeasured = {"kind": "latency", "title": "p95", "target": "< 2 s", "met": True}
    assert error(api("ml").post(f"{path}/requirements", unmeasured), 422)["details"]["field"] == "measured"
    error(api("ml").post(f"{path}/requirements", {**unmeasured, "kind": "speed"}), 422)
    req = api("ml").post(f"{path}/requirements", {**unmeasured, "measured": "p95 1.4 s"})
    assert req.status_code == 200 and req.json()["met"] is True and req.json()["id"] > 0


def test_options_risks_reviews_figures_and_roi(api: Any) -> None:
    path = f"{UC}/claims-triage"
    bad = {**OPTION, "scores": {**OPTION["scores"], "security": 7}}
    error(api("ml").post(f"{path}/options", bad), 422, "validation_error")
    saved = api("ml").post(f"{path}/options", OPTION)
    assert saved.status_code == 200 and saved.json()["options"][0]["cost"]["total"] == pytest.approx(13200)
    error(api("bo").post(f"{path}/options/nobody/select"), 404)
    error(api("ml").post(f"{path}/options/acme/select"), 403)
    chosen = api("bo").post(f"{path}/options/acme/select")
    assert chosen.status_code == 200 and chosen.json()["value"]["annual_cost"] == pytest.approx(13200)
    assert api("alan").get(f"{path}/options").json()["options"][0]["selected"] is True

    register = api("alan").get(f"{path}/risks").json()
    assert len(register["risks"]) == 5 and "sentence" in register["summary"]
    closed = api("ml").post(f"{path}/risks", {"key": "data-quality", "status": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert error(api("ml").post(f"{path}/risks", {"key": "new-one"}), 422)["details"]["field"] == "title"
    error(api("ml").post(f"{path}/risks", {"key": "data-quality", "residual_impact": 9}), 422)

    error(api("bo").post(f"{path}/go-live", {"date": "soon"}), 422, "validation_error")
    live = api("bo").post(f"{path}/go-live", {"date": "2025-07-01"})
    assert live.status_code == 200 and [r["kind"] for r in live.json()["reviews"]] == [
        "day30",
        "day60",
        "day90",
    ]
    assert len(api("alan").get(f"{path}/reviews").json()["reviews"]) == 3
    error(api("ml").post(f"{path}/reviews/day45"), 422)
    review = api("ml").post(f"{path}/reviews/day30", {"actions": "keep going"})
    assert review.status_code == 200 and review.json()["outcome"] == "insufficient_data"

    figure = {"value": 1.5, "period_start": "2025-07-01", "period_end": "2025-07-31", "source": "monitor"}
    assert error(api("ml").post(f"{path}/ops-figures", figure), 422)["details"]["field"] == "value"
    recorded = api("ml").post(f"{path}/ops-figures", {**figure, "value": 0.998})
    assert recorded.status_code == 201 and recorded.json()["ops_figures"][0]["value"] == 0.998

    roi = api("alan").get(f"{path}/roi").json()
    assert set(roi) == {"points", "totals", "growing", "sentence"}
    assert "sentence" in api("alan").get("/api/v1/roi").json()


def test_the_portfolio_ranks_business_cases(api: Any) -> None:
    weak = {
        **USE_CASE,
        "key": "weak",
        "value": {"volume_per_year": 10, "minutes_per_task": 1, "cost_per_hour": 1},
    }
    assert api("pm").post(UC, weak).status_code == 201
    ranked = api("rita").get("/api/v1/portfolio").json()["use_cases"]
    assert [c["use_case"] for c in ranked] == ["claims-triage", "weak"]
    assert ranked[0]["rank"] == 1 and ranked[0]["ai_act_rule"] == "Art. 50(1)" and ranked[0]["owner"] == "bo"


def test_training_records_report_bad_rows(api: Any) -> None:
    rows = [
        {
            "record_id": "r1",
            "person_id": "p1",
            "course": "basics",
            "use_case": "claims-triage",
            "enrolled_on": "2025-05-01",
            "completed_on": "2025-05-09",
            "score": 80,
            "pass_mark": 70,
        },
        {"record_id": "r2", "person_id": "p2", "course": "basics", "enrolled_on": "yesterday"},
    ]
    report = api("hr").post("/api/v1/training-records?source=lms", rows)
    assert report.status_code == 200
    body = report.json()
    assert body["loaded"] == 1 and body["quarantined"] == 1 and body["problems"][0]["column"] == "enrolled_on"
    assert api("hr").post("/api/v1/training-records", rows[:1]).json()["duplicates"] == 1
    error(api("bo").post("/api/v1/training-records", rows), 403, "forbidden")
    error(api("hr").post("/api/v1/training-records", {"rows": rows}), 422, "validation_error")


GARBAGE: list[Any] = [
    None,
    [],
    "text",
    7,
    {},
    {"key": []},
    {"title": {"a": 1}},
    {"value": 5},
    {"scores": 3},
    {"cost": 5},
    {"status": ["x"]},
    {"check": 1},
    {"date": 3},
    {"justification": []},
]
WRITES = [
    ("post", UC),
    ("patch", f"{UC}/claims-triage"),
    ("post", f"{UC}/claims-triage/advance"),
    ("post", f"{UC}/claims-triage/send-back"),
    ("post", f"{UC}/claims-triage/signoffs"),
    ("post", f"{UC}/claims-triage/deliverables/api_integrations"),
    ("post", f"{UC}/claims-triage/stakeholders"),
    ("post", f"{UC}/claims-triage/requirements"),
    ("post", f"{UC}/claims-triage/options"),
    ("post", f"{UC}/claims-triage/risks"),
    ("post", f"{UC}/claims-triage/go-live"),
    ("post", f"{UC}/claims-triage/reviews/day30"),
    ("post", f"{UC}/claims-triage/ops-figures"),
    ("post", "/api/v1/training-records"),
]


def test_garbage_bodies_get_the_error_shape_never_a_500(api: Any) -> None:
    caller = api("ada")
    for method, path in WRITES:
        for body in GARBAGE:
            response = getattr(caller, method)(path, body)
            assert response.status_code < 500, (path, body, response.text)
            if response.status_code >= 400:
                error(response, response.status_code)
