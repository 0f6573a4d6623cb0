"""The alert and incident pages: lists with filters, the forms (CSRF-checked) and their errors,
the lifecycle steps through the model registry, and in Chromium (under the app's CSP, checked
with axe) an incident opened from an alert, moved on, resolved, with its MTTR shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.alerts import Reading, Scope, Signal, SignalKind
from paceline.domain.roles import Grant, Role
from paceline.services.access import Principal, operator
from paceline.services.model_registry import VersionIn
from tests.web.web_helpers import USERS, TestClient, csrf_from, log_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

OP = operator()
Check = Callable[["Page"], None]
CARD = {
    "purpose": "Route claims to a queue",
    "intended_use": "A suggestion the adjuster accepts or corrects",
    "training_data": "Claims 2025",
    "evaluation": "Hold-out accuracy 0.86",
    "limitations": "Few commercial claims",
    "owners": ["claims-ml"],
}


def fire(ws: Workspace, model: str = "claims-router", value: float = 0.52) -> int:
    """A rule and a reading that breaks it: the id of the alert that opens."""
    with ws.alerts(OP) as alerts:
        if not alerts.repo.get_rule("f1-low"):
            alerts.add_rule(OP, {"name": "f1-low", "signal": "performance:f1", "below": 0.7, "window": "7d"})
    now = datetime.now(UTC)
    scope = Scope(use_case="claims-triage", model=model)
    reading = Reading(Signal(SignalKind.PERFORMANCE, "f1"), scope, value, now - timedelta(days=7), now, 400)
    return int(ws.evaluate_alerts(OP, [reading], compute=False, notify=False)["changes"][0]["alert_id"])


def post(client: TestClient, page: str, action: str, data: dict[str, Any] | None = None) -> Any:
    """Submit a form of *page* to *action* with the page's CSRF token."""
    token = csrf_from(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **(data or {})}, follow_redirects=False)


def test_the_alerts_page_lists_alerts_and_rules(admin: TestClient, ws: Workspace) -> None:
    alert_id = fire(ws)
    html = admin.get("/alerts").text
    assert f'id="alert-{alert_id}"' in html and "claims-router" in html and "0.52" in html
    assert "Open incident" in html and "Acknowledge" in html
    assert '<th scope="row">f1-low</th>' in html
    assert f'id="alert-{alert_id}"' not in admin.get("/alerts", params={"model": "other"}).text
    assert "matches the filter" in admin.get("/alerts", params={"severity": "critical"}).text
    assert admin.get("/alerts", params={"status": "sleeping"}).status_code == 422


def test_the_alerts_page_links_the_runbook_of_an_alerts_rule(admin: TestClient, ws: Workspace) -> None:
    fire(ws)
    html = admin.get("/alerts").text
    assert "Runbook</a>" not in html  # the rule names none
    runbook = "https://wiki.example.com/runbooks/f1-low"
    rule = {
        "name": "f1-low",
        "signal": "performance:f1",
        "below": 0.7,
        "window": "7d",
        "runbook_url": runbook,
    }
    with ws.alerts(OP) as alerts:
        alerts.replace_rule(OP, "f1-low", rule)
    html = admin.get("/alerts").text
    link = (
        f'<a href="{runbook}" rel="noopener noreferrer">'
        'Runbook<span class="visually-hidden"> of rule f1-low</span></a>'
    )
    assert html.count(link) == 2  # on the alert, and in the rules table


def test_readers_see_alerts_without_the_buttons(client: TestClient, ws: Workspace) -> None:
    fire(ws)
    log_in(client, "alan")
    html = client.get("/alerts").text
    assert "claims-router" in html and "Open incident" not in html and "Acknowledge" not in html


