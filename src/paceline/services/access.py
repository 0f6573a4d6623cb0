"""Users, role grants, API tokens, and the permission check every surface shares.

The service talks to storage through :class:`AccessRepository` (implemented in
``paceline.storage.access_repo``), so the rules here are testable without a
database and identical for the CLI, the API and the web.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paceline.domain.roles import ROLE_ACTIONS, Action, Grant, Role, allowed, parse_role
from paceline.errors import AuthenticationError, Conflict, NotFound, PermissionDenied, ValidationError

LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$")
TOKEN_PREFIX = "pl_"
MIN_PASSWORD = 10
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user with grants, or the local operator (the CLI on the workspace)."""

    login: str
    grants: tuple[Grant, ...]
    kind: str = "user"

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.login}"

    @property
    def is_global(self) -> bool:
        """Whether some grant covers every use case (program-wide figures need one)."""
        return any(g.use_case is None for g in self.grants)

    def can(self, action: Action, use_case: str | None = None) -> bool:
        return allowed(self.grants, action, use_case)

    def require(self, action: Action, use_case: str | None = None) -> None:
        """Raise :class:`PermissionDenied` unless this principal may do *action*."""
        if not self.can(action, use_case):
            roles = ", ".join(sorted({g.role.value for g in self.grants})) or "no role"
            where = f" on {use_case}" if use_case else ""
            raise PermissionDenied(
                f"{self.login} ({roles}) may not {action.value}{where}",
                action=action.value,
                fix="ask an admin for a role that allows it (paceline user grant)",
            )


def operator(name: str = "operator") -> Principal:
    """The person at the workspace's command line: holds the secret, so acts as admin."""
    return Principal(name, (Grant(Role.ADMIN),), kind="cli")


@dataclass(frozen=True)
class UserRecord:
    id: int
    login: str
    password_hash: str | None = field(repr=False)
    active: bool
    grants: tuple[Grant, ...]


