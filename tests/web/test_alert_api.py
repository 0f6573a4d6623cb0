"""The alerting and incident API: rules, evaluation, alerts, incidents, in the one error shape.

Bad input answers 422 naming the field, unknown records 404, clashes 409, missing roles 403;
the auditor reads everything and changes nothing; no body makes it answer 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.web.test_lifecycle_api import error
from tests.web.web_helpers import TestClient, log_in, token_for

RULE = {"name": "f1-low", "signal": "performance:f1", "below": 0.7, "window": "7d", "min_samples": 50}
READING = {
    "signal": "performance:f1",
    "use_case": "claims-triage",
    "model": "claims-router",
    "value": 0.52,
    "window_start": "2026-02-23T00:00:00+00:00",
    "window_end": "2026-03-02T00:00:00+00:00",
    "samples": 400,
}
RETRO = {
    "what_happened": "F1 fell after the tariff change",
    "impact": "412 claims misrouted",
    "root_cause": "New tariff codes",
    "actions": [{"text": "Retrain with March data", "owner": "ml-lead"}],
}


@pytest.fixture
def api(client: TestClient, ws: Workspace) -> Any:
    """``api(login).get(path)`` etc. with that user's bearer token."""
    with ws.access() as access:
        access.add_user(operator(), "bo", "business-owner", use_case="claims-triage")
        access.add_user(operator(), "ml", "ml-engineer")
    tokens: dict[str, str] = {}

    class As:
        def __init__(self, login: str) -> None:
            tokens.setdefault(login, token_for(ws, login))
            self.headers = {"Authorization": f"Bearer {tokens[login]}"}

        def get(self, path: str, **params: Any) -> Any:
            return client.get(path, params=params, headers=self.headers)

        def post(self, path: str, body: Any = None) -> Any:
            return client.post(path, json=body, headers=self.headers)

        def put(self, path: str, body: Any = None) -> Any:
            return client.put(path, json=body, headers=self.headers)

        def delete(self, path: str) -> Any:
            return client.delete(path, headers=self.headers)

    return As


def _fired(api: Any) -> int:
    assert api("ml").post("/api/v1/alert-rules", RULE).status_code == 201
    body = {"readings": [READING], "compute": False, "notify": False}
    response = api("ml").post("/api/v1/alerts/evaluate", body)
    assert response.status_code == 200, response.text
    return int(response.json()["changes"][0]["alert_id"])


def test_rules_crud(api: Any) -> None:
    ml = api("ml")
    created = ml.post("/api/v1/alert-rules", RULE)
    assert created.status_code == 201 and created.json()["window"] == "1w"
    assert error(ml.post("/api/v1/alert-rules", RULE), 409, "conflict")["details"]["field"] == "name"
    assert [r["name"] for r in ml.get("/api/v1/alert-rules").json()["rules"]] == ["f1-low"]
    replaced = ml.put("/api/v1/alert-rules/f1-low", RULE | {"below": 0.6, "name": "ignored"})
    assert (
        replaced.status_code == 200
        and replaced.json()["threshold"] == 0.6
        and replaced.json()["name"] == "f1-low"
    )
    assert ml.get("/api/v1/alert-rules/f1-low").json()["threshold"] == 0.6
    assert ml.delete("/api/v1/alert-rules/f1-low").status_code == 204
    error(ml.get("/api/v1/alert-rules/f1-low"), 404, "not_found")


def test_a_bad_rule_is_a_422_naming_the_field(api: Any) -> None:
    bad = error(
        api("ml").post("/api/v1/alert-rules", RULE | {"signal": "performance:mse"}), 422, "validation_error"
    )
    assert bad["details"]["field"] == "signal" and "performance:METRIC" in bad["details"]["fix"]
    bad = error(api("ml").post("/api/v1/alert-rules", RULE | {"cooldown": "-1"}), 422)
    assert bad["details"]["field"] == "cooldown"


