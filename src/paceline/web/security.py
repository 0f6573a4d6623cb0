"""Signed session cookies, CSRF tokens and the security headers of every response.

The session cookie holds two things: the login (``None`` before logging in) and a
random CSRF token. It is signed, not encrypted, with a key derived from the
workspace secret by HMAC-SHA256 under a fixed label, so the raw secret (which also
keys the pseudonymisation of person ids) never becomes a cookie key and a leaked
cookie key reveals nothing about it. The signature carries a timestamp; a cookie
older than ``session_max_age_seconds`` is ignored.

CSRF is the synchronizer-token pattern: every state-changing form carries the
token in a hidden ``csrf_token`` field (JavaScript clients send it in the
``X-CSRF-Token`` header) and the server compares it with the token in the signed
cookie. A new token is issued at login, so a token seen before login is useless
after it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "paceline_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_LABEL = b"paceline/web/session-cookie/v1"
_SALT = "paceline.session"

# Scripts only from this origin (HTMX and Plotly are served locally); inline
# styles are allowed because Plotly's charts set them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


def derive_key(secret: bytes, label: bytes = KEY_LABEL) -> bytes:
    """A sub-key of the workspace *secret* for one purpose named by *label*."""
    return hmac.new(secret, label, hashlib.sha256).digest()


def new_token() -> str:
    """A fresh random CSRF token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    """What the cookie carries: who is logged in (if anyone) and the CSRF token."""

    login: str | None
    csrf: str

    @classmethod
    def anonymous(cls) -> Session:
        return cls(None, new_token())

    @classmethod
    def for_login(cls, login: str) -> Session:
        """A new session after a successful login, with a new CSRF token."""
        return cls(login, new_token())

    def csrf_matches(self, token: str | None) -> bool:
        """Whether *token* is this session's CSRF token (constant-time compare)."""
        if not token:
            return False
        return hmac.compare_digest(self.csrf.encode("utf-8"), token.encode("utf-8"))


class SessionCodec:
    """Reads and writes the signed session cookie with the workspace's cookie settings."""

    def __init__(self, secret: bytes, max_age: int, secure: bool) -> None:
        self.max_age = max_age
        self.secure = secure
        self._serializer = URLSafeTimedSerializer(
            derive_key(secret), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps({"login": session.login, "csrf": session.csrf})

    def loads(self, value: str | None) -> Session | None:
        """The session in cookie *value*, or ``None`` if absent, forged, expired or malformed."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # includes SignatureExpired
            return None
        return _session_from(data)

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE_NAME, self.dumps(session), max_age=self.max_age, path="/",
            secure=self.secure, httponly=True, samesite="lax",
        )

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(
            COOKIE_NAME, path="/", secure=self.secure, httponly=True, samesite="lax"
        )


def _session_from(data: Any) -> Session | None:
    if not isinstance(data, dict):
        return None
    login, csrf = data.get("login"), data.get("csrf")
    if not isinstance(csrf, str) or not csrf or not (login is None or isinstance(login, str)):
        return None
    return Session(login, csrf)


class SecurityHeadersMiddleware:
    """Adds the headers of :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
