"""Curricula: competencies with levels, courses that build them, and learning paths per role.

The framework's phase 4 asks for role-based training and a competency matrix. Here that is
three kinds of document:

* a :class:`Competency` (e.g. ``verification``: checking an AI suggestion before acting on it),
  assessed on the four :data:`LEVELS` above ``0`` (none);
* a :class:`Course` of a kind (a just-in-time micro-lesson, a scenario workshop, a
  certification) that, once done, gives its competencies up to a level; an assessed course has
  a pass mark on the 0..1 scale of xAPI's ``result.score.scaled``;
* a :class:`Curriculum` for one job role in one use case: the learning path (courses in order)
  and the level the role must reach in each competency (the role's targets).

Documents are validated field by field (:mod:`paceline.domain.enablement_fields`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from paceline.domain import enablement_fields as f
from paceline.errors import ValidationError

LEVELS: dict[int, str] = {0: "none", 1: "aware", 2: "practitioner", 3: "proficient", 4: "expert"}
TOP_LEVEL = max(LEVELS)
ANY_ROLE = "*"  # a curriculum for every job role of the use case


class CourseKind(StrEnum):
    MICRO_LESSON = "micro-lesson"  # just-in-time, minutes, in the flow of work
    WORKSHOP = "workshop"  # scenario-based, on the team's own cases
    CERTIFICATION = "certification"  # an assessed course that certifies a level
    COURSE = "course"


@dataclass(frozen=True)
class Competency:
    key: str
    title: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "description": self.description}


@dataclass(frozen=True)
class Course:
    """A course; ``grants`` maps competency -> level reached when the course is done."""

    key: str
    title: str
    kind: CourseKind
    minutes: int
    grants: tuple[tuple[str, int], ...]
    use_case: str | None = None
    pass_mark: float | None = None  # on the 0..1 scale; None: no assessment
    modules: tuple[str, ...] = ()
    activity_ids: tuple[str, ...] = ()  # xAPI activity IRIs that mean this course

    @property
    def assessed(self) -> bool:
        return self.pass_mark is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "kind": self.kind.value,
            "minutes": self.minutes,
            "grants": dict(self.grants),
            "use_case": self.use_case,
            "pass_mark": self.pass_mark,
            "modules": list(self.modules),
            "activity_ids": list(self.activity_ids),
        }


@dataclass(frozen=True)
class Curriculum:
    """The learning path and competency targets of one job role in one use case."""

    key: str
    title: str
    use_case: str
    role: str  # a job role of the people table (e.g. claims-adjuster), or "*" for every role
    path: tuple[str, ...]
    targets: tuple[tuple[str, int], ...] = field(default=())

    def applies_to(self, role: str | None) -> bool:
        return self.role == ANY_ROLE or (role is not None and role == self.role)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "use_case": self.use_case,
            "role": self.role,
            "path": list(self.path),
            "targets": dict(self.targets),
        }


COMPETENCY_FIELDS = ("key", "title", "description")
COURSE_FIELDS = (
    "key",
    "title",
    "kind",
    "minutes",
    "grants",
    "use_case",
    "pass_mark",
    "modules",
    "activity_ids",
)
CURRICULUM_FIELDS = ("key", "title", "use_case", "role", "path", "targets")


def parse_competency(doc: Any) -> Competency:
    f.unknown_fields(doc, COMPETENCY_FIELDS, "competency")
    return Competency(
        f.key(doc, "key"), f.text(doc, "title"), f.text(doc, "description", False, f.NOTE_LIMIT)
    )


def _levels(doc: dict[str, Any], name: str, low: int) -> tuple[tuple[str, int], ...]:
    value = doc.get(name) or {}
    if not isinstance(value, dict):
        raise f.bad(name, value, "is not a mapping of competency to level", 'give e.g. {"verification": 2}')
    out = []
    for comp, level in sorted(value.items(), key=lambda kv: str(kv[0])):
        f.key({"competency": comp}, "competency")
        out.append((comp, f.whole({f"{name}.{comp}": level}, f"{name}.{comp}", low, TOP_LEVEL)))
    return tuple(out)


def parse_course(doc: Any) -> Course:
    f.unknown_fields(doc, COURSE_FIELDS, "course")
    grants = _levels(doc, "grants", 1)
    if not grants:
        raise f.bad(
            "grants", doc.get("grants"), "is empty", 'name what the course builds, e.g. {"prompting": 2}'
        )
    mark = None if doc.get("pass_mark") in (None, "") else f.number(doc, "pass_mark", 0.0, 1.0)
    return Course(
        key=f.key(doc, "key"),
        title=f.text(doc, "title"),
        kind=f.choice(doc, "kind", CourseKind, CourseKind.COURSE),
        minutes=f.whole(doc, "minutes", 1, 100_000),
        grants=grants,
        use_case=f.optional_key(doc, "use_case"),
        pass_mark=mark,
        modules=f.strings(doc, "modules"),
        activity_ids=f.strings(doc, "activity_ids", 1000),
    )


def parse_curriculum(doc: Any) -> Curriculum:
    f.unknown_fields(doc, CURRICULUM_FIELDS, "curriculum")
    role = doc.get("role")
    if role != ANY_ROLE:
        role = f.key(doc, "role")
    path = f.keys(doc, "path")
    if not path:
        raise f.bad("path", doc.get("path"), "is empty", "list the courses of the learning path, in order")
    if len(set(path)) != len(path):
        raise f.bad("path", list(path), "names a course twice", "list each course once")
    return Curriculum(
        key=f.key(doc, "key"),
        title=f.text(doc, "title"),
        use_case=f.key(doc, "use_case"),
        role=role,
        path=path,
        targets=_levels(doc, "targets", 0),
    )


def check_curriculum(curriculum: Curriculum, courses: Mapping[str, Course]) -> None:
    """A curriculum must name known courses, and each target must be reachable on its path."""
    for key in curriculum.path:
        if key not in courses:
            raise f.bad("path", key, "is not a known course", "add the course first (enablement course add)")
    reach = achievable(courses[k] for k in curriculum.path)
    for comp, target in curriculum.targets:
        if reach.get(comp, 0) < target:
            raise ValidationError(
                f"target {comp}={target} of {curriculum.key!r} cannot be reached: its path builds "
                f"{comp} to level {reach.get(comp, 0)} at most",
                field=f"targets.{comp}",
                value=target,
                fix="lower the target, or add a course to the path that builds this competency",
            )


def achievable(courses: Iterable[Course]) -> dict[str, int]:
    """The highest level of each competency that the given courses build."""
    out: dict[str, int] = {}
    for course in courses:
        for comp, level in course.grants:
            out[comp] = max(out.get(comp, 0), level)
    return out


def check_grants(course: Course, competencies: Mapping[str, Competency]) -> None:
    for comp, _ in course.grants:
        if comp not in competencies:
            raise f.bad(
                f"grants.{comp}",
                comp,
                "is not a known competency",
                "add the competency first (enablement competency add)",
            )


def level_name(level: int) -> str:
    return LEVELS.get(level, str(level))
