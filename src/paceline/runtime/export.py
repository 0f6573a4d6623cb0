"""Export the runtime's canonical events to the warehouse, through the same ingest as any file.

Pending rows of the event outbox are written per table to a JSON Lines file and loaded with
the workspace's ingest (checks, pseudonymisation, idempotency by id), then marked exported.
A crash between loading and marking loads them again next time, which the ids make a no-op.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from paceline.runtime.engine import utcnow
from paceline.storage.case_repo import CaseRepository
from paceline.storage.db import Store
from paceline.storage.runtime_models import EventOutboxRow

ORDER = ("task_events", "predictions", "labels", "usage_events")


def export_events(store: Store, ingest: Callable[..., Any], folder: Path, limit: int) -> int:
    """Load up to *limit* pending events; the number exported."""
    with store.read() as session:
        pending = [(e.id, e.table_name, dict(e.row)) for e in CaseRepository(session).pending_events(limit)]
    if not pending:
        return 0
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _id, table, row in pending:
        by_table[table].append(row)
    folder.mkdir(parents=True, exist_ok=True)
    for table in sorted(by_table, key=lambda t: ORDER.index(t) if t in ORDER else len(ORDER)):
        path = folder / f"{table}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in by_table[table]:
                fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        ingest(table, path)
        path.unlink()
    with store.write("system:runtime-export") as session:
        session.execute(
            update(EventOutboxRow)
            .where(EventOutboxRow.id.in_([p[0] for p in pending]))
            .values(exported_at=utcnow())
        )
    return len(pending)
