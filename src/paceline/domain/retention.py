"""Retention policies: which tables may have old rows deleted, and the floor each must keep.

The runtime's logs of what the AI did and what people decided (cases, their step journal and
review items) are kept at least six months, as the EU AI Act asks of deployers (Art. 26(6)).
The audit log is never deleted: its hash chain is the proof that nothing else was changed
silently, and the record of each deletion run is itself an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from paceline.errors import ValidationError

LOG_FLOOR_DAYS = 183  # six months
MAX_DAYS = 36_600


@dataclass(frozen=True)
class Retainable:
    table: str
    what: str  # which rows a run deletes
    floor_days: int


RETAINABLE: dict[str, Retainable] = {
    r.table: r
    for r in (
        Retainable(
            "cases", "finished cases (with their journal, review items and outbox rows)", LOG_FLOOR_DAYS
        ),
        Retainable("review_tasks", "decided review items", LOG_FLOOR_DAYS),
        Retainable("step_runs", "journal rows of finished cases", LOG_FLOOR_DAYS),
        Retainable("outbox", "downstream actions already sent or recorded", 30),
        Retainable("event_outbox", "runtime events already exported to the warehouse", 7),
        Retainable("ingest_runs", "records of past ingest runs", 30),
    )
}
NEVER = {"audit_entries": "the audit log is never deleted: its hash chain proves the rest was not changed"}


def validate_policy(table: str, days: int) -> Retainable:
    """The retainable table, if *days* keeps at least its floor; else a named error with the fix."""
    if table in NEVER:
        raise ValidationError(f"{table}: {NEVER[table]}", field="table", value=table)
    if table not in RETAINABLE:
        raise ValidationError(
            f"table {table!r} has no retention job",
            field="table",
            value=table,
            fix=f"use one of: {', '.join(RETAINABLE)}",
        )
    rule = RETAINABLE[table]
    if not isinstance(days, int) or isinstance(days, bool) or not rule.floor_days <= days <= MAX_DAYS:
        raise ValidationError(
            f"{table} must be kept at least {rule.floor_days} days (got {days!r})",
            field="days",
            value=days,
            fix=f"use {rule.floor_days} to {MAX_DAYS} days",
        )
    return rule
