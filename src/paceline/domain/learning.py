"""Learning records folded into each person's state per course and per learning path.

Records arrive as events (an xAPI statement, a row of a CSV export, a click in Paceline):
``registered`` (enrolled), ``attempted``, ``completed``, ``passed`` and ``failed``, each on a
day, some with a score on the 0..1 scale or an explicit success flag. :func:`course_states`
folds them, in any order, into one :class:`CourseState` per person and course, so loading
the same learning system's history twice, or in pieces, gives the same state.

A course is *done* when it is completed and, if it is assessed, passed: a pass counts as
completion (xAPI's ``passed`` implies the attempt was finished). Passing is judged, in order,
by the event's success flag, by its verb, and by its score against the course's pass mark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from paceline.domain.curricula import Course, Curriculum


class Verb(StrEnum):
    REGISTERED = "registered"
    ATTEMPTED = "attempted"
    COMPLETED = "completed"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class LearningEvent:
    person_id: str
    course: str
    verb: Verb
    on: date
    score: float | None = None  # 0..1
    success: bool | None = None


@dataclass(frozen=True)
class CourseState:
    """Where one person stands in one course."""

    person_id: str
    course: str
    enrolled_on: date | None = None
    completed_on: date | None = None
    results: int = 0  # assessment results (passes and fails)
    best_score: float | None = None
    passed_on: date | None = None
    failed: int = 0

    @property
    def passed(self) -> bool:
        return self.passed_on is not None

    def done(self, course: Course | None) -> bool:
        """Completed, and passed when the course is assessed (unknown courses: completed)."""
        if course is not None and course.assessed:
            return self.passed
        return self.completed_on is not None

    def done_on(self, course: Course | None) -> date | None:
        if not self.done(course):
            return None
        if course is not None and course.assessed:
            return self.passed_on
        return self.completed_on


def _passes(event: LearningEvent, course: Course | None) -> bool | None:
    """Whether *event* is a pass (True), a fail (False), or says nothing about passing (None)."""
    if event.success is not None and event.verb in (Verb.COMPLETED, Verb.PASSED, Verb.FAILED):
        return event.success
    if event.verb is Verb.PASSED:
        return True
    if event.verb is Verb.FAILED:
        return False
    scored = event.score is not None and course is not None and course.pass_mark is not None
    if scored and event.verb in (Verb.COMPLETED, Verb.ATTEMPTED):
        return event.score >= course.pass_mark  # type: ignore[operator,union-attr]
    return None


def _earliest(a: date | None, b: date) -> date:
    return b if a is None or b < a else a


def _apply(state: CourseState, event: LearningEvent, course: Course | None) -> CourseState:
    changes: dict[str, object] = {"enrolled_on": _earliest(state.enrolled_on, event.on)}
    if event.score is not None:
        changes["best_score"] = max(event.score, state.best_score or event.score)
    verdict = _passes(event, course)
    if verdict is not None:
        changes["results"] = state.results + 1
    if verdict is True:
        changes["passed_on"] = _earliest(state.passed_on, event.on)
        changes["completed_on"] = _earliest(state.completed_on, event.on)
    elif verdict is False:
        changes["failed"] = state.failed + 1
    if event.verb is Verb.COMPLETED:
        changes["completed_on"] = _earliest(state.completed_on, event.on)
    return replace(state, **changes)  # type: ignore[arg-type]


def course_states(
    events: Iterable[LearningEvent], courses: Mapping[str, Course]
) -> dict[tuple[str, str], CourseState]:
    """Each (person, course) pair's state; the order of *events* does not matter."""
    ordered = sorted(events, key=lambda e: (e.person_id, e.course, e.on, list(Verb).index(e.verb)))
    out: dict[tuple[str, str], CourseState] = {}
    for event in ordered:
        pair = (event.person_id, event.course)
        state = out.get(pair) or CourseState(event.person_id, event.course)
        out[pair] = _apply(state, event, courses.get(event.course))
    return out


def by_person(states: Mapping[tuple[str, str], CourseState]) -> dict[str, dict[str, CourseState]]:
    """The states grouped per person: person -> course -> state."""
    out: dict[str, dict[str, CourseState]] = {}
    for (person, course), state in states.items():
        out.setdefault(person, {})[course] = state
    return out


def path_done_on(
    curriculum: Curriculum, mine: Mapping[str, CourseState], courses: Mapping[str, Course]
) -> date | None:
    """The day a person finished the whole learning path (its last course done), or None.

    *mine* is the person's states by course (:func:`by_person`).
    """
    days = []
    for key in curriculum.path:
        state = mine.get(key)
        done = state.done_on(courses.get(key)) if state is not None else None
        if done is None:
            return None
        days.append(done)
    return max(days)


def achieved_levels(mine: Mapping[str, CourseState], courses: Mapping[str, Course]) -> dict[str, int]:
    """Each competency's level reached through the courses a person has done."""
    out: dict[str, int] = {}
    for key, state in mine.items():
        course = courses.get(key)
        if course is None or not state.done(course):
            continue
        for comp, level in course.grants:
            out[comp] = max(out.get(comp, 0), level)
    return out
