"""The lifecycle pages in Chromium under the app's CSP: the portfolio chart, a blocked gate,
a sign-off that turns its check to pass, and an override that moves the phase."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.web.test_lifecycle_api import JUSTIFICATION, USE_CASE
from tests.web.web_helpers import make_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Check = Callable[["Page"], None]
PASSWORD = "a long enough password"
PEOPLE = {"pm": "program-manager", "bo": "business-owner", "sec": "security", "viewer": "reviewer"}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """Users of each role and two use cases: one in phase 1, one in phase 4."""
    workspace = make_workspace(tmp_path / "ws")
    with workspace.access() as access:
        for login, role in PEOPLE.items():
            access.add_user(operator(), login, role, password=PASSWORD)
    with workspace.lifecycle(operator()) as lc:
        lc.create(operator(), USE_CASE)
        lc.create(operator(), {**USE_CASE, "key": "claims-letters", "title": "Claims letters", "phase": 4})
    yield workspace
    workspace.close()


@pytest.fixture
def csp_errors(strict_page: Page) -> list[str]:
    """Console messages about the content security policy (there must be none)."""
    errors: list[str] = []
    strict_page.on(
        "console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    return errors


def log_in(page: Page, base: str, login: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{next_path}")


def test_the_portfolio_draws_its_chart(
    strict_page: Page, live_server: str, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    log_in(page, live_server, "viewer", "/portfolio")
    expect(page.get_by_role("heading", level=1)).to_have_text("Portfolio")
    expect(page.locator("[data-chart=portfolio-chart] .main-svg").first).to_be_visible()
    points = page.locator("[data-chart=portfolio-chart] .textpoint")
    expect(points).to_have_count(2)
    expect(points.filter(has_text="claims-triage")).to_have_count(1)
    expect(page.get_by_role("row", name=re.compile("Claims triage"))).to_contain_text("limited")
    assert_accessible(page)
    page.get_by_role("link", name="Claims letters").click()
    page.wait_for_url(f"{live_server}/use-cases/claims-letters")
    expect(page.locator("li[aria-current=step]")).to_contain_text("Training, change management")
    assert_accessible(page)
    page.get_by_role("link", name="Deployment playbook").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Deployment playbook: Claims letters (claims-letters)"
    )
    assert_accessible(page)
    assert not csp_errors


def test_the_intake_form_adds_a_use_case(
    strict_page: Page, live_server: str, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    log_in(page, live_server, "pm", "/portfolio")
    page.get_by_role("link", name="Add a use case").click()
    page.wait_for_url(f"{live_server}/portfolio/new")
    assert_accessible(page)
    page.get_by_label(re.compile("^Key")).fill("mail-intake")
    page.get_by_label("Title").fill("Mail intake")
    page.get_by_label(re.compile("^Business owner")).fill("bo")
    page.get_by_label("Share of time saved, expected").fill("1.5")  # not a share: refused, field named
    page.get_by_label("The data is available and accessible to the team").select_option("3")
    page.get_by_label(re.compile("^Does it interact directly with people")).check()
    page.get_by_role("button", name="Add the use case").click()
    expect(page.get_by_role("alert")).to_contain_text("field: value.uplift_expected")
    expect(page.get_by_label("Share of time saved, expected")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label(re.compile("^Does it interact directly with people"))).to_be_checked()
    assert_accessible(page)
    page.get_by_label("Share of time saved, expected").fill("0.2")
    page.get_by_label("Share of time saved, high").fill("0.3")
    page.get_by_role("button", name="Add the use case").click()
    page.wait_for_url(f"{live_server}/use-cases/mail-intake?done=created")
    expect(page.get_by_role("heading", name="EU AI Act: limited risk")).to_be_visible()
    assert not csp_errors


def test_pass_the_gate_lists_the_failing_checks(
    strict_page: Page, live_server: str, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    log_in(page, live_server, "bo", "/use-cases/claims-triage")
    expect(page.get_by_role("button", name="Override the gate")).to_have_count(0)
    page.get_by_role("button", name="Pass the gate").click()
    failing = page.locator("#failing-checks")
    expect(failing).to_contain_text("The gate did not pass")
    expect(failing).to_contain_text("Business case approved")
    expect(failing).to_contain_text("Phase 1 deliverables complete")
    expect(page.locator("tr.blocking")).to_have_count(2)
    expect(page.get_by_role("alert")).to_contain_text("blocked")
    expect(page.locator("li[aria-current=step]")).to_contain_text("Assess needs")
    assert_accessible(page)
    assert not csp_errors


def test_a_security_sign_off_turns_its_check_to_pass(
    strict_page: Page, live_server: str, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    log_in(page, live_server, "sec", "/use-cases/claims-letters")
    check = page.locator("#check-security_review")
    expect(check.locator(".status")).to_have_text("pending")
    expect(page.get_by_role("button", name="Sign off Business case approved")).to_have_count(0)
    assert_accessible(page)
    page.locator("#note-security_review").fill("Pen test passed, findings closed")
    page.get_by_role("button", name="Sign off Security review").click()
    page.wait_for_url(re.compile(r".*/use-cases/claims-letters\?done=signed#checkpoints$"))
    expect(page.get_by_role("status")).to_have_text("Signed off.")
    expect(check.locator(".status")).to_have_text("pass")
    expect(check).to_contain_text("signed off by user:sec (security)")
    expect(page.get_by_role("button", name="Sign off Security review")).to_have_count(0)
    assert_accessible(page)
    assert not csp_errors


def test_an_override_moves_the_phase_and_records_why(
    strict_page: Page, live_server: str, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    log_in(page, live_server, "pm", "/use-cases/claims-triage")
    expect(page.locator("li[aria-current=step]")).to_contain_text("1. Assess needs")
    page.get_by_label(re.compile("^Justification for overriding")).fill(JUSTIFICATION)
    page.get_by_role("button", name="Override the gate").click()
    page.wait_for_url(re.compile(r".*\?done=overridden#gate$"))
    expect(page.get_by_role("status")).to_contain_text("overridden")
    expect(page.locator("li[aria-current=step]")).to_contain_text("2. Pilot design")
    history = page.get_by_role("table", name=re.compile("Every move through a gate"))
    expect(history).to_contain_text(JUSTIFICATION)
    expect(history).to_contain_text("overridden")
    expect(page.get_by_role("heading", name="Gate to phase 3")).to_be_visible()
    assert_accessible(page)
    assert not csp_errors
