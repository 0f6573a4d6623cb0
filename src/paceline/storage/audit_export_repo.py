"""Storage of the SIEM exports: the cursor table and the reads the exporter needs.

The cursor rows are deliberately not :class:`Audited`: moving a cursor after each
batch would add an entry for every batch sent, which the export would then have to
send, without end. Each run is recorded instead as one ``audit.export`` event once
it has finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from paceline.domain.audit_chain import GENESIS_HASH
from paceline.domain.audit_formats import AuditRecord
from paceline.domain.checkpoints import Checkpoint
from paceline.services.audit_export import ExportCursor, ExportReport
from paceline.storage.audit import record_event
from paceline.storage.db import Store
from paceline.storage.models import AuditEntry, Base


class AuditExportCursorRow(Base):
    __tablename__ = "audit_export_cursors"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    target: Mapped[str] = mapped_column(String(1000))
    format: Mapped[str] = mapped_column(String(20))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    file_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _cursor(row: AuditExportCursorRow) -> ExportCursor:
    return ExportCursor(row.name, row.target, row.format, int(row.last_seq), int(row.file_offset))


def to_record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        row.seq, row.at, row.actor, row.action, row.entity, row.entity_id, dict(row.data), row.hash
    )


class SqlAuditExportStore:
    """:class:`paceline.services.audit_export.AuditExportStore` on the operational store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def entries_after(self, seq: int, limit: int) -> list[AuditRecord]:
        with self.store.read() as session:
            stmt = select(AuditEntry).where(AuditEntry.seq > seq).order_by(AuditEntry.seq).limit(limit)
            return [to_record(row) for row in session.scalars(stmt)]

    def load_cursor(self, name: str) -> ExportCursor | None:
        with self.store.read() as session:
            row = session.get(AuditExportCursorRow, name)
            return None if row is None else _cursor(row)

    def list_cursors(self) -> list[ExportCursor]:
        with self.store.read() as session:
            rows = session.scalars(select(AuditExportCursorRow).order_by(AuditExportCursorRow.name))
            return [_cursor(row) for row in rows]

    def save_cursor(self, cursor: ExportCursor) -> None:
        with self.store.write("system:audit-export") as session:
            row = session.get(AuditExportCursorRow, cursor.name)
            if row is None:
                row = AuditExportCursorRow(name=cursor.name)
                session.add(row)
            row.target, row.format = cursor.target, cursor.format
            row.last_seq, row.file_offset = cursor.last_seq, cursor.file_offset
            row.updated_at = datetime.now(UTC)

    def record_run(self, actor: str, report: ExportReport) -> None:
        data = {
            "name": report.name,
            "format": report.format,
            "sent": report.sent,
            "first_seq": report.first_seq,
            "last_seq": report.last_seq,
        }
        with self.store.write(actor) as session:
            record_event(session, "audit.export", "audit_export_cursors", report.name, data)


def entries_between(store: Store, first: int, last: int) -> list[AuditRecord]:
    """Entries with ``first <= seq <= last`` in chain order (for downloads)."""
    with store.read() as session:
        stmt = (
            select(AuditEntry).where(AuditEntry.seq >= first, AuditEntry.seq <= last).order_by(AuditEntry.seq)
        )
        return [to_record(row) for row in session.scalars(stmt)]


class SqlChainReader:
    """The chain's last stored entry and the hash at any position, for checkpoints."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def head(self) -> tuple[int, str]:
        """``(entries, head_hash)`` of the stored log; ``(0, GENESIS_HASH)`` when empty."""
        with self.store.read() as session:
            row = session.execute(
                select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
            ).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))

    def hash_at(self, seq: int) -> str | None:
        with self.store.read() as session:
            value = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
        return None if value is None else str(value)


def record_checkpoint(store: Store, actor: str, checkpoint: Checkpoint) -> None:
    """Note the signing in the chain itself (the checkpoint covers the entries before it)."""
    data = {"entries": checkpoint.entries, "head_hash": checkpoint.head_hash, "key_id": checkpoint.key_id}
    with store.write(actor) as session:
        record_event(session, "audit.checkpoint", "audit_checkpoints", str(checkpoint.entries), data)


@dataclass(frozen=True)
class EntryFilter:
    """What the audit log viewer filters on; every field optional."""

    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    since: str | None = None  # ISO date or timestamp, inclusive
    until: str | None = None  # ISO date (the whole day) or timestamp, inclusive


def search_entries(store: Store, where: EntryFilter, limit: int) -> list[AuditRecord]:
    """The newest *limit* entries matching *where*, newest first."""
    stmt = select(AuditEntry)
    if where.actor:
        stmt = stmt.where(AuditEntry.actor.contains(where.actor, autoescape=True))
    if where.action:
        stmt = stmt.where(AuditEntry.action == where.action)
    if where.entity:
        stmt = stmt.where(AuditEntry.entity == where.entity)
    if where.since:
        stmt = stmt.where(AuditEntry.at >= where.since)
    if where.until:
        bound = where.until + "T23:59:59.999999+99:99" if len(where.until) == 10 else where.until
        stmt = stmt.where(AuditEntry.at <= bound)
    with store.read() as session:
        rows = session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(limit))
        return [to_record(row) for row in rows]
