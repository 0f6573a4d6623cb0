"""Helpers shared by the web tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from paceline.bootstrap import Workspace
from paceline.services.access import operator

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 in its TestClient; the venv has httpx, which still works.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

__all__ = ["USERS", "TestClient", "csrf_from", "log_in", "make_workspace", "token_for"]

USERS = {
    "ada": ("admin", "correct horse battery"),
    "alan": ("auditor", "audit trail please"),
    "rita": ("reviewer", "review all the things"),
}
PEOPLE_CSV = "person_id,team\np1,claims-east\np2,claims-west\n"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_workspace(path: Path, **settings: Any) -> Workspace:
    """A workspace with the users of :data:`USERS` and one ingest of two people."""
    ws = Workspace.init(path, **settings)
    with ws.access() as access:
        for login, (role, password) in USERS.items():
            access.add_user(operator(), login, role, password=password)
    csv = path / "people.csv"
    csv.write_text(PEOPLE_CSV, encoding="utf-8")
    ws.ingest("people", csv)
    return ws


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in *html*."""
    match = CSRF_INPUT.search(html)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


def log_in(client: TestClient, login: str, next_path: str = "/") -> Any:
    """Log *login* in through the form; returns the POST response (a 303 on success)."""
    page = client.get("/login", params={"next": next_path})
    data = {
        "login": login,
        "password": USERS[login][1],
        "csrf_token": csrf_from(page.text),
        "next": next_path,
    }
    return client.post("/login", data=data, follow_redirects=False)


def token_for(ws: Workspace, login: str) -> str:
    """A new API token for *login*."""
    with ws.access() as access:
        return access.create_token(operator(), login, name="test")
