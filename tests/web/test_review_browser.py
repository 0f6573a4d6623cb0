"""The review UI in Chromium under the app's CSP: claim an item, edit a field with the keyboard
shortcuts, submit with a reason code and the time spent, and the case moves on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paceline.bootstrap import Workspace
from paceline.runtime.registry import REGISTRY
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from tests.runtime.flows import ExpenseCheck
from tests.web.web_helpers import USERS, make_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Check = Callable[["Page"], None]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """The expense workflow registered and two cases waiting for review (amounts over the limit)."""
    REGISTRY.register(ExpenseCheck)
    workspace = make_workspace(tmp_path / "ws")
    for external_id in ("trip-1", "trip-2"):
        workspace.runtime.start("expense-check", external_id, {"amount": 4200, "category": "travel"}, "cli:t")
    Worker(workspace.runtime, "test", 1).run(until_idle=True)
    yield workspace
    workspace.close()
    REGISTRY._workflows.pop(ExpenseCheck.name, None)


@pytest.fixture
def csp_errors(strict_page: Page) -> list[str]:
    errors: list[str] = []
    strict_page.on(
        "console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    return errors


def log_in(page: Page, base: str, login: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(USERS[login][1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{next_path}")


def test_claim_edit_and_submit_moves_the_case_on(
    strict_page: Page, live_server: str, ws: Workspace, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    log_in(page, live_server, "rita", "/reviews")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews")).to_have_attribute(
        "aria-current", "page"
    )
    queue = page.get_by_role("row", name=re.compile("^finance"))
    expect(queue).to_contain_text("on track")
    expect(queue.locator("td.num").first).to_have_text("2")
    assert_accessible(page)

    page.get_by_role("button", name="Claim next", exact=True).click()
    page.wait_for_url(re.compile(rf"{live_server}/reviews/\d+$"))
    review_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("main")).to_contain_text("claimed by you until")
    band = page.locator("#confidence-band")
    expect(band).to_have_text("high")
    expect(band).to_have_attribute("title", "Model confidence 0.95")
    expect(page.locator(".hits")).to_contain_text("amount 4200.0 is over the 1000 limit")
    expect(page.locator("#shortcuts")).to_contain_text("a accept")
    expect(page.locator("#time-spent")).to_have_text(re.compile(r"^\d+:\d\d$"))
    assert_accessible(page)

    # "e" chooses edit and puts the cursor in the first field, prefilled with the suggestion
    page.locator("h1").click()
    page.keyboard.press("e")
    expect(page.get_by_label(re.compile("^Edit"))).to_be_checked()
    field = page.get_by_label("decision", exact=True)
    expect(field).to_be_focused()
    expect(field).to_have_value("approve")
    field.fill("query")
    # submitted without a reason code: the page comes back naming the field, the edit kept
    page.get_by_role("button", name="Submit the decision").click()
    expect(page.get_by_role("alert")).to_contain_text("field: reason_code")
    expect(page.get_by_label(re.compile("^Reason code"))).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("decision", exact=True)).to_have_value("query")
    expect(page.get_by_label(re.compile("^Edit"))).to_be_checked()
    assert_accessible(page)

    page.get_by_label(re.compile("^Reason code")).select_option("wrong_field")
    page.get_by_label("Comment", exact=True).fill("No receipt attached")
    page.wait_for_timeout(1100)  # the counter has something to count
    page.get_by_role("button", name="Submit the decision").click()
    page.wait_for_url(f"{live_server}/reviews/{review_id}?done=decided")
    expect(page.get_by_role("status")).to_contain_text("Your decision is recorded")
    expect(page.locator("#decision")).to_contain_text("edit")
    expect(page.locator("#case-status")).to_have_text("running")  # no longer waiting for review
    assert_accessible(page)

    decided = ReviewQueue(ws.runtime).get(review_id)
    assert decided["output"] == {"decision": "query"} and decided["reason_code"] == "wrong_field"
    assert decided["time_spent_ms"] is not None and decided["time_spent_ms"] >= 1000
    Worker(ws.runtime, "test", 1).run(until_idle=True)
    page.reload()
    expect(page.locator("#case-status")).to_have_text("completed")
    assert not csp_errors


def test_accept_from_the_keyboard_then_claim_the_next(
    strict_page: Page, live_server: str, ws: Workspace, assert_accessible: Check, csp_errors: list[str]
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    log_in(page, live_server, "ada", "/reviews")
    page.locator("h1").click()
    page.keyboard.press("n")  # claim the next item
    page.wait_for_url(re.compile(rf"{live_server}/reviews/\d+$"))
    first = page.url
    page.locator("h1").click()
    page.keyboard.press("a")
    expect(page.get_by_label(re.compile("^Accept"))).to_be_checked()
    expect(page.get_by_role("button", name="Submit the decision")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{first}?done=decided")
    expect(page.locator("#decision")).to_contain_text("accept")
    page.locator("h1").click()
    page.keyboard.press("n")
    page.wait_for_url(re.compile(rf"{live_server}/reviews/\d+$"))
    assert page.url != first
    page.locator("h1").click()
    page.keyboard.press("r")
    expect(page.get_by_label(re.compile("^Reason code"))).to_be_focused()
    page.get_by_label(re.compile("^Reason code")).select_option("duplicate")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r".*\?done=decided$"))
    expect(page.locator("#decision")).to_contain_text("reject")
    assert_accessible(page)
    assert not csp_errors
