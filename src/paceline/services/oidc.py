"""Single sign-on with OpenID Connect: the authorization code flow with PKCE.

The relying party's side of OpenID Connect Core 1.0 and Discovery: read the
provider's configuration, send the browser to its authorization endpoint with
``state``, ``nonce`` and an S256 code challenge, exchange the code (with the
verifier) at the token endpoint, and accept the ID token only when its signature
verifies with a key from the provider's JWKS and its issuer, audience, expiry and
nonce are right. Roles come from a claim through the ``oidc_role_map`` setting.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from paceline.domain.roles import parse_role
from paceline.errors import AuthenticationError, UsageError

LEEWAY_SECONDS = 60
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class SsoFailed(AuthenticationError):
    """The provider or its answer failed a check; ``reason`` is a code for the audit log."""

    code = "sso_failed"

    def __init__(self, message: str, reason: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


@dataclass(frozen=True)
class OidcConfig:
    """The relying party's settings (``oidc_*`` in docs/workspace.md)."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: str = "openid profile email"
    login_claim: str = "preferred_username"
    role_claim: str = "groups"
    role_map: Mapping[str, str] = field(default_factory=dict)
    default_role: str | None = None


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None


@dataclass(frozen=True)
class AuthRequest:
    """Where to send the browser, and what to keep (in a signed cookie) until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class SsoIdentity:
    """Who the provider says signed in, and the roles their claims map to."""

    issuer: str
    subject: str
    login: str
    roles: tuple[str, ...]
    claims: Mapping[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def code_challenge(verifier: str) -> str:
    """The S256 PKCE challenge of *verifier* (RFC 7636 §4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def require_secure_url(url: str, what: str) -> None:
    """HTTPS, except on the loopback interface (a provider started for tests or development)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise UsageError(
            f"the OpenID provider's {what} {url!r} must use https",
            fix="configure an https issuer (http is accepted on 127.0.0.1 only)",
        )


def map_roles(claims: Mapping[str, Any], config: OidcConfig) -> tuple[str, ...]:
    """The Paceline roles of *claims*: each value of the role claim looked up in the map."""
    raw = claims.get(config.role_claim)
    values = (
        [raw]
        if isinstance(raw, str)
        else [v for v in raw if isinstance(v, str)]
        if isinstance(raw, list)
        else []
    )
    roles = sorted({config.role_map[v] for v in values if v in config.role_map})
    if not roles and config.default_role:
        roles = [config.default_role]
    return tuple(roles)


class OidcClient:
    """The relying party. One instance per workspace; the discovery document is cached."""

    def __init__(self, config: OidcConfig, http: httpx.Client | None = None, timeout: float = 10.0) -> None:
        require_secure_url(config.issuer, "issuer")
        for role in [*config.role_map.values(), *([config.default_role] if config.default_role else [])]:
            try:
                parse_role(role)
            except ValueError as exc:
                raise UsageError(
                    f"oidc_role_map or oidc_default_role: {exc}",
                    fix="correct the role names in the workspace settings",
                ) from None
        self.config = config
        self.http = http or httpx.Client(timeout=timeout, follow_redirects=False)
        self._metadata: ProviderMetadata | None = None
        self._keys: KeySet | None = None

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise SsoFailed(
                f"cannot reach the OpenID provider ({what}): {exc}", "PROVIDER_UNREACHABLE"
            ) from None
        if response.status_code != 200:
            raise SsoFailed(f"the OpenID provider's {what} answered {response.status_code}", "PROVIDER_ERROR")
        try:
            doc = response.json()
        except ValueError:
            raise SsoFailed(f"the OpenID provider's {what} is not JSON", "PROVIDER_ERROR") from None
        if not isinstance(doc, dict):
            raise SsoFailed(f"the OpenID provider's {what} is not a JSON object", "PROVIDER_ERROR")
        return doc

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document; its issuer must equal the configured one exactly."""
        if self._metadata is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = self._get_json(url, "discovery document")
            if doc.get("issuer") != self.config.issuer:
                raise SsoFailed(
                    f"the discovery document names issuer {doc.get('issuer')!r}, not {self.config.issuer!r}",
                    "ISSUER_MISMATCH",
                )
            try:
                meta = ProviderMetadata(
                    doc["issuer"],
                    doc["authorization_endpoint"],
                    doc["token_endpoint"],
                    doc["jwks_uri"],
                    doc.get("userinfo_endpoint"),
                )
            except KeyError as exc:
                raise SsoFailed(f"the discovery document lacks {exc.args[0]}", "PROVIDER_ERROR") from None
            for what in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                require_secure_url(getattr(meta, what), what)
            self._metadata = meta
        return self._metadata

    def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            doc = self._get_json(self.metadata().jwks_uri, "JWKS")
            try:
                self._keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError):
                raise SsoFailed("the provider's JWKS holds no usable key", "PROVIDER_ERROR") from None
        return self._keys

    def start(self, redirect_uri: str) -> AuthRequest:
        """A new authorization request with fresh ``state``, ``nonce`` and PKCE verifier."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        endpoint = self.metadata().authorization_endpoint
        separator = "&" if urlsplit(endpoint).query else "?"
        return AuthRequest(f"{endpoint}{separator}{urlencode(query)}", state, nonce, verifier)

    def finish(self, code: str, request: AuthRequest, redirect_uri: str) -> SsoIdentity:
        """Exchange *code*, validate the ID token, and say who signed in."""
        tokens = self._exchange(code, request.code_verifier, redirect_uri)
        claims = self.validate_id_token(str(tokens.get("id_token", "")), request.nonce)
        access = tokens.get("access_token")
        if self.metadata().userinfo_endpoint and isinstance(access, str):
            claims = {**self._userinfo(access, claims["sub"]), **claims}
        login = claims.get(self.config.login_claim) or claims["sub"]
        if not isinstance(login, str) or not login:
            raise SsoFailed(f"the ID token's {self.config.login_claim!r} claim is not a name", "BAD_CLAIMS")
        return SsoIdentity(claims["iss"], claims["sub"], login, map_roles(claims, self.config), claims)

    def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        if self.config.client_secret:  # client_secret_basic: RFC 6749 §2.3.1 form-encodes both parts
            pair = f"{quote(self.config.client_id, safe='')}:{quote(self.config.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        else:
            form["client_id"] = self.config.client_id
        try:
            response = self.http.post(self.metadata().token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise SsoFailed(f"cannot reach the token endpoint: {exc}", "PROVIDER_UNREACHABLE") from None
        try:
            doc = response.json()
        except ValueError:
            doc = {}
        if response.status_code != 200 or not isinstance(doc, dict) or "id_token" not in doc:
            error = doc.get("error", response.status_code) if isinstance(doc, dict) else response.status_code
            raise SsoFailed(f"the provider refused the code: {error}", "TOKEN_REFUSED")
        return doc

    def validate_id_token(self, token: str, nonce: str, now: float | None = None) -> dict[str, Any]:
        """The ID token's claims after the checks of OpenID Connect Core §3.1.3.7."""
        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=SIGNING_ALGORITHMS)
        except JoseError:
            try:  # the provider may have rotated its keys since they were fetched
                decoded = jwt.decode(token, self._key_set(refresh=True), algorithms=SIGNING_ALGORITHMS)
            except JoseError:
                raise SsoFailed("the ID token's signature does not verify", "BAD_SIGNATURE") from None
        except ValueError:
            raise SsoFailed("the ID token is malformed", "BAD_TOKEN") from None
        claims = dict(decoded.claims)
        self._check_claims(claims, nonce, time.time() if now is None else now)
        return claims

    def _check_claims(self, claims: dict[str, Any], nonce: str, now: float) -> None:
        if claims.get("iss") != self.config.issuer:
            raise SsoFailed(f"the ID token was issued by {claims.get('iss')!r}", "ISSUER_MISMATCH")
        audience = claims.get("aud")
        audiences = (
            [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        )
        if self.config.client_id not in audiences:
            raise SsoFailed("the ID token is not meant for this client", "AUDIENCE_MISMATCH")
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise SsoFailed("the ID token's authorized party is another client", "AUDIENCE_MISMATCH")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)) or exp + LEEWAY_SECONDS < now:
            raise SsoFailed("the ID token has expired", "TOKEN_EXPIRED")
        if not isinstance(iat, (int, float)) or iat - LEEWAY_SECONDS > now:
            raise SsoFailed("the ID token was issued in the future", "BAD_TOKEN")
        if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
            raise SsoFailed("the ID token's nonce does not match this login", "NONCE_MISMATCH")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SsoFailed("the ID token has no subject", "BAD_CLAIMS")

    def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        endpoint = self.metadata().userinfo_endpoint
        assert endpoint is not None
        try:
            response = self.http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        doc = response.json()
        if not isinstance(doc, dict) or doc.get("sub") != subject:  # Core §5.3.2: must match
            raise SsoFailed("the userinfo subject differs from the ID token's", "BAD_CLAIMS")
        return doc
