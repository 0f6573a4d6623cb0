"""Which OpenID Connect identity (issuer, subject) is which Paceline user.

A single sign-on login is matched on the provider's stable subject, never on the
name it sends, so nobody takes over a local account by choosing its name at the
provider. The link is made when the user first signs in (docs/sso.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base


class OidcIdentityRow(Base, Audited):
    __tablename__ = "oidc_identities"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
