"""The enablement API: catalogue, xAPI statements, records, individual views by role, the matrix,
champions, goals, sessions, changes and outcomes; every mistake in the one error shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.services.test_enablement import CATALOGUE, history, write_people
from tests.web.test_lifecycle_api import error
from tests.web.web_helpers import TestClient, token_for

ROLES = {"hr": "people", "pm": "program-manager", "viewer": "reviewer", "ana": "reviewer"}
BASE = "/api/v1/enablement"


@pytest.fixture
def api(client: TestClient, ws: Workspace, tmp_path: Path) -> Any:
    """``api(login).get(path)``: calls with that user's bearer token; the catalogue is defined."""
    with ws.access() as access:
        for login, role in ROLES.items():
            access.add_user(operator(), login, role)
    for table, path in zip(("people", "assignments"), write_people(tmp_path), strict=True):
        ws.ingest(table, path)
    tokens: dict[str, str] = {}

    class As:
        def __init__(self, login: str) -> None:
            tokens.setdefault(login, token_for(ws, login))
            self.headers = {"Authorization": f"Bearer {tokens[login]}"}

        def get(self, path: str, **params: Any) -> Any:
            return client.get(BASE + path, params=params, headers=self.headers)

        def post(self, path: str, body: Any = None, **params: Any) -> Any:
            return client.post(BASE + path, json=body, params=params, headers=self.headers)

        def put(self, path: str, body: Any) -> Any:
            return client.put(BASE + path, json=body, headers=self.headers)

        def delete(self, path: str) -> Any:
            return client.delete(BASE + path, headers=self.headers)

    hr = As("hr")
    for section, path in (
        ("competencies", "/competencies"),
        ("courses", "/courses"),
        ("curricula", "/curricula"),
    ):
        for item in CATALOGUE[section]:
            assert hr.post(path, item).status_code == 200
    report = hr.post("/statements", history(), source="lms").json()
    assert report["loaded"] == 45
    return As


def test_the_catalogue_and_its_mistakes(api: Any) -> None:
    doc = api("viewer").get("/catalogue").json()
    assert [c["key"] for c in doc["courses"]] == ["basics", "cert"]
    bad = error(
        api("hr").post("/courses", {"key": "x", "title": "X", "minutes": 0, "grants": {"prompting": 1}}), 422
    )
    assert bad["details"]["field"] == "minutes"
    assert error(api("viewer").post("/competencies", {"key": "x", "title": "X"}), 403)["code"] == "forbidden"
    unknown = error(api("hr").post("/curricula", {**CATALOGUE["curricula"][0], "path": ["nope"]}), 422)
    assert unknown["details"]["field"] == "path"


def test_statements_load_in_every_shape(api: Any) -> None:
    one = history()[0] | {"id": "0f8fad5b-d9cb-469f-a165-70867728950e"}
    single = api("hr").post("/statements", one).json()
    page = api("hr").post("/statements", {"statements": [one], "more": ""}).json()
    assert (single["loaded"], page["duplicates"]) == (1, 1)
    bad = api("hr").post("/statements", [{"id": "x"}]).json()
    assert bad["quarantined"] == 1 and bad["problems"][0]["column"] == "id"
    assert error(api("hr").post("/statements", "text"), 422)["details"]["field"] == "body"
    assert error(api("viewer").post("/statements", [one]), 403)["details"]["action"] == "training.record"
    imports = api("viewer").get("/imports").json()["imports"]
    assert imports[0]["rows_read"] == 1 and len(imports) == 4


def test_records_and_individual_views_by_role(api: Any) -> None:
    entered = api("hr").post(
        "/records", {"person": "e4", "course": "cert", "verb": "passed", "on": "2025-03-09"}
    )
    assert entered.status_code == 200 and "person_id" not in entered.json()
    assert error(api("hr").post("/records", {"person": "e4", "course": "cert", "on": "soon"}), 422)
    assert error(api("hr").post("/records", {"person": "e4", "course": "zz", "on": "2025-03-09"}), 404)
    assert error(api("ana").get("/me"), 404)["message"].startswith("ana is not linked")
    assert api("hr").put("/links/ana", {"person": "e4"}).status_code == 204
    mine = api("ana").get("/me").json()
    assert mine["paths"][0]["done_on"] == "2025-03-09"
    assert error(api("pm").post("/learners/lookup", {"person": "e4"}), 403)["details"]["action"] == (
        "learning.read_individual"
    )
    assert api("hr").post("/learners/lookup", {"person": "e4"}).json()["team"] == "t1"


def test_matrix_outcomes_and_changes(api: Any) -> None:
    matrix = api("viewer").get("/matrix", use_case="uc").json()
    assert {c["team"] for c in matrix["cells"] if c["suppressed"]} == {"small"}
    outcomes = api("viewer").get("/outcomes", use_case="uc", kpi="adoption_rate").json()
    assert [o["kpi"] for o in outcomes["outcomes"]] == ["adoption_rate"]
    assert error(api("viewer").get("/outcomes", use_case="uc", kpi="csat"), 422)["details"]["field"] == "kpi"
    assert error(api("viewer").get("/outcomes"), 422)
    assert api("viewer").get("/changes").json() == {"changes": []}
    assert error(api("viewer").get("/changes", limit=0), 422)


def test_champions_goals_and_sessions(api: Any) -> None:
    champion = {"team": "t1", "use_case": "uc", "person_id": "e0", "name": "A. Martin", "since": "2025-03-01"}
    created = api("hr").post("/champions", champion)
    assert created.status_code == 201 and "person_id" not in created.json()
    assert (
        error(api("hr").post("/champions", {**champion, "colour": "red"}), 422)["details"]["field"]
        == "colour"
    )
    plan = {"use_case": "uc", "start": "2025-03-03", "until": "2025-03-17", "champion": created.json()["id"]}
    assert api("hr").post("/sessions/plan", plan).json()["planned"] == 3
    session = api("viewer").get("/sessions", use_case="uc").json()["sessions"][0]
    result = {"held_on": "2025-03-03", "attendees": 6, "feedback": ["more examples please"]}
    assert api("hr").post(f"/sessions/{session['id']}/result", result).json()["status"] == "held"
    assert error(api("hr").post("/sessions/999/result", result), 404)
    network = api("viewer").get("/champions", use_case="uc").json()
    assert network["champions"][0]["sessions_held"] == 1
    goal = {
        "key": "t1-adoption",
        "team": "t1",
        "use_case": "uc",
        "kpi": "adoption_rate",
        "kind": "adoption",
        "target": 0.7,
        "since": "2025-02-01",
        "due": "2025-06-30",
        "incentive": "team offsite",
    }
    assert api("hr").post("/goals", goal).status_code == 200
    individual = error(api("hr").post("/goals", {**goal, "person_id": "e1"}), 422)
    assert individual["details"]["field"] == "person_id"
    assert api("viewer").get("/goals", use_case="uc").json()["goals"][0]["key"] == "t1-adoption"
    assert api("hr").delete(f"/champions/{created.json()['id']}").status_code == 204
    assert error(api("hr").delete(f"/champions/{created.json()['id']}"), 404)
