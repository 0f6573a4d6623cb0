"""The model pages: the list (scoped to the use cases one may read) and a model's page (card,
versions, stage history, reminders, performance, calibration, drift, alerts); bad query
parameters answer 4xx pages; in Chromium under the app's CSP the charts draw and axe passes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.services.test_drift_windows import MODEL, UC
from tests.services.test_model_tiles import seed_models
from tests.web.test_alert_pages import browser_log_in, fire
from tests.web.web_helpers import TestClient, csrf_from

if TYPE_CHECKING:
    from playwright.sync_api import Page

Check = Callable[["Page"], None]
OLGA = ("olga", "ml engineer elsewhere")


@pytest.fixture
def seeded(ws: Workspace, tmp_path: Path) -> Workspace:
    seed_models(ws, tmp_path / "data")
    with ws.access() as access:
        access.add_user(operator(), OLGA[0], "ml-engineer", "clinical-documentation", password=OLGA[1])
    return ws


def test_the_list_shows_the_models_one_may_read(admin: TestClient, seeded: Workspace) -> None:
    html = admin.get("/models").text
    assert f'href="/models/{MODEL}"' in html and "Claims router" in html
    assert re.search(r"<td>1.0</td>\s*<td class=\"num\">2</td>\s*<td>candidate 1, production 1</td>", html)


def test_a_user_of_another_use_case_sees_no_model(client: TestClient, seeded: Workspace) -> None:
    page = client.get("/login", params={"next": "/models"})
    data = {"login": OLGA[0], "password": OLGA[1], "csrf_token": csrf_from(page.text), "next": "/models"}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    assert "No model you may read is registered yet" in client.get("/models").text
    denied = client.get(f"/models/{MODEL}")
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("text/html")


def test_the_model_page(admin: TestClient, seeded: Workspace) -> None:
    alert_id = fire(seeded)
    html = admin.get(f"/models/{MODEL}").text
    assert '<dd id="production">1.0</dd>' in html
    assert "Route claims to a queue" in html and "claims-ml" in html  # the card of 1.0
    assert re.search(r'<th scope="row">1.1</th><td>candidate</td>', html)
    assert "<td>limitations</td>" in html  # 1.1's card lacks them
    assert re.search(r"candidate → production</td>\s*<td>approved</td><td>request \d+, approved", html)
    assert "user:pm" not in html and "user:ada" not in html  # no people on the page
    rows = re.findall(
        r"<tr><td>(2026-\d\d-\d\d)</td>", html.split('id="performance"')[1].split("</table>")[0]
    )
    assert rows[:2] == ["2026-01-05", "2026-01-12"] and len(rows) == 8  # 8 weeks
    assert "estimate</span> F1" in html and "Estimated figures are an estimate" in html
    assert re.search(r'id="ece">0\.\d{3}</strong>', html) and re.search(r'id="brier">0\.\d{3}</strong>', html)
    drift = seeded.model_drift(MODEL)
    latest = drift["windows"][-1]
    assert f'id="drifted-share">{100 * latest["drifted_share"]:.1f}%' in html
    table = html.split('id="drift-table"')[1].split("</table>")[0]
    names = re.findall(r'<th scope="row">([^<]+)</th>', table)
    assert sorted(names) == sorted(c["column"] for c in latest["columns"])
    assert names[0] in {c["column"] for c in latest["columns"] if c["drifted"]}  # drifted first
    assert f'href="/alerts?model={MODEL}#alert-{alert_id}"' in html
    for chart in ("perf-chart", "calibration-chart", "drift-chart"):
        assert f'<script type="application/json" id="{chart}">' in html


@pytest.mark.parametrize(
    "query", ["grain=year", "grain=total", "every=0d", "every=soon", "windows=0", "windows=521", "windows=x"]
)
def test_bad_parameters_are_4xx_pages(admin: TestClient, seeded: Workspace, query: str) -> None:
    response = admin.get(f"/models/{MODEL}?{query}")
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    value = query.split("=")[1]
    assert repr(value) in response.text.replace("&#39;", "'")


def test_the_page_shows_the_latest_drift_windows(admin: TestClient, seeded: Workspace) -> None:
    every = seeded.model_drift(MODEL, latest=None)["windows"]
    default = admin.get(f"/models/{MODEL}").text
    assert f"the latest {min(len(every), 12)} current windows of 7d" in default
    assert "windows=all#drift" in default
    one = admin.get(f"/models/{MODEL}?windows=1").text
    assert "the latest 1 current windows of 7d" in one
    chart = json.loads(one.split('id="drift-chart">')[1].split("</script>")[0])
    assert chart["data"][0]["x"] == [every[-1]["start"]]
    everything = admin.get(f"/models/{MODEL}?windows=all").text
    assert "every current window of 7d" in everything and "windows=all#drift" not in everything


def test_other_grains_and_an_unknown_model(admin: TestClient, seeded: Workspace) -> None:
    month = admin.get(f"/models/{MODEL}?grain=month&every=14d")
    assert month.status_code == 200 and "<tr><td>2026-02-01</td>" in month.text
    assert "current windows of 14d" in month.text
    missing = admin.get("/models/no-such-model")
    assert missing.status_code == 404 and "no model 'no-such-model'" in missing.text.replace("&#39;", "'")


def test_a_registered_model_without_predictions(admin: TestClient, ws: Workspace) -> None:
    with ws.lifecycle(operator()) as lc:
        lc.create(operator(), {"key": UC, "title": "Claims triage", "owner": "ada"})
    with ws.models(operator()) as registry:
        registry.register_model(operator(), "fresh-model", UC, "Fresh")
    html = admin.get("/models/fresh-model").text
    assert "No predictions of this model in the warehouse yet" in html
    assert "No labels yet: calibration needs labeled predictions" in html
    assert 'id="drift-note">No drift yet:' in html and "No version is registered yet" in html


# --- in the browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_from_the_list_to_the_model_page_in_chromium(
    strict_page: Page, live_server: str, seeded: Workspace, assert_accessible: Check
) -> None:
    from playwright.sync_api import expect

    page = strict_page
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    browser_log_in(page, live_server, "ada", "/models")
    expect(page.get_by_role("heading", level=1)).to_have_text("Models")
    assert_accessible(page)
    page.get_by_role("link", name="Claims router").click()
    page.wait_for_url(f"{live_server}/models/{MODEL}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Claims router")
    for chart in ("perf-chart", "calibration-chart", "drift-chart"):
        expect(page.locator(f'[data-chart="{chart}"] .main-svg').first).to_be_visible()
    assert_accessible(page)
    page.locator('select[name="grain"]').select_option("month")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*grain=month.*"))
    expect(page.locator("#performance")).to_contain_text("2026-02-01")
    expect(page.locator('[data-chart="perf-chart"] .main-svg').first).to_be_visible()
    assert_accessible(page)
    page.goto(f"{live_server}/kpis?use_case={UC}")
    tile = page.locator(".tile", has_text="Model drift: Claims router")
    expect(tile).to_contain_text("KPI 7")
    assert_accessible(page)
    assert not csp
