"""SQLAlchemy implementation of :class:`paceline.services.model_registry.ModelRepository`, and
the read of the runtime's review decisions that the override rate is computed from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paceline.storage.lifecycle_models import UseCaseRow
from paceline.storage.model_models import (
    ApprovalRow,
    ModelCardRow,
    ModelRow,
    ModelVersionRow,
    RetrainingRequestRow,
    ScheduleRow,
    StageChangeRow,
)
from paceline.storage.runtime_models import ReviewTaskRow


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _doc(row: Any) -> dict[str, Any]:
    """A row as a JSON-ready document (times as ISO 8601 text, UTC when stored naive)."""
    return {c.name: _iso(getattr(row, c.name)) for c in row.__table__.columns}


class SqlModelRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def use_case_exists(self, key: str) -> bool:
        return self.session.scalar(select(UseCaseRow.id).where(UseCaseRow.key == key)) is not None

    # --- models and versions ------------------------------------------------------------
    def _model_row(self, name: str) -> ModelRow | None:
        return self.session.scalars(select(ModelRow).where(ModelRow.name == name)).first()

    def get_model(self, name: str) -> dict[str, Any] | None:
        row = self._model_row(name)
        return None if row is None else _doc(row)

    def list_models(self) -> list[dict[str, Any]]:
        return [_doc(r) for r in self.session.scalars(select(ModelRow).order_by(ModelRow.name))]

    def add_model(self, doc: dict[str, Any]) -> dict[str, Any]:
        row = ModelRow(**doc)
        self.session.add(row)
        self.session.flush()
        return _doc(row)

    def _version_row(self, model: str, version: str) -> ModelVersionRow | None:
        stmt = select(ModelVersionRow).where(
            ModelVersionRow.model == model, ModelVersionRow.version == version
        )
        return self.session.scalars(stmt).first()

    def versions(self, model: str) -> list[dict[str, Any]]:
        stmt = select(ModelVersionRow).where(ModelVersionRow.model == model).order_by(ModelVersionRow.id)
        return [_doc(r) for r in self.session.scalars(stmt)]

    def get_version(self, model: str, version: str) -> dict[str, Any] | None:
        row = self._version_row(model, version)
        return None if row is None else _doc(row)

    def add_version(self, doc: dict[str, Any]) -> dict[str, Any]:
        row = ModelVersionRow(**doc)
        self.session.add(row)
        self.session.flush()
        return _doc(row)

    def set_stage(self, model: str, version: str, stage: str, at: datetime) -> None:
        row = self._version_row(model, version)
        if row is not None:
            row.stage, row.stage_changed_at = stage, at
            self.session.flush()

    def set_dates(self, model: str, version: str, deprecation: date | None, retirement: date | None) -> None:
        row = self._version_row(model, version)
        if row is not None:
            row.deprecation_date, row.retirement_date = deprecation, retirement
            self.session.flush()

    # --- history and approvals ------------------------------------------------------------
    def add_stage_change(self, doc: dict[str, Any]) -> dict[str, Any]:
        row = StageChangeRow(**doc)
        self.session.add(row)
        self.session.flush()
        return _doc(row)

    def stage_changes(self, model: str) -> list[dict[str, Any]]:
        stmt = select(StageChangeRow).where(StageChangeRow.model == model).order_by(StageChangeRow.id)
        return [_doc(r) for r in self.session.scalars(stmt)]

    def add_approval(self, doc: dict[str, Any]) -> dict[str, Any]:
        row = ApprovalRow(**doc)
        self.session.add(row)
        self.session.flush()
        return _doc(row)

    def get_approval(self, approval_id: int) -> dict[str, Any] | None:
        row = self.session.get(ApprovalRow, approval_id)
        return None if row is None else _doc(row)

    def approvals(self, model: str) -> list[dict[str, Any]]:
        stmt = select(ApprovalRow).where(ApprovalRow.model == model).order_by(ApprovalRow.id)
        return [_doc(r) for r in self.session.scalars(stmt)]

    def decide_approval(self, approval_id: int, status: str, by: str, at: datetime, note: str) -> None:
        row = self.session.get(ApprovalRow, approval_id)
        if row is not None:
            row.status, row.decided_by, row.decided_at, row.decision_note = status, by, at, note
            self.session.flush()

    # --- cards, schedules, retraining -------------------------------------------------------
    def _card_row(self, model: str, version: str) -> ModelCardRow | None:
        stmt = select(ModelCardRow).where(ModelCardRow.model == model, ModelCardRow.version == version)
        return self.session.scalars(stmt).first()

    def card(self, model: str, version: str) -> dict[str, Any] | None:
        row = self._card_row(model, version)
        return None if row is None else _doc(row)

    def save_card(self, model: str, version: str, card: dict[str, Any], by: str, at: datetime) -> int:
        row = self._card_row(model, version)
        if row is None:
            row = ModelCardRow(model=model, version=version, revision=0)
            self.session.add(row)
        row.card, row.revision, row.updated_by, row.updated_at = card, row.revision + 1, by, at
        self.session.flush()
        return row.revision

    def schedule(self, model: str) -> dict[str, Any] | None:
        row = self.session.scalars(select(ScheduleRow).where(ScheduleRow.model == model)).first()
        return None if row is None else _doc(row)

    def save_schedule(
        self, model: str, every_days: int, remind_days_before: int, by: str, at: datetime
    ) -> None:
        row = self.session.scalars(select(ScheduleRow).where(ScheduleRow.model == model)).first()
        if row is None:
            row = ScheduleRow(model=model)
            self.session.add(row)
        row.retrain_every_days, row.remind_days_before = every_days, remind_days_before
        row.updated_by, row.updated_at = by, at
        self.session.flush()

    def add_retraining_request(self, doc: dict[str, Any]) -> dict[str, Any]:
        row = RetrainingRequestRow(**doc)
        self.session.add(row)
        self.session.flush()
        return _doc(row)

    def retraining_requests(self, model: str) -> list[dict[str, Any]]:
        stmt = (
            select(RetrainingRequestRow)
            .where(RetrainingRequestRow.model == model)
            .order_by(RetrainingRequestRow.id)
        )
        return [_doc(r) for r in self.session.scalars(stmt)]

    def close_retraining_requests(self, model: str) -> int:
        """Mark the model's open retraining requests done (a new version was registered)."""
        stmt = select(RetrainingRequestRow).where(
            RetrainingRequestRow.model == model, RetrainingRequestRow.status == "open"
        )
        rows = list(self.session.scalars(stmt))
        for row in rows:
            row.status = "done"
        self.session.flush()
        return len(rows)


