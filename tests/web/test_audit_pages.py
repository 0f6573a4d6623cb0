"""The audit viewer (filter, download), the export API, and logins in the audit log."""

from __future__ import annotations

import json

from paceline.bootstrap import Workspace
from tests.domain.test_audit_formats import parse_cef, parse_syslog, validate
from tests.web.web_helpers import USERS, TestClient, csrf_from, log_in, token_for


def auth_entries(ws: Workspace) -> list[dict[str, object]]:
    return [e for e in ws.audit_entries(after=0, limit=1000) if e["entity"] == "authentication"]


def test_web_logins_and_logouts_are_audited(client: TestClient, ws: Workspace) -> None:
    page = client.get("/login")
    bad = {"login": "ada", "password": "not the password", "csrf_token": csrf_from(page.text), "next": "/"}
    assert client.post("/login", data=bad).status_code == 401
    assert log_in(client, "ada").status_code == 303
    home = client.get("/")
    assert (
        client.post("/logout", data={"csrf_token": csrf_from(home.text)}, follow_redirects=False).status_code
        == 303
    )
    got = [(e["action"], e["data"]["outcome"], e["actor"]) for e in auth_entries(ws)]  # type: ignore[index]
    assert got == [
        ("auth.login", "failure", "user:ada"),
        ("auth.login", "success", "user:ada"),
        ("auth.logout", "success", "user:ada"),
    ]
    assert "not the password" not in json.dumps(ws.audit_entries(after=0, limit=1000))
    assert ws.verify_audit().ok


def test_bad_bearer_tokens_are_audited_without_the_token(client: TestClient, ws: Workspace) -> None:
    token = token_for(ws, "alan")
    forged = token[:-4] + "AAAA"
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    assert client.get("/api/v1/me", headers={"Authorization": "Basic x"}).status_code == 401
    reasons = [e["data"]["reason_code"] for e in auth_entries(ws)]  # type: ignore[index]
    assert reasons == ["INVALID_CREDENTIALS", "MALFORMED_HEADER"]
    assert forged not in json.dumps(ws.audit_entries(after=0, limit=1000))


def test_the_viewer_filters_by_actor_action_and_date(admin: TestClient, ws: Workspace) -> None:
    html = admin.get("/audit", params={"action": "auth.login"}).text
    assert "auth.login" in html and ">create<" not in html
    html = admin.get("/audit", params={"entity": "users", "actor": "cli:"}).text
    assert html.count("<code>users/") == len(USERS)
    assert "No entry matches" in admin.get("/audit", params={"until": "2000-01-01"}).text
    assert "auth.login" in admin.get("/audit", params={"since": "2000-01-01"}).text
    bad = admin.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 422 and "since" in bad.text


def test_the_viewer_downloads_the_filtered_entries(admin: TestClient) -> None:
    html = admin.get("/audit", params={"entity": "users"}).text
    assert 'href="/audit/download?format=cef&amp;entity=users"' in html
    ocsf = admin.get("/audit/download", params={"format": "ocsf", "entity": "users"})
    assert ocsf.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in ocsf.headers["content-disposition"]
    events = [json.loads(line) for line in ocsf.text.splitlines()]
    assert len(events) == len(USERS) and {e["class_uid"] for e in events} == {3001}
    for event in events:
        validate(event)
    assert "alan" not in ocsf.text  # the logins are pseudonymised
    cef = admin.get("/audit/download", params={"format": "cef"}).text.splitlines()
    assert all(parse_cef(line) for line in cef)
    syslog = admin.get("/audit/download", params={"format": "syslog"}).text.splitlines()
    assert all(parse_syslog(line)["app"] == "paceline" for line in syslog)


def test_the_export_api_and_its_permission(client: TestClient, ws: Workspace) -> None:
    auditor = {"Authorization": f"Bearer {token_for(ws, 'alan')}"}
    reviewer = {"Authorization": f"Bearer {token_for(ws, 'rita')}"}
    response = client.get("/api/v1/audit/export", params={"after": 2, "limit": 3}, headers=auditor)
    assert response.status_code == 200
    assert [json.loads(line)["metadata"]["sequence"] for line in response.text.splitlines()] == [3, 4, 5]
    denied = client.get("/api/v1/audit/export", headers=reviewer)
    assert denied.status_code == 403 and denied.json()["error"]["details"]["action"] == "audit.export"
    assert client.get("/audit/download", follow_redirects=False).status_code == 303  # log in first
    bad = client.get("/api/v1/audit/export", params={"format": "xml"}, headers=auditor)
    assert bad.status_code == 422 and "error" in bad.json()


def test_an_auditor_gets_the_download_links(client: TestClient) -> None:
    assert log_in(client, "alan").status_code == 303
    assert "/audit/download" in client.get("/audit").text


def test_a_number_too_large_for_the_database_is_a_422(client: TestClient, ws: Workspace) -> None:
    auditor = {"Authorization": f"Bearer {token_for(ws, 'alan')}"}
    response = client.get("/api/v1/audit/entries", params={"after": 2**70}, headers=auditor)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "a number in the request is out of range"


def test_a_reviewer_may_not_download_the_log(client: TestClient) -> None:
    assert log_in(client, "rita").status_code == 303
    assert client.get("/audit/download", params={"format": "cef"}).status_code == 403