def test_a_rule_names_its_runbook_and_its_incidents_start_with_it(api: Any) -> None:
    ml, runbook = api("ml"), "https://wiki.example.com/runbooks/f1-low"
    created = ml.post("/api/v1/alert-rules", RULE | {"runbook_url": runbook})
    assert created.status_code == 201 and created.json()["runbook_url"] == runbook
    assert ml.get("/api/v1/alert-rules/f1-low").json()["runbook_url"] == runbook
    assert [r["runbook_url"] for r in api("alan").get("/api/v1/alert-rules").json()["rules"]] == [runbook]
    bad = error(ml.put("/api/v1/alert-rules/f1-low", RULE | {"runbook_url": "javascript:alert(1)"}), 422)
    assert bad["details"]["field"] == "runbook_url" and "'javascript:alert(1)'" in bad["message"]
    assert bad["details"]["fix"].startswith("e.g. https://")
    bad = error(ml.post("/api/v1/alert-rules", RULE | {"name": "f1-other", "runbook_url": "wiki"}), 422)
    assert bad["details"]["field"] == "runbook_url"
    error(ml.get("/api/v1/alert-rules/f1-other"), 404)  # nothing stored
    body = {"readings": [READING, READING | {"model": "scribe-coder"}], "compute": False, "notify": False}
    first, second = (c["alert_id"] for c in ml.post("/api/v1/alerts/evaluate", body).json()["changes"])
    assert api("alan").get(f"/api/v1/alerts/{first}").json()["runbook_url"] == runbook
    assert [a["runbook_url"] for a in api("alan").get("/api/v1/alerts").json()["alerts"]] == [runbook] * 2
    opened = api("bo").post(f"/api/v1/alerts/{first}/incident")
    assert opened.status_code == 201 and opened.json()["runbook_url"] == runbook
    own = "https://wiki.example.com/runbooks/coder"
    given = ml.post(f"/api/v1/alerts/{second}/incident", {"runbook_url": own})
    assert given.status_code == 201 and given.json()["runbook_url"] == own
    replaced = ml.put("/api/v1/alert-rules/f1-low", RULE | {"runbook_url": ""})
    assert replaced.status_code == 200 and replaced.json()["runbook_url"] == ""


def test_evaluate_opens_an_alert_and_validates_readings(api: Any) -> None:
    alert_id = _fired(api)
    alerts = api("alan").get("/api/v1/alerts").json()["alerts"]
    assert [(a["id"], a["status"], a["model"], a["value"]) for a in alerts] == [
        (alert_id, "open", "claims-router", 0.52)
    ]
    assert api("alan").get("/api/v1/alerts", model="other").json()["alerts"] == []
    assert api("alan").get(f"/api/v1/alerts/{alert_id}").json()["notifications"] == []
    bad = {"readings": [READING | {"window_end": "yesterday"}], "compute": False}
    problem = error(api("ml").post("/api/v1/alerts/evaluate", bad), 422)
    assert problem["message"].startswith("readings[0]: window_end 'yesterday' is not a time")
    error(api("ml").post("/api/v1/alerts/evaluate", {"readings": [], "extra": 1}), 422)
    error(api("alan").post("/api/v1/alerts/evaluate", {"compute": False}), 403, "forbidden")
    error(api("ml").get("/api/v1/alerts", status="sleeping"), 422)


def test_acknowledge_needs_incident_manage(api: Any) -> None:
    alert_id = _fired(api)
    error(api("alan").post(f"/api/v1/alerts/{alert_id}/ack"), 403)
    error(api("rita").post(f"/api/v1/alerts/{alert_id}/ack", {"note": "mine"}), 403)
    acked = api("bo").post(f"/api/v1/alerts/{alert_id}/ack", {"note": "checking the codes"})
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert acked.json()["ack_note"] == "checking the codes"
    error(api("bo").post(f"/api/v1/alerts/{alert_id}/ack"), 409)
    error(api("bo").post("/api/v1/alerts/999/ack"), 404)


