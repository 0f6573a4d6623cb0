"""Single sign-on end to end: Chromium, the app on uvicorn, and the test OpenID provider."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from paceline.bootstrap import Workspace
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.web.web_helpers import TestClient, make_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Page

Check = Callable[["Page"], None]
IDP_USERS = {
    "grace": {"sub": "sub-grace", "groups": ["ai-admins"]},
    "nobody": {"sub": "sub-nobody", "groups": ["staff"]},
}


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(IDP_USERS) as idp:
        yield idp


@pytest.fixture
def ws(tmp_path: Path, provider: OidcProvider) -> Iterator[Workspace]:
    """The web tests' workspace, with single sign-on configured against *provider*."""
    workspace = make_workspace(
        tmp_path / "ws",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_map={"ai-admins": "admin"},
    )
    yield workspace
    workspace.close()


@pytest.mark.browser
def test_sso_login_in_chromium(
    page: Page, live_server: str, provider: OidcProvider, ws: Workspace, assert_accessible: Check
) -> None:
    from playwright.sync_api import expect

    provider.register_client([f"{live_server}/login/sso/callback"])
    page.goto(f"{live_server}/audit")
    assert_accessible(page)
    page.get_by_role("link", name="Log in with single sign-on").click()
    page.wait_for_url(f"{provider.issuer}/authorize?*")
    page.get_by_label("Account").select_option("grace")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    assert_accessible(page)
    page.get_by_label("Action").fill("auth.login")
    page.get_by_role("button", name="Apply filter").click()
    expect(page.get_by_role("cell", name="user:grace")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server}/login")
    page.get_by_role("link", name="Log in with single sign-on").click()
    page.get_by_label("Account").select_option("nobody")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("no Paceline role")
    assert_accessible(page)
    failures = [
        e
        for e in ws.audit_entries(after=0, limit=500)
        if e["action"] == "auth.login" and e["data"]["outcome"] == "failure"
    ]
    assert [e["data"]["reason_code"] for e in failures] == ["NO_ROLE"]


def test_the_callback_refuses_a_foreign_or_stale_answer(
    client: TestClient, provider: OidcProvider, ws: Workspace
) -> None:
    provider.register_client(["http://testserver/login/sso/callback"])
    stale = client.get("/login/sso/callback", params={"code": "x", "state": "y"})
    assert stale.status_code == 401 and "did not start here" in stale.text
    start = client.get("/login/sso", params={"next": "/audit"}, follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    assert (
        "paceline_oidc_flow" in start.headers["set-cookie"]
        and "Path=/login/sso" in start.headers["set-cookie"]
    )
    forged = client.get("/login/sso/callback", params={"code": "x", "state": "not-the-state"})
    assert forged.status_code == 401 and "does not belong" in forged.text
    client.get("/login/sso", follow_redirects=False)
    denied = client.get("/login/sso/callback", params={"error": "access_denied", "state": "s"})
    assert denied.status_code == 401
    reasons = [
        e["data"]["reason_code"]
        for e in ws.audit_entries(after=0, limit=500)
        if e["entity"] == "authentication"
    ]
    assert reasons == ["FLOW_EXPIRED", "STATE_MISMATCH", "PROVIDER_DENIED"]


def test_without_configuration_there_is_no_sso(tmp_path: Path) -> None:
    from paceline.web.app import create_app

    plain = make_workspace(tmp_path / "plain")
    try:
        with TestClient(create_app(plain)) as c:
            assert "single sign-on" not in c.get("/login").text
            assert c.get("/login/sso").status_code == 404
    finally:
        plain.close()