def test_acknowledge_from_the_page(admin: TestClient, ws: Workspace) -> None:
    alert_id = fire(ws)
    response = post(admin, "/alerts", f"/alerts/{alert_id}/ack")
    assert (
        response.status_code == 303 and response.headers["location"] == f"/alerts?done=ack#alert-{alert_id}"
    )
    page = admin.get("/alerts?done=ack").text
    assert "no longer escalates" in page and "acknowledged" in page
    again = post(admin, "/alerts", f"/alerts/{alert_id}/ack")
    assert again.status_code == 409 and "is acknowledged" in again.text
    forged = admin.post(f"/alerts/{alert_id}/ack", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403


def test_open_an_incident_from_an_alert_and_work_it(admin: TestClient, ws: Workspace) -> None:
    alert_id = fire(ws)
    opened = post(admin, "/alerts", f"/alerts/{alert_id}/incident")
    assert opened.status_code == 303
    path = opened.headers["location"].split("?")[0]
    iid = int(path.rsplit("/", 1)[1])
    html = admin.get(opened.headers["location"]).text
    assert "The incident is open." in html and f"Alert #{alert_id}" in html and "not resolved yet" in html
    assert f"/incidents/{iid}" in admin.get("/alerts").text  # the alert now links its incident
    bad = post(admin, path, f"{path}/status", {"status": "closed"})
    assert bad.status_code == 409 and "cannot become closed" in bad.text
    unresolved = post(admin, path, f"{path}/status", {"status": "resolved"})
    assert unresolved.status_code == 422 and "(field: resolution)" in unresolved.text
    assert 'aria-invalid="true"' in unresolved.text
    for action, data in (
        ("status", {"status": "investigating", "note": "checking tariff codes"}),
        ("notes", {"text": "rolled back to v3"}),
        ("runbook", {"url": "https://wiki.example.com/rb"}),
        ("severity", {"severity": "sev2", "serious": "on"}),
        ("status", {"status": "resolved", "resolution": "retrained v5"}),
    ):
        response = post(admin, path, f"{path}/{action}", data)
        assert response.status_code == 303, (action, response.text)
    html = admin.get(path).text
    assert "retrained v5" in html and re.search(r'id="mttr">\d+\.\d\d h<', html)
    assert "checking tariff codes" in html and "https://wiki.example.com/rb" in html
    assert "Serious incident (EU AI Act)" in html
    closing = post(admin, path, f"{path}/status", {"status": "closed"})
    assert closing.status_code == 409 and "retrospective" in closing.text
    retro = {
        "what_happened": "F1 fell", "impact": "412 claims misrouted", "root_cause": "new tariff codes",
        "action_text_0": "Retrain monthly", "action_owner_0": "ml-lead", "action_due_0": "2026-04-01",
    }  # fmt: skip
    missing = post(admin, path, f"{path}/retrospective", retro | {"action_owner_0": ""})
    assert missing.status_code == 422 and "owner is empty" in missing.text
    assert post(admin, path, f"{path}/retrospective", retro).status_code == 303
    assert post(admin, path, f"{path}/status", {"status": "closed"}).status_code == 303
    closed = admin.get(path).text
    assert "Retrain monthly" in closed and "Change the status" not in closed


def test_the_incidents_page_opens_by_hand_and_shows_mttr(admin: TestClient, ws: Workspace) -> None:
    with ws.incidents(OP) as incidents:
        iid = incidents.open(OP, {"title": "Gateway timeouts", "detected_at": "2026-01-01T00:00:00+00:00"})[
            "id"
        ]
        incidents.resolve(OP, iid, "raised the pool size")
    html = admin.get("/incidents", params={"status": "all"}).text
    assert "Gateway timeouts" in html and 'id="mttr-mean"' in html
    refused = post(admin, "/incidents", "/incidents", {"title": "", "severity": "sev2"})
    assert refused.status_code == 422 and "title is empty" in refused.text
    made = post(
        admin,
        "/incidents",
        "/incidents",
        {"title": "Blank suggestions", "severity": "sev2", "kind": "malfunction"},
    )
    assert made.status_code == 303 and made.headers["location"].endswith("?done=opened")
    assert "Blank suggestions" in admin.get("/incidents").text


def test_readers_see_incidents_but_no_forms(client: TestClient, ws: Workspace) -> None:
    with ws.incidents(OP) as incidents:
        iid = incidents.open(OP, {"title": "Gateway timeouts"})["id"]
    log_in(client, "alan")
    assert "Open an incident by hand" not in client.get("/incidents").text
    html = client.get(f"/incidents/{iid}").text
    assert "Gateway timeouts" in html and "Change the status" not in html
    assert client.get("/incidents/999").status_code == 404


def _registered(ws: Workspace) -> None:
    with ws.lifecycle(OP) as lc:
        lc.create(OP, {"key": "claims-triage", "title": "Claims triage", "owner": "ada"})
    with ws.models(OP) as registry:
        registry.register_model(OP, "claims-router", "claims-triage", "Claims router")
        for version in ("1.0", "1.1"):
            spec = VersionIn(
                version, f"models/{version}.joblib", "0f" * 32, {"ingest_ids": ["i-1"]}, {}, card=CARD
            )
            registry.register_version(OP, "claims-router", spec)
        asked = registry.request_stage(OP, "claims-router", "1.0", "production", "passed the pilot")
        registry.approve(Principal("pm", (Grant(Role.PROGRAM_MANAGER),)), asked["approval"]["id"])


def test_retraining_and_deprecation_are_taken_from_the_incident(admin: TestClient, ws: Workspace) -> None:
    _registered(ws)
    with ws.incidents(OP) as incidents:
        iid = incidents.open_from_alert(OP, fire(ws))["id"]
    path = f"/incidents/{iid}"
    html = admin.get(path).text
    assert "Request retraining" in html and "Deprecate this model version" in html
    assert re.search(
        r'<select id="deprecate-version"[^>]*><option>1.0</option></select>', html
    )  # 1.1 is a candidate
    assert post(admin, path, f"{path}/retrain", {"reason": ""}).status_code == 422
    assert (
        post(admin, path, f"{path}/retrain", {"reason": "F1 fell after the tariff change"}).status_code == 303
    )
    moved = post(
        admin, path, f"{path}/deprecate", {"version": "1.0", "deprecate_reason": "superseded by 1.1"}
    )
    assert moved.status_code == 303, re.findall(r"message error[^<]*<", moved.text)
    wrong = post(admin, path, f"{path}/deprecate", {"version": "9.9", "deprecate_reason": "no such"})
    assert wrong.status_code == 404
    with ws.models(OP, readonly=True) as registry:
        shown = registry.show(OP, "claims-router")
    assert [(r["incident_id"], r["reason"]) for r in shown["retraining_requests"]] == [
        (iid, "F1 fell after the tariff change")
    ]
    assert {v["version"]: v["stage"] for v in shown["versions"]}["1.0"] == "deprecated"
    timeline = admin.get(path).text
    assert "retraining of claims-router requested" in timeline and "claims-router 1.0 deprecated" in timeline


def test_a_model_outside_the_registry_offers_no_lifecycle_buttons(admin: TestClient, ws: Workspace) -> None:
    with ws.incidents(OP) as incidents:
        iid = incidents.open_from_alert(OP, fire(ws, model="unregistered"))["id"]
    html = admin.get(f"/incidents/{iid}").text
    assert "is not in the model registry" in html and "Request retraining" not in html


# --- in the browser ------------------------------------------------------------------------------
def browser_log_in(page: Page, base: str, login: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(USERS[login][1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{next_path}")


@pytest.mark.browser
def test_an_incident_from_an_alert_to_its_mttr_in_chromium(
    strict_page: Page, live_server: str, ws: Workspace, assert_accessible: Check
) -> None:
    from playwright.sync_api import expect

    alert_id = fire(ws)
    page = strict_page
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    browser_log_in(page, live_server, "ada", "/alerts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    expect(page.locator(f"#alert-{alert_id}")).to_contain_text("claims-router")
    assert_accessible(page)
    page.get_by_role("button", name=f"Open incident for alert {alert_id}").click()
    page.wait_for_url(re.compile(r".*/incidents/\d+\?done=opened"))
    expect(page.get_by_role("status")).to_have_text("The incident is open.")
    expect(page.locator("#timeline li")).to_have_count(2)
    assert_accessible(page)
    page.get_by_label("Next status").select_option("investigating")
    page.get_by_label("Note for the timeline").fill("checking the tariff codes")
    page.get_by_role("button", name="Change the status").click()
    expect(page.locator("#incident-status")).to_have_text("investigating")
    page.get_by_label("Next status").select_option("resolved")
    page.get_by_role("button", name="Change the status").click()
    expect(page.get_by_role("alert")).to_contain_text("resolving needs a resolution")
    expect(page.get_by_label(re.compile("^Resolution"))).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.get_by_label(re.compile("^Resolution")).fill("rolled back to v3, retraining requested")
    page.get_by_role("button", name="Change the status").click()
    expect(page.locator("#incident-status")).to_have_text("resolved")
    expect(page.locator("#mttr")).to_have_text(re.compile(r"^\d+\.\d\d h$"))
    expect(page.locator("#timeline")).to_contain_text("investigating → resolved")
    assert_accessible(page)
    page.get_by_role("link", name="← Incidents").click()
    page.get_by_label("Status").select_option("all")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#mttr-mean")).to_have_text(re.compile(r"^\d+\.\d h$"))
    assert_accessible(page)
    assert not csp
