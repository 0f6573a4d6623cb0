"""Tables of the feature flags: the definitions (audited) and each case's sticky assignment.

``flags`` holds one row per flag (``release.<workflow>``, ``kill.<workflow>``), with a
version bumped on every change and the reason given for it; as an :class:`Audited` model
every change, by a person or by the guardrail monitor, is in the audit log with its old and
new values. ``flag_assignments`` records, once per case, the release variant it got and the
OpenTelemetry ``feature_flag.*`` attributes of that evaluation: the case row holds the
variant, this row says why (split, targeting, default) and under which flag version.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base


class FlagRow(Base, Audited):
    __tablename__ = "flags"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # release | kill
    state: Mapped[str] = mapped_column(String(20))  # enabled | disabled
    variants: Mapped[list[str]] = mapped_column(JSON)
    default_variant: Mapped[str] = mapped_column(String(80))
    canary_variant: Mapped[str | None] = mapped_column(String(80), nullable=True)
    canary_percent: Mapped[float] = mapped_column(Float)
    canary_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    targeting: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    guardrails: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)  # why the last change was made
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FlagAssignmentRow(Base):
    __tablename__ = "flag_assignments"
    __table_args__ = (UniqueConstraint("flag_key", "targeting_key", name="uq_flag_assignment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_key: Mapped[str] = mapped_column(String(120))
    targeting_key: Mapped[str] = mapped_column(String(200))
    variant: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(20))
    flag_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attributes: Mapped[dict[str, object]] = mapped_column(JSON)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