class AccessRepository(Protocol):
    def get_user(self, login: str) -> UserRecord | None: ...
    def add_user(self, login: str, password_hash: str | None) -> UserRecord: ...
    def add_grant(self, user_id: int, grant: Grant) -> bool: ...
    def list_users(self) -> list[UserRecord]: ...
    def add_token(self, user_id: int, name: str, prefix: str, token_hash: str) -> None: ...
    def find_token(self, prefix: str) -> tuple[str, UserRecord] | None: ...
    def record_auth(self, action: str, login: str | None, data: dict[str, str]) -> None: ...
    def find_identity(self, issuer: str, subject: str) -> str | None: ...
    def link_identity(self, issuer: str, subject: str, user_id: int) -> None: ...
    def replace_global_grants(self, user_id: int, roles: list[Role]) -> None: ...


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"the password is {len(password)} characters long; use at least {MIN_PASSWORD}",
            field="password",
        )
    return _hasher.hash(password)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccessService:
    """User and token management with permission checks."""

    def __init__(self, repo: AccessRepository) -> None:
        self.repo = repo

    def add_user(
        self,
        by: Principal,
        login: str,
        role: str,
        use_case: str | None = None,
        password: str | None = None,
    ) -> UserRecord:
        by.require(Action.USER_MANAGE)
        if not LOGIN_PATTERN.match(login):
            raise ValidationError(
                f"login {login!r} is not valid: use letters, digits and . _ @ - (at most 200)",
                field="login",
            )
        grant = Grant(self._role(role), use_case)
        if self.repo.get_user(login) is not None:
            raise Conflict(f"user {login!r} exists already", fix="use 'paceline user grant' to add a role")
        user = self.repo.add_user(login, hash_password(password) if password else None)
        self.repo.add_grant(user.id, grant)
        return self._require_user(login)

    def grant(self, by: Principal, login: str, role: str, use_case: str | None = None) -> UserRecord:
        by.require(Action.USER_MANAGE)
        user = self._require_user(login)
        self.repo.add_grant(user.id, Grant(self._role(role), use_case))
        return self._require_user(login)

    def list_users(self, by: Principal) -> list[UserRecord]:
        by.require(Action.USER_READ)
        return self.repo.list_users()

    def create_token(self, by: Principal, login: str, name: str = "default") -> str:
        """A new API token for *login*, returned once; only its hash is stored."""
        if by.login != login or by.kind != "user":
            by.require(Action.TOKEN_CREATE_ANY)
        else:
            by.require(Action.TOKEN_CREATE_OWN)
        user = self._require_user(login)
        prefix = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        self.repo.add_token(user.id, name, prefix, _token_digest(token))
        return token

    def login(self, login: str, password: str) -> Principal:
        """The principal for a correct login and password, else :class:`AuthenticationError`."""
        principal, _reason = self._check_password(login, password)
        if principal is None:
            raise AuthenticationError("wrong login or password")
        return principal

    def try_login(self, login: str, password: str, src_ip: str | None = None) -> Principal | None:
        """Like :meth:`login`, but audited (success or failure, never the password) and
        returning ``None`` on failure, so the failure's audit entry is committed."""
        principal, reason = self._check_password(login, password)
        self.audit_auth("auth.login", login, "password", reason, src_ip)
        return principal

    def audit_auth(
        self, action: str, login: str | None, method: str, failure: str | None, src_ip: str | None
    ) -> None:
        """Record an authentication event: login, logout or token use; *failure* is a reason code."""
        data = {"method": method, "outcome": "failure" if failure else "success"}
        if login:
            data["login"] = login[:200]
        if failure:
            data["reason_code"] = failure
        if src_ip:
            data["src_ip"] = src_ip
        self.repo.record_auth(action, login, data)

    def sso_login(
        self, issuer: str, subject: str, login: str, roles: Sequence[str], src_ip: str | None = None
    ) -> tuple[Principal | None, str | None]:
        """Sign in an OpenID Connect identity: create or update its user, audited either way.

        The identity is matched on (issuer, subject); a first login creates the user
        (no password) unless a user of that name exists already. Program-wide roles
        follow the provider's claims on every login; use-case grants made here stay.
        Returns the principal, or ``None`` and a reason code.
        """
        linked = self.repo.find_identity(issuer, subject)
        user = self.repo.get_user(linked) if linked else None
        reason = self._sso_refusal(linked, user, login, roles)
        if reason is None and user is None:
            user = self.repo.add_user(login, None)
            self.repo.link_identity(issuer, subject, user.id)
        if reason is not None or user is None:
            self.audit_auth("auth.login", linked or login, "oidc", reason, src_ip)
            return None, reason
        self.repo.replace_global_grants(user.id, [parse_role(r) for r in roles])
        self.audit_auth("auth.login", user.login, "oidc", None, src_ip)
        fresh = self._require_user(user.login)
        return Principal(fresh.login, fresh.grants), None

    def _sso_refusal(
        self, linked: str | None, user: UserRecord | None, login: str, roles: Sequence[str]
    ) -> str | None:
        if linked is not None and user is not None and not user.active:
            return "ACCOUNT_DISABLED"
        if linked is None and not LOGIN_PATTERN.match(login):
            return "BAD_LOGIN_CLAIM"
        if linked is None and self.repo.get_user(login) is not None:
            return "LOGIN_TAKEN"
        if not roles:
            return "NO_ROLE"
        return None

    def _check_password(self, login: str, password: str) -> tuple[Principal | None, str | None]:
        user = self.repo.get_user(login)
        if user is None or not user.active or not user.password_hash:
            _hasher.hash("timing-equaliser")
            if user is None:
                return None, "USER_DOES_NOT_EXIST"
            return None, "ACCOUNT_DISABLED" if not user.active else "NO_PASSWORD"
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None, "INVALID_CREDENTIALS"
        return Principal(user.login, user.grants), None

    def authenticate_token(self, token: str) -> Principal:
        """The principal behind a bearer token, else :class:`AuthenticationError`."""
        principal, _reason = self.check_token(token)
        if principal is None:
            raise AuthenticationError("invalid API token", fix="create one with 'paceline token create'")
        return principal

    def check_token(self, token: str) -> tuple[Principal | None, str | None]:
        """The principal behind *token*, or ``None`` and a reason code (for the audit log)."""
        parts = token.split("_")
        if not token.startswith(TOKEN_PREFIX) or len(parts) < 3:
            return None, "MALFORMED_TOKEN"
        found = self.repo.find_token(parts[1])
        if found is None:
            return None, "UNKNOWN_TOKEN"
        digest, user = found
        if not hmac.compare_digest(digest, _token_digest(token)):
            return None, "INVALID_CREDENTIALS"
        if not user.active:
            return None, "ACCOUNT_DISABLED"
        return Principal(user.login, user.grants, kind="user"), None

    def principal(self, login: str) -> Principal:
        """The principal of an active user (a session of a deactivated user stops working)."""
        user = self._require_user(login)
        if not user.active:
            raise AuthenticationError(f"user {login!r} is deactivated")
        return Principal(user.login, user.grants)

    def _require_user(self, login: str) -> UserRecord:
        user = self.repo.get_user(login)
        if user is None:
            raise NotFound(f"no user {login!r}", fix="create it with 'paceline user add'")
        return user

    @staticmethod
    def _role(value: str) -> Role:
        try:
            return parse_role(value)
        except ValueError as exc:
            raise ValidationError(str(exc), field="role") from None


def certification_problem(
    grants: Iterable[Grant], use_case: str, completions: Iterable[date], today: date, valid_days: int
) -> str | None:
    """Why a reviewer may not work on a sensitive use case's review queue, or None when they may.

    Certification gates access: an explicit grant for that use case whose role decides reviews
    (a program-wide grant is not enough), and a training completion (passed, where assessed)
    within the last *valid_days* days.
    """
    explicit = any(g.use_case == use_case and Action.REVIEW_DECIDE in ROLE_ACTIONS[g.role] for g in grants)
    if not explicit:
        return f"{use_case} handles health or biometric data: its review queue needs a grant for {use_case}"
    oldest = today - timedelta(days=valid_days)
    if not any(oldest <= day <= today for day in completions):
        return f"{use_case} needs a training completion within the last {valid_days} days"
    return None


def require_certified(
    login: str,
    grants: Iterable[Grant],
    use_case: str,
    completions: Iterable[date],
    today: date,
    valid_days: int,
) -> None:
    """Raise :class:`PermissionDenied` with the reason and the fix unless *login* is certified."""
    problem = certification_problem(grants, use_case, completions, today, valid_days)
    if problem is not None:
        raise PermissionDenied(
            f"{login} may not decide reviews of {use_case}: {problem}",
            action=Action.REVIEW_DECIDE.value,
            fix=f"ask an admin for 'paceline user grant {login} reviewer --use-case {use_case}' "
            "and record a current training completion",
        )
