"""Bounded reads of the operational store that front ends show (ingest runs, audit entries)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from paceline.storage.models import AuditEntry, IngestRun


def ping(session: Session) -> None:
    """Raise unless the store answers a trivial query."""
    session.execute(text("SELECT 1")).scalar_one()


def recent_ingests(session: Session, limit: int) -> list[dict[str, Any]]:
    """The *limit* latest ingest runs, newest first."""
    stmt = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
    return [
        {
            "id": r.id, "table": r.table_name, "files": list(r.files), "rows_read": r.rows_read,
            "loaded": r.loaded, "duplicates": r.duplicates, "quarantined": r.quarantined,
            "quarantine_file": r.quarantine_file, "reasons": dict(r.reasons), "created_at": r.created_at,
        }
        for r in session.scalars(stmt)
    ]


def audit_entries(session: Session, *, after: int | None, limit: int) -> list[dict[str, Any]]:
    """Entries with ``seq > after`` in chain order, or (``after=None``) the newest first."""
    stmt = select(AuditEntry)
    if after is None:
        stmt = stmt.order_by(AuditEntry.seq.desc())
    else:
        stmt = stmt.where(AuditEntry.seq > after).order_by(AuditEntry.seq)
    return [
        {
            "seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action, "entity": r.entity,
            "entity_id": r.entity_id, "data": dict(r.data), "prev_hash": r.prev_hash, "hash": r.hash,
        }
        for r in session.scalars(stmt.limit(limit))
    ]
