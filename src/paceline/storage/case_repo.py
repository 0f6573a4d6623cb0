"""SQL of the runtime: claiming cases and review items with leases, the journal and the outboxes.

Claims select candidates and take a lease in one transaction: on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on or take the same row; on
SQLite the write transaction itself (``BEGIN IMMEDIATE``) makes the claim exclusive.
Every case update checks the version it read and the lease it holds, so a worker that
lost its lease (it stalled past the expiry and another took over) cannot overwrite.

The worker's hot path (claims, journal rows, outbox rows, events, marking actions sent) uses
SQLAlchemy Core statements on the tables, several rows per statement, rather than ORM units
of work: these rows are not audited, and the case updates log their status changes themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Table, Update, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paceline.storage.audit import record_event
from paceline.storage.runtime_models import CaseRow, EventOutboxRow, OutboxRow, ReviewTaskRow, StepRunRow


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for UTC columns: make them comparable and printable."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else aware(value).isoformat()


def _audited(value: Any) -> Any:
    """A column value as the audit log records it (times as ISO 8601)."""
    return value.isoformat() if isinstance(value, datetime) else value


def audit_transition(session: Session, case_id: str, values: dict[str, Any]) -> None:
    """One audit entry per case status change (running, awaiting_review, completed, failed)."""
    data: dict[str, Any] = {k: {"new": values[k]} for k in ("status", "step", "error") if k in values}
    record_event(session, "update", "cases", case_id, data)


def _locking(session: Session, stmt: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


CASES = cast(Table, CaseRow.__table__)
STEP_RUNS = cast(Table, StepRunRow.__table__)
OUTBOX = cast(Table, OutboxRow.__table__)
EVENTS = cast(Table, EventOutboxRow.__table__)
MARKED = ("status", "attempts", "sent_at", "last_error", "next_attempt_at")  # what marking an action sets


@functools.cache
def _advance_statement(columns: tuple[str, ...]) -> Update:
    """``UPDATE cases SET version = :expected + 1, updated_at = :now, <column> = :new_<column> ...
    WHERE id = :case_id AND version = :expected AND lease_owner = :worker``, built once per set
    of columns (a worker's updates use a handful), so no statement is rebuilt per step."""
    c = CASES.c
    expected = bindparam("expected", type_=Integer)
    return (
        update(CASES)
        .where(c.id == bindparam("case_id"), c.version == expected, c.lease_owner == bindparam("worker"))
        .values(
            version=expected + 1,
            updated_at=bindparam("now", type_=c.updated_at.type),
            **{name: bindparam(f"new_{name}", type_=c[name].type) for name in columns},
        )
    )


@functools.cache
def _mark_statement() -> Update:
    """``UPDATE outbox SET <MARKED> = :new_<column> ..., lease_expires_at = NULL
    WHERE id = :action_id AND lease_expires_at = :token``: one action's outcome, if its lease holds."""
    c = OUTBOX.c
    return (
        update(OUTBOX)
        .where(and_(c.id == bindparam("action_id"), c.lease_expires_at == bindparam("token")))
        .values(
            lease_expires_at=None, **{name: bindparam(f"new_{name}", type_=c[name].type) for name in MARKED}
        )
    )


def case_doc(row: CaseRow | Row[Any]) -> dict[str, Any]:
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

    def external_ids(self, workflow: str, external_ids: Sequence[str]) -> list[tuple[str, str]]:
        """``(external id, case id)`` of the cases of *workflow* among *external_ids*."""
        if not external_ids:
            return []
        c = CASES.c
        stmt = select(c.external_id, c.id).where(
            c.workflow == workflow, c.external_id.in_(list(external_ids))
        )
        return [(e, i) for e, i in self.session.execute(stmt)]

    def add_cases(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert new cases (the columns of ``cases``) in one statement, each with its audit entry
        (a Core insert bypasses the row listener, so the entry is recorded here, with every column
        as the listener records a created row). A duplicate external id raises IntegrityError."""
        if not rows:
            return
        full = [{col.name: row.get(col.name) for col in CASES.columns} for row in rows]
        self.session.execute(insert(CASES), full)
        for row in full:
            record_event(self.session, "create", "cases", row["id"], {k: _audited(v) for k, v in row.items()})

    def get(self, case_id: str) -> CaseRow | None:
        return self.session.get(CaseRow, case_id)

    def list_cases(self, workflow: str | None, status: str | None, limit: int) -> list[CaseRow]:
        stmt = select(CaseRow).order_by(CaseRow.created_at.desc()).limit(limit)
        if workflow:
            stmt = stmt.where(CaseRow.workflow == workflow)
        if status:
            stmt = stmt.where(CaseRow.status == status)
        return list(self.session.scalars(stmt))

    def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[dict[str, Any]]:
        """Take a lease on up to *limit* runnable cases (running, due, and not leased by a live
        worker): their documents as claimed, with this claim counted in ``attempts``."""
        c = CASES.c
        stmt = (
            select(CASES)
            .where(
                c.status == "running",
                c.next_run_at <= now,
                or_(c.lease_expires_at.is_(None), c.lease_expires_at < now),
            )
            .order_by(c.next_run_at)
            .limit(limit)
        )
        rows = self.session.execute(_locking(self.session, stmt)).all()
        if not rows:
            return []
        until = now + lease
        self.session.execute(
            update(CASES)
            .where(c.id.in_([r.id for r in rows]))
            .values(lease_owner=worker, lease_expires_at=until, attempts=c.attempts + 1)
        )
        return [case_doc(r) | {"attempts": r.attempts + 1} for r in rows]

    def advance(self, case_id: str, worker: str, expected_version: int, now: datetime, **values: Any) -> bool:
        """Update the case if this worker still holds it at *expected_version* (optimistic check)."""
        params = {f"new_{k}": v for k, v in values.items()}
        params |= {"case_id": case_id, "expected": expected_version, "worker": worker, "now": now}
        result = self.session.execute(_advance_statement(tuple(sorted(values))), params)
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

    def journals(self, case_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """The journaled outputs of several cases at once: ``{case_id: {step: output}}``."""
        out: dict[str, dict[str, dict[str, Any]]] = {i: {} for i in case_ids}
        if case_ids:
            c = STEP_RUNS.c
            stmt = select(c.case_id, c.step, c.output).where(c.case_id.in_(list(case_ids))).order_by(c.id)
            for case_id, step, output in self.session.execute(stmt):
                out[case_id][step] = dict(output)
        return out

    def has_step(self, key: str) -> bool:
        return (
            self.session.scalars(select(StepRunRow.id).where(StepRunRow.idempotency_key == key)).first()
            is not None
        )

    def add_steps(self, rows: Sequence[dict[str, Any]]) -> None:
        """Journal rows (the columns of ``step_runs``) in one statement; the idempotency key's
        unique constraint refuses a step journaled twice."""
        if rows:
            self.session.execute(insert(STEP_RUNS), list(rows))

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
    def add_actions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Outbox rows (the columns of ``outbox``) in one statement."""
        if rows:
            self.session.execute(insert(OUTBOX), list(rows))

    def actions_of(self, case_id: str) -> list[OutboxRow]:
        return list(
            self.session.scalars(select(OutboxRow).where(OutboxRow.case_id == case_id).order_by(OutboxRow.id))
        )

    def claim_actions(self, now: datetime, lease: timedelta, limit: int) -> list[dict[str, Any]]:
        """Lease up to *limit* due actions. The lease's expiry is the claim's token: each action
        comes back with it as ``token``, and :meth:`mark_actions` only touches a row that still
        carries it (no other dispatcher took the action over after the lease ran out)."""
        c = OUTBOX.c
        stmt = (
            select(c.id, c.case_id, c.target, c.payload, c.idempotency_key, c.attempts, c.next_attempt_at)
            .where(
                c.status == "pending",
                c.next_attempt_at <= now,
                or_(c.lease_expires_at.is_(None), c.lease_expires_at < now),
            )
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
        )
        rows = self.session.execute(_locking(self.session, stmt)).all()
        if not rows:
            return []
        until = now + lease
        self.session.execute(
            update(OUTBOX).where(c.id.in_([r.id for r in rows])).values(lease_expires_at=until)
        )
        return [r._asdict() | {"token": until} for r in rows]

    def mark_actions(self, marks: Sequence[dict[str, Any]]) -> None:
        """Record the outcome of sent actions in one statement. Each mark names the action
        (``id``), the lease it was claimed with (``token``) and the new ``status``, ``attempts``,
        ``sent_at``, ``last_error`` and ``next_attempt_at``; an action whose lease another
        dispatcher took over meanwhile is left to that dispatcher."""
        if not marks:
            return
        self.session.execute(
            _mark_statement(),
            [
                {
                    "action_id": m["id"],
                    "token": m["token"],
                    **{f"new_{k}": m[k] for k in MARKED},
                }
                for m in marks
            ],
        )

    def add_events(self, events: Sequence[tuple[str, dict[str, Any]]], now: datetime) -> None:
        """Canonical events (``(table, row)``) into the event outbox, in one statement."""
        if events:
            self.session.execute(
                insert(EVENTS), [{"table_name": t, "row": r, "created_at": now} for t, r in events]
            )

    def pending_events(self, limit: int) -> list[EventOutboxRow]:
        stmt = select(EventOutboxRow).where(EventOutboxRow.exported_at.is_(None)).order_by(EventOutboxRow.id)
        return list(self.session.scalars(stmt.limit(limit)))
