"""The compliance dashboard and a control page in Chromium under the app's CSP, checked with axe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.web.web_helpers import USERS, make_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Check = Callable[["Page"], None]
OP = operator()
FIRM = (
    "key: acme-ai\ntitle: Acme AI policy\ncontrols:\n"
    "  - {id: ACME-1, title: Policy on file, evidence: [document]}\n"
)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path / "ws")
    with workspace.lifecycle() as lc:
        lc.create(OP, {"key": "claims", "title": "Claims triage", "owner": "bo", "phase": 6})
    with workspace.governance() as g:
        g.import_text(OP, FIRM)
        g.adopt(OP, "eu-ai-act-deployer")
        g.raise_finding(
            OP, {"title": "Logs kept 30 days", "severity": "high", "owner": "secops", "use_case": "claims"}
        )
    yield workspace
    workspace.close()


def log_in(page: Page, base: str, login: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(USERS[login][1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{next_path}")


def test_the_dashboard_shows_the_score_its_fixes_and_trend(
    strict_page: Page, live_server: str, assert_accessible: Check
) -> None:
    errors: list[str] = []
    strict_page.on(
        "console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None
    )
    log_in(strict_page, live_server, "alan", "/compliance")
    strict_page.get_by_role("link", name="Claims triage").click()
    strict_page.wait_for_url(f"{live_server}/compliance?use_case=claims")
    assert "Score" in strict_page.locator("#score-value").inner_text()
    first_fix = strict_page.locator("#fixes tbody tr").first.inner_text()
    assert "add current evidence for acme-ai/ACME-1" in first_fix
    strict_page.wait_for_selector("[data-chart='compliance-trend'] .main-svg")
    assert_accessible(strict_page)
    assert not errors


def test_an_admin_uploads_evidence_on_the_control_page(
    strict_page: Page, live_server: str, assert_accessible: Check, tmp_path: Path
) -> None:
    log_in(strict_page, live_server, "ada", "/compliance/controls/acme-ai/ACME-1")
    assert_accessible(strict_page)
    assert "open" in strict_page.locator("article.card h3").first.inner_text()
    doc = tmp_path / "policy.txt"
    doc.write_text("our AI policy", encoding="utf-8")
    strict_page.get_by_label("File", exact=True).set_input_files(str(doc))
    strict_page.get_by_label("Title", exact=True).fill("AI policy")
    strict_page.get_by_label("Owner", exact=True).fill("ciso")
    strict_page.get_by_label("Dated", exact=True).fill(date.today().isoformat())
    strict_page.get_by_label("Use case", exact=True).select_option("claims")
    strict_page.get_by_role("button", name="Upload").click()
    strict_page.wait_for_url(f"{live_server}/compliance/controls/acme-ai/ACME-1?done=uploaded")
    assert "met" in strict_page.locator("article.card h3").first.inner_text()
    assert "document AI policy (policy.txt)" in strict_page.content()
    assert_accessible(strict_page)
