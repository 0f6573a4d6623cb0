"""SQL of the runtime: claiming cases and review items with leases, the journal and the outboxes.

Claims select candidates and take a lease in one transaction: on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on or take the same row; on
SQLite the write transaction itself (``BEGIN IMMEDIATE``) makes the claim exclusive.
Every case update checks the version it read and the lease it holds, so a worker that
lost its lease (it stalled past the expiry and another took over) cannot overwrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paceline.storage.audit import record_event
from paceline.storage.runtime_models import CaseRow, EventOutboxRow, OutboxRow, ReviewTaskRow, StepRunRow


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for UTC columns: make them comparable and printable."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else aware(value).isoformat()


def audit_transition(session: Session, case_id: str, values: dict[str, Any]) -> None:
    """One audit entry per case status change (running, awaiting_review, completed, failed)."""
    data: dict[str, Any] = {k: {"new": values[k]} for k in ("status", "step", "error") if k in values}
    record_event(session, "update", "cases", case_id, data)


def _locking(session: Session, stmt: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def case_doc(row: CaseRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "workflow": row.workflow,
        "workflow_version": row.workflow_version,
        "external_id": row.external_id,
        "status": row.status,
        "step": row.step,
        "payload": row.payload,
        "variant": row.variant,
        "version": row.version,
        "attempts": row.attempts,
        "error": row.error,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "completed_at": iso(row.completed_at),
    }


class CaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- cases ---------------------------------------------------------------------
    def find_external(self, workflow: str, external_id: str) -> CaseRow | None:
        stmt = select(CaseRow).where(CaseRow.workflow == workflow, CaseRow.external_id == external_id)
        return self.session.scalars(stmt).first()

    def add_case(self, row: CaseRow) -> CaseRow:
        """Insert *row*, or return the case a concurrent trigger with the same external id inserted
        first (on PostgreSQL both can pass the lookup; the unique constraint decides)."""
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            found = self.find_external(row.workflow, row.external_id)
            if found is None:
                raise
            return found
        return row

    def get(self, case_id: str) -> CaseRow | None:
        return self.session.get(CaseRow, case_id)

    def list_cases(self, workflow: str | None, status: str | None, limit: int) -> list[CaseRow]:
        stmt = select(CaseRow).order_by(CaseRow.created_at.desc()).limit(limit)
        if workflow:
            stmt = stmt.where(CaseRow.workflow == workflow)
        if status:
            stmt = stmt.where(CaseRow.status == status)
        return list(self.session.scalars(stmt))

    def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[CaseRow]:
        """Take a lease on up to *limit* runnable cases: running, due, and not leased by a live worker."""
        stmt = (
            select(CaseRow)
            .where(
                CaseRow.status == "running",
                CaseRow.next_run_at <= now,
                or_(CaseRow.lease_expires_at.is_(None), CaseRow.lease_expires_at < now),
            )
            .order_by(CaseRow.next_run_at)
            .limit(limit)
        )
        rows = list(self.session.scalars(_locking(self.session, stmt)))
        for row in rows:
            row.lease_owner, row.lease_expires_at = worker, now + lease
            row.attempts += 1
        self.session.flush()
        return rows

    def advance(self, case_id: str, worker: str, expected_version: int, now: datetime, **values: Any) -> bool:
        """Update the case if this worker still holds it at *expected_version* (optimistic check)."""
        stmt = (
            update(CaseRow)
            .where(CaseRow.id == case_id, CaseRow.version == expected_version, CaseRow.lease_owner == worker)
            .values(version=expected_version + 1, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        result = self.session.execute(stmt)
        if getattr(result, "rowcount", 0) != 1:
            return False
        if "status" in values:  # a bulk UPDATE bypasses the row listener: log the transition itself
            audit_transition(self.session, case_id, values)
        row = self.session.identity_map.get(Session.identity_key(CaseRow, case_id))
        if row is not None:  # loaded earlier in this session: reload it on next access (no extra reads)
            self.session.expire(row)
        return True

    # --- journal ---------------------------------------------------------------------
    def journal(self, case_id: str) -> dict[str, StepRunRow]:
        stmt = select(StepRunRow).where(StepRunRow.case_id == case_id).order_by(StepRunRow.id)
        return {r.step: r for r in self.session.scalars(stmt)}

    def has_step(self, key: str) -> bool:
        return (
            self.session.scalars(select(StepRunRow.id).where(StepRunRow.idempotency_key == key)).first()
            is not None
        )

    def add_step(self, row: StepRunRow) -> None:
        self.session.add(row)

    # --- reviews ---------------------------------------------------------------------
    def add_review(self, row: ReviewTaskRow) -> None:
        self.session.add(row)

    def review(self, review_id: int, lock: bool = False) -> ReviewTaskRow | None:
        """The item; with *lock*, row-locked on PostgreSQL so concurrent decisions on it queue up."""
        return self.session.get(ReviewTaskRow, review_id, with_for_update=lock or None)

    def reviews(self, status: str | None, queue: str | None, limit: int) -> list[ReviewTaskRow]:
        stmt = select(ReviewTaskRow).order_by(ReviewTaskRow.due_at, ReviewTaskRow.id).limit(limit)
        if status:
            stmt = stmt.where(ReviewTaskRow.status == status)
        if queue:
            stmt = stmt.where(ReviewTaskRow.queue == queue)
        return list(self.session.scalars(stmt))

    def reviews_of(self, case_id: str) -> list[ReviewTaskRow]:
        stmt = select(ReviewTaskRow).where(ReviewTaskRow.case_id == case_id).order_by(ReviewTaskRow.id)
        return list(self.session.scalars(stmt))

    def claim_review(
        self, queues: Sequence[str], who: str, now: datetime, lease: timedelta
    ) -> ReviewTaskRow | None:
        """The next open item (or one whose reviewer's lease expired) in *queues*, leased to *who*."""
        stmt = (
            select(ReviewTaskRow)
            .where(
                ReviewTaskRow.queue.in_(list(queues)),
                or_(
                    ReviewTaskRow.status == "open",
                    (ReviewTaskRow.status == "claimed") & (ReviewTaskRow.lease_expires_at < now),
                ),
            )
            .order_by(ReviewTaskRow.due_at, ReviewTaskRow.id)
            .limit(1)
        )
        row = self.session.scalars(_locking(self.session, stmt)).first()
        if row is not None:
            row.status, row.assignee, row.lease_expires_at = "claimed", who, now + lease
            self.session.flush()
        return row

    def release_expired_reviews(self, now: datetime) -> int:
        """Claimed items whose lease ran out go back to the queue."""
        stmt = (
            update(ReviewTaskRow)
            .where(ReviewTaskRow.status == "claimed", ReviewTaskRow.lease_expires_at < now)
            .values(status="open", assignee=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(self.session.execute(stmt), "rowcount", 0) or 0)

    def overdue_reviews(self, now: datetime) -> list[ReviewTaskRow]:
        stmt = select(ReviewTaskRow).where(
            ReviewTaskRow.status.in_(["open", "claimed"]),
            ReviewTaskRow.due_at < now,
            ReviewTaskRow.escalated == 0,
        )
        return list(self.session.scalars(stmt))

    # --- outboxes --------------------------------------------------------------------
    def add_action(self, row: OutboxRow) -> None:
        self.session.add(row)

    def actions_of(self, case_id: str) -> list[OutboxRow]:
        return list(
            self.session.scalars(select(OutboxRow).where(OutboxRow.case_id == case_id).order_by(OutboxRow.id))
        )

    def claim_actions(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxRow]:
        stmt = (
            select(OutboxRow)
            .where(
                OutboxRow.status == "pending",
                OutboxRow.next_attempt_at <= now,
                or_(OutboxRow.lease_expires_at.is_(None), OutboxRow.lease_expires_at < now),
            )
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
        )
        rows = list(self.session.scalars(_locking(self.session, stmt)))
        for row in rows:
            row.lease_expires_at = now + lease
        self.session.flush()
        return rows

    def add_event(self, table: str, row: dict[str, Any], now: datetime) -> None:
        self.session.add(EventOutboxRow(table_name=table, row=row, created_at=now))

    def pending_events(self, limit: int) -> list[EventOutboxRow]:
        stmt = select(EventOutboxRow).where(EventOutboxRow.exported_at.is_(None)).order_by(EventOutboxRow.id)
        return list(self.session.scalars(stmt.limit(limit)))
