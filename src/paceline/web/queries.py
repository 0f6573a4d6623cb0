"""Read models of the web pages and the API: library records shaped as response models.

The reads themselves are the library's (``Workspace.recent_ingests`` and friends,
with their permission checks); this module only turns them into the pydantic
models the API documents.
"""

from __future__ import annotations

from paceline.bootstrap import Workspace
from paceline.domain.tables import TABLES
from paceline.services.access import Principal
from paceline.web.schemas import (
    AuditEntryOut,
    ColumnOut,
    IngestRunOut,
    TableCountOut,
    TableOut,
)


def ping_store(ws: Workspace) -> None:
    """Raise unless the operational store answers a trivial query."""
    ws.ping()


def canonical_tables() -> list[TableOut]:
    """The canonical tables of spec/events.md with their columns."""
    return [
        TableOut(
            name=t.name, doc=t.doc, key=list(t.key),
            columns=[
                ColumnOut(name=c.name, kind=c.kind.value, required=c.required,
                          choices=list(c.choices), pseudonymised=c.pseudonymised, doc=c.doc)
                for c in t.columns
            ],
        )
        for t in TABLES.values()
    ]


def table_counts(ws: Workspace, who: Principal) -> list[TableCountOut]:
    """Row counts of every canonical table, computed by the warehouse engine."""
    counts = ws.table_counts(who=who)
    return [TableCountOut(name=t.name, doc=t.doc, rows=counts[t.name]) for t in TABLES.values()]


def recent_ingests(ws: Workspace, limit: int, who: Principal) -> list[IngestRunOut]:
    """The *limit* latest ingest runs, newest first."""
    return [IngestRunOut(**row) for row in ws.recent_ingests(limit, who=who)]


def audit_entries_after(ws: Workspace, after: int, limit: int, who: Principal) -> list[AuditEntryOut]:
    """Up to *limit* audit entries with ``seq > after``, in chain order."""
    return [AuditEntryOut(**row) for row in ws.audit_entries(after=after, limit=limit, who=who)]


def latest_audit_entries(ws: Workspace, limit: int, who: Principal) -> list[AuditEntryOut]:
    """The *limit* newest audit entries, newest first."""
    return [AuditEntryOut(**row) for row in ws.audit_entries(limit=limit, who=who)]
