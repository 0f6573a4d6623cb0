"""Who is asking: FastAPI dependencies that resolve the principal of a request.

Browsers authenticate with the session cookie (:mod:`paceline.web.security`);
machines with ``Authorization: Bearer <token>``. The permission decision itself is
always the library's (:meth:`Principal.require`); this module only finds out who
the principal is and enforces CSRF on cookie-authenticated state changes.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Form, Request

from paceline.bootstrap import Workspace
from paceline.errors import AuthenticationError, NotFound, PermissionDenied
from paceline.services.access import Principal
from paceline.web.security import (
    COOKIE_NAME,
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    Session,
    SessionCodec,
)


class LoginRequired(Exception):
    """An HTML page was asked for without a valid session: send the browser to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def location(self) -> str:
        return f"/login?next={quote(self.next_path, safe='/')}"


class CsrfFailed(PermissionDenied):
    """A state-changing request lacked the session's CSRF token."""

    code = "csrf_failed"


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def codec(request: Request) -> SessionCodec:
    sessions: SessionCodec = request.app.state.sessions
    return sessions


def current_session(request: Request) -> Session | None:
    """The session of the request's cookie (cached on the request), or ``None``."""
    if not hasattr(request.state, "session"):
        request.state.session = codec(request).loads(request.cookies.get(COOKIE_NAME))
    session: Session | None = request.state.session
    return session


def safe_next(value: str | None) -> str:
    """*value* if it is a path on this site, else ``/`` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in value):
        return "/"
    return value


def _principal_for(ws: Workspace, login: str) -> Principal | None:
    with ws.access(readonly=True) as access:
        try:
            return access.principal(login)
        except (NotFound, AuthenticationError):  # deleted or deactivated since the login
            return None


def _return_path(request: Request) -> str:
    """Where to go after logging in: this page, or for an HTMX fragment the page it is on."""
    url = urlsplit(str(request.url))
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-current-url"):
        url = urlsplit(request.headers["hx-current-url"])
    return url.path + (f"?{url.query}" if url.query else "")


def page_principal(request: Request) -> Principal:
    """The logged-in user of an HTML page; redirects to /login (303) when there is none."""
    session = current_session(request)
    principal = None
    if session is not None and session.login is not None:
        principal = _principal_for(workspace(request), session.login)
    if principal is None:
        raise LoginRequired(_return_path(request))
    request.state.principal = principal
    return principal


def known_principal(request: Request) -> Principal | None:
    """The principal already resolved for *request*, else the session's user, else ``None``.

    For error pages, which show the navigation when they can: any failure to look the
    user up (the store may be the reason for the error) just means no navigation.
    """
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    try:
        session = current_session(request)
        if session is None or session.login is None:
            return None
        principal = _principal_for(workspace(request), session.login)
    except Exception:
        return None
    request.state.principal = principal
    return principal


def client_ip(request: Request) -> str | None:
    """The peer's address as the server sees it (for the audit log of logins)."""
    return request.client.host if request.client is not None else None


def _bearer_principal(ws: Workspace, header: str, src_ip: str | None) -> Principal:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        reason: str | None = "MALFORMED_HEADER"
        principal = None
    else:
        with ws.access(readonly=True) as access:
            principal, reason = access.check_token(token.strip())
    if principal is None:
        with ws.access() as access:  # the failure is audited; the token itself never is
            access.audit_auth("auth.token", None, "token", reason, src_ip)
        raise AuthenticationError(
            "invalid API token" if reason != "MALFORMED_HEADER"
            else "the Authorization header must be 'Bearer <token>'",
            fix="create a token with 'paceline token create LOGIN'",
        )
    return principal


def api_principal(request: Request) -> Principal:
    """The principal of an API call: bearer token, else session cookie (+ CSRF header)."""
    header = request.headers.get("authorization")
    if header is not None:
        principal = _bearer_principal(workspace(request), header, client_ip(request))
    else:
        principal = _cookie_principal(request)
    request.state.principal = principal
    return principal


def _cookie_principal(request: Request) -> Principal:
    session = current_session(request)
    if session is None or session.login is None:
        raise AuthenticationError(
            "authentication required",
            fix="send 'Authorization: Bearer <token>' (paceline token create) or log in at /login",
        )
    if request.method not in SAFE_METHODS and not session.csrf_matches(
        request.headers.get(CSRF_HEADER)
    ):
        raise CsrfFailed(
            f"missing or wrong {CSRF_HEADER} header",
            fix=f"send the session's CSRF token in the {CSRF_HEADER} header, or use a bearer token",
        )
    principal = _principal_for(workspace(request), session.login)
    if principal is None:
        raise AuthenticationError("the session's user no longer exists", fix="log in again")
    return principal


def form_session(
    request: Request, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = ""
) -> Session:
    """The session of a form POST whose CSRF token (field or header) matches; else 403."""
    session = current_session(request)
    token = csrf_token or request.headers.get(CSRF_HEADER)
    if session is None or not session.csrf_matches(token):
        raise CsrfFailed(
            "this form has expired or was not sent from a Paceline page",
            fix="reload the page and send the form again",
        )
    return session
