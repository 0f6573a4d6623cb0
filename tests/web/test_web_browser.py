"""The web app in a real browser (Debian's Chromium via Playwright), checked with axe-core.

Every page a test visits goes through ``assert_accessible``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.web.web_helpers import USERS

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Check = Callable[["Page"], None]


def log_in_with_form(page: Page, login: str, password: str) -> None:
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_log_in_visit_every_page_and_log_out(page: Page, live_server: str, assert_accessible: Check) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/")
    assert page.url == f"{live_server}/login?next=/"
    assert_accessible(page)

    log_in_with_form(page, "ada", USERS["ada"][1])
    page.wait_for_url(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Workspace")
    people = page.get_by_role("row", name=re.compile(r"^people\b"))
    expect(people.get_by_role("cell").last).to_have_text("2")
    expect(page.get_by_role("cell", name="people.csv")).to_be_visible()
    expect(page.get_by_role("list").filter(has_text="admin")).to_be_visible()
    assert_accessible(page)

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Audit log").click()
    page.wait_for_url(f"{live_server}/audit")
    assert_accessible(page)
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    assert page.url == f"{live_server}/audit", "HTMX swaps the result in without navigating"
    assert_accessible(page)

    nav.get_by_role("link", name="Users").click()
    page.wait_for_url(f"{live_server}/users")
    for login, (role, _password) in USERS.items():
        expect(page.get_by_role("row", name=re.compile(rf"^{login}\b"))).to_contain_text(role)
    assert_accessible(page)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server}/login")
    assert_accessible(page)
    page.goto(f"{live_server}/users")
    assert page.url == f"{live_server}/login?next=/users"


def test_wrong_password_shows_an_error(page: Page, live_server: str, assert_accessible: Check) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/login")
    log_in_with_form(page, "ada", "not the password")
    expect(page.get_by_role("alert")).to_have_text("wrong login or password")
    expect(page.get_by_label("Login")).to_have_value("ada")
    assert page.url == f"{live_server}/login"
    assert_accessible(page)


def test_keyboard_only(page: Page, live_server: str, assert_accessible: Check) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/login")
    assert_accessible(page)
    expect(page.get_by_label("Login")).to_be_focused()
    page.keyboard.type("alan")
    page.keyboard.press("Tab")
    page.keyboard.type(USERS["alan"][1])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/")
    assert_accessible(page)

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.get_by_role("link", name="Audit log").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/audit")
    assert_accessible(page)
    page.get_by_role("button", name="Verify chain").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    assert_accessible(page)


def test_pages_work_under_the_content_security_policy(
    strict_page: Page, live_server: str, assert_accessible: Check
) -> None:
    """HTMX and the styles load from the app itself; the browser reports no CSP violation."""
    from playwright.sync_api import expect

    page = strict_page
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(f"{live_server}/login")
    assert_accessible(page)
    log_in_with_form(page, "alan", USERS["alan"][1])
    page.wait_for_url(f"{live_server}/")
    assert_accessible(page)
    page.goto(f"{live_server}/audit")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    assert page.url == f"{live_server}/audit"
    assert_accessible(page)
    assert not [m for m in messages if "Content Security Policy" in m or "Failed" in m], messages


def test_expired_session_during_an_htmx_request_goes_to_login(
    page: Page, live_server: str, assert_accessible: Check
) -> None:
    page.goto(f"{live_server}/login?next=/audit")
    log_in_with_form(page, "alan", USERS["alan"][1])
    page.wait_for_url(f"{live_server}/audit")
    assert_accessible(page)
    page.context.clear_cookies()
    page.get_by_role("button", name="Verify chain").click()
    page.wait_for_url(f"{live_server}/login?next=/audit")
    assert_accessible(page)


def test_the_accessibility_check_catches_violations(page: Page, assert_accessible: Check) -> None:
    page.set_content('<html><body><img src="x.png"><input type="text"></body></html>')
    with pytest.raises(AssertionError, match=r"image-alt|label"):
        assert_accessible(page)
