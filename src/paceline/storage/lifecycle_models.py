"""Tables of the program lifecycle: use cases, their deliverables, sign-offs and gate history,
technology options, architecture requirements, reviews, risks, training records and
operations figures. Every table is audited (each change is a chained audit entry).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base

UC = 80  # length of a use-case key


class UseCaseRow(Base, Audited):
    """The inventory entry; ``profile`` is the validated :class:`paceline.domain.usecases.UseCase`."""

    __tablename__ = "use_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(UC), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    phase: Mapped[int] = mapped_column(Integer)
    profile: Mapped[dict[str, object]] = mapped_column(JSON)
    go_live: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeliverableRow(Base, Audited):
    __tablename__ = "deliverables"
    __table_args__ = (UniqueConstraint("use_case", "key", name="uq_deliverable"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    key: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(200))
    link: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignoffRow(Base, Audited):
    __tablename__ = "signoffs"
    __table_args__ = (UniqueConstraint("use_case", "check_key", name="uq_signoff"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    check_key: Mapped[str] = mapped_column(String(60))
    signed_by: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StakeholderRow(Base, Audited):
    __tablename__ = "stakeholders"
    __table_args__ = (UniqueConstraint("use_case", "role", "person", name="uq_stakeholder"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    role: Mapped[str] = mapped_column(String(40))
    person: Mapped[str] = mapped_column(String(200))


class TransitionRow(Base, Audited):
    """One gate decision that moved (or re-certified) a use case, with the checks as they were."""

    __tablename__ = "phase_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    move: Mapped[str] = mapped_column(String(20))
    from_phase: Mapped[int] = mapped_column(Integer)
    to_phase: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    overridden: Mapped[bool] = mapped_column(Boolean)
    justification: Mapped[str] = mapped_column(Text)
    checks: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RequirementRow(Base, Audited):
    __tablename__ = "architecture_requirements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    measured: Mapped[str] = mapped_column(String(200))
    met: Mapped[bool] = mapped_column(Boolean)
    verified_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TechOptionRow(Base, Audited):
    __tablename__ = "tech_options"
    __table_args__ = (UniqueConstraint("use_case", "name", name="uq_tech_option"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    scores: Mapped[dict[str, object]] = mapped_column(JSON)
    cost: Mapped[dict[str, object]] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text)
    selected: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewRow(Base, Audited):
    __tablename__ = "lifecycle_reviews"
    __table_args__ = (UniqueConstraint("use_case", "kind", name="uq_review"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    due: Mapped[date] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(30), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text)
    comparisons: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class RiskRow(Base, Audited):
    __tablename__ = "risks"
    __table_args__ = (UniqueConstraint("use_case", "key", name="uq_risk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    key: Mapped[str] = mapped_column(String(60))
    doc: Mapped[dict[str, object]] = mapped_column(JSON)  # the validated paceline.domain.risks.Risk
    status: Mapped[str] = mapped_column(String(20))
    residual_score: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrainingRecordRow(Base, Audited):
    """A person's enrollment in a course, its completion and assessment (person pseudonymised)."""

    __tablename__ = "training_records"
    __table_args__ = (UniqueConstraint("record_id", name="uq_training_record"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200))  # idempotency key from the source
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    use_case: Mapped[str | None] = mapped_column(String(UC), index=True, nullable=True)
    course: Mapped[str] = mapped_column(String(200))
    enrolled_on: Mapped[date] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    pass_mark: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OpsFigureRow(Base, Audited):
    """An operations figure for a period (e.g. uptime from the service monitor)."""

    __tablename__ = "ops_figures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(UC), index=True)
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
