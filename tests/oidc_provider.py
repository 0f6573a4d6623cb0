"""A small OpenID Connect provider for the tests, served over real HTTP on 127.0.0.1.

It follows OpenID Connect Core and Discovery for what Paceline uses: discovery
(``/.well-known/openid-configuration``), a JWKS with an RSA key, the authorization
code flow with PKCE (S256 only) behind a sign-in form, the token endpoint
(``client_secret_basic`` or ``client_secret_post``), RS256 ID tokens, and userinfo.
``faults`` lets a test make the provider misbehave (wrong issuer, audience, nonce,
an expired token, a signature by an unknown key) to check that the client refuses.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "paceline-test"
CLIENT_SECRET = "s3cret-client"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    user: str
    nonce: str | None
    challenge: str
    scope: str
    issued: float = field(default_factory=time.time)


@dataclass
class ProviderState:
    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    rogue_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)


def _b64url_sha256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    @property
    def state(self) -> ProviderState:
        return self.server.state

    def log_message(self, *args: Any) -> None:
        return None

    # --- plumbing ---------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        self._send(status, json.dumps(doc).encode(), "application/json")

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length", "0"))
        parsed = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def _query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}

    # --- endpoints --------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.state.requests.append(f"GET {path}")
        if path == "/.well-known/openid-configuration":
            self._json(200, self._discovery())
        elif path == "/jwks":
            self._json(200, {"keys": [self.state.key.as_dict(private=False, use="sig", alg="RS256")]})
        elif path == "/authorize":
            self._authorize_form(self._query())
        elif path == "/userinfo":
            self._userinfo()
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        self.state.requests.append(f"POST {path}")
        if path == "/authorize":
            self._authorize_submit(self._form())
        elif path == "/token":
            self._token(self._form())
        else:
            self._json(404, {"error": "not_found"})

    def _discovery(self) -> dict[str, Any]:
        iss = self.state.issuer
        return {
            "issuer": iss if "discovery_issuer" not in self.state.faults else iss + "/other",
            "authorization_endpoint": f"{iss}/authorize",
            "token_endpoint": f"{iss}/token",
            "userinfo_endpoint": f"{iss}/userinfo",
            "jwks_uri": f"{iss}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "email", "groups"],
            "grant_types_supported": ["authorization_code"],
        }

    def _check_authorize(self, params: dict[str, str]) -> str | None:
        client = self.state.clients.get(params.get("client_id", ""))
        if client is None or params.get("redirect_uri") not in client[1]:
            return "unknown client or redirect_uri"
        if params.get("response_type") != "code" or "openid" not in params.get("scope", "").split():
            return "response_type must be code and scope must include openid"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        return None

    def _authorize_form(self, params: dict[str, str]) -> None:
        problem = self._check_authorize(params)
        if problem:
            self._send(400, f"<h1>Bad request</h1><p>{html.escape(problem)}</p>".encode(), "text/html")
            return
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        options = "".join(f"<option>{html.escape(u)}</option>" for u in self.state.users)
        page = (
            "<!doctype html><html lang='en'><head><title>Test IdP sign-in</title></head><body>"
            "<main><h1>Test identity provider</h1><form method='post' action='/authorize'>"
            f"{hidden}<label for='username'>Account</label> <select id='username' name='username'>"
            f"{options}</select> <button type='submit'>Sign in</button></form></main></body></html>"
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _authorize_submit(self, form: dict[str, str]) -> None:
        problem = self._check_authorize(form)
        user = form.get("username", "")
        if problem or user not in self.state.users:
            self._send(400, b"<h1>Bad request</h1>", "text/html")
            return
        query: dict[str, str] = {"state": form.get("state", "")}
        if "deny" in self.state.faults:
            query.update(error="access_denied", error_description="the user declined")
        else:
            code = secrets.token_urlsafe(24)
            self.state.codes[code] = Grant(
                form["client_id"],
                form["redirect_uri"],
                user,
                form.get("nonce"),
                form["code_challenge"],
                form.get("scope", ""),
            )
            query["code"] = code
            query["iss"] = self.state.issuer
        self._send(302, b"", "text/plain", {"Location": f"{form['redirect_uri']}?{urlencode(query)}"})

    def _client(self, form: dict[str, str]) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        known = self.state.clients.get(client_id)
        return client_id if known is not None and secrets.compare_digest(known[0], secret) else None

    def _token(self, form: dict[str, str]) -> None:
        client_id = self._client(form)
        if client_id is None:
            self._json(401, {"error": "invalid_client"})
            return
        grant = self.state.codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None or grant.client_id != client_id:
            self._json(400, {"error": "invalid_grant"})
            return
        if grant.redirect_uri != form.get("redirect_uri") or time.time() - grant.issued > 60:
            self._json(400, {"error": "invalid_grant", "error_description": "redirect_uri or age"})
            return
        if _b64url_sha256(form.get("code_verifier", "")) != grant.challenge:
            self._json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
            return
        access = secrets.token_urlsafe(24)
        claims = self._claims(grant)
        self.state.tokens[access] = claims
        self._json(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._sign(claims, grant),
            },
        )

    def _claims(self, grant: Grant) -> dict[str, Any]:
        profile = self.state.users[grant.user]
        return {
            "sub": profile["sub"],
            "preferred_username": grant.user,
            "name": profile.get("name", grant.user),
            "email": profile.get("email"),
            "groups": profile.get("groups", []),
        }

    def _sign(self, claims: dict[str, Any], grant: Grant) -> str:
        now = int(time.time())
        faults = self.state.faults
        payload = {
            **claims,
            "iss": self.state.issuer + ("/evil" if "issuer" in faults else ""),
            "aud": "someone-else" if "audience" in faults else grant.client_id,
            "iat": now,
            "exp": now - 600 if "expired" in faults else now + 300,
            "auth_time": now,
        }
        if grant.nonce is not None:
            payload["nonce"] = "replayed" if "nonce" in faults else grant.nonce
        key = self.state.rogue_key if "signature" in faults else self.state.key
        return jwt.encode({"alg": "RS256", "kid": "k1", "typ": "JWT"}, payload, key)

    def _userinfo(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        claims = self.state.tokens.get(token)
        if claims is None:
            self._send(401, b"", "text/plain", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return
        self._json(200, claims)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ProviderState


class OidcProvider:
    """The provider on a free port of 127.0.0.1; ``start()``/``stop()`` or use as a context manager."""

    def __init__(self, users: dict[str, dict[str, Any]] | None = None) -> None:
        self.state = ProviderState(users=users or {})
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.state = self.state
        self.state.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-oidc", daemon=True)

    @property
    def issuer(self) -> str:
        return self.state.issuer

    def register_client(
        self, redirect_uris: list[str], client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET
    ) -> None:
        self.state.clients[client_id] = (secret, redirect_uris)

    def start(self) -> OidcProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
