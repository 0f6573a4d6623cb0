"""The KPI dashboard in Chromium: overview with charts, a KPI's detail, and a drill-down by clicking."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.kpis import KPIS
from tests.services import kpi_fixture as fx
from tests.web.web_helpers import USERS, make_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Check = Callable[["Page"], None]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path / "ws")
    for table, path in fx.write_all(tmp_path).items():
        workspace.ingest(table, path)
    yield workspace
    workspace.close()


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login?next=/kpis")
    page.get_by_label("Login").fill("ada")
    page.get_by_label("Password").fill(USERS["ada"][1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/kpis")


def test_overview_then_drill_down(page: Page, live_server: str, assert_accessible: Check) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Program KPIs")
    expect(page.locator(".sparkline .main-svg").first).to_be_visible()  # Plotly drew the trends
    # the workforce KPIs for the program and two use cases, and KPI 8 for the program (the use cases
    # of the event data are not in the inventory, so they have no compliance score)
    assert page.locator(".tile", has_text="KPI 8").count() == 1
    assert page.locator(".tile").count() == 3 * len(KPIS) + 1
    assert_accessible(page)

    page.get_by_role("link", name="Error rate").first.click()
    page.wait_for_url(f"{live_server}/kpis/error_rate")
    page.get_by_label("Split by").select_option("team")
    page.get_by_label("Grain").select_option("total")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/kpis/error_rate?*by=team*")
    expect(page.get_by_role("row", name="all team-b").get_by_text("suppressed")).to_be_visible()
    expect(page.locator("#trend-chart + *").or_(page.locator(".chart .main-svg")).first).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Explain by").select_option("priority")
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#explanation table")).to_be_visible()
    assert "explain" not in page.url, "HTMX swaps the explanation in place"
    assert_accessible(page)

    page.locator("#explanation").get_by_role("link", name="high").click()
    page.wait_for_url("**filter=priority%3Ahigh**")
    expect(page.get_by_text("Drilled into")).to_be_visible()
    expect(page.get_by_text("priority = high")).to_be_visible()
    assert_accessible(page)


def test_charts_draw_under_the_content_security_policy(strict_page: Page, live_server: str) -> None:
    from playwright.sync_api import expect

    violations: list[str] = []
    strict_page.on(
        "console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    log_in(strict_page, live_server)
    expect(strict_page.locator(".sparkline .main-svg").first).to_be_visible()
    strict_page.goto(f"{live_server}/kpis/error_rate/explain?segment_by=priority&split=2026-03-09")
    bar = strict_page.locator(".chart .main-svg").first
    expect(bar).to_be_visible()
    assert not violations