def review_decisions(
    session: Session, model: str, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """The decided first reviews of *model*'s suggestions: (decided_at, decision, version).

    Only reviews where the suggestion was shown count (the human-only path of a kill switch
    hides it, so there is nothing to override), and no reviewer is read: the override rate
    is a property of the model, never of a person.
    """
    shown_model = ReviewTaskRow.shown["model"]["model"].as_string()
    stmt = select(ReviewTaskRow.decided_at, ReviewTaskRow.decision, ReviewTaskRow.shown).where(
        ReviewTaskRow.kind == "review",
        ReviewTaskRow.decision.is_not(None),
        ReviewTaskRow.decided_at.is_not(None),
        shown_model == model,
    )
    if since is not None:
        stmt = stmt.where(ReviewTaskRow.decided_at >= since)
    if until is not None:
        stmt = stmt.where(ReviewTaskRow.decided_at < until)
    out = []
    for decided_at, decision, shown in session.execute(stmt):
        doc: dict[str, Any] = dict(shown or {})
        if doc.get("human_only") or decided_at is None:
            continue
        at = decided_at if decided_at.tzinfo else decided_at.replace(tzinfo=UTC)
        called: dict[str, Any] = dict(doc.get("model") or {})
        out.append({"decided_at": at, "decision": decision, "model_version": called.get("version")})
    return out
