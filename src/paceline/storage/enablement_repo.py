"""SQLAlchemy implementation of :class:`paceline.services.enablement.EnablementRepository`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from paceline.storage import audit
from paceline.storage.enablement_models import (
    ChampionRow,
    CompetencyRow,
    CourseRow,
    CurriculumRow,
    LearnerLinkRow,
    LearningImportRow,
    LearningStatementRow,
    ReviewSessionRow,
    TeamGoalRow,
)
from paceline.storage.models import AuditEntry

STATEMENTS: Table = LearningStatementRow.__table__  # type: ignore[assignment]  # Core, not the ORM
CHUNK = 2000  # ids per IN (...) query: well under the parameter limits of SQLite and PostgreSQL


def _now() -> datetime:
    return datetime.now(UTC)


def _columns(row: Any, *skip: str) -> dict[str, Any]:
    out = {c.name: getattr(row, c.name) for c in row.__table__.columns if c.name not in skip}
    for key, value in out.items():
        if isinstance(value, date | datetime):
            out[key] = value.isoformat()
    return out


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


class SqlEnablementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- competencies, courses, curricula -----------------------------------------------
    def competencies(self) -> list[dict[str, Any]]:
        rows = self.session.scalars(select(CompetencyRow).order_by(CompetencyRow.key))
        return [{"key": r.key, "title": r.title, "description": r.description} for r in rows]

    def save_competency(self, doc: dict[str, Any], by: str) -> None:
        row = self.session.get(CompetencyRow, doc["key"]) or CompetencyRow(key=doc["key"])
        row.title, row.description, row.updated_by, row.updated_at = (
            doc["title"],
            doc["description"],
            by,
            _now(),
        )
        self.session.add(row)
        self.session.flush()

    def courses(self) -> list[dict[str, Any]]:
        return [dict(r.doc) for r in self.session.scalars(select(CourseRow).order_by(CourseRow.key))]

    def save_course(self, doc: dict[str, Any], by: str) -> None:
        row = self.session.get(CourseRow, doc["key"]) or CourseRow(key=doc["key"])
        row.use_case, row.doc, row.updated_by, row.updated_at = doc["use_case"], doc, by, _now()
        self.session.add(row)
        self.session.flush()

    def curricula(self) -> list[dict[str, Any]]:
        return [dict(r.doc) for r in self.session.scalars(select(CurriculumRow).order_by(CurriculumRow.key))]

    def save_curriculum(self, doc: dict[str, Any], by: str) -> None:
        row = self.session.get(CurriculumRow, doc["key"]) or CurriculumRow(key=doc["key"])
        row.use_case, row.role, row.doc = doc["use_case"], doc["role"], doc
        row.updated_by, row.updated_at = by, _now()
        self.session.add(row)
        self.session.flush()

    # --- learning statements ----------------------------------------------------------------
    def existing_statements(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in _chunks(ids):
            stmt = select(LearningStatementRow.statement_id).where(
                LearningStatementRow.statement_id.in_(part)
            )
            found.update(self.session.scalars(stmt))
        return found

    def insert_statements(self, rows: list[dict[str, Any]]) -> None:
        """Bulk insert (one executemany); the import's own row carries the audit entry."""
        if rows:  # Core executemany on the session's connection: the ORM's bulk path is several times slower
            self.session.connection().execute(insert(STATEMENTS), rows)

    def add_statement(self, row: dict[str, Any], by: str) -> None:
        """One statement entered in Paceline, audited on its own."""
        self.session.connection().execute(insert(STATEMENTS), [row])
        data = {k: v for k, v in row.items() if k != "occurred_at"} | {
            "occurred_at": row["occurred_at"].isoformat()
        }
        audit.record_event(self.session, "create", "learning_statements", row["statement_id"], data)
        self.session.flush()

    def void_statements(self, ids: Sequence[str]) -> int:
        count = 0
        for part in _chunks(ids):
            stmt = (
                update(LearningStatementRow)
                .where(LearningStatementRow.statement_id.in_(part), LearningStatementRow.voided.is_(False))
                .values(voided=True)
            )
            count += self.session.execute(stmt).rowcount or 0  # type: ignore[attr-defined]
        return count

    def statements(self, people: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Statements not voided, oldest first (of *people* only, when given)."""
        cols = (
            LearningStatementRow.person_id,
            LearningStatementRow.course,
            LearningStatementRow.verb,
            LearningStatementRow.occurred_at,
            LearningStatementRow.score,
            LearningStatementRow.success,
        )
        base = select(*cols).where(LearningStatementRow.voided.is_(False))
        if people is None:
            parts: Iterable[Any] = [base]
        else:
            parts = (base.where(LearningStatementRow.person_id.in_(p)) for p in _chunks(list(people)))
        out: list[dict[str, Any]] = []
        for stmt in parts:
            out.extend(
                r._asdict() for r in self.session.execute(stmt.order_by(LearningStatementRow.occurred_at))
            )
        return out

    def add_import(self, doc: dict[str, Any], by: str) -> dict[str, Any]:
        row = LearningImportRow(**doc, created_by=by, created_at=_now())
        self.session.add(row)
        self.session.flush()
        return _columns(row)

    def imports(self, limit: int = 20) -> list[dict[str, Any]]:
        stmt = select(LearningImportRow).order_by(LearningImportRow.id.desc()).limit(limit)
        return [_columns(r) for r in self.session.scalars(stmt)]

    # --- champions, goals, sessions ------------------------------------------------------------
    def champions(self, use_case: str | None = None) -> list[dict[str, Any]]:
        stmt = (
            select(ChampionRow)
            .where(ChampionRow.active.is_(True))
            .order_by(ChampionRow.use_case, ChampionRow.team)
        )
        if use_case is not None:
            stmt = stmt.where(ChampionRow.use_case == use_case)
        return [_columns(r, "updated_by", "updated_at") for r in self.session.scalars(stmt)]

    def save_champion(self, doc: dict[str, Any], by: str) -> dict[str, Any]:
        stmt = select(ChampionRow).where(
            ChampionRow.team == doc["team"],
            ChampionRow.use_case == doc["use_case"],
            ChampionRow.person_id == doc["person_id"],
        )
        row = self.session.scalars(stmt).first()
        if row is None:
            row = ChampionRow(team=doc["team"], use_case=doc["use_case"], person_id=doc["person_id"])
            self.session.add(row)
        row.name, row.since, row.active, row.updated_by, row.updated_at = (
            doc["name"],
            doc["since"],
            True,
            by,
            _now(),
        )
        self.session.flush()
        return _columns(row, "updated_by", "updated_at")

    def retire_champion(self, champion_id: int, by: str) -> bool:
        row = self.session.get(ChampionRow, champion_id)
        if row is None or not row.active:
            return False
        row.active, row.updated_by, row.updated_at = False, by, _now()
        self.session.flush()
        return True

    def goals(self, use_case: str | None = None) -> list[dict[str, Any]]:
        stmt = select(TeamGoalRow).order_by(TeamGoalRow.use_case, TeamGoalRow.team, TeamGoalRow.key)
        if use_case is not None:
            stmt = stmt.where(TeamGoalRow.use_case == use_case)
        return [_columns(r, "updated_by", "updated_at") for r in self.session.scalars(stmt)]

    def save_goal(self, doc: dict[str, Any], by: str) -> None:
        row = self.session.get(TeamGoalRow, doc["key"]) or TeamGoalRow(key=doc["key"])
        for name, value in doc.items():
            setattr(row, name, value)
        row.updated_by, row.updated_at = by, _now()
        self.session.add(row)
        self.session.flush()

    def sessions(self, use_case: str | None = None) -> list[dict[str, Any]]:
        stmt = select(ReviewSessionRow).order_by(ReviewSessionRow.scheduled_on, ReviewSessionRow.id)
        if use_case is not None:
            stmt = stmt.where(ReviewSessionRow.use_case == use_case)
        return [_columns(r, "updated_by", "updated_at") for r in self.session.scalars(stmt)]

    def plan_sessions(
        self, use_case: str, team: str, days: Sequence[date], cadence: str, champion_id: int | None, by: str
    ) -> int:
        """Add the sessions not planned yet; returns how many were added."""
        stmt = select(ReviewSessionRow.scheduled_on).where(
            ReviewSessionRow.use_case == use_case, ReviewSessionRow.team == team
        )
        known = set(self.session.scalars(stmt))
        fresh = [d for d in days if d not in known]
        for day in fresh:
            self.session.add(
                ReviewSessionRow(
                    use_case=use_case,
                    team=team,
                    scheduled_on=day,
                    cadence=cadence,
                    status="planned",
                    attendees=0,
                    champion_id=champion_id,
                    feedback=[],
                    actions=[],
                    updated_by=by,
                    updated_at=_now(),
                )
            )
        self.session.flush()
        return len(fresh)

    def review_session(self, session_id: int) -> dict[str, Any] | None:
        row = self.session.get(ReviewSessionRow, session_id)
        return None if row is None else _columns(row, "updated_by", "updated_at")

    def record_session(self, session_id: int, doc: dict[str, Any], by: str) -> dict[str, Any] | None:
        row = self.session.get(ReviewSessionRow, session_id)
        if row is None:
            return None
        for name, value in doc.items():
            setattr(row, name, value)
        row.updated_by, row.updated_at = by, _now()
        self.session.flush()
        return _columns(row, "updated_by", "updated_at")

    # --- learners and the change log -------------------------------------------------------------
    def link_learner(self, login: str, person_id: str, by: str) -> None:
        row = self.session.get(LearnerLinkRow, login) or LearnerLinkRow(login=login)
        row.person_id, row.linked_by, row.linked_at = person_id, by, _now()
        self.session.add(row)
        self.session.flush()

    def learner_of(self, login: str) -> str | None:
        row = self.session.get(LearnerLinkRow, login)
        return None if row is None else row.person_id

    def change_entries(self, entities: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """Audit entries about *entities*, newest first."""
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.entity.in_(list(entities)))
            .order_by(AuditEntry.seq.desc())
            .limit(limit)
        )
        return [
            {
                "seq": r.seq,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "entity": r.entity,
                "entity_id": r.entity_id,
                "data": r.data,
            }
            for r in self.session.scalars(stmt)
        ]
