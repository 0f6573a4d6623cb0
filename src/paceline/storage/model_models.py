"""Tables of the model registry: models, their versions and stages, the stage history with
its approvals, model cards, retraining schedules and retraining requests.

Every table is audited (each change is a chained audit entry). The stage history is
append-only: a promotion, its approval and the demotion it caused are each one row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base

NAME = 120  # length of a model name
VER = 60  # length of a version label
UC = 80  # length of a use-case key
WHO = 200  # length of a (pseudonymised) person id


class ModelRow(Base, Audited):
    """A model: a name owned by one use case (permissions are scoped to that use case)."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    title: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(30))  # binary | multiclass
    positive_label: Mapped[str | None] = mapped_column(String(200), nullable=True)  # binary only
    created_by: Mapped[str] = mapped_column(String(WHO))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ModelVersionRow(Base, Audited):
    """One trained version with its artifact, the data it was trained on and its metrics."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model", "version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME), index=True)
    version: Mapped[str] = mapped_column(String(VER))
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    artifact_uri: Mapped[str] = mapped_column(Text)
    artifact_hash: Mapped[str] = mapped_column(String(100))
    lineage: Mapped[dict[str, object]] = mapped_column(JSON)  # ingest ids, file hashes, label exports
    metrics: Mapped[dict[str, object]] = mapped_column(JSON)  # evaluation at training time
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deprecation_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    retirement_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(WHO))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stage_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StageChangeRow(Base, Audited):
    """One stage move as it happened (append-only history)."""

    __tablename__ = "model_stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME), index=True)
    version: Mapped[str] = mapped_column(String(VER))
    from_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(20))  # registered | approved | direct | superseded
    approval_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(WHO))
    approved_by: Mapped[str | None] = mapped_column(String(WHO), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApprovalRow(Base, Audited):
    """A request to move a version to a stage that needs a second person's approval."""

    __tablename__ = "model_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME), index=True)
    version: Mapped[str] = mapped_column(String(VER))
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # pending | approved | rejected
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(WHO))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(WHO), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text)


class ModelCardRow(Base, Audited):
    """The model card of one version (the validated :class:`paceline.domain.model_registry.ModelCard`)."""

    __tablename__ = "model_cards"
    __table_args__ = (UniqueConstraint("model", "version", name="uq_model_card"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME), index=True)
    version: Mapped[str] = mapped_column(String(VER))
    card: Mapped[dict[str, object]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScheduleRow(Base, Audited):
    """A model's retraining cadence (every N days from the last training)."""

    __tablename__ = "model_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME), unique=True)
    retrain_every_days: Mapped[int] = mapped_column(Integer)
    remind_days_before: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RetrainingRequestRow(Base, Audited):
    """A request to retrain a model, optionally raised from an incident."""

    __tablename__ = "model_retraining_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME), index=True)
    version: Mapped[str | None] = mapped_column(String(VER), nullable=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open | done
    requested_by: Mapped[str] = mapped_column(String(WHO))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
