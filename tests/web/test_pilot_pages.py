"""Pilot pages and API over a small demo firm: record, plan, evaluate, report, export, bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.demo.params import FirmParams
from paceline.demo.run import run_demo
from paceline.services.access import operator
from tests.web.web_helpers import USERS, TestClient, csrf_from, log_in, token_for

PLAN: dict[str, Any] = {
    "name": "claims-api",
    "use_case": "claims-triage",
    "design": "randomised",
    "hypothesis": "Faster claims",
    "treatment_cohorts": ["pilot"],
    "control_cohorts": ["control"],
    "start": "2025-04-01",
    "end": "2025-06-30",
    "primary": [{"kpi": "productivity", "target_effect_pct": 5}],
    "guardrails": [{"kpi": "error_rate", "margin_pct": 10}],
    "acceptance": [{"kpi": "esat", "minimum": 3.5}],
}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pilot-web") / "ws"
    run_demo(7, FirmParams.sized(160, 9), home=home)
    ws = Workspace.open(home)
    with ws.access() as access:
        for login, (role, password) in USERS.items():
            access.add_user(operator(), login, role, password=password)
    return home


@pytest.fixture
def ws(demo_home: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(demo_home)
    yield workspace
    workspace.close()


def bearer(ws: Workspace, login: str = "ada") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(ws, login)}"}


def test_api_record_plan_and_evaluate(client: TestClient, ws: Workspace) -> None:
    created = client.post("/api/v1/pilots", json=PLAN, headers=bearer(ws))
    assert created.status_code == 201 and created.json()["status"] == "planned"
    assert client.post("/api/v1/pilots", json=PLAN, headers=bearer(ws)).status_code == 409
    listed = client.get("/api/v1/pilots?use_case=claims-triage", headers=bearer(ws)).json()["pilots"]
    assert "claims-api" in {p["name"] for p in listed}
    plan = client.get("/api/v1/pilots/claims-api/plan", headers=bearer(ws)).json()
    assert plan["kpis"][0]["mde_pct"] > 0
    doc = client.post("/api/v1/pilots/claims-api/evaluate", headers=bearer(ws)).json()
    assert doc["verdict"] in ("adopt", "extend", "stop") and doc["kpis"][0]["se_method"].startswith("cluster")
    assert (
        client.get("/api/v1/pilots/claims-api", headers=bearer(ws)).json()["status"].startswith("evaluated")
    )


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"design": "ab"}, 422, "design"),
        ({"start": "soon"}, 422, "start"),
        ({"primary": []}, 422, "primary"),
        ({"control_cohorts": []}, 422, "control_cohorts"),
    ],
)
def test_api_names_bad_fields(
    client: TestClient, ws: Workspace, change: dict[str, Any], status: int, field: str
) -> None:
    response = client.post("/api/v1/pilots", json={**PLAN, "name": "bad", **change}, headers=bearer(ws))
    assert response.status_code == status and response.json()["error"]["details"]["field"] == field


def test_reviewers_may_read_but_not_record(client: TestClient, ws: Workspace) -> None:
    assert (
        client.post(
            "/api/v1/pilots", json={**PLAN, "name": "by-rita"}, headers=bearer(ws, "rita")
        ).status_code
        == 403
    )
    assert client.get("/api/v1/pilots", headers=bearer(ws, "rita")).status_code == 200


def test_form_report_and_export(client: TestClient, ws: Workspace) -> None:
    assert log_in(client, "ada").status_code == 303
    form = client.get("/pilots/new")
    data = {
        "csrf_token": csrf_from(form.text),
        "name": "claims-form",
        "use_case": "claims-triage",
        "hypothesis": "Faster claims",
        "design": "randomised",
        "treatment": "pilot",
        "control": "control",
        "start": "2025-04-01",
        "end": "2025-06-30",
        "primary": "productivity:5",
        "guardrails": "error_rate:10",
        "acceptance": "esat>=3.5",
    }
    bad = client.post("/pilots/new", data={**data, "end": "2025-03-01"})
    assert bad.status_code == 422 and "ends" in bad.text and 'value="claims-form"' in bad.text
    good = client.post("/pilots/new", data=data, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == "/pilots/claims-form"
    report = client.get("/pilots/claims-form")
    assert report.status_code == 200 and "Verdict" in report.text and "cluster_CR2" in report.text
    did = client.get("/pilots/clinical-did")
    assert "week by week" in did.text and "Pre-trend check" in did.text and "Steady state" in did.text
    export = client.get("/pilots/claims-form/report.html")
    assert export.headers["content-disposition"] == 'attachment; filename="pilot-claims-form.html"'
    assert "/plotly/" not in export.text and "Plotly" in export.text and re.search(r"<style>", export.text)
    assert client.post("/pilots/new", data={**data, "csrf_token": "forged"}).status_code == 403


@pytest.mark.browser
def test_pilot_report_in_the_browser(page: Any, live_server: str, assert_accessible: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/login?next=/pilots")
    page.get_by_label("Login").fill("ada")
    page.get_by_label("Password").fill(USERS["ada"][1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/pilots")
    assert_accessible(page)
    page.get_by_role("link", name="claims-rct").click()
    page.wait_for_url(f"{live_server}/pilots/claims-rct")
    expect(page.get_by_role("heading", name=re.compile("^Verdict"))).to_be_visible()
    expect(page.locator(".chart .main-svg").first).to_be_visible()  # the forest plot
    assert_accessible(page)
    page.goto(f"{live_server}/pilots/new")
    expect(page.get_by_label("Hypothesis")).to_be_visible()
    assert_accessible(page)
