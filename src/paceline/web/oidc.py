"""Single sign-on pages: send the browser to the OpenID provider and take it back.

``/login/sso`` starts the authorization code flow (PKCE, state, nonce kept in a
short-lived signed cookie scoped to ``/login/sso``); ``/login/sso/callback``
checks the state, lets the library validate the code and ID token, and opens the
same session cookie a password login opens. Every outcome is in the audit log.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import RedirectResponse, Response

from paceline.errors import NotFound
from paceline.services.oidc import AuthRequest, OidcClient, SsoFailed
from paceline.web.auth import client_ip, codec, current_session, safe_next, workspace
from paceline.web.login import _login_form
from paceline.web.security import Session

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "paceline_oidc_flow"
FLOW_PATH = "/login/sso"
FLOW_MAX_AGE = 600
SSO_FAILED = "single sign-on failed"


def _client(request: Request) -> OidcClient:
    client = workspace(request).oidc
    if client is None:
        raise NotFound(
            "single sign-on is not configured", fix="set oidc_issuer and oidc_client_id (docs/sso.md)"
        )
    return client


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        workspace(request).secret, salt="paceline-oidc-flow", signer_kwargs={"digest_method": hashlib.sha256}
    )


def _redirect_uri(request: Request) -> str:
    return str(request.url_for("sso_callback"))


@router.get("/login/sso")
def sso_start(request: Request, next_path: Annotated[str, Query(alias="next")] = "/") -> Response:
    """Redirect to the provider's authorization endpoint (303)."""
    auth = _client(request).start(_redirect_uri(request))
    flow = {
        "state": auth.state,
        "nonce": auth.nonce,
        "verifier": auth.code_verifier,
        "next": safe_next(next_path),
    }
    response = RedirectResponse(auth.url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _serializer(request).dumps(flow),
        max_age=FLOW_MAX_AGE,
        path=FLOW_PATH,
        secure=workspace(request).settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


def _flow(request: Request) -> dict[str, Any] | None:
    value = request.cookies.get(FLOW_COOKIE)
    if not value:
        return None
    try:
        data = _serializer(request).loads(value, max_age=FLOW_MAX_AGE)
    except BadSignature:
        return None
    keys = ("state", "nonce", "verifier", "next")
    return data if isinstance(data, dict) and all(isinstance(data.get(k), str) for k in keys) else None


def _refuse(request: Request, reason: str, message: str, next_path: str = "/") -> Response:
    """The login page with *message* (401); the failure is audited as an OIDC login."""
    with workspace(request).access() as access:
        access.audit_auth("auth.login", None, "oidc", reason, client_ip(request))
    return _failed_page(request, message, next_path)


def _failed_page(request: Request, message: str, next_path: str) -> Response:
    session = current_session(request) or Session.anonymous()
    response = _login_form(request, session, next_path, error=f"{SSO_FAILED}: {message}", status_code=401)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get("/login/sso/callback", name="sso_callback")
def sso_callback(
    request: Request,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=500)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Where the provider sends the browser back: check, sign in, open the session."""
    flow = _flow(request)
    if flow is None:
        return _refuse(request, "FLOW_EXPIRED", "the sign-in took too long or did not start here")
    target = flow["next"]
    if error:
        return _refuse(request, "PROVIDER_DENIED", f"the provider answered {error!r}", target)
    if not state or state != flow["state"] or not code:
        return _refuse(request, "STATE_MISMATCH", "the answer does not belong to this sign-in", target)
    client = _client(request)
    auth = AuthRequest("", flow["state"], flow["nonce"], flow["verifier"])
    try:
        identity = client.finish(code, auth, _redirect_uri(request))
    except SsoFailed as exc:
        return _refuse(request, exc.reason, exc.message, target)
    with workspace(request).access() as access:
        principal, reason = access.sso_login(
            identity.issuer, identity.subject, identity.login, identity.roles, client_ip(request)
        )
    if principal is None:
        return _failed_page(request, _REASONS.get(str(reason), str(reason)), target)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    codec(request).set_cookie(response, Session.for_login(principal.login))
    return response


_REASONS = {
    "NO_ROLE": "your account has no Paceline role (ask an admin to map one of your groups)",
    "LOGIN_TAKEN": "a local user already has this login; an admin must rename one of them",
    "ACCOUNT_DISABLED": "this account is deactivated",
    "BAD_LOGIN_CLAIM": "the provider's user name is not a valid Paceline login",
}