def test_an_incident_through_the_api(api: Any) -> None:
    alert_id = _fired(api)
    bo = api("bo")
    opened = bo.post(f"/api/v1/alerts/{alert_id}/incident", {"severity": "sev1", "serious_incident": True})
    assert opened.status_code == 201, opened.text
    iid = opened.json()["id"]
    assert opened.json()["severity"] == "sev1" and opened.json()["report_due"] is not None
    error(bo.post(f"/api/v1/alerts/{alert_id}/incident"), 409)
    assert bo.post(f"/api/v1/incidents/{iid}/status", {"status": "investigating"}).status_code == 200
    assert bo.post(f"/api/v1/incidents/{iid}/notes", {"text": "rolled back to v3"}).status_code == 201
    runbook = bo.put(f"/api/v1/incidents/{iid}/runbook", {"url": "https://wiki.example.com/rb"})
    assert runbook.json()["runbook_url"] == "https://wiki.example.com/rb"
    error(bo.put(f"/api/v1/incidents/{iid}/runbook", {"url": "javascript:alert(1)"}), 422)
    assert bo.put(f"/api/v1/incidents/{iid}/severity", {"severity": "sev2"}).json()["severity"] == "sev2"
    error(bo.post(f"/api/v1/incidents/{iid}/status", {"status": "closed"}), 409)
    error(bo.post(f"/api/v1/incidents/{iid}/resolve", {"resolution": ""}), 422)
    resolved = bo.post(f"/api/v1/incidents/{iid}/resolve", {"resolution": "retrained v5"})
    assert resolved.json()["status"] == "resolved" and resolved.json()["mttr_hours"] is not None
    error(
        bo.post(f"/api/v1/incidents/{iid}/status", {"status": "closed"}), 409
    )  # serious: retrospective first
    assert bo.put(f"/api/v1/incidents/{iid}/retrospective", RETRO).status_code == 200
    assert bo.post(f"/api/v1/incidents/{iid}/status", {"status": "closed"}).json()["status"] == "closed"
    shown = api("alan").get(f"/api/v1/incidents/{iid}").json()
    assert [a["id"] for a in shown["alerts"]] == [alert_id] and shown["may_manage"] is False
    assert [i["id"] for i in api("alan").get("/api/v1/incidents", status="closed").json()["incidents"]] == [
        iid
    ]
    mttr = api("alan").get("/api/v1/incidents/mttr").json()
    assert mttr["resolved"] == 1 and mttr["by_severity"]["sev2"]["resolved"] == 1
    error(api("alan").get("/api/v1/incidents/mttr", since="last week"), 422)


def test_incidents_by_hand_permissions_and_links(api: Any) -> None:
    alert_id = _fired(api)
    made = api("ml").post("/api/v1/incidents", {"title": "Router timeouts", "use_case": "claims-triage"})
    assert made.status_code == 201
    iid = made.json()["id"]
    linked = api("ml").post(f"/api/v1/incidents/{iid}/alerts", {"alert_id": alert_id})
    assert [a["id"] for a in linked.json()["alerts"]] == [alert_id]
    error(api("alan").post("/api/v1/incidents", {"title": "x"}), 403)
    error(api("rita").post(f"/api/v1/incidents/{iid}/notes", {"text": "x"}), 403)
    error(api("bo").post("/api/v1/incidents", {"title": "everywhere"}), 403)
    error(api("ml").post("/api/v1/incidents", {"title": ""}), 422)
    error(api("ml").get("/api/v1/incidents/12345"), 404)
    error(api("ml").post(f"/api/v1/incidents/{iid}/status", {"status": "done"}), 422)


WRITES = [
    ("post", "/api/v1/alert-rules"),
    ("put", "/api/v1/alert-rules/f1-low"),
    ("post", "/api/v1/alerts/evaluate"),
    ("post", "/api/v1/alerts/1/ack"),
    ("post", "/api/v1/alerts/1/incident"),
    ("post", "/api/v1/incidents"),
    ("post", "/api/v1/incidents/1/status"),
    ("post", "/api/v1/incidents/1/notes"),
    ("put", "/api/v1/incidents/1/runbook"),
    ("put", "/api/v1/incidents/1/severity"),
    ("post", "/api/v1/incidents/1/alerts"),
    ("put", "/api/v1/incidents/1/retrospective"),
]
GARBAGE: list[Any] = [None, [], "x", 7, {"name": None}, {"signal": ["x"], "threshold": {}}, {"readings": "x"},
                      {"title": 5, "alerts": {"a": 1}}, {"status": 3}, {"actions": "none"}]  # fmt: skip


def test_garbage_bodies_get_the_error_shape_never_a_500(api: Any) -> None:
    _fired(api)
    api("ada").post("/api/v1/incidents", {"title": "target"})
    caller = api("ada")
    for method, path in WRITES:
        for body in GARBAGE:
            response = getattr(caller, method)(path, body)
            assert response.status_code < 500, (path, body, response.text)
            if response.status_code >= 400:
                error(response, response.status_code)


def test_a_cookie_session_needs_the_csrf_header(client: TestClient) -> None:
    assert log_in(client, "ada").status_code == 303
    error(client.post("/api/v1/incidents", json={"title": "x"}), 403, "csrf_failed")
