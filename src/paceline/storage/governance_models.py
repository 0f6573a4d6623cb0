"""Tables of governance: adopted frameworks and their controls, uploaded evidence documents,
audit findings, management reviews, retention policies with the record of each deletion run,
and issued worker notices. Every table is audited.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base

UC = 80
REF = 140  # framework/control id


class FrameworkRow(Base, Audited):
    __tablename__ = "gov_frameworks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    notice: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(20))  # builtin | import
    digest: Mapped[str] = mapped_column(String(64))
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ControlRow(Base, Audited):
    __tablename__ = "gov_controls"
    __table_args__ = (UniqueConstraint("framework", "control_id", name="uq_gov_control"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework: Mapped[str] = mapped_column(String(60), index=True)
    control_id: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer)
    doc: Mapped[dict[str, object]] = mapped_column(JSON)  # the control in the import format


class EvidenceDocumentRow(Base, Audited):
    """An uploaded document: the file lives in the workspace under its SHA-256."""

    __tablename__ = "gov_evidence_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str | None] = mapped_column(String(UC), index=True, nullable=True)
    control: Mapped[str | None] = mapped_column(String(REF), index=True, nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(200))
    dated: Mapped[date] = mapped_column(Date)
    expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FindingRow(Base, Audited):
    __tablename__ = "gov_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str | None] = mapped_column(String(UC), index=True, nullable=True)
    control: Mapped[str | None] = mapped_column(String(REF), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(200))
    raised_on: Mapped[date] = mapped_column(Date)
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    actions: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    raised_by: Mapped[str] = mapped_column(String(200))


class ManagementReviewRow(Base, Audited):
    __tablename__ = "gov_management_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    held_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    attendees: Mapped[list[str]] = mapped_column(JSON)
    decisions: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    recorded_by: Mapped[str] = mapped_column(String(200))


class RetentionPolicyRow(Base, Audited):
    __tablename__ = "gov_retention_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(60), unique=True)
    days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RetentionRunRow(Base, Audited):
    """What one deletion job deleted, from which table, older than which cutoff, and when."""

    __tablename__ = "gov_retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(60), index=True)
    cutoff: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted: Mapped[int] = mapped_column(Integer)
    dry_run: Mapped[int] = mapped_column(Integer)
    ran_by: Mapped[str] = mapped_column(String(200))
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NoticeRow(Base, Audited):
    """A worker-information notice issued for a use case (the text's hash, who, when)."""

    __tablename__ = "gov_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # worker | data-protection
    sha256: Mapped[str] = mapped_column(String(64))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(Date)
