"""SQLAlchemy implementation of :class:`paceline.services.access.AccessRepository`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from paceline.domain.roles import Grant, Role
from paceline.services.access import UserRecord
from paceline.storage.audit import record_event, set_actor
from paceline.storage.models import ApiToken, RoleGrant, User
from paceline.storage.oidc_repo import OidcIdentityRow


def _record(user: User) -> UserRecord:
    grants = tuple(Grant(Role(g.role), g.use_case) for g in user.grants)
    return UserRecord(user.id, user.login, user.password_hash, user.active, grants)


class SqlAccessRepository:
    """Repository over one open session; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _user(self, login: str) -> User | None:
        return self.session.scalars(select(User).where(User.login == login)).first()

    def get_user(self, login: str) -> UserRecord | None:
        user = self._user(login)
        return None if user is None else _record(user)

    def add_user(self, login: str, password_hash: str | None) -> UserRecord:
        user = User(login=login, password_hash=password_hash, active=True, created_at=datetime.now(UTC))
        self.session.add(user)
        self.session.flush()
        return _record(user)

    def add_grant(self, user_id: int, grant: Grant) -> bool:
        exists = self.session.scalars(
            select(RoleGrant).where(
                RoleGrant.user_id == user_id,
                RoleGrant.role == grant.role.value,
                RoleGrant.use_case.is_(None)
                if grant.use_case is None
                else RoleGrant.use_case == grant.use_case,
            )
        ).first()
        if exists is not None:
            return False
        user = self.session.get(User, user_id)
        assert user is not None
        user.grants.append(
            RoleGrant(role=grant.role.value, use_case=grant.use_case, created_at=datetime.now(UTC))
        )
        self.session.flush()
        return True

    def list_users(self) -> list[UserRecord]:
        return [_record(u) for u in self.session.scalars(select(User).order_by(User.login))]

    def add_token(self, user_id: int, name: str, prefix: str, token_hash: str) -> None:
        self.session.add(
            ApiToken(
                user_id=user_id, name=name, prefix=prefix, token_hash=token_hash, created_at=datetime.now(UTC)
            )
        )
        self.session.flush()

    def find_token(self, prefix: str) -> tuple[str, UserRecord] | None:
        row = self.session.scalars(
            select(ApiToken).where(ApiToken.prefix == prefix, ApiToken.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        user = self.session.get(User, row.user_id)
        return None if user is None else (row.token_hash, _record(user))

    def record_auth(self, action: str, login: str | None, data: dict[str, str]) -> None:
        """An authentication event in the audit chain (committed with this session)."""
        set_actor(self.session, f"user:{login}" if login else "anonymous")
        record_event(self.session, action, "authentication", login, dict(data))

    def find_identity(self, issuer: str, subject: str) -> str | None:
        """The login linked to an OpenID Connect identity, if any."""
        row = self.session.get(OidcIdentityRow, (issuer, subject))
        user = None if row is None else self.session.get(User, row.user_id)
        return None if user is None else user.login

    def link_identity(self, issuer: str, subject: str, user_id: int) -> None:
        self.session.add(
            OidcIdentityRow(issuer=issuer, subject=subject, user_id=user_id, created_at=datetime.now(UTC))
        )
        self.session.flush()

    def replace_global_grants(self, user_id: int, roles: list[Role]) -> None:
        """Make the user's program-wide roles exactly *roles* (scoped grants stay)."""
        user = self.session.get(User, user_id)
        assert user is not None
        wanted = {r.value for r in roles}
        for grant in list(user.grants):
            if grant.use_case is None and grant.role not in wanted:
                user.grants.remove(grant)
        held = {g.role for g in user.grants if g.use_case is None}
        for role in sorted(wanted - held):
            user.grants.append(RoleGrant(role=role, use_case=None, created_at=datetime.now(UTC)))
        self.session.flush()
