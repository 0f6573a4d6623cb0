"""Phase-4 enablement: the catalogue (competencies, courses, curricula), learning records and
the views of them that each role may see.

* Everyone who may read a use case sees the catalogue and the team aggregates: the
  competency matrix by team and competency, course completions by team, each with the
  ``min_group_size`` rule (a cell about fewer than k people is suppressed).
* A person sees their own learning (:meth:`EnablementService.my_learning`), through the
  login linked to their person id; the people/HR role (``learning.read_individual``) may see
  anyone's. Nobody else sees an individual record.
* The people/HR role and program managers (``training.record``) keep the catalogue and enter
  or import records: xAPI statements (:mod:`paceline.services.xapi`), the CSV of
  :mod:`paceline.services.training`, or an enrolment or completion entered here.

The gate reads :meth:`EnablementService.training_evidence` and
:meth:`EnablementService.proven_deliverables`. Storage is reached through
:class:`EnablementRepository`; the warehouse through a connection factory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time
from functools import cached_property
from typing import Any, Protocol

from paceline.domain import curricula as cur
from paceline.domain.enablement import (
    Learner,
    PathTrainingEvidence,
    curricula_for,
    person_matrix,
    targets_for,
    team_matrix,
    training_evidence,
)
from paceline.domain.learning import (
    CourseState,
    LearningEvent,
    Verb,
    achieved_levels,
    by_person,
    course_states,
    path_done_on,
)
from paceline.domain.roles import Action
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.services import roster
from paceline.services.access import Principal
from paceline.services.xapi_import import ImportReport, StatementStore, import_statements

Pseudonymise = Callable[[str], str]


class EnablementRepository(StatementStore, Protocol):
    def competencies(self) -> list[dict[str, Any]]: ...
    def save_competency(self, doc: dict[str, Any], by: str) -> None: ...
    def courses(self) -> list[dict[str, Any]]: ...
    def save_course(self, doc: dict[str, Any], by: str) -> None: ...
    def curricula(self) -> list[dict[str, Any]]: ...
    def save_curriculum(self, doc: dict[str, Any], by: str) -> None: ...
    def add_statement(self, row: dict[str, Any], by: str) -> None: ...
    def statements(self, people: list[str] | None = None) -> list[dict[str, Any]]: ...
    def imports(self, limit: int = 20) -> list[dict[str, Any]]: ...
    def link_learner(self, login: str, person_id: str, by: str) -> None: ...
    def learner_of(self, login: str) -> str | None: ...
    def champions(self, use_case: str | None = None) -> list[dict[str, Any]]: ...
    def goals(self, use_case: str | None = None) -> list[dict[str, Any]]: ...


class TrainingRecords(Protocol):
    """The CSV/API learning records of :mod:`paceline.services.training` (the lifecycle store)."""

    def training_records(self, use_case: str | None = None) -> list[dict[str, Any]]: ...


def record_events(records: Iterable[dict[str, Any]]) -> list[LearningEvent]:
    """The events a learning record (one row of the training CSV) stands for."""
    out = []
    for r in records:
        person, course = r["person_id"], r["course"]
        enrolled = date.fromisoformat(str(r["enrolled_on"])[:10])
        out.append(LearningEvent(person, course, Verb.REGISTERED, enrolled))
        done = date.fromisoformat(str(r["completed_on"])[:10]) if r.get("completed_on") else None
        if done is not None:
            out.append(LearningEvent(person, course, Verb.COMPLETED, done))
        if r.get("score") is not None and r.get("pass_mark") is not None:
            passed = float(r["score"]) >= float(r["pass_mark"])
            out.append(
                LearningEvent(person, course, Verb.PASSED if passed else Verb.FAILED, done or enrolled)
            )
    return out


def statement_events(rows: Iterable[dict[str, Any]]) -> list[LearningEvent]:
    out = []
    for r in rows:
        at = r["occurred_at"]
        day = at.date() if isinstance(at, datetime) else date.fromisoformat(str(at)[:10])
        out.append(LearningEvent(r["person_id"], r["course"], Verb(r["verb"]), day, r["score"], r["success"]))
    return out


class Catalogue:
    """The validated competencies, courses and curricula, read once per service."""

    def __init__(self, repo: EnablementRepository) -> None:
        self.competencies = {d["key"]: cur.parse_competency(d) for d in repo.competencies()}
        self.courses = {d["key"]: cur.parse_course(d) for d in repo.courses()}
        self.curricula = [cur.parse_curriculum(d) for d in repo.curricula()]

    def by_activity(self) -> dict[str, str]:
        return {iri: c.key for c in self.courses.values() for iri in c.activity_ids}

    def use_case_curricula(self, use_case: str) -> list[cur.Curriculum]:
        return [c for c in self.curricula if c.use_case == use_case]


class EnablementService:
    """Reads and writes the enablement records with the permission and privacy rules above."""

    def __init__(
        self,
        repo: EnablementRepository,
        records: TrainingRecords,
        con: Callable[[], Any],
        pseudonymise: Pseudonymise,
        min_group_size: int,
    ) -> None:
        self.repo, self.records, self._con = repo, records, con
        self.pseudonymise, self.k = pseudonymise, min_group_size

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.repo)

    @cached_property
    def people(self) -> dict[str, Learner]:
        return roster.learners(self._con())

    def _forget(self) -> None:
        self.__dict__.pop("catalogue", None)

    # --- the catalogue ---------------------------------------------------------------------
    def catalogue_doc(self, by: Principal, use_case: str | None = None) -> dict[str, Any]:
        by.require(Action.READ, use_case)
        c = self.catalogue
        curricula = [x for x in c.curricula if use_case is None or x.use_case == use_case]
        if use_case is None and not by.is_global:
            curricula = [x for x in curricula if by.can(Action.READ, x.use_case)]
        return {
            "competencies": [x.to_dict() for x in c.competencies.values()],
            "courses": [x.to_dict() for x in c.courses.values()],
            "curricula": [x.to_dict() for x in curricula],
            "levels": cur.LEVELS,
        }

    def save_competency(self, by: Principal, doc: Any) -> dict[str, Any]:
        by.require(Action.TRAINING_RECORD)
        comp = cur.parse_competency(doc)
        self.repo.save_competency(comp.to_dict(), by.actor)
        self._forget()
        return comp.to_dict()

    def save_course(self, by: Principal, doc: Any) -> dict[str, Any]:
        by.require(Action.TRAINING_RECORD)
        course = cur.parse_course(doc)
        cur.check_grants(course, self.catalogue.competencies)
        self.repo.save_course(course.to_dict(), by.actor)
        self._forget()
        return course.to_dict()

    def save_curriculum(self, by: Principal, doc: Any) -> dict[str, Any]:
        by.require(Action.TRAINING_RECORD)
        curriculum = cur.parse_curriculum(doc)
        cur.check_curriculum(curriculum, self.catalogue.courses)
        self.repo.save_curriculum(curriculum.to_dict(), by.actor)
        self._forget()
        return curriculum.to_dict()

    # --- records ---------------------------------------------------------------------------
    def import_xapi(self, by: Principal, docs: Iterable[Any], source: str, fmt: str = "xapi") -> ImportReport:
        """Load xAPI statements (idempotent by statement id); see :mod:`paceline.services.xapi_import`."""
        by.require(Action.TRAINING_RECORD)
        return import_statements(
            self.repo, docs, self.pseudonymise, self.catalogue.by_activity(), source, fmt, by.actor
        )

    def enter(
        self,
        by: Principal,
        person: str,
        course: str,
        verb: str,
        on: date,
        score: float | None = None,
    ) -> dict[str, Any]:
        """An enrolment (``registered``), completion or assessment result entered in Paceline."""
        by.require(Action.TRAINING_RECORD)
        if course not in self.catalogue.courses:
            raise NotFound(
                f"no course {course!r}", field="course", fix="add it first, or pick a listed course"
            )
        try:
            kind = Verb(verb)
        except ValueError:
            names = ", ".join(v.value for v in Verb)
            raise ValidationError(
                f"verb {verb!r} is not one Paceline records", field="verb", fix=f"use one of: {names}"
            ) from None
        if score is not None and not 0 <= score <= 1:
            raise ValidationError(
                f"score {score} is outside 0..1", field="score", fix="give the score as a share, e.g. 0.82"
            )
        if not person.strip():
            raise ValidationError("person is required", field="person", fix="give the person's HR id")
        at = datetime.combine(on, time(12), tzinfo=UTC)
        row: dict[str, Any] = {
            "statement_id": str(uuid.uuid4()),
            "person_id": self.pseudonymise(person.strip()),
            "course": course,
            "verb": kind.value,
            "occurred_at": at,
            "score": score,
            "success": None,
            "voided": False,
            "source": "paceline",
            "import_id": None,
        }
        self.repo.add_statement(row, by.actor)
        return {k: v for k, v in row.items() if k not in ("person_id", "voided", "import_id")} | {
            "occurred_at": at.isoformat()
        }

    def states(self, people: list[str] | None = None) -> dict[str, dict[str, CourseState]]:
        """person -> course -> state, from the statements and the CSV/API learning records."""
        events = statement_events(self.repo.statements(people))
        rows = self.records.training_records(None)
        if people is not None:
            wanted = set(people)
            rows = [r for r in rows if r["person_id"] in wanted]
        events += record_events(rows)
        return by_person(course_states(events, self.catalogue.courses))

    # --- individual learning (the person, and the people role) -----------------------------
    def link_learner(self, by: Principal, login: str, person: str) -> None:
        """Say which person a login is, so that user sees their own learning."""
        by.require(Action.TRAINING_RECORD)
        if not login.strip() or not person.strip():
            raise ValidationError("login and person are required", field="login", fix="give both")
        self.repo.link_learner(login.strip(), self.pseudonymise(person.strip()), by.actor)

    def my_learning(self, by: Principal) -> dict[str, Any]:
        """The signed-in user's own learning: their paths, courses and competencies."""
        by.require(Action.READ)
        person = self.repo.learner_of(by.login)
        if person is None:
            raise NotFound(
                f"{by.login} is not linked to a person in the people table",
                fix="ask HR to link your login (paceline enablement link LOGIN PERSON_ID)",
            )
        return self._individual(person)

    def person_learning(self, by: Principal, person: str) -> dict[str, Any]:
        """Anyone's learning, for the people/HR role only (``learning.read_individual``)."""
        if not by.can(Action.LEARNING_READ):
            raise PermissionDenied(
                f"{by.login} may not {Action.LEARNING_READ.value}: another person's learning records",
                action=Action.LEARNING_READ.value,
                fix="individual records are for the person and the people/HR role; others see teams",
            )
        return self._individual(self.pseudonymise(person.strip()))

    def _individual(self, person: str) -> dict[str, Any]:
        learner = self.people.get(person) or Learner(person, None, None)
        c = self.catalogue
        mine = self.states([person]).get(person, {})
        paths = curricula_for(learner, c.curricula)
        achieved = achieved_levels(mine, c.courses)
        return {
            "team": learner.team,
            "role": learner.role,
            "use_cases": list(learner.use_cases),
            "paths": [self._path_doc(p, mine) for p in paths],
            "courses": [_state_doc(s, c.courses.get(k)) for k, s in sorted(mine.items())],
            "competencies": [s.to_dict() for s in person_matrix(targets_for(paths), achieved)],
        }

    def _path_doc(self, path: cur.Curriculum, mine: Mapping[str, CourseState]) -> dict[str, Any]:
        courses = self.catalogue.courses
        steps = []
        for key in path.path:
            state, course = mine.get(key), courses.get(key)
            steps.append(
                {
                    "course": key,
                    "title": course.title if course else key,
                    "done": bool(state and state.done(course)),
                }
            )
        finished = path_done_on(path, mine, courses)
        return {**path.to_dict(), "steps": steps, "done_on": finished.isoformat() if finished else None}

    # --- team aggregates -----------------------------------------------------------------------
    def matrix(self, by: Principal, use_case: str | None = None) -> dict[str, Any]:
        """The competency matrix by team and competency (gaps against role targets), small groups hidden."""
        self._require_view(by, use_case)
        people = [p for p in self.people.values() if use_case is None or use_case in p.use_cases]
        c = self.catalogue
        states = self.states([p.person_id for p in people])
        targets = {p.person_id: targets_for(curricula_for(p, c.curricula, use_case)) for p in people}
        achieved = {p.person_id: achieved_levels(states.get(p.person_id, {}), c.courses) for p in people}
        cells = team_matrix(people, targets, achieved, self.k)
        return {
            "use_case": use_case,
            "min_group_size": self.k,
            "teams": sorted({x.team for x in cells}),
            "competencies": sorted({x.competency for x in cells}),
            "cells": [x.to_dict() for x in cells],
            "completions": self._completions(people, states, use_case),
        }

    def _completions(
        self, people: list[Learner], states: dict[str, dict[str, CourseState]], use_case: str | None
    ) -> list[dict[str, Any]]:
        """Per team and learning path: people it applies to and how many finished it (suppressed < k)."""
        c = self.catalogue
        counts: dict[tuple[str, str], list[int]] = {}
        for p in people:
            for path in curricula_for(p, c.curricula, use_case):
                cell = counts.setdefault((p.team or "(no team)", path.key), [0, 0])
                cell[0] += 1
                cell[1] += path_done_on(path, states.get(p.person_id, {}), c.courses) is not None
        rows = []
        for (team, key), (n, done) in sorted(counts.items()):
            hidden = 0 < n < self.k
            rows.append(
                {
                    "team": team,
                    "curriculum": key,
                    "people": n,
                    "completed": None if hidden else done,
                    "rate": None if hidden else done / n,
                    "suppressed": hidden,
                }
            )
        return rows

    def _require_view(self, by: Principal, use_case: str | None) -> None:
        by.require(Action.READ, use_case)
        if use_case is None and not by.is_global:
            raise PermissionDenied(
                f"{by.login} may see the enablement figures of their own use cases only",
                fix="choose a use case",
            )

    def imports(self, by: Principal, limit: int = 20) -> list[dict[str, Any]]:
        by.require(Action.READ)
        return self.repo.imports(limit)

    # --- the phase-4 gate ---------------------------------------------------------------------
    def training_evidence(self, use_case: str, eligible: set[str]) -> PathTrainingEvidence | None:
        """Completion, pass rate and demonstrated use of the eligible people (None: nobody eligible)."""
        if not eligible:
            return None
        people = [self.people.get(p) or Learner(p, None, None, (use_case,)) for p in sorted(eligible)]
        c = self.catalogue
        states = self.states(sorted(eligible))
        users = roster.recent_users(self._con(), use_case)
        recorded = frozenset(
            r["course"]
            for r in self.records.training_records(use_case)  # the use case's and general courses
            if r["course"] not in c.courses
        )
        return training_evidence(
            people, c.use_case_curricula(use_case), states, c.courses, use_case, users, recorded
        )

    def trained_on(self, use_case: str) -> dict[str, date]:
        """The day each person of *use_case* finished every learning path that applies to them."""
        c = self.catalogue
        paths = c.use_case_curricula(use_case)
        people = [p for p in self.people.values() if use_case in p.use_cases]
        states = self.states([p.person_id for p in people])
        out: dict[str, date] = {}
        for person in people:
            mine = curricula_for(person, paths, use_case)
            days = [path_done_on(x, states.get(person.person_id, {}), c.courses) for x in mine]
            if mine and all(d is not None for d in days):
                out[person.person_id] = max(d for d in days if d is not None)
        return out

    def proven_deliverables(self, use_case: str) -> dict[str, bool]:
        """Phase-4 deliverables the records prove: curriculum, competency matrix, incentives, champions."""
        paths = self.catalogue.use_case_curricula(use_case)
        return {
            "curriculum": bool(paths),
            "competency_matrix": bool(paths) and all(p.targets for p in paths),
            "incentives": any(g["incentive"] for g in self.repo.goals(use_case)),
            "champions_network": bool(self.repo.champions(use_case)),
        }


def _state_doc(state: CourseState, course: cur.Course | None) -> dict[str, Any]:
    return {
        "course": state.course,
        "title": course.title if course else state.course,
        "kind": course.kind.value if course else None,
        "enrolled_on": state.enrolled_on.isoformat() if state.enrolled_on else None,
        "completed_on": state.completed_on.isoformat() if state.completed_on else None,
        "results": state.results,
        "best_score": state.best_score,
        "pass_mark": course.pass_mark if course else None,
        "passed": state.passed if course and course.assessed else None,
        "done": state.done(course),
    }
