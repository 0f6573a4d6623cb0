"""The governance API and pages: frameworks, a control with its evidence, uploads, findings,
management reviews and the compliance dashboard; the auditor reads everything, changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from paceline.web.app import create_app
from tests.web.web_helpers import TestClient, csrf_from, log_in, make_workspace, token_for

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
    yield workspace
    workspace.close()


@pytest.fixture
def api(ws: Workspace) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    with TestClient(create_app(ws)) as client:
        yield (
            client,
            {"Authorization": f"Bearer {token_for(ws, 'ada')}"},
            {"Authorization": f"Bearer {token_for(ws, 'alan')}"},
        )


def test_frameworks_through_the_api(api: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, admin, auditor = api
    assert "nist-ai-rmf" in client.get("/api/v1/frameworks/catalogues", headers=admin).json()["catalogues"]
    r = client.post("/api/v1/frameworks/adopt", json={"catalogue": "eu-ai-act-deployer"}, headers=admin)
    assert r.status_code == 200 and r.json()["created"] == 8
    r = client.post("/api/v1/frameworks/import", json={"text": FIRM, "name": "acme.yaml"}, headers=admin)
    assert r.json()["created"] == 1
    assert (
        client.post("/api/v1/frameworks/import", json={"text": FIRM}, headers=admin).json()["unchanged"] == 1
    )
    keys = [f["key"] for f in client.get("/api/v1/frameworks", headers=auditor).json()["frameworks"]]
    assert keys == ["acme-ai", "eu-ai-act-deployer"]
    doc = client.get("/api/v1/controls/eu-ai-act-deployer/Art. 26(6)", headers=auditor).json()
    assert doc["control"]["title"].startswith("Keep the system's logs")
    # the auditor reads and changes nothing; bad input names its field
    denied = client.post("/api/v1/frameworks/import", json={"text": FIRM}, headers=auditor)
    assert denied.status_code == 403 and denied.json()["error"]["details"]["action"] == "governance.manage"
    bad = client.post(
        "/api/v1/frameworks/import", json={"text": "key: acme\ntitle: x\ncontrols: 3"}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "controls"
    assert client.get("/api/v1/frameworks/nope", headers=admin).status_code == 404
    assert client.get("/api/v1/controls/acme-ai/NOPE", headers=admin).status_code == 404


def test_upload_download_and_the_score(api: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, admin, auditor = api
    client.post("/api/v1/frameworks/import", json={"text": FIRM}, headers=admin)
    statuses = client.get("/api/v1/use-cases/claims/controls", headers=auditor).json()
    assert statuses["summary"] == {"applicable": 1, "met": 0, "open": 1, "expired": 0}
    form = {
        "title": "AI policy",
        "owner": "ciso",
        "dated": date.today().isoformat(),
        "use_case": "claims",
        "control": "acme-ai/ACME-1",
    }
    r = client.post(
        "/api/v1/evidence", data=form, files={"file": ("policy.pdf", b"%PDF-1.7 policy")}, headers=admin
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    got = client.get(f"/api/v1/evidence/{doc_id}/file", headers=auditor)
    assert got.status_code == 200 and got.content == b"%PDF-1.7 policy"
    assert client.get("/api/v1/use-cases/claims/controls", headers=auditor).json()["summary"]["met"] == 1
    denied = client.post("/api/v1/evidence", data=form, files={"file": ("p.pdf", b"x")}, headers=auditor)
    assert denied.status_code == 403
    bad = client.post(
        "/api/v1/evidence", data=form | {"dated": "yesterday"}, files={"file": ("p.pdf", b"x")}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "dated"
    score = client.get(
        "/api/v1/compliance", params={"use_case": "claims", "weeks": 2}, headers=auditor
    ).json()
    assert (
        score["value"] > 0
        and len(score["trend"]) == 3
        and {c["key"] for c in score["components"]} >= {"controls"}
    )
    assert client.get("/api/v1/compliance", params={"use_case": "nope"}, headers=admin).status_code == 404


def test_findings_and_management_reviews_through_the_api(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, admin, auditor = api
    body = {
        "title": "Logs kept 30 days only",
        "severity": "high",
        "owner": "secops",
        "use_case": "claims",
        "due": "2099-01-01",
    }
    r = client.post("/api/v1/findings", json=body, headers=admin)
    assert r.status_code == 201
    fid = r.json()["id"]
    r = client.patch(
        f"/api/v1/findings/{fid}",
        json={"add_actions": [{"action": "Set 183 days", "owner": "secops"}]},
        headers=admin,
    )
    assert r.json()["actions"][0]["owner"] == "secops"
    assert client.patch(f"/api/v1/findings/{fid}", json={"done": [5]}, headers=admin).status_code == 422
    assert client.patch("/api/v1/findings/999", json={}, headers=admin).status_code == 404
    assert client.post("/api/v1/findings", json=body, headers=auditor).status_code == 403
    assert [f["id"] for f in client.get("/api/v1/findings", headers=auditor).json()["findings"]] == [fid]
    review = {
        "title": "Q1 steering",
        "attendees": ["cio"],
        "actions": [{"action": "Publish policy", "owner": "cio"}],
    }
    assert client.post("/api/v1/management-reviews", json=review, headers=admin).status_code == 201
    assert (
        client.post(
            "/api/v1/management-reviews", json={**review, "attendees": "cio"}, headers=admin
        ).status_code
        == 422
    )
    assert len(client.get("/api/v1/management-reviews", headers=auditor).json()["management_reviews"]) == 1


@pytest.fixture
def app(ws: Workspace) -> FastAPI:
    return create_app(ws)


def test_pages_for_the_auditor_and_the_admin(ws: Workspace, app: FastAPI) -> None:
    with ws.governance() as g:
        g.import_text(OP, FIRM)
        g.raise_finding(
            OP, {"title": "No policy", "severity": "critical", "owner": "ciso", "use_case": "claims"}
        )
    with TestClient(app) as client:
        log_in(client, "alan")
        html = client.get("/compliance").text
        assert "Compliance &amp; risk score" in html and "open critical audit finding: No policy" in html
        assert "add current evidence for acme-ai/ACME-1" in html
        assert "Claims triage" in client.get("/compliance?use_case=claims").text
        control = client.get("/compliance/controls/acme-ai/ACME-1").text
        assert (
            "Policy on file" in control and "Upload a document" not in control
        )  # the auditor uploads nothing
        assert "No policy" in client.get("/compliance/findings").text
        retention = client.get("/compliance/retention").text
        assert "Deletion runs" in retention and "never deleted" in retention
        assert "Adopt a built-in catalogue" not in client.get("/compliance/frameworks").text
    with TestClient(app) as client:
        log_in(client, "ada")
        page = client.get("/compliance/frameworks").text
        r = client.post(
            "/compliance/frameworks/adopt",
            data={"catalogue": "iso-42001", "csrf_token": csrf_from(page)},
            follow_redirects=False,
        )
        assert (
            r.status_code == 303 and r.headers["location"] == "/compliance/frameworks/iso-42001?done=adopted"
        )
        assert "A.6.2.8" in client.get("/compliance/frameworks/iso-42001").text
        page = client.get("/compliance/controls/acme-ai/ACME-1").text
        data = {
            "title": "Policy",
            "owner": "ciso",
            "dated": "2026-01-02",
            "use_case": "claims",
            "csrf_token": csrf_from(page),
        }
        r = client.post(
            "/compliance/controls/acme-ai/ACME-1",
            data=data,
            files={"file": ("p.txt", b"policy")},
            follow_redirects=False,
        )
        assert r.status_code == 303
        bad = client.post(
            "/compliance/controls/acme-ai/ACME-1",
            data=data | {"dated": "soon"},
            files={"file": ("p.txt", b"policy")},
        )
        assert bad.status_code == 422 and "(field: dated)" in bad.text


def test_retention_through_the_api_and_page(api: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, admin, auditor = api
    assert client.put("/api/v1/retention/cases", json={"days": 365}, headers=admin).json() == {
        "table": "cases",
        "days": 365,
    }
    bad = client.put("/api/v1/retention/audit_entries", json={"days": 3650}, headers=admin)
    assert bad.status_code == 422 and "never deleted" in bad.json()["error"]["message"]
    assert client.put("/api/v1/retention/cases", json={"days": 400}, headers=auditor).status_code == 403
    assert client.post("/api/v1/retention/run", json={"dry_run": False}, headers=auditor).status_code == 403
    runs = client.post("/api/v1/retention/run", json={}, headers=admin).json()["runs"]
    assert {r["table_name"] for r in runs} == {"cases", "step_runs", "review_tasks", "outbox"}
    assert len(client.get("/api/v1/retention/runs", headers=auditor).json()["runs"]) == 4
    tables = client.get("/api/v1/retention", headers=auditor).json()["tables"]
    assert next(t for t in tables if t["table"] == "cases")["days"] == 365


def test_the_notice_page_download_and_issue(ws: Workspace, app: FastAPI) -> None:
    with TestClient(app) as client:
        log_in(client, "alan")
        page = client.get("/use-cases/claims/notice").text
        assert "Information for workers: Claims triage" in page and "Record that this text" not in page
        md = client.get("/use-cases/claims/notice", params={"kind": "data-protection", "format": "md"})
        assert md.headers["content-type"].startswith("text/markdown")
        assert md.text.startswith("# Data-protection note: Claims triage")
        assert client.get("/use-cases/claims/notice", params={"kind": "poster"}).status_code == 422
    with TestClient(app) as client:
        log_in(client, "ada")
        page = client.get("/use-cases/claims/notice").text
        r = client.post(
            "/use-cases/claims/notice",
            data={"kind": "worker", "csrf_token": csrf_from(page)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "Not issued yet" not in client.get("/use-cases/claims/notice").text


def test_the_notice_through_the_api(api: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, admin, auditor = api
    doc = client.get("/api/v1/use-cases/claims/notice", headers=auditor).json()
    assert doc["markdown"].startswith("# Information for workers") and doc["issued"] == []
    assert client.post("/api/v1/use-cases/claims/notice/issue", headers=auditor).status_code == 403
    assert client.post("/api/v1/use-cases/claims/notice/issue", headers=admin).status_code == 201
    assert len(client.get("/api/v1/use-cases/claims/notice", headers=auditor).json()["issued"]) == 1
