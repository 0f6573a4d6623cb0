"""Tables of phase-4 enablement: competencies, courses, curricula, learning statements, champions,
team goals, frontline review sessions and the links from logins to learners.

Every table but ``learning_statements`` is :class:`Audited` row by row. Learning statements
arrive in bulk from a learning system (100,000 at a time), so each import is one audited
``learning_imports`` row with its counts and a SHA-256 digest of the statement ids it
loaded; a statement entered in Paceline is audited on its own (see the repository).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base

KEY = 80
PERSON = 64  # a pseudonym (p_ and 32 hex digits) fits
WHO = 200


class CompetencyRow(Base, Audited):
    __tablename__ = "competencies"

    key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CourseRow(Base, Audited):
    """A course; ``doc`` is the validated :class:`paceline.domain.curricula.Course`."""

    __tablename__ = "courses"

    key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    use_case: Mapped[str | None] = mapped_column(String(KEY), index=True, nullable=True)
    doc: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CurriculumRow(Base, Audited):
    """A role's learning path in a use case; ``doc`` is the validated Curriculum."""

    __tablename__ = "curricula"

    key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(KEY), index=True)
    role: Mapped[str] = mapped_column(String(KEY))
    doc: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LearningStatementRow(Base):
    """One learning event (an xAPI statement or one entered in Paceline), person pseudonymised."""

    __tablename__ = "learning_statements"
    __table_args__ = (UniqueConstraint("statement_id", name="uq_learning_statement"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str] = mapped_column(String(PERSON), index=True)
    course: Mapped[str] = mapped_column(String(KEY), index=True)
    verb: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    success: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(40))
    import_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class LearningImportRow(Base, Audited):
    """One load of learning statements: what was read, loaded, skipped and why."""

    __tablename__ = "learning_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(20))
    rows_read: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    ignored: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    voided: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the loaded statement ids, in order
    created_by: Mapped[str] = mapped_column(String(WHO))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChampionRow(Base, Audited):
    __tablename__ = "champions"
    __table_args__ = (UniqueConstraint("team", "use_case", "person_id", name="uq_champion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(KEY), index=True)
    use_case: Mapped[str] = mapped_column(String(KEY), index=True)
    person_id: Mapped[str] = mapped_column(String(PERSON))
    name: Mapped[str] = mapped_column(String(200))
    since: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TeamGoalRow(Base, Audited):
    """An adoption or performance goal of a team (never of a person), with its incentive."""

    __tablename__ = "team_goals"

    key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    team: Mapped[str] = mapped_column(String(KEY), index=True)
    use_case: Mapped[str] = mapped_column(String(KEY), index=True)
    kpi: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[float] = mapped_column(Float)
    since: Mapped[date] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)
    incentive: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewSessionRow(Base, Audited):
    """A frontline review session: planned on a cadence, then held (with feedback) or cancelled."""

    __tablename__ = "review_sessions"
    __table_args__ = (UniqueConstraint("use_case", "team", "scheduled_on", name="uq_review_session"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    use_case: Mapped[str] = mapped_column(String(KEY), index=True)
    team: Mapped[str] = mapped_column(String(KEY))  # "" for every team of the use case
    scheduled_on: Mapped[date] = mapped_column(Date)
    cadence: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    held_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    attendees: Mapped[int] = mapped_column(Integer, default=0)
    champion_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    feedback: Mapped[list[str]] = mapped_column(JSON)
    actions: Mapped[list[str]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(WHO))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LearnerLinkRow(Base, Audited):
    """Which (pseudonymised) person a login is, so a user can see their own learning."""

    __tablename__ = "learner_links"

    login: Mapped[str] = mapped_column(String(WHO), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(PERSON))
    linked_by: Mapped[str] = mapped_column(String(WHO))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
