"""The model page's lifecycle forms: a stage request approved or rejected by a second person (four
eyes), deprecation and retirement (now or planned), the retraining schedule and retraining requests.

Each form is checked over HTTP for success (303 back to the page with a notice), each kind of
refusal (a 4xx re-render of the page naming the field, the value and the fix, with the values kept),
a missing CSRF token and a missing permission; the forms show only to those who may use them. In
Chromium (under the app's CSP, checked with axe) one person asks for production and another approves.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.services.test_drift_windows import MODEL, UC
from tests.services.test_model_tiles import seed_models
from tests.web.web_helpers import USERS, TestClient, csrf_from

if TYPE_CHECKING:
    from playwright.sync_api import Page

OP = operator()
PAGE = f"/models/{MODEL}"
Check = Callable[["Page"], None]
Login = Callable[[str], TestClient]
PEOPLE = {  # on the claims-triage use case only
    "eli": ("ml-engineer", "train the models well"),
    "bo": ("business-owner", "own the claims case"),
}
REASON = "holdout F1 0.91 vs 0.87; canary clean for 2 weeks"


def password(login: str) -> str:
    return PEOPLE[login][1] if login in PEOPLE else USERS[login][1]


@pytest.fixture
def seeded(ws: Workspace, tmp_path: Path) -> Workspace:
    """Claims router: 1.0 in production, 1.1 a candidate whose card lacks its limitations."""
    seed_models(ws, tmp_path / "data")
    with ws.access() as access:
        for login, (role, secret) in PEOPLE.items():
            access.add_user(OP, login, role, UC, password=secret)
    return ws


@pytest.fixture
def login_as(app: FastAPI, seeded: Workspace) -> Iterator[Login]:
    """Opens a client logged in as a user; several may be open at once (the requester, the approver)."""
    with ExitStack() as stack:

        def open_client(login: str) -> TestClient:
            client = stack.enter_context(TestClient(app))
            page = client.get("/login", params={"next": "/models"})
            data = {"login": login, "password": password(login), "csrf_token": csrf_from(page.text)}
            assert client.post("/login", data=data, follow_redirects=False).status_code == 303
            return client

        yield open_client


def complete_card(ws: Workspace, version: str = "1.1") -> None:
    with ws.models(OP) as registry:
        registry.update_card(OP, MODEL, version, {"limitations": "Few commercial claims"})


def send(client: TestClient, action: str, data: dict[str, Any] | None = None, csrf: bool = True) -> Any:
    """POST a form of the model page (with the session's CSRF token unless *csrf* is false)."""
    token = {"csrf_token": csrf_from(client.get("/models").text)} if csrf else {}
    return client.post(f"{PAGE}/{action}", data={**token, **(data or {})}, follow_redirects=False)


def text(response: Any) -> str:
    return html.unescape(response.text)


def model(ws: Workspace) -> dict[str, Any]:
    with ws.models(readonly=True) as registry:
        return registry.show(OP, MODEL)


def stage_of(ws: Workspace, version: str) -> str:
    return str(next(v["stage"] for v in model(ws)["versions"] if v["version"] == version))


def pending_id(ws: Workspace) -> int:
    return int(next(a["id"] for a in model(ws)["approvals"] if a["status"] == "pending"))


def assert_refused(response: Any, status: int, *parts: str) -> str:
    """A refusal is the model page again (not an error page), with the message and the field."""
    page = text(response)
    assert response.status_code == status, page[:400]
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Claims router</h1>" in page and 'role="alert"' in page
    message = page.split('role="alert">')[1].split("</p>")[0]
    for part in parts:
        assert part in message, message
    return page


# --- who sees which form ----------------------------------------------------------------------------
def test_forms_show_only_to_those_who_may_use_them(login_as: Login, seeded: Workspace) -> None:
    complete_card(seeded)
    eli = login_as("eli")
    page = text(eli.get(PAGE))
    for form in ("stage-form", "deprecate-form", "retire-form", "schedule-form", "retrain-form"):
        assert f'id="{form}"' in page
    assert send(eli, "stage", {"version": "1.1", "to": "production", "reason": REASON}).status_code == 303
    request_id = pending_id(seeded)
    mine = text(eli.get(PAGE))
    assert (
        f'id="request-{request_id}"' in mine and "You asked for this move, so you cannot approve it" in mine
    )
    assert "Approve<span" not in mine
    owner = text(login_as("bo").get(PAGE))  # may approve, may not change the registry
    assert f'Approve<span class="visually-hidden"> request {request_id}</span>' in owner
    assert "Reject<span" in owner and 'id="lifecycle"' not in owner and 'id="stage-form"' not in owner
    reader = text(login_as("rita").get(PAGE))  # a reviewer reads only
    assert "Waits for a decision by someone who holds" in reader
    assert "Approve<span" not in reader and 'id="lifecycle"' not in reader
    admin = text(login_as("ada").get(PAGE))  # both roles, not the requester: may decide
    assert "Approve<span" in admin and 'id="stage-form"' in admin
    assert "user:eli" not in admin and "user:bo" not in admin  # still no people on the page


def test_the_selects_offer_the_moves_that_can_succeed(login_as: Login, seeded: Workspace) -> None:
    page = text(login_as("eli").get(PAGE))
    stage = page.split('id="stage-version"')[1].split("</select>")[0]
    deprecate = page.split('id="deprecate-version"')[1].split("</select>")[0]
    retire = page.split('id="retire-version"')[1].split("</select>")[0]
    assert "1.1 (candidate)" in stage and "1.0 (production)" not in stage  # production moves only down
    assert "1.0 (production)" in deprecate and "1.1" not in deprecate  # a candidate is never deprecated
    assert "1.0 (production)" in retire and "1.1 (candidate)" in retire  # planning a date is always allowed


# --- a stage change: requested by one, approved or rejected by another --------------------------------
def test_one_asks_for_production_and_another_approves(login_as: Login, seeded: Workspace) -> None:
    complete_card(seeded)
    eli, bo = login_as("eli"), login_as("bo")
    asked = send(eli, "stage", {"version": "1.1", "to": "production", "reason": REASON})
    assert asked.status_code == 303 and asked.headers["location"] == f"{PAGE}?done=requested"
    notice = text(eli.get(asked.headers["location"]))
    assert 'role="status">The stage change is requested. Another person who holds model.approve' in notice
    assert stage_of(seeded, "1.1") == "candidate"
    request_id = pending_id(seeded)
    own = send(eli, f"requests/{request_id}/approve", {"note": "looks fine"})
    assert_refused(own, 403, "may not model.approve")  # an ML engineer does not approve
    approved = send(bo, f"requests/{request_id}/approve", {"note": "evaluation reviewed"})
    assert approved.status_code == 303 and approved.headers["location"] == f"{PAGE}?done=approved"
    page = text(bo.get(approved.headers["location"]))
    assert '<dd id="production">1.1</dd>' in page and "The request is approved" in page
    history = page.split('id="history"')[1].split("</table>")[0]
    assert re.search(r"<td>1\.1</td><td>candidate → production</td>\s*<td>approved</td>", history)
    assert re.search(r"<td>1\.0</td><td>production → deprecated</td>\s*<td>superseded</td>", history)
    assert 'id="pending"' not in page


def test_the_requester_may_not_approve_even_holding_model_approve(login_as: Login, seeded: Workspace) -> None:
    complete_card(seeded)
    ada = login_as("ada")  # an admin holds both roles
    assert send(ada, "stage", {"version": "1.1", "to": "canary", "reason": REASON}).status_code == 303
    request_id = pending_id(seeded)
    assert "You asked for this move" in text(ada.get(PAGE))
    refused = send(ada, f"requests/{request_id}/approve", {"note": "mine"})
    assert_refused(refused, 403, "ada asked for this change and may not approve it too (four eyes)")
    assert stage_of(seeded, "1.1") == "candidate"


def test_a_rejection_needs_a_note(login_as: Login, seeded: Workspace) -> None:
    complete_card(seeded)
    assert (
        send(login_as("eli"), "stage", {"version": "1.1", "to": "canary", "reason": REASON}).status_code
        == 303
    )
    bo, request_id = login_as("bo"), pending_id(seeded)
    bare = send(bo, f"requests/{request_id}/reject", {"note": "no"})
    page = assert_refused(bare, 422, "at least 5 characters in note", "field: note")
    assert f'id="note-{request_id}" name="note" rows="2" aria-invalid="true">no</textarea>' in page
    done = send(bo, f"requests/{request_id}/reject", {"note": "the canary plan is missing"})
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?done=rejected"
    assert model(seeded)["approvals"][-1]["status"] == "rejected" and stage_of(seeded, "1.1") == "candidate"
    again = send(bo, f"requests/{request_id}/approve", {})
    assert_refused(again, 409, f"stage request {request_id} is rejected already", "ask for the move again")
    unknown = send(bo, "requests/9999/approve", {})
    assert_refused(unknown, 404, "no stage request 9999")


@pytest.mark.parametrize(
    ("data", "status", "parts"),
    [
        (
            {"version": "9.9"},
            404,
            ("model claims-router has no version '9.9'", "its versions: 1.0, 1.1", "field: version"),
        ),
        ({"to": "staging"}, 422, ("stage 'staging' is not one of", "field: stage")),
        (
            {"version": "1.0", "to": "canary"},
            422,
            ("version 1.0 is production: it cannot move to canary", "field: stage"),
        ),
        ({}, 422, ("its model card lacks limitations", "field: card")),  # 1.1's card is not complete
        ({"reason": "ok"}, 422, ("at least 5 characters in reason", "field: reason")),
    ],
    ids=["unknown-version", "unknown-stage", "refused-move", "card-gap", "short-reason"],
)
def test_a_refused_stage_request_names_field_value_and_fix(
    login_as: Login, seeded: Workspace, data: dict[str, str], status: int, parts: tuple[str, ...]
) -> None:
    sent = {"version": "1.1", "to": "production", "reason": REASON, **data}
    page = assert_refused(send(login_as("eli"), "stage", sent), status, *parts)
    assert f">{sent['reason']}</textarea>" in page  # what was typed stays
    assert model(seeded)["approvals"][-1]["status"] == "approved"  # only the seed's request


def test_a_second_pending_request_is_a_conflict(login_as: Login, seeded: Workspace) -> None:
    complete_card(seeded)
    eli = login_as("eli")
    assert send(eli, "stage", {"version": "1.1", "to": "canary", "reason": REASON}).status_code == 303
    again = send(eli, "stage", {"version": "1.1", "to": "production", "reason": REASON})
    assert_refused(again, 409, "1.1 already has a pending stage request", "approve or reject it first")


def test_rolling_a_canary_back_needs_no_approval(login_as: Login, seeded: Workspace) -> None:
    complete_card(seeded)
    assert (
        send(login_as("eli"), "stage", {"version": "1.1", "to": "canary", "reason": REASON}).status_code
        == 303
    )
    assert send(login_as("bo"), f"requests/{pending_id(seeded)}/approve").status_code == 303
    back = send(
        login_as("eli"), "stage", {"version": "1.1", "to": "candidate", "reason": "canary errors doubled"}
    )
    assert back.status_code == 303 and back.headers["location"] == f"{PAGE}?done=moved"
    assert stage_of(seeded, "1.1") == "candidate"


# --- deprecation and retirement ------------------------------------------------------------------------
def test_deprecate_now_or_on_a_date(login_as: Login, seeded: Workspace) -> None:
    eli = login_as("eli")
    planned = send(eli, "deprecate", {"version": "1.0", "deprecation_date": "2026-09-01", "reason": ""})
    assert planned.status_code == 303 and planned.headers["location"] == f"{PAGE}?done=deprecated-planned"
    page = text(eli.get(planned.headers["location"]))
    assert "The deprecation date is planned" in page and "<td>2026-09-01</td>" in page
    assert stage_of(seeded, "1.0") == "production"
    now = send(
        eli, "deprecate", {"version": "1.0", "deprecation_date": "", "reason": "replaced by the rules engine"}
    )
    assert now.status_code == 303 and now.headers["location"] == f"{PAGE}?done=deprecated"
    assert stage_of(seeded, "1.0") == "deprecated"
    assert model(seeded)["history"][-1]["reason"] == "replaced by the rules engine"


@pytest.mark.parametrize(
    ("data", "status", "parts"),
    [
        (
            {"deprecation_date": "01/09/2026"},
            422,
            ("deprecation_date '01/09/2026' is not a date", "YYYY-MM-DD", "field: deprecation_date"),
        ),
        ({"version": "1.1"}, 422, ("version 1.1 is candidate: it cannot move to deprecated", "field: stage")),
        ({"version": "2.0"}, 404, ("has no version '2.0'", "field: version")),
        ({"reason": ""}, 422, ("at least 5 characters in reason", "field: reason")),
    ],
    ids=["bad-date", "refused-move", "unknown-version", "no-reason"],
)
def test_a_refused_deprecation(
    login_as: Login, seeded: Workspace, data: dict[str, str], status: int, parts: tuple[str, ...]
) -> None:
    sent = {"version": "1.0", "deprecation_date": "", "reason": "replaced by 1.1", **data}
    page = assert_refused(send(login_as("eli"), "deprecate", sent), status, *parts)
    assert f'value="{sent["deprecation_date"]}"' in page
    assert stage_of(seeded, "1.0") == "production" and stage_of(seeded, "1.1") == "candidate"


def test_retire_now_or_on_a_date(login_as: Login, seeded: Workspace) -> None:
    eli = login_as("eli")
    gone = send(
        eli, "retire", {"version": "1.1", "retirement_date": "", "reason": "superseded before canary"}
    )
    assert gone.status_code == 303 and gone.headers["location"] == f"{PAGE}?done=retired"
    assert stage_of(seeded, "1.1") == "retired"
    assert "1.1 (retired)" not in text(eli.get(PAGE))  # retired is final: no form offers it
    refused = send(eli, "retire", {"version": "1.0", "retirement_date": "", "reason": "end of life"})
    assert_refused(
        refused, 422, "version 1.0 is production: it cannot move to retired", "can move to: deprecated"
    )
    assert send(eli, "deprecate", {"version": "1.0", "deprecation_date": "2026-09-01"}).status_code == 303
    early = send(eli, "retire", {"version": "1.0", "retirement_date": "2026-08-01", "reason": ""})
    assert_refused(
        early, 422, "retirement (2026-08-01) comes before deprecation (2026-09-01)", "field: retirement_date"
    )
    bad = send(eli, "retire", {"version": "1.0", "retirement_date": "next year", "reason": ""})
    assert_refused(bad, 422, "retirement_date 'next year' is not a date", "field: retirement_date")
    planned = send(eli, "retire", {"version": "1.0", "retirement_date": "2026-12-31", "reason": ""})
    assert planned.status_code == 303 and planned.headers["location"] == f"{PAGE}?done=retired-planned"
    assert (
        next(v for v in model(seeded)["versions"] if v["version"] == "1.0")["retirement_date"] == "2026-12-31"
    )


# --- schedule and retraining ------------------------------------------------------------------------
def test_set_and_change_the_retraining_schedule(login_as: Login, seeded: Workspace) -> None:
    eli = login_as("eli")
    assert "<legend>Set the retraining schedule</legend>" in text(eli.get(PAGE))
    saved = send(eli, "schedule", {"every_days": "90", "remind_days_before": "14"})
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?done=schedule"
    page = text(eli.get(saved.headers["location"]))
    assert (
        "every 90 days from the last training" in page
        and "<legend>Change the retraining schedule</legend>" in page
    )
    assert 'name="every_days" min="1" max="3650" required\n          value="90"' in page
    assert send(eli, "schedule", {"every_days": "30", "remind_days_before": ""}).status_code == 303
    assert model(seeded)["schedule"]["retrain_every_days"] == 30
    assert model(seeded)["schedule"]["remind_days_before"] == 7  # the default when left empty


@pytest.mark.parametrize(
    ("data", "parts"),
    [
        (
            {"every_days": "ninety"},
            ("every_days 'ninety' is not a whole number", "e.g. 90", "field: every_days"),
        ),
        ({"every_days": "0"}, ("every_days 0 is out of range", "from 1 to 3650", "field: every_days")),
        (
            {"every_days": "10", "remind_days_before": "10"},
            (
                "a reminder 10 days ahead does not fit a 10-day cycle",
                "use 0 to 9",
                "field: remind_days_before",
            ),
        ),
        (
            {"remind_days_before": "-1"},
            ("remind_days_before -1 is out of range", "field: remind_days_before"),
        ),
    ],
    ids=["not-a-number", "zero", "reminder-too-early", "negative-reminder"],
)
def test_a_refused_schedule(
    login_as: Login, seeded: Workspace, data: dict[str, str], parts: tuple[str, ...]
) -> None:
    sent = {"every_days": "90", "remind_days_before": "7", **data}
    page = assert_refused(send(login_as("eli"), "schedule", sent), 422, *parts)
    field = parts[-1].removeprefix("field: ")
    assert re.search(rf'name="{field}"[^>]*value="{re.escape(sent[field])}" aria-invalid="true"', page)
    assert model(seeded)["schedule"] is None


def open_incident(ws: Workspace) -> int:
    with ws.incidents(OP) as incidents:
        doc = incidents.open(OP, {"title": "F1 fell below 0.7", "use_case": UC, "model": MODEL})
    return int(doc["id"])


def test_request_retraining_with_a_version_and_an_incident(login_as: Login, seeded: Workspace) -> None:
    incident = open_incident(seeded)
    eli = login_as("eli")
    form = text(eli.get(PAGE)).split('id="retrain-form"')[1].split("</form>")[0]
    assert f'<option value="{incident}">incident {incident}: F1 fell below 0.7</option>' in form
    made = send(
        eli, "retrain", {"reason": "override rate doubled", "version": "1.0", "incident_id": str(incident)}
    )
    assert made.status_code == 303 and made.headers["location"] == f"{PAGE}?done=retrain"
    page = text(eli.get(made.headers["location"]))
    assert "override rate doubled" in page and f'href="/incidents/{incident}">incident {incident}</a>' in page
    stored = model(seeded)["retraining_requests"][-1]
    assert (stored["version"], stored["incident_id"], stored["status"]) == ("1.0", incident, "open")
    plain = send(eli, "retrain", {"reason": "the quarterly retrain", "version": "", "incident_id": ""})
    assert plain.status_code == 303
    assert model(seeded)["retraining_requests"][-1]["version"] is None


@pytest.mark.parametrize(
    ("data", "status", "parts"),
    [
        ({"reason": "bad"}, 422, ("at least 5 characters in reason", "field: reason")),
        (
            {"incident_id": "999"},
            422,
            ("incident_id 999 is not an incident you may read", "field: incident_id"),
        ),
        (
            {"incident_id": "twelve"},
            422,
            ("incident_id 'twelve' is not a whole number", "field: incident_id"),
        ),
        ({"incident_id": str(2**70)}, 422, ("is out of range", "field: incident_id")),
        ({"version": "7.0"}, 404, ("has no version '7.0'", "field: version")),
    ],
    ids=["short-reason", "unknown-incident", "incident-not-a-number", "incident-too-big", "unknown-version"],
)
def test_a_refused_retraining_request(
    login_as: Login, seeded: Workspace, data: dict[str, str], status: int, parts: tuple[str, ...]
) -> None:
    sent = {"reason": "override rate doubled", "version": "", "incident_id": "", **data}
    page = assert_refused(send(login_as("eli"), "retrain", sent), status, *parts)
    assert f">{sent['reason']}</textarea>" in page
    assert model(seeded)["retraining_requests"] == []


# --- CSRF and permissions -----------------------------------------------------------------------------
FORMS = {
    "stage": {"version": "1.1", "to": "canary", "reason": REASON},
    "deprecate": {"version": "1.0", "deprecation_date": "", "reason": "replaced by 1.1"},
    "retire": {"version": "1.1", "retirement_date": "", "reason": "never deployed"},
    "schedule": {"every_days": "90", "remind_days_before": "7"},
    "retrain": {"reason": "override rate doubled"},
}


def unchanged(ws: Workspace) -> bool:
    m = model(ws)
    return (
        [v["stage"] for v in m["versions"]] == ["production", "candidate"]
        and len(m["approvals"]) == 1
        and m["schedule"] is None
        and m["retraining_requests"] == []
    )


@pytest.mark.parametrize("action", [*FORMS, "requests/{id}/approve", "requests/{id}/reject"])
def test_a_form_without_its_csrf_token_is_refused(login_as: Login, seeded: Workspace, action: str) -> None:
    complete_card(seeded)
    ada = login_as("ada")
    if "{id}" in action:
        assert send(login_as("eli"), "stage", FORMS["stage"]).status_code == 303
        action = action.format(id=pending_id(seeded))
    data = FORMS.get(action, {"note": "a note long enough"})
    missing = send(ada, action, data, csrf=False)
    assert missing.status_code == 403 and "this form has expired" in text(missing)
    wrong = ada.post(f"{PAGE}/{action}", data={**data, "csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    m = model(seeded)
    assert [v["stage"] for v in m["versions"]] == ["production", "candidate"]
    assert m["schedule"] is None and m["retraining_requests"] == []
    assert [a["status"] for a in m["approvals"]] == [
        "approved",
        *(["pending"] if "requests" in action else []),
    ]


@pytest.mark.parametrize("login", ["rita", "bo"])
@pytest.mark.parametrize("action", list(FORMS))
def test_a_form_without_model_register_is_refused(
    login_as: Login, seeded: Workspace, login: str, action: str
) -> None:
    complete_card(seeded)
    refused = send(login_as(login), action, FORMS[action])
    assert_refused(refused, 403, f"{login} (", "may not model.register on claims-triage", "ask an admin")
    assert unchanged(seeded)


def test_deciding_without_model_approve_is_refused(login_as: Login, seeded: Workspace) -> None:
    complete_card(seeded)
    assert send(login_as("ada"), "stage", FORMS["stage"]).status_code == 303
    request_id = pending_id(seeded)
    for login in ("eli", "rita"):
        for verb in ("approve", "reject"):
            refused = send(login_as(login), f"requests/{request_id}/{verb}", {"note": "not mine to decide"})
            assert_refused(refused, 403, "may not model.approve")
    assert stage_of(seeded, "1.1") == "candidate" and pending_id(seeded) == request_id


def test_a_user_of_another_use_case_and_a_logged_out_browser(
    client: TestClient, login_as: Login, seeded: Workspace
) -> None:
    with seeded.access() as access:
        access.add_user(OP, "olga", "ml-engineer", "clinical-documentation", password="ml engineer elsewhere")
    outside = client.post(f"{PAGE}/stage", data=FORMS["stage"], follow_redirects=False)
    assert outside.status_code == 303 and outside.headers["location"].startswith("/login")
    page = client.get("/login", params={"next": "/models"})
    data = {"login": "olga", "password": "ml engineer elsewhere", "csrf_token": csrf_from(page.text)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    denied = send(client, "stage", FORMS["stage"])
    assert denied.status_code == 403 and "may not workspace.read on claims-triage" in text(denied)
    ada = login_as("ada")
    token = csrf_from(ada.get("/models").text)
    unknown = ada.post("/models/no-such-model/stage", data={**FORMS["stage"], "csrf_token": token})
    assert unknown.status_code == 404
    assert unchanged(seeded)


# --- in the browser ---------------------------------------------------------------------------------
def browser_log_in(page: Page, base: str, login: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login?next={PAGE}")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password(login))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{PAGE}")


@pytest.mark.browser
def test_one_asks_for_production_and_another_approves_in_chromium(
    strict_page: Page, live_server: str, seeded: Workspace, assert_accessible: Check
) -> None:
    from playwright.sync_api import expect

    complete_card(seeded)
    page = strict_page
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    browser_log_in(page, live_server, "eli")
    assert_accessible(page)
    form = page.locator("#stage-form")
    form.get_by_label("Version").select_option("1.1")
    form.get_by_label("Move it to").select_option("production")
    form.get_by_label(re.compile("^Note: why")).fill("ok")  # too short: refused, the field named
    form.get_by_role("button", name="Request the stage change").click()
    expect(page.get_by_role("alert")).to_contain_text("field: reason")
    expect(page.locator("#stage-reason")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.locator("#stage-reason").fill(REASON)
    page.get_by_role("button", name="Request the stage change").click()
    page.wait_for_url(f"{live_server}{PAGE}?done=requested")
    expect(page.get_by_role("status")).to_contain_text("Another person who holds model.approve")
    request_id = pending_id(seeded)
    expect(page.locator(f"#request-{request_id}")).to_contain_text("You asked for this move")
    expect(page.get_by_role("button", name=f"Approve request {request_id}")).to_have_count(0)
    assert_accessible(page)

    browser_log_in(page, live_server, "bo")
    expect(page.locator("#lifecycle")).to_have_count(0)
    page.get_by_label(re.compile("^Note for the record")).fill("evaluation reviewed")
    page.get_by_role("button", name=f"Approve request {request_id}").click()
    page.wait_for_url(f"{live_server}{PAGE}?done=approved")
    expect(page.get_by_role("status")).to_contain_text("The request is approved")
    expect(page.locator("#production")).to_have_text("1.1")
    history = page.locator("#history")
    promoted = history.get_by_role("row").filter(has_text=REASON)
    expect(promoted).to_contain_text("1.1")
    expect(promoted).to_contain_text("candidate → production")
    expect(history.get_by_role("row").filter(has_text="superseded")).to_contain_text("1.0")
    assert_accessible(page)
    assert not csp
