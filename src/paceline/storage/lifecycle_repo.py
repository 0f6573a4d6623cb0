"""SQLAlchemy implementation of :class:`paceline.services.lifecycle.LifecycleRepository`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from paceline.domain.evidence import DeliverableState, Requirement, Signoff
from paceline.domain.usecases import UseCase, from_dict
from paceline.storage.lifecycle_models import (
    DeliverableRow,
    OpsFigureRow,
    RequirementRow,
    ReviewRow,
    RiskRow,
    SignoffRow,
    StakeholderRow,
    TechOptionRow,
    TrainingRecordRow,
    TransitionRow,
    UseCaseRow,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _columns(row: Any, *skip: str) -> dict[str, Any]:
    out = {c.name: getattr(row, c.name) for c in row.__table__.columns if c.name not in skip}
    for key, value in out.items():
        if isinstance(value, date | datetime):
            out[key] = value.isoformat()
    return out


class SqlLifecycleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- use cases ---------------------------------------------------------------
    def _uc_row(self, key: str) -> UseCaseRow | None:
        return self.session.scalars(select(UseCaseRow).where(UseCaseRow.key == key)).first()

    def get_use_case(self, key: str) -> tuple[UseCase, dict[str, Any]] | None:
        row = self._uc_row(key)
        if row is None:
            return None
        meta = {
            "go_live": row.go_live,
            "created_by": row.created_by,
            "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat(),
        }
        return from_dict(dict(row.profile)), meta

    def list_use_cases(self) -> list[UseCase]:
        rows = self.session.scalars(select(UseCaseRow).order_by(UseCaseRow.key))
        return [from_dict(dict(r.profile)) for r in rows]

    def save_use_case(self, uc: UseCase, by: str) -> None:
        row = self._uc_row(uc.key)
        doc = uc.to_dict()
        if row is None:
            now = _now()
            row = UseCaseRow(key=uc.key, created_by=by, created_at=now, go_live=None)
            self.session.add(row)
        row.title, row.owner, row.status, row.phase = uc.title, uc.owner, uc.status.value, int(uc.phase)
        row.profile, row.updated_at = doc, _now()
        self.session.flush()

    def set_go_live(self, key: str, day: date | None) -> None:
        row = self._uc_row(key)
        if row is not None:
            row.go_live = day

    # --- deliverables, sign-offs, stakeholders ----------------------------------
    def deliverables(self, key: str) -> dict[str, DeliverableState]:
        rows = self.session.scalars(select(DeliverableRow).where(DeliverableRow.use_case == key))
        return {r.key: DeliverableState(r.key, r.status, r.owner, r.link) for r in rows}

    def save_deliverable(
        self, key: str, item: str, status: str, owner: str, link: str, note: str, by: str
    ) -> None:
        stmt = select(DeliverableRow).where(DeliverableRow.use_case == key, DeliverableRow.key == item)
        row = self.session.scalars(stmt).first()
        if row is None:
            row = DeliverableRow(use_case=key, key=item)
            self.session.add(row)
        row.status, row.owner, row.link, row.note = status, owner, link, note
        row.updated_by, row.updated_at = by, _now()
        self.session.flush()

    def signoffs(self, key: str) -> dict[str, Signoff]:
        rows = self.session.scalars(select(SignoffRow).where(SignoffRow.use_case == key))
        return {
            r.check_key: Signoff(r.check_key, r.signed_by, r.role, r.signed_at.isoformat(), r.note)
            for r in rows
        }

    def save_signoff(self, key: str, check: str, by: str, role: str, note: str) -> Signoff:
        stmt = select(SignoffRow).where(SignoffRow.use_case == key, SignoffRow.check_key == check)
        row = self.session.scalars(stmt).first()
        if row is None:
            row = SignoffRow(use_case=key, check_key=check)
            self.session.add(row)
        row.signed_by, row.role, row.note, row.signed_at = by, role, note, _now()
        self.session.flush()
        return Signoff(check, by, role, row.signed_at.isoformat(), note)

    def delete_signoff(self, key: str, check: str) -> bool:
        stmt = select(SignoffRow).where(SignoffRow.use_case == key, SignoffRow.check_key == check)
        row = self.session.scalars(stmt).first()
        if row is None:
            return False
        self.session.delete(row)
        return True

    def stakeholders(self, key: str) -> dict[str, tuple[str, ...]]:
        rows = self.session.scalars(
            select(StakeholderRow).where(StakeholderRow.use_case == key).order_by(StakeholderRow.id)
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r.role, []).append(r.person)
        return {role: tuple(people) for role, people in out.items()}

    def add_stakeholder(self, key: str, role: str, person: str) -> bool:
        if person in self.stakeholders(key).get(role, ()):
            return False
        self.session.add(StakeholderRow(use_case=key, role=role, person=person))
        self.session.flush()
        return True

    def remove_stakeholder(self, key: str, role: str, person: str) -> bool:
        result = self.session.execute(
            delete(StakeholderRow).where(
                StakeholderRow.use_case == key, StakeholderRow.role == role, StakeholderRow.person == person
            )
        )
        return bool(getattr(result, "rowcount", 0))

    # --- gate history ---------------------------------------------------------------
    def add_transition(self, key: str, doc: dict[str, Any], by: str) -> dict[str, Any]:
        row = TransitionRow(
            use_case=key,
            move=doc["move"],
            from_phase=doc["from_phase"],
            to_phase=doc["to_phase"],
            passed=doc["passed"],
            overridden=doc["overridden"],
            justification=doc.get("justification", ""),
            checks=doc["checks"],
            decided_by=by,
            decided_at=_now(),
        )
        self.session.add(row)
        self.session.flush()
        return _columns(row)

    def transitions(self, key: str) -> list[dict[str, Any]]:
        stmt = select(TransitionRow).where(TransitionRow.use_case == key).order_by(TransitionRow.id)
        return [_columns(r) for r in self.session.scalars(stmt)]

    # --- requirements, technology options --------------------------------------------
    def requirements(self, key: str) -> list[Requirement]:
        stmt = select(RequirementRow).where(RequirementRow.use_case == key).order_by(RequirementRow.id)
        return [
            Requirement(r.id, r.kind, r.title, r.target, r.measured, r.met, r.verified_by)
            for r in self.session.scalars(stmt)
        ]

    def save_requirement(self, key: str, req: Requirement) -> Requirement:
        row = self.session.get(RequirementRow, req.id) if req.id else None
        if row is None or row.use_case != key:
            row = RequirementRow(use_case=key)
            self.session.add(row)
        row.kind, row.title, row.target, row.measured = req.kind, req.title, req.target, req.measured
        row.met, row.verified_by, row.updated_at = req.met, req.verified_by, _now()
        self.session.flush()
        return Requirement(row.id, row.kind, row.title, row.target, row.measured, row.met, row.verified_by)

    def tech_options(self, key: str) -> list[dict[str, Any]]:
        stmt = select(TechOptionRow).where(TechOptionRow.use_case == key).order_by(TechOptionRow.name)
        return [_columns(r, "id", "use_case") for r in self.session.scalars(stmt)]

    def save_tech_option(self, key: str, doc: dict[str, Any]) -> None:
        stmt = select(TechOptionRow).where(TechOptionRow.use_case == key, TechOptionRow.name == doc["name"])
        row = self.session.scalars(stmt).first()
        if row is None:
            row = TechOptionRow(use_case=key, name=doc["name"], selected=False)
            self.session.add(row)
        row.kind, row.scores, row.cost, row.notes = (
            doc["kind"],
            doc["scores"],
            doc["cost"],
            doc.get("notes", ""),
        )
        row.updated_at = _now()
        self.session.flush()

    def select_tech_option(self, key: str, name: str) -> bool:
        rows = list(self.session.scalars(select(TechOptionRow).where(TechOptionRow.use_case == key)))
        if not any(r.name == name for r in rows):
            return False
        for r in rows:
            if r.selected != (r.name == name):
                r.selected = r.name == name
        self.session.flush()
        return True

    # --- reviews, risks ----------------------------------------------------------
    def reviews(self, key: str) -> list[dict[str, Any]]:
        stmt = select(ReviewRow).where(ReviewRow.use_case == key).order_by(ReviewRow.due)
        return [_columns(r, "id", "use_case") for r in self.session.scalars(stmt)]

    def schedule_review(self, key: str, kind: str, due: date) -> None:
        stmt = select(ReviewRow).where(ReviewRow.use_case == key, ReviewRow.kind == kind)
        if self.session.scalars(stmt).first() is None:
            self.session.add(
                ReviewRow(
                    use_case=key, kind=kind, due=due, summary="", actions="", comparisons=[], outcome=None
                )
            )
            self.session.flush()

    def complete_review(self, key: str, kind: str, doc: dict[str, Any], by: str) -> bool:
        stmt = select(ReviewRow).where(ReviewRow.use_case == key, ReviewRow.kind == kind)
        row = self.session.scalars(stmt).first()
        if row is None:
            return False
        row.outcome, row.summary, row.actions = doc["outcome"], doc["summary"], doc.get("actions", "")
        row.comparisons, row.reviewed_by, row.completed_at = doc["comparisons"], by, _now()
        self.session.flush()
        return True

    def risks(self, key: str) -> list[dict[str, Any]]:
        stmt = select(RiskRow).where(RiskRow.use_case == key).order_by(RiskRow.id)
        return [dict(r.doc) for r in self.session.scalars(stmt)]

    def save_risk(self, key: str, doc: dict[str, Any], residual_score: int) -> None:
        stmt = select(RiskRow).where(RiskRow.use_case == key, RiskRow.key == doc["key"])
        row = self.session.scalars(stmt).first()
        if row is None:
            row = RiskRow(use_case=key, key=doc["key"])
            self.session.add(row)
        row.doc, row.status, row.residual_score, row.updated_at = doc, doc["status"], residual_score, _now()
        self.session.flush()

    # --- training records, operations figures --------------------------------------
    def has_training_record(self, record_id: str) -> bool:
        stmt = select(TrainingRecordRow.id).where(TrainingRecordRow.record_id == record_id)
        return self.session.scalars(stmt).first() is not None

    def add_training_record(self, doc: dict[str, Any]) -> None:
        self.session.add(TrainingRecordRow(**doc, created_at=_now()))
        self.session.flush()

    def training_records(self, use_case: str | None = None) -> list[dict[str, Any]]:
        stmt = select(TrainingRecordRow).order_by(TrainingRecordRow.id)
        if use_case is not None:
            stmt = stmt.where(
                (TrainingRecordRow.use_case == use_case) | (TrainingRecordRow.use_case.is_(None))
            )
        return [_columns(r, "id", "created_at") for r in self.session.scalars(stmt)]

    def add_ops_figure(self, key: str, doc: dict[str, Any], by: str) -> None:
        self.session.add(OpsFigureRow(use_case=key, **doc, recorded_by=by, recorded_at=_now()))
        self.session.flush()

    def ops_figures(self, key: str) -> list[dict[str, Any]]:
        stmt = select(OpsFigureRow).where(OpsFigureRow.use_case == key).order_by(OpsFigureRow.period_start)
        return [_columns(r, "id", "use_case") for r in self.session.scalars(stmt)]
