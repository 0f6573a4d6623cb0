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
from dataclasses import dataclass, field
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paceline.domain.roles import Action, Grant, Role, allowed, parse_role
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
        user = self.repo.get_user(login)
        failure = AuthenticationError("wrong login or password")
        if user is None or not user.active or not user.password_hash:
            _hasher.hash("timing-equaliser")
            raise failure
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            raise failure from None
        return Principal(user.login, user.grants)

    def authenticate_token(self, token: str) -> Principal:
        """The principal behind a bearer token, else :class:`AuthenticationError`."""
        failure = AuthenticationError("invalid API token", fix="create one with 'paceline token create'")
        parts = token.split("_")
        if not token.startswith(TOKEN_PREFIX) or len(parts) < 3:
            raise failure
        found = self.repo.find_token(parts[1])
        if found is None:
            raise failure
        digest, user = found
        if not hmac.compare_digest(digest, _token_digest(token)) or not user.active:
            raise failure
        return Principal(user.login, user.grants, kind="user")

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
