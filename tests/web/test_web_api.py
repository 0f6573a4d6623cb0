"""The JSON API, the machine endpoints and the one error shape."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from paceline.bootstrap import Workspace
from paceline.domain.tables import TABLES
from paceline.services.access import Principal
from paceline.web.app import create_app
from paceline.web.auth import api_principal
from tests.web.web_helpers import TestClient, csrf_from, log_in, token_for

API_ROUTES = (
    "/api/v1/me",
    "/api/v1/tables",
    "/api/v1/ingests",
    "/api/v1/audit/verify",
    "/api/v1/audit/entries",
)


def assert_error_shape(body: dict[str, Any], code: str) -> dict[str, Any]:
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- machine endpoints -------------------------------------------------------------


def test_healthz_answers_without_auth(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_healthz_is_503_in_the_error_shape_when_the_store_fails(
    client: TestClient,
    ws: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> Any:
        raise OperationalError("SELECT 1", {}, Exception("database is locked (secret detail)"))

    monkeypatch.setattr(ws.store, "read", broken)
    with caplog.at_level(logging.ERROR, logger="paceline.web"):
        response = client.get("/healthz")
    assert response.status_code == 503
    error = assert_error_shape(response.json(), "unavailable")
    assert error["details"] == {"checks": {"database": "failed"}}
    assert "secret detail" not in response.text
    assert "operational store" in caplog.text


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/api/v1/audit/entries", params={"after": 5})
    client.get("/no/such/page/12345")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    body = response.text
    assert 'paceline_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
    assert 'route="/api/v1/audit/entries",status="401"' in body
    assert 'route="<unmatched>",status="404"' in body
    assert "paceline_http_request_duration_seconds_bucket" in body
    assert "12345" not in body and "after=5" not in body


def test_each_app_has_its_own_metrics_registry(ws: Workspace, client: TestClient) -> None:
    client.get("/healthz")
    with TestClient(create_app(ws)) as other:
        body = other.get("/metrics").text
    assert 'route="/healthz"' not in body


def test_openapi_documents_the_api(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "Paceline"
    assert spec["info"]["version"]
    for route in (*API_ROUTES, "/healthz", "/metrics"):
        assert route in spec["paths"], route
    assert "/login" not in spec["paths"] and "/" not in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert {"ErrorOut", "MeOut", "TablesOut", "AuditPageOut"} <= set(schemas)
    assert "403" in spec["paths"]["/api/v1/audit/verify"]["get"]["responses"]


def test_no_remote_docs_pages(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


# --- the error shape -----------------------------------------------------------------


@pytest.mark.parametrize("route", API_ROUTES)
def test_api_without_credentials_is_401(client: TestClient, route: str) -> None:
    response = client.get(route)
    assert response.status_code == 401
    assert_error_shape(response.json(), "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_forbidden_is_403_in_the_error_shape(client: TestClient, ws: Workspace) -> None:
    response = client.get("/api/v1/audit/verify", headers=bearer(token_for(ws, "rita")))
    assert response.status_code == 403
    error = assert_error_shape(response.json(), "forbidden")
    assert "rita (reviewer) may not audit.verify" in error["message"]
    assert error["details"]["action"] == "audit.verify"
    assert "fix" in error["details"]


def test_unknown_api_path_is_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    error = assert_error_shape(response.json(), "not_found")
    assert "/api/v1/no-such-thing" in error["message"]


def test_wrong_method_is_405_in_the_error_shape(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert_error_shape(response.json(), "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_invalid_parameter_is_422_with_the_field_location(client: TestClient, ws: Workspace) -> None:
    response = client.get(
        "/api/v1/audit/entries", params={"limit": 0, "after": "x"}, headers=bearer(token_for(ws, "ada"))
    )
    assert response.status_code == 422
    error = assert_error_shape(response.json(), "validation_error")
    locations = {tuple(e["loc"]) for e in error["details"]["errors"]}
    assert locations == {("query", "limit"), ("query", "after")}
    assert all(set(e) == {"loc", "message", "type"} for e in error["details"]["errors"])


def test_unexpected_error_is_a_generic_logged_500(ws: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(ws)

    @app.get("/api/v1/boom")
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app) as client, caplog.at_level(logging.ERROR, logger="paceline.web"):
        response = client.get("/api/v1/boom")
        page = client.get("/boom")
    assert response.status_code == 500
    error = assert_error_shape(response.json(), "internal_error")
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert error["details"] == {}
    assert "secret internals" in caplog.text
    assert page.status_code == 500
    assert "<h1>Internal Server Error</h1>" in page.text and "secret internals" not in page.text


# --- authentication ------------------------------------------------------------------


def test_bearer_token_authenticates(client: TestClient, ws: Workspace) -> None:
    response = client.get("/api/v1/me", headers=bearer(token_for(ws, "alan")))
    assert response.status_code == 200
    assert response.json() == {
        "login": "alan",
        "kind": "user",
        "roles": [{"role": "auditor", "use_case": None}],
    }


@pytest.mark.parametrize("header", ["Bearer pl_bad_token", "Bearer ", "Basic YWRhOnB3", "pl_x_y"])
def test_bad_authorization_header_is_401(client: TestClient, header: str) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert_error_shape(response.json(), "unauthenticated")


def test_session_cookie_authenticates_the_api(admin: TestClient) -> None:
    response = admin.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["login"] == "ada"


@pytest.fixture
def echo_client(ws: Workspace) -> Iterator[TestClient]:
    """An app with one extra state-changing API route, to test the CSRF rule of the API."""
    app: FastAPI = create_app(ws)

    @app.post("/api/v1/echo")
    def echo(principal: Principal = Depends(api_principal)) -> dict[str, str]:
        return {"login": principal.login}

    with TestClient(app) as client:
        yield client


def test_cookie_api_post_needs_the_csrf_header(echo_client: TestClient) -> None:
    assert log_in(echo_client, "ada").status_code == 303
    missing = echo_client.post("/api/v1/echo")
    assert missing.status_code == 403
    assert_error_shape(missing.json(), "csrf_failed")
    wrong = echo_client.post("/api/v1/echo", headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    home = echo_client.get("/")

    ok = echo_client.post("/api/v1/echo", headers={"X-CSRF-Token": csrf_from(home.text)})
    assert ok.status_code == 200 and ok.json() == {"login": "ada"}


def test_bearer_api_post_needs_no_csrf_header(echo_client: TestClient, ws: Workspace) -> None:
    response = echo_client.post("/api/v1/echo", headers=bearer(token_for(ws, "rita")))
    assert response.status_code == 200 and response.json() == {"login": "rita"}


# --- resources -----------------------------------------------------------------------


def test_tables_lists_the_canonical_tables(client: TestClient, ws: Workspace) -> None:
    response = client.get("/api/v1/tables", headers=bearer(token_for(ws, "rita")))
    assert response.status_code == 200
    tables = {t["name"]: t for t in response.json()["tables"]}
    assert list(tables) == list(TABLES)
    columns = {c["name"]: c for c in tables["task_events"]["columns"]}
    assert columns["event_id"]["required"] is True and columns["event_id"]["kind"] == "string"
    assert columns["automation"]["choices"] == ["none", "partial", "full"]
    assert columns["person_id"]["pseudonymised"] is True
    assert tables["task_events"]["key"] == ["event_id"]


def test_ingests_lists_recent_runs(client: TestClient, ws: Workspace) -> None:
    response = client.get("/api/v1/ingests", headers=bearer(token_for(ws, "rita")))
    assert response.status_code == 200
    (run,) = response.json()["ingests"]
    assert run["table"] == "people" and run["files"] == ["people.csv"]
    assert (run["rows_read"], run["loaded"], run["quarantined"]) == (2, 2, 0)


def test_audit_verify_reports_an_intact_chain(client: TestClient, ws: Workspace) -> None:
    response = client.get("/api/v1/audit/verify", headers=bearer(token_for(ws, "alan")))
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["entries"] > 0
    assert set(body) == {"ok", "entries"}


def test_audit_verify_is_200_with_ok_false_on_a_tampered_chain(client: TestClient, ws: Workspace) -> None:
    headers = bearer(token_for(ws, "alan"))
    with ws.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = 'cli:mallory' WHERE seq = 2"))
    response = client.get("/api/v1/audit/verify", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["first_bad"] == 2
    assert "changed" in body["reason"]


def test_audit_entries_are_paginated(client: TestClient, ws: Workspace) -> None:
    headers = bearer(token_for(ws, "alan"))
    total = ws.verify_audit().entries
    seen: list[int] = []
    after: int | None = 0
    while after is not None:
        page = client.get(
            "/api/v1/audit/entries", params={"after": after, "limit": 3}, headers=headers
        ).json()
        seen.extend(e["seq"] for e in page["entries"])
        after = page["next_after"]
    assert seen == list(range(1, total + 1))
    first = client.get("/api/v1/audit/entries", params={"limit": 1}, headers=headers).json()
    entry = first["entries"][0]
    assert set(entry) == {"seq", "at", "actor", "action", "entity", "entity_id", "data", "prev_hash", "hash"}
    assert entry["data"]["password_hash"] == "<redacted>"


def test_audit_entries_need_audit_read(client: TestClient, ws: Workspace) -> None:
    response = client.get("/api/v1/audit/entries", headers=bearer(token_for(ws, "rita")))
    assert response.status_code == 403
    assert_error_shape(response.json(), "forbidden")
