"""The enablement pages: team enablement with the competency-gap heatmap, curricula, my learning,
champions and sessions, training to outcomes and the change log; forms with CSRF; and the same pages in
Chromium under the app's CSP with an axe check."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.services.access import Principal, operator
from tests.services.test_enablement import CATALOGUE, history, write_people
from tests.web.web_helpers import USERS, TestClient, csrf_from, log_in, make_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page

HR = Principal("hr", (Grant(Role.PEOPLE),))
Check = Callable[["Page"], None]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """The web users, fifteen people of use case ``uc`` in three teams, the catalogue and their records."""
    workspace = make_workspace(tmp_path / "ws")
    for table, path in zip(("people", "assignments"), write_people(tmp_path), strict=True):
        workspace.ingest(table, path)
    with workspace.lifecycle(operator()) as lc:
        lc.create(operator(), {"key": "uc", "title": "Use case", "owner": "ada", "phase": 4})
    with workspace.enablement(HR) as en:
        for section, save in (
            ("competencies", en.save_competency),
            ("courses", en.save_course),
            ("curricula", en.save_curriculum),
        ):
            for item in CATALOGUE[section]:
                save(HR, item)
        en.import_xapi(HR, history(), "lms")
        en.link_learner(HR, "rita", "e0")
    yield workspace
    workspace.close()


def test_team_enablement_shows_the_heatmap_and_hides_small_teams(admin: TestClient) -> None:
    html = admin.get("/enablement?use_case=uc").text
    assert "<h1>Team enablement</h1>" in html
    row = re.search(r"<th scope=\"row\">t1</th>(.*?)</tr>", html, re.S)
    assert row is not None and "heat-3" in row.group(1) and "67%" in row.group(1)
    small = re.search(r"<th scope=\"row\">small</th>(.*?)</tr>", html, re.S)
    assert small is not None and "fewer than 5" in small.group(1) and "%" not in small.group(1)
    assert "Finished their learning path</dt><dd>11 (73%)" in html
    assert admin.get("/enablement?use_case=nope").status_code == 404


def test_a_reader_sees_the_pages_but_no_forms(client: TestClient) -> None:
    log_in(client, "rita")
    html = client.get("/enablement").text
    assert "Set a team goal" not in html and "heatmap" in html
    assert "Record learning" not in client.get("/enablement/curricula").text
    mine = client.get("/enablement/me").text
    assert "My learning paths" in mine and '<span class="status pass">done</span>' in mine
    log_in(client, "alan")
    assert "is not linked to a person" in client.get("/enablement/me").text


def test_forms_save_and_redisplay_mistakes(admin: TestClient) -> None:
    page = admin.get("/enablement/curricula").text
    token = csrf_from(page)
    bad = admin.post(
        "/enablement/records",
        data={"csrf_token": token, "person": "e5", "course": "cert", "verb": "passed", "on": "soon"},
    )
    assert bad.status_code == 400 and "on &#39;soon&#39; is not a date" in bad.text
    assert 'id="record-on" name="on" value="soon" aria-invalid="true"' in bad.text
    done = admin.post(
        "/enablement/records",
        data={"csrf_token": token, "person": "e5", "course": "cert", "verb": "passed", "on": "2025-03-09"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("done=recorded#record")
    forged = admin.post("/enablement/records", data={"csrf_token": "x", "person": "e5"})
    assert forged.status_code == 403
    not_json = admin.post("/enablement/curricula", data={"csrf_token": token, "document": "{oops"})
    assert not_json.status_code == 400 and "not JSON" in not_json.text


def test_goals_champions_and_sessions_from_the_pages(admin: TestClient) -> None:
    token = csrf_from(admin.get("/enablement?use_case=uc").text)
    goal = {
        "csrf_token": token,
        "use_case": "uc",
        "key": "t1-adoption",
        "team": "t1",
        "kpi": "adoption_rate",
        "kind": "adoption",
        "target": "0.7",
        "since": "2025-02-01",
        "due": "2025-06-30",
        "incentive": "team offsite",
    }
    assert admin.post("/enablement/goals", data=goal, follow_redirects=False).status_code == 303
    small = admin.post("/enablement/goals", data=goal | {"team": "small"})
    assert small.status_code == 422 and "individual target" in small.text
    assert "team offsite" in admin.get("/enablement?use_case=uc").text
    champion = {
        "csrf_token": token,
        "use_case": "uc",
        "team": "t2",
        "person_id": "e6",
        "name": "B. Okafor",
        "since": "2025-03-01",
    }
    assert admin.post("/enablement/champions", data=champion, follow_redirects=False).status_code == 303
    plan = {
        "csrf_token": token,
        "use_case": "uc",
        "start": "2025-03-03",
        "until": "2025-03-10",
        "cadence": "",
    }
    assert admin.post("/enablement/sessions/plan", data=plan, follow_redirects=False).status_code == 303
    page = admin.get("/enablement/champions?use_case=uc").text
    assert "B. Okafor" in page and "1 of 3 teams" in page
    action = re.search(r'action="/enablement/sessions/(\d+)"', page)
    assert action is not None
    held = {
        "csrf_token": token,
        "use_case": "uc",
        "status": "held",
        "held_on": "2025-03-03",
        "attendees": "8",
        "feedback": "more examples\nshorter lessons",
        "actions": "",
    }
    response = admin.post(f"/enablement/sessions/{action.group(1)}", data=held, follow_redirects=False)
    assert response.status_code == 303
    assert "more examples; shorter lessons" in admin.get("/enablement/champions?use_case=uc").text
    empty = admin.post(f"/enablement/sessions/{action.group(1)}", data=held | {"feedback": ""})
    assert empty.status_code == 422 and "capture at least one point" in empty.text


def test_outcomes_and_changes_pages(admin: TestClient, ws: Workspace) -> None:
    html = admin.get("/enablement/outcomes?use_case=uc").text
    assert "Training to outcomes" in html and "No estimate" in html  # no task or usage data here
    ws.runtime.flags.set_kill("claims-triage", True, "user:ml", "wrong routes after the release")
    changes = admin.get("/enablement/changes").text
    assert "kill.claims-triage" in changes and "wrong routes after the release" in changes


# --- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture
def csp_errors(strict_page: Page) -> list[str]:
    errors: list[str] = []
    strict_page.on(
        "console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    return errors


def browser_log_in(page: Page, base: str, login: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(USERS[login][1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{next_path}")


@pytest.mark.browser
def test_the_pages_in_chromium(
    strict_page: Page, live_server: str, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    browser_log_in(page, live_server, "ada", "/enablement")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team enablement")
    expect(page.locator("table.heatmap td.heat-3").first).to_contain_text("67%")
    expect(page.locator("table.heatmap").get_by_role("row", name=re.compile("^small"))).to_contain_text(
        "fewer than 5"
    )
    assert_accessible(page)
    page.get_by_text("Set a team goal").click()
    page.get_by_label("Goal key").fill("t2-adoption")
    page.get_by_label("Team", exact=True).select_option("t2")
    page.get_by_label("Target").fill("0.7")
    page.get_by_label("From (YYYY-MM-DD)").fill("2025-02-01")
    page.get_by_label("Due (YYYY-MM-DD)").fill("2025-06-30")
    page.get_by_label("Incentive for the team").fill("team offsite")
    page.get_by_role("button", name="Save the goal").click()
    expect(page.get_by_role("status")).to_have_text("The team goal was saved.")
    expect(page.get_by_role("row", name=re.compile("t2-adoption"))).to_contain_text("team offsite")
    for path, heading in (
        ("/enablement/curricula", "Curricula"),
        ("/enablement/champions", "Champions and frontline sessions"),
        ("/enablement/outcomes", "Training to outcomes"),
        ("/enablement/changes", "Change log"),
    ):
        page.goto(f"{live_server}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert_accessible(page)
    assert csp_errors == []


@pytest.mark.browser
def test_my_learning_in_chromium(strict_page: Page, live_server: str, assert_accessible: Check) -> None:
    from playwright.sync_api import expect

    page = strict_page
    browser_log_in(page, live_server, "rita", "/enablement/me")
    expect(page.get_by_role("heading", level=1)).to_have_text("My learning")
    expect(page.get_by_role("row", name=re.compile("^verification"))).to_contain_text("practitioner")
    expect(page.get_by_role("link", name="Enablement", exact=True)).to_have_attribute("href", "/enablement")
    assert_accessible(page)
