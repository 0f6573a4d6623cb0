"""SQL implementation of :class:`paceline.services.governance.GovernanceRepository`.

Besides the governance tables it answers the few questions evidence needs from other
records that have no repository of their own: when each pilot's verdict was recorded (the
audit entry of the status change), how many review-queue items each workflow decided, and
how long the audit trail reaches back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from paceline.domain.controls import Applicability, Control, Framework, control_to_doc, parse_control
from paceline.storage.governance_models import (
    ControlRow,
    EvidenceDocumentRow,
    FindingRow,
    FrameworkRow,
    ManagementReviewRow,
    NoticeRow,
    RetentionPolicyRow,
    RetentionRunRow,
)
from paceline.storage.lifecycle_models import UseCaseRow
from paceline.storage.models import AuditEntry, IngestRun, PilotRecord
from paceline.storage.runtime_models import CaseRow, EventOutboxRow, OutboxRow, ReviewTaskRow, StepRunRow


def _now() -> datetime:
    return datetime.now(UTC)


def _plain(row: Any, *skip: str) -> dict[str, Any]:
    out = {c.name: getattr(row, c.name) for c in row.__table__.columns if c.name not in skip}
    for key, value in out.items():
        if isinstance(value, date | datetime):
            out[key] = value.isoformat()
    return out


def _day(value: str | datetime) -> date:
    return (value if isinstance(value, datetime) else datetime.fromisoformat(value)).date()


class SqlGovernanceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- frameworks ---------------------------------------------------------------------
    def frameworks(self) -> list[Framework]:
        rows = self.session.scalars(select(FrameworkRow).order_by(FrameworkRow.key)).all()
        controls: dict[str, list[Control]] = {r.key: [] for r in rows}
        stmt = select(ControlRow).order_by(ControlRow.framework, ControlRow.position)
        for c in self.session.scalars(stmt):
            if c.framework in controls:
                controls[c.framework].append(
                    parse_control(dict(c.doc), c.framework, c.control_id, Applicability())
                )
        return [
            Framework(r.key, r.title, r.version, r.source, r.notice, tuple(controls[r.key])) for r in rows
        ]

    def framework_digest(self, key: str) -> str | None:
        return self.session.scalar(select(FrameworkRow.digest).where(FrameworkRow.key == key))

    def save_framework(self, fw: Framework, origin: str, digest: str, by: str) -> dict[str, int]:
        """Insert or update the framework and its controls; counts of created/updated/unchanged/removed."""
        row = self.session.scalars(select(FrameworkRow).where(FrameworkRow.key == fw.key)).first()
        if row is None:
            row = FrameworkRow(key=fw.key)
            self.session.add(row)
        row.title, row.version, row.source, row.notice = fw.title, fw.version, fw.source, fw.notice
        row.origin, row.digest, row.imported_by, row.imported_at = origin, digest, by, _now()
        stored = {
            c.control_id: c
            for c in self.session.scalars(select(ControlRow).where(ControlRow.framework == fw.key))
        }
        counts = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0}
        for position, control in enumerate(fw.controls):
            doc = control_to_doc(control)
            found = stored.pop(control.id, None)
            if found is None:
                self.session.add(
                    ControlRow(framework=fw.key, control_id=control.id, position=position, doc=doc)
                )
                counts["created"] += 1
            elif found.doc != doc or found.position != position:
                found.doc, found.position = doc, position
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        for gone in stored.values():
            self.session.delete(gone)
            counts["removed"] += 1
        self.session.flush()
        return counts

    # --- uploaded documents -------------------------------------------------------------
    def documents(self, use_case: str | None = None, control: str | None = None) -> list[dict[str, Any]]:
        stmt = select(EvidenceDocumentRow).order_by(EvidenceDocumentRow.id)
        if use_case is not None:
            stmt = stmt.where(
                (EvidenceDocumentRow.use_case == use_case) | EvidenceDocumentRow.use_case.is_(None)
            )
        if control is not None:
            stmt = stmt.where(EvidenceDocumentRow.control == control)
        return [_plain(r) for r in self.session.scalars(stmt)]

    def document(self, doc_id: int) -> dict[str, Any] | None:
        row = self.session.get(EvidenceDocumentRow, doc_id)
        return None if row is None else _plain(row)

    def add_document(self, doc: dict[str, Any], by: str) -> dict[str, Any]:
        row = EvidenceDocumentRow(**doc, uploaded_by=by, uploaded_at=_now())
        self.session.add(row)
        self.session.flush()
        return _plain(row)

    # --- findings and management reviews -------------------------------------------------
    def findings(self, use_case: str | None = None) -> list[dict[str, Any]]:
        stmt = select(FindingRow).order_by(FindingRow.id)
        if use_case is not None:
            stmt = stmt.where((FindingRow.use_case == use_case) | FindingRow.use_case.is_(None))
        return [_plain(r) for r in self.session.scalars(stmt)]

    def finding(self, finding_id: int) -> dict[str, Any] | None:
        row = self.session.get(FindingRow, finding_id)
        return None if row is None else _plain(row)

    def add_finding(self, doc: dict[str, Any], by: str) -> dict[str, Any]:
        row = FindingRow(**doc, raised_by=by)
        self.session.add(row)
        self.session.flush()
        return _plain(row)

    def update_finding(self, finding_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        row = self.session.get(FindingRow, finding_id)
        assert row is not None  # the service looked it up first
        for key, value in changes.items():
            setattr(row, key, value)
        self.session.flush()
        return _plain(row)

    def management_reviews(self) -> list[dict[str, Any]]:
        stmt = select(ManagementReviewRow).order_by(ManagementReviewRow.held_on, ManagementReviewRow.id)
        return [_plain(r) for r in self.session.scalars(stmt)]

    def management_review(self, review_id: int) -> dict[str, Any] | None:
        row = self.session.get(ManagementReviewRow, review_id)
        return None if row is None else _plain(row)

    def add_management_review(self, doc: dict[str, Any], by: str) -> dict[str, Any]:
        row = ManagementReviewRow(**doc, recorded_by=by)
        self.session.add(row)
        self.session.flush()
        return _plain(row)

    def update_management_review(self, review_id: int, actions: list[dict[str, Any]]) -> dict[str, Any]:
        row = self.session.get(ManagementReviewRow, review_id)
        assert row is not None
        row.actions = actions
        self.session.flush()
        return _plain(row)

    # --- retention and notices -------------------------------------------------------------
    def retention_policies(self) -> dict[str, dict[str, Any]]:
        rows = self.session.scalars(select(RetentionPolicyRow).order_by(RetentionPolicyRow.table_name))
        return {r.table_name: _plain(r, "id") for r in rows}

    def save_retention_policy(self, table: str, days: int, by: str) -> None:
        row = self.session.scalars(
            select(RetentionPolicyRow).where(RetentionPolicyRow.table_name == table)
        ).first()
        if row is None:
            row = RetentionPolicyRow(table_name=table)
            self.session.add(row)
        row.days, row.updated_by, row.updated_at = days, by, _now()
        self.session.flush()

    def add_retention_run(self, doc: dict[str, Any]) -> dict[str, Any]:
        row = RetentionRunRow(**doc, ran_at=_now())
        self.session.add(row)
        self.session.flush()
        return _plain(row)

    def retention_runs(self, limit: int = 200) -> list[dict[str, Any]]:
        stmt = select(RetentionRunRow).order_by(RetentionRunRow.id.desc()).limit(limit)
        return [_plain(r) for r in self.session.scalars(stmt)]

    def notices(self, use_case: str | None = None) -> list[dict[str, Any]]:
        stmt = select(NoticeRow).order_by(NoticeRow.id)
        if use_case is not None:
            stmt = stmt.where(NoticeRow.use_case == use_case)
        return [_plain(r) for r in self.session.scalars(stmt)]

    def add_notice(self, doc: dict[str, Any], by: str) -> dict[str, Any]:
        row = NoticeRow(**doc, issued_by=by)
        self.session.add(row)
        self.session.flush()
        return _plain(row)

    # --- facts from other records --------------------------------------------------------------
    def pilot_reports(self, use_case: str) -> list[dict[str, Any]]:
        """Pilots of *use_case* with a recorded verdict, dated by the audit entry that recorded it."""
        pilots = self.session.scalars(
            select(PilotRecord).where(PilotRecord.use_case == use_case, PilotRecord.status.like("evaluated%"))
        ).all()
        out = []
        for p in pilots:
            at = self.session.scalar(
                select(func.max(AuditEntry.at)).where(
                    AuditEntry.entity == "pilots",
                    AuditEntry.entity_id == str(p.id),
                    AuditEntry.action == "update",
                )
            )
            out.append({"name": p.name, "status": p.status, "dated": _day(at or p.created_at)})
        return out

    def review_decisions(self, workflows: list[str]) -> list[dict[str, Any]]:
        """Per workflow: decided review items and the latest decision's day."""
        if not workflows:
            return []
        stmt = (
            select(ReviewTaskRow.workflow, func.count(), func.max(ReviewTaskRow.decided_at))
            .where(ReviewTaskRow.workflow.in_(workflows), ReviewTaskRow.status == "done")
            .group_by(ReviewTaskRow.workflow)
        )
        return [
            {"workflow": wf, "decided": int(n), "dated": _day(last)}
            for wf, n, last in self.session.execute(stmt)
            if last is not None
        ]

    def audit_span(self) -> dict[str, Any] | None:
        """The audit trail's entry count and the days of its first and last entries."""
        n, first, last = self.session.execute(
            select(func.count(), func.min(AuditEntry.at), func.max(AuditEntry.at))
        ).one()
        if not n:
            return None
        return {"entries": int(n), "first": _day(first), "last": _day(last)}


