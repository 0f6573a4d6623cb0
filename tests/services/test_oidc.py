"""OpenID Connect single sign-on against a real provider on 127.0.0.1 (tests/oidc_provider.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.errors import UsageError
from paceline.services.access import operator
from paceline.services.oidc import OidcClient, OidcConfig, SsoFailed, code_challenge, map_roles
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

REDIRECT = "http://127.0.0.1:9/login/sso/callback"  # never called: the test reads the redirect
USERS = {
    "grace": {"sub": "sub-grace", "groups": ["ai-admins"], "email": "grace@example.org"},
    "linus": {"sub": "sub-linus", "groups": ["ai-audit", "staff"]},
    "nobody": {"sub": "sub-nobody", "groups": ["staff"]},
    "ada": {"sub": "sub-ada", "groups": ["ai-audit"]},
}
ROLE_MAP = {"ai-admins": "admin", "ai-audit": "auditor"}


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(USERS) as idp:
        idp.register_client([REDIRECT])
        yield idp


def config(provider: OidcProvider, **kw: Any) -> OidcConfig:
    return OidcConfig(provider.issuer, CLIENT_ID, CLIENT_SECRET, role_map=ROLE_MAP, **kw)


def browse(client: OidcClient, user: str) -> tuple[str, str, Any]:
    """Play the browser: open the authorization URL, pick *user*, follow back; (code, state, request)."""
    auth = client.start(REDIRECT)
    with httpx.Client() as browser:
        form = browser.get(auth.url)
        assert form.status_code == 200 and "Sign in" in form.text
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.text))
        answer = browser.post(
            f"{client.metadata().authorization_endpoint}", data={**fields, "username": user}
        )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    return query.get("code", [""])[0], query["state"][0], auth


def test_the_code_flow_with_pkce_end_to_end(provider: OidcProvider) -> None:
    client = OidcClient(config(provider))
    code, state, auth = browse(client, "grace")
    assert state == auth.state
    identity = client.finish(code, auth, REDIRECT)
    assert (identity.issuer, identity.subject, identity.login) == (provider.issuer, "sub-grace", "grace")
    assert identity.roles == ("admin",) and identity.claims["email"] == "grace@example.org"
    assert "GET /.well-known/openid-configuration" in provider.state.requests
    assert {"GET /jwks", "POST /token", "GET /userinfo"} <= set(provider.state.requests)


def test_the_authorization_request_carries_state_nonce_and_s256(provider: OidcProvider) -> None:
    auth = OidcClient(config(provider)).start(REDIRECT)
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth.url).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == code_challenge(auth.code_verifier) != auth.code_verifier
    assert (
        query["state"] == auth.state and query["nonce"] == auth.nonce and query["scope"].startswith("openid")
    )
    assert len(auth.code_verifier) >= 43  # RFC 7636: 43 to 128 characters


def test_a_wrong_verifier_is_refused_by_the_provider(provider: OidcProvider) -> None:
    client = OidcClient(config(provider))
    code, _, auth = browse(client, "grace")
    forged = type(auth)(auth.url, auth.state, auth.nonce, "x" * 50)
    with pytest.raises(SsoFailed) as info:
        client.finish(code, forged, REDIRECT)
    assert info.value.reason == "TOKEN_REFUSED"


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("issuer", "ISSUER_MISMATCH"),
        ("audience", "AUDIENCE_MISMATCH"),
        ("expired", "TOKEN_EXPIRED"),
        ("nonce", "NONCE_MISMATCH"),
        ("signature", "BAD_SIGNATURE"),
    ],
)
def test_a_bad_id_token_is_refused(provider: OidcProvider, fault: str, reason: str) -> None:
    client = OidcClient(config(provider))
    code, _, auth = browse(client, "grace")
    provider.state.faults.add(fault)
    with pytest.raises(SsoFailed) as info:
        client.finish(code, auth, REDIRECT)
    assert info.value.reason == reason and info.value.http_status == 401


def test_a_discovery_document_for_another_issuer_is_refused(provider: OidcProvider) -> None:
    provider.state.faults.add("discovery_issuer")
    with pytest.raises(SsoFailed, match="names issuer"):
        OidcClient(config(provider)).start(REDIRECT)


def test_an_unreachable_provider_is_a_clear_failure() -> None:
    client = OidcClient(OidcConfig("http://127.0.0.1:9", CLIENT_ID))
    with pytest.raises(SsoFailed) as info:
        client.start(REDIRECT)
    assert info.value.reason == "PROVIDER_UNREACHABLE"


def test_configuration_mistakes_are_named() -> None:
    with pytest.raises(UsageError, match="https"):
        OidcClient(OidcConfig("http://idp.example.com", CLIENT_ID))
    with pytest.raises(UsageError, match="unknown role 'root'"):
        OidcClient(OidcConfig("https://idp.example.com", CLIENT_ID, role_map={"x": "root"}))


def test_role_mapping() -> None:
    cfg = OidcConfig("https://idp", "c", role_map=ROLE_MAP)
    assert map_roles({"groups": ["ai-audit", "ai-admins", "other"]}, cfg) == ("admin", "auditor")
    assert map_roles({"groups": "ai-audit"}, cfg) == ("auditor",)
    assert map_roles({"groups": 3}, cfg) == ()
    assert map_roles({}, OidcConfig("https://idp", "c", default_role="reviewer")) == ("reviewer",)


# --- users created, updated and refused, through the workspace ----------------------------


@pytest.fixture
def ws(tmp_path: Path, provider: OidcProvider) -> Iterator[Workspace]:
    workspace = Workspace.init(
        tmp_path / "ws",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_map=ROLE_MAP,
    )
    with workspace.access() as access:
        access.add_user(operator(), "ada", "reviewer", password="a local password")
    yield workspace
    workspace.close()


def sign_in(ws: Workspace, user: str) -> tuple[Any, str | None]:
    client = ws.oidc
    assert client is not None
    code, _, auth = browse(client, user)
    identity = client.finish(code, auth, REDIRECT)
    with ws.access() as access:
        return access.sso_login(identity.issuer, identity.subject, identity.login, identity.roles, "10.9.8.7")


def test_first_login_creates_the_user_and_later_logins_follow_the_claims(
    ws: Workspace, provider: OidcProvider
) -> None:
    principal, reason = sign_in(ws, "linus")
    assert reason is None and principal.grants == (Grant(Role.AUDITOR),)
    with ws.access() as access:
        access.grant(operator(), "linus", "reviewer", "claims-triage")  # a local, scoped grant
    provider.state.users["linus"]["groups"] = ["ai-admins"]
    principal, _ = sign_in(ws, "linus")
    assert set(principal.grants) == {Grant(Role.ADMIN), Grant(Role.REVIEWER, "claims-triage")}
    with ws.access(readonly=True) as access:
        assert [u.login for u in access.list_users(operator())].count("linus") == 1
    logins = [e for e in ws.audit_entries(after=0, limit=500) if e["action"] == "auth.login"]
    assert [(e["data"]["method"], e["data"]["outcome"]) for e in logins] == [("oidc", "success")] * 2
    assert ws.verify_audit().ok


def test_a_user_without_a_mapped_role_is_refused_and_audited(ws: Workspace) -> None:
    principal, reason = sign_in(ws, "nobody")
    assert principal is None and reason == "NO_ROLE"
    with ws.access(readonly=True) as access:
        assert "nobody" not in [u.login for u in access.list_users(operator())]
    entry = ws.audit_entries(after=0, limit=500)[-1]
    assert entry["data"]["outcome"] == "failure" and entry["data"]["reason_code"] == "NO_ROLE"


def test_sso_cannot_take_over_a_local_account(ws: Workspace) -> None:
    principal, reason = sign_in(ws, "ada")  # the provider says "ada"; a local ada exists
    assert principal is None and reason == "LOGIN_TAKEN"


def test_a_deactivated_sso_user_stays_out(ws: Workspace) -> None:
    assert sign_in(ws, "grace")[1] is None
    with ws.store.write("cli:operator") as session:
        from sqlalchemy import update

        from paceline.storage.models import User

        session.execute(update(User).where(User.login == "grace").values(active=False))
    assert sign_in(ws, "grace") == (None, "ACCOUNT_DISABLED")
