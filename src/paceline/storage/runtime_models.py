"""Tables of the human-in-the-loop runtime: the database row is the workflow.

``cases`` holds each case's state, a version for optimistic concurrency and a lease;
``step_runs`` is the journal (a step whose row succeeded never runs again; its output is
replayed); ``review_tasks`` is the human wait as a stored state with a due time and a
lease; ``outbox`` holds downstream actions with their idempotency keys and retries.
Case and review rows are audited; the journal and the outbox are operational detail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base


class CaseRow(Base, Audited):
    __tablename__ = "cases"
    __audit_ignore__ = (
        "lease_owner",
        "lease_expires_at",
        "next_run_at",
        "attempts",
        "version",
        "updated_at",
        "step",
    )
    __table_args__ = (
        UniqueConstraint("workflow", "external_id", name="uq_case_external"),
        Index("ix_cases_runnable", "status", "next_run_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(80))
    workflow_version: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    step: Mapped[str] = mapped_column(String(20))  # the next step to run
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    variant: Mapped[str] = mapped_column(String(80))  # the model variant, sticky for the case
    version: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StepRunRow(Base):
    __tablename__ = "step_runs"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_step_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    step: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    output: Mapped[dict[str, object]] = mapped_column(JSON)
    worker: Mapped[str] = mapped_column(String(80))
    duration_ms: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewTaskRow(Base, Audited):
    __tablename__ = "review_tasks"
    __audit_ignore__ = ("lease_expires_at",)
    __table_args__ = (Index("ix_review_open", "status", "queue", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    workflow: Mapped[str] = mapped_column(String(80))
    queue: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))  # review | qa
    status: Mapped[str] = mapped_column(String(20))  # open | claimed | done
    shown: Mapped[dict[str, object]] = mapped_column(JSON)  # what the reviewer was shown
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    escalated: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    comment: Mapped[str] = mapped_column(Text)
    output: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    patch: Mapped[list[dict[str, object]] | None] = mapped_column(JSON, nullable=True)
    time_spent_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    feedback: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    workflow: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | recorded | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EventOutboxRow(Base):
    """A canonical event the runtime produced (task, usage, prediction, label), waiting for export
    to the warehouse, so KPIs, pilots and monitoring see runtime work like imported work."""

    __tablename__ = "event_outbox"
    __table_args__ = (Index("ix_event_outbox_pending", "exported_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40))
    row: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
