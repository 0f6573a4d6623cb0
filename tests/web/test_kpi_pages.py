"""KPI pages and API over the KPI fixture firm: overview, detail, comparisons, drill-down, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.services import kpi_fixture as fx
from tests.web.web_helpers import TestClient, log_in, make_workspace, token_for


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path / "ws")
    for table, path in fx.write_all(tmp_path).items():
        workspace.ingest(table, path)
    with workspace.access() as access:
        access.add_user(operator(), "bo", "business-owner", use_case="docs", password="owner of docs")
    yield workspace
    workspace.close()


def api(client: TestClient, ws: Workspace, url: str) -> tuple[int, dict[str, object]]:
    response = client.get(url, headers={"Authorization": f"Bearer {token_for(ws, 'ada')}"})
    return response.status_code, response.json()


def test_api_compute_matches_the_library(client: TestClient, ws: Workspace) -> None:
    status, doc = api(client, ws, "/api/v1/kpis/error_rate?by=team&grain=week")
    assert status == 200 and doc == ws.kpi("error_rate", by=["team"], grain="week").to_dict()
    status, doc = api(client, ws, "/api/v1/kpis/resolution_time?stat=p90&by=priority")
    assert status == 200 and doc["stat"] == "p90"


def test_api_overview_compare_explain(client: TestClient, ws: Workspace) -> None:
    status, doc = api(client, ws, "/api/v1/kpis/overview?use_case=claims")
    assert status == 200 and doc["scopes"] == ["claims"]
    status, doc = api(client, ws, "/api/v1/kpis/error_rate/compare?dim=cohort&baseline=control&current=pilot")
    assert status == 200 and doc["baseline"] == "cohort = control"
    status, doc = api(client, ws, "/api/v1/kpis/error_rate/explain?segment_by=priority&split=2026-03-09")
    assert status == 200 and {s["segment"] for s in doc["segments"]} == {"low", "high"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/kpis/speed", 422, "validation_error"),
        ("/api/v1/kpis/error_rate?grain=year", 422, "validation_error"),
        ("/api/v1/kpis/error_rate?filter=team", 422, "validation_error"),
        ("/api/v1/kpis/error_rate/compare", 422, "validation_error"),
        ("/api/v1/kpis/error_rate/explain?split=2026-03-09", 422, "validation_error"),
    ],
)
def test_api_bad_requests_use_the_error_shape(
    client: TestClient, ws: Workspace, url: str, status: int, code: str
) -> None:
    got, doc = api(client, ws, url)
    assert got == status and doc["error"]["code"] == code  # type: ignore[index]


def test_a_use_case_owner_sees_only_that_use_case(client: TestClient, ws: Workspace) -> None:
    headers = {"Authorization": f"Bearer {token_for(ws, 'bo')}"}
    assert client.get("/api/v1/kpis/error_rate", headers=headers).status_code == 403
    assert client.get("/api/v1/kpis/error_rate?use_case=claims", headers=headers).status_code == 403
    response = client.get("/api/v1/kpis/error_rate?use_case=docs", headers=headers)
    assert response.status_code == 200
    assert client.get("/api/v1/kpis/overview", headers=headers).json()["scopes"] == ["docs"]


def test_overview_page(admin: TestClient) -> None:
    page = admin.get("/kpis")
    assert page.status_code == 200
    for text in (
        "All use cases",
        "claims",
        "docs",
        "Error rate",
        "leading",
        "lagging",
        "vs baseline",
        "Typical: 20-60% reduction",
        "/plotly/plotly.min.js",
    ):
        assert text in page.text, text


def test_detail_page_shows_suppressed_groups_and_comparisons(admin: TestClient) -> None:
    page = admin.get("/kpis/error_rate?by=team&grain=total")
    assert page.status_code == 200
    assert "suppressed" in page.text and "team-b" in page.text
    assert "ai_assisted = false vs ai_assisted = true" in page.text
    assert "before 2026-03-09 vs from 2026-03-09" in page.text


def test_explain_fragment_links_drill_down(admin: TestClient) -> None:
    fragment = admin.get(
        "/kpis/error_rate/explain?segment_by=priority&split=2026-03-09", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "filter=priority%3Ahigh" in fragment.text
    drilled = admin.get("/kpis/error_rate?filter=priority:high&by=team")
    assert "Drilled into" in drilled.text and "priority = high" in drilled.text


def test_csv_export_of_a_table(admin: TestClient, ws: Workspace) -> None:
    response = admin.get("/kpis/esat/export.csv?by=team&grain=total")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = ws.kpi("esat", by=["team"], grain="total").rows
    assert [r["team"] for r in rows] == [r["team"] or "" for r in expected]
    suppressed = [r for r in rows if r["suppressed"] == "True"]
    assert suppressed and all(r["value"] == "" for r in suppressed)


def test_kpi_pages_need_a_login(client: TestClient) -> None:
    response = client.get("/kpis", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/kpis"
    assert log_in(client, "rita").status_code == 303
    assert client.get("/kpis").status_code == 200
