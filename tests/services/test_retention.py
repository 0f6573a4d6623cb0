"""Retention: policies with floors, the deletion job, its record, and an audit log that keeps its chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.errors import PermissionDenied, ValidationError
from paceline.services.access import Principal, operator
from paceline.storage.models import AuditEntry, IngestRun
from paceline.storage.runtime_models import CaseRow, EventOutboxRow, ReviewTaskRow, StepRunRow

OP = operator()
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def _case(case_id: str, completed: datetime | None) -> list[object]:
    at = completed or NOW
    return [
        CaseRow(
            id=case_id,
            workflow="claims-triage",
            workflow_version="1",
            external_id=case_id,
            status="completed" if completed else "running",
            step="done",
            payload={"note": "Dr. Jones"},
            variant="ai",
            version=1,
            attempts=0,
            next_run_at=at,
            created_at=at,
            updated_at=at,
            completed_at=completed,
        ),
        StepRunRow(
            case_id=case_id,
            step="infer",
            idempotency_key=f"k-{case_id}",
            status="succeeded",
            output={},
            worker="w",
            duration_ms=1.0,
            finished_at=at,
        ),
        ReviewTaskRow(
            case_id=case_id,
            workflow="claims-triage",
            queue="claims",
            kind="review",
            status="done",
            shown={},
            due_at=at,
            escalated=0,
            comment="",
            created_at=at,
            decided_at=at,
        ),
    ]


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=10)
    with workspace.store.write("test") as session:
        session.add_all([*_case("old", old), *_case("new", recent), *_case("running", None)])
        session.add_all(
            [
                EventOutboxRow(table_name="task_events", row={}, created_at=t, exported_at=t)
                for t in (old, recent)
            ]
            + [EventOutboxRow(table_name="task_events", row={}, created_at=old, exported_at=None)]
            + [
                IngestRun(
                    table_name="people",
                    files=["p.csv"],
                    rows_read=1,
                    loaded=1,
                    duplicates=0,
                    quarantined=0,
                    quarantine_file=None,
                    reasons={},
                    created_at=old,
                )
            ]
        )
    return workspace


def count(ws: Workspace, model: object) -> int:
    with ws.store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_floors_and_the_audit_log_are_enforced(ws: Workspace) -> None:
    with ws.retention() as ret:
        with pytest.raises(ValidationError, match="at least 183 days") as err:
            ret.set_policy(OP, "cases", 90)
        assert err.value.details["field"] == "days"
        with pytest.raises(ValidationError, match="never deleted"):
            ret.set_policy(OP, "audit_entries", 3650)
        with pytest.raises(ValidationError, match="has no retention job"):
            ret.set_policy(OP, "use_cases", 365)
        with pytest.raises(PermissionDenied, match=r"governance\.manage"):
            ret.set_policy(Principal("alan", (Grant(Role.AUDITOR),)), "cases", 365)
        never = ret.tables(OP)[-1]
        assert never["table"] == "audit_entries" and never["floor_days"] is None
        assert "never deleted" in never["deletes"]


def test_a_dry_run_counts_and_a_run_deletes_and_records_it(ws: Workspace) -> None:
    with ws.retention() as ret:
        ret.set_policy(OP, "cases", 365)
        ret.set_policy(OP, "event_outbox", 30)
        ret.set_policy(OP, "ingest_runs", 30)
    audit_before = count(ws, AuditEntry)
    with ws.retention() as ret:
        dry = {r["table_name"]: r["deleted"] for r in ret.run(OP, NOW, dry_run=True)}
    assert dry == {
        "cases": 1,
        "step_runs": 1,
        "review_tasks": 1,
        "outbox": 0,
        "event_outbox": 1,
        "ingest_runs": 1,
    }
    assert (
        count(ws, CaseRow) == 3 and count(ws, AuditEntry) == audit_before
    )  # nothing deleted, nothing recorded
    with ws.retention() as ret:
        done = {r["table_name"]: r["deleted"] for r in ret.run(OP, NOW)}
    assert done == dry
    assert (count(ws, CaseRow), count(ws, StepRunRow), count(ws, ReviewTaskRow)) == (
        2,
        2,
        2,
    )  # the running case stays
    assert count(ws, EventOutboxRow) == 2  # the recent and the not yet exported row stay
    with ws.retention(readonly=True) as ret:
        runs = ret.runs(OP)
    assert {r["table_name"] for r in runs} == set(dry) and all(r["ran_by"] == "cli:operator" for r in runs)
    # the audit log only grew (the run records), and its chain still verifies
    assert count(ws, AuditEntry) > audit_before and ws.verify_audit().ok
    with ws.store.read() as session:
        logged = " ".join(
            str(e.data) for e in session.scalars(select(AuditEntry).where(AuditEntry.seq > audit_before))
        )
    assert "Dr. Jones" not in logged  # bulk deletes copy no deleted personal data into the log
    with ws.retention() as ret:
        again = {r["table_name"]: r["deleted"] for r in ret.run(OP, NOW)}
    assert set(again.values()) == {0}