def use_case_categories(conn: Any, key: str) -> list[str] | None:
    """The data categories of use case *key* (``None`` when it is not in the inventory).

    *conn* is a session or a connection: the review queue's redaction hook has only the latter.
    """
    profile = conn.execute(select(UseCaseRow.profile).where(UseCaseRow.key == key)).scalar()
    if profile is None:
        return None
    return [str(c) for c in dict(profile).get("data_categories") or []]


def _finished_cases(cutoff: datetime) -> Any:
    return select(CaseRow.id).where(CaseRow.completed_at.is_not(None), CaseRow.completed_at < cutoff)


class SqlRetentionJobs:
    """One deletion statement per retainable table (bulk deletes: no per-row audit entries,
    so deleted personal data is not copied into the audit log; the run itself is audited)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _count(self, stmt: Any) -> int:
        return int(self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

    def _gone(self, model: Any, condition: Any, dry_run: bool) -> int:
        if dry_run:
            return self._count(select(model).where(condition))
        result = self.session.execute(
            delete(model).where(condition).execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def run(self, table: str, cutoff: datetime, dry_run: bool) -> dict[str, int]:
        """Delete (or with *dry_run* count) the rows of *table* older than *cutoff*, per table touched."""
        if table == "cases":
            finished = _finished_cases(cutoff)
            out = {
                name: self._gone(model, model.case_id.in_(finished), dry_run)
                for name, model in (
                    ("step_runs", StepRunRow),
                    ("review_tasks", ReviewTaskRow),
                    ("outbox", OutboxRow),
                )
            }
            return {"cases": self._gone(CaseRow, CaseRow.id.in_(finished), dry_run), **out}
        simple: dict[str, Any] = {
            "review_tasks": (
                ReviewTaskRow,
                (ReviewTaskRow.status == "done") & (ReviewTaskRow.decided_at < cutoff),
            ),
            "step_runs": (StepRunRow, StepRunRow.case_id.in_(_finished_cases(cutoff))),
            "outbox": (OutboxRow, OutboxRow.sent_at.is_not(None) & (OutboxRow.sent_at < cutoff)),
            "event_outbox": (
                EventOutboxRow,
                EventOutboxRow.exported_at.is_not(None) & (EventOutboxRow.exported_at < cutoff),
            ),
            "ingest_runs": (IngestRun, IngestRun.created_at < cutoff),
        }
        model, condition = simple[table]
        return {table: self._gone(model, condition, dry_run)}
