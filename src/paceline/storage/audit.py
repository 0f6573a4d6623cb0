"""The one mechanism that writes the audit log.

A session listener turns every insert, update and delete of an :class:`Audited`
row into a chained :class:`AuditEntry`, written in the same transaction as the
change. Events that are not row changes (a login, an ingest, a verification) are
queued with :func:`record_event` and written by the same code at flush or commit.
Services never write audit rows themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from paceline.domain.audit_chain import ChainEntry, entry_hash
from paceline.storage.models import Audited, AuditEntry, AuditHead

_PENDING = "paceline_audit_pending"
REDACTED = "<redacted>"


def record_event(
    session: Session, action: str, entity: str, entity_id: str | None, data: dict[str, Any]
) -> None:
    """Queue an audit entry that is not a row change; it is written with the transaction."""
    session.info.setdefault(_PENDING, []).append((action, entity, entity_id, data))


def set_actor(session: Session, actor: str) -> None:
    """Name who is acting in *session* (``user:alice``, ``cli:root``, ``token:3``)."""
    session.info["actor"] = actor


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return str(value)


def _entity_id(obj: Any) -> str:
    """The primary key as text; read from the row itself, as new rows have no identity key yet."""
    state = inspect(obj)
    values = state.mapper.primary_key_from_instance(obj)
    return "/".join("" if v is None else str(v) for v in values)


def _row_changes(session: Session) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for obj in list(session.new):
        if isinstance(obj, Audited):
            yield "create", obj.__tablename__, _entity_id(obj), _values(obj)  # type: ignore[attr-defined]
    for obj in list(session.dirty):
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            changes = _changed(obj)
            if changes:
                yield "update", obj.__tablename__, _entity_id(obj), changes  # type: ignore[attr-defined]
    for obj in list(session.deleted):
        if isinstance(obj, Audited):
            yield "delete", obj.__tablename__, _entity_id(obj), _values(obj)  # type: ignore[attr-defined]


def _values(obj: Any) -> dict[str, Any]:
    redact = set(obj.__audit_redact__)
    out: dict[str, Any] = {}
    for attr in inspect(obj).mapper.column_attrs:
        value = getattr(obj, attr.key)
        out[attr.key] = REDACTED if attr.key in redact and value is not None else _json_safe(value)
    return out


def _changed(obj: Any) -> dict[str, Any]:
    redact, ignore = set(obj.__audit_redact__), set(obj.__audit_ignore__)
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if attr.key in ignore or not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if attr.key in redact:
            out[attr.key] = REDACTED
        else:
            out[attr.key] = {"old": _json_safe(old), "new": _json_safe(new)}
    return out


def _lock_head(session: Session) -> tuple[int, str]:
    """Read the chain head, locking it on servers that support row locks."""
    conn = session.connection()
    stmt = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).one()  # seeded by the first migration
    return int(row.seq), str(row.hash)


def _write(session: Session, items: Sequence[tuple[str, str, str | None, dict[str, Any]]]) -> None:
    if not items:
        return
    conn = session.connection()
    seq, prev = _lock_head(session)
    actor = str(session.info.get("actor", "system"))
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    rows = []
    for action, entity, entity_id, data in items:
        seq += 1
        body = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "data": _json_safe(data),
        }
        digest = entry_hash(prev, body)
        rows.append({**body, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(insert(AuditEntry), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


def _after_flush(session: Session, _flush_context: object) -> None:
    items: list[tuple[str, str, str | None, dict[str, Any]]] = list(_row_changes(session))
    items.extend(session.info.pop(_PENDING, []))
    _write(session, items)


def _before_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    if pending:
        _write(session, pending)


def install(session_class: type[Session] | Any) -> None:
    """Attach the audit listeners to a session class or sessionmaker."""
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(session_class, "before_commit", _before_commit)


def body_of(row: AuditEntry) -> dict[str, Any]:
    """The hashed body of a stored entry (everything but the two hashes)."""
    return {
        "seq": row.seq,
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "data": row.data,
    }


def chain_entries(session: Session, batch: int = 5000) -> Iterator[ChainEntry]:
    """Stored entries in physical ``seq`` order, streamed in batches."""
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield ChainEntry(row.seq, row.prev_hash, row.hash, body_of(row))
        last = rows[-1].seq


def chain_head(session: Session) -> tuple[int, str] | None:
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    return None if row is None else (int(row.seq), str(row.hash))
