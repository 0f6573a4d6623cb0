"""Phase-4 enablement: the competency matrix, champions, team goals and the gate's training figures.

Everything here is pure and works on pseudonymised people. Individual standing
(:func:`person_matrix`) is for the person and the people/HR role only; everyone else sees
:func:`team_matrix`, where a cell about fewer than ``k`` people is suppressed (the
``min_group_size`` rule of the KPIs). Goals are set for teams, never for a person: the
framework's "measurable adoption and performance goals tied to incentives" are collective,
and individual performance targets are exactly what the EU AI Act treats as high-risk
(Annex III 4(b)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from paceline.domain import enablement_fields as f
from paceline.domain.curricula import Course, Curriculum
from paceline.domain.evidence import TrainingEvidence
from paceline.domain.kpis import KPIS, Direction
from paceline.domain.learning import CourseState, path_done_on
from paceline.errors import ValidationError


@dataclass(frozen=True)
class Learner:
    """A person as enablement sees them: pseudonymised id, team, job role, assigned use cases."""

    person_id: str
    team: str | None
    role: str | None
    use_cases: tuple[str, ...] = ()


def curricula_for(
    learner: Learner, curricula: Iterable[Curriculum], use_case: str | None = None
) -> list[Curriculum]:
    """The curricula that apply to *learner* (their role, their use cases; one use case if given)."""
    wanted = (use_case,) if use_case is not None else learner.use_cases
    return [c for c in curricula if c.use_case in wanted and c.applies_to(learner.role)]


def targets_for(applicable: Iterable[Curriculum]) -> dict[str, int]:
    """The level each competency must reach: the highest target among the curricula."""
    out: dict[str, int] = {}
    for c in applicable:
        for comp, level in c.targets:
            out[comp] = max(out.get(comp, 0), level)
    return out


@dataclass(frozen=True)
class Standing:
    """One person's level in one competency against their role's target."""

    competency: str
    target: int
    achieved: int

    @property
    def gap(self) -> int:
        return max(0, self.target - self.achieved)

    def to_dict(self) -> dict[str, Any]:
        return {
            "competency": self.competency,
            "target": self.target,
            "achieved": self.achieved,
            "gap": self.gap,
        }


def person_matrix(targets: Mapping[str, int], achieved: Mapping[str, int]) -> list[Standing]:
    """A person's row of the matrix: every targeted or reached competency (individual view only)."""
    names = sorted(set(targets) | set(achieved))
    return [Standing(c, targets.get(c, 0), achieved.get(c, 0)) for c in names]


@dataclass(frozen=True)
class MatrixCell:
    """Team x competency: people with a target, how many meet it, the mean gap in levels."""

    team: str
    competency: str
    people: int
    meeting: int | None
    mean_gap: float | None
    suppressed: bool

    @property
    def share_meeting(self) -> float | None:
        return None if self.meeting is None or not self.people else self.meeting / self.people

    def to_dict(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "competency": self.competency,
            "people": self.people,
            "meeting": self.meeting,
            "share_meeting": self.share_meeting,
            "mean_gap": self.mean_gap,
            "suppressed": self.suppressed,
        }


def team_matrix(
    learners: Iterable[Learner],
    targets: Mapping[str, Mapping[str, int]],
    achieved: Mapping[str, Mapping[str, int]],
    k: int,
) -> list[MatrixCell]:
    """Aggregate the people's standings by team and competency; cells under *k* people are suppressed.

    *targets* and *achieved* map a person to their competency levels. People without a team
    are counted under ``(no team)``.
    """
    sums: dict[tuple[str, str], list[int]] = {}
    for person in learners:
        for comp, target in targets.get(person.person_id, {}).items():
            if target <= 0:
                continue
            got = achieved.get(person.person_id, {}).get(comp, 0)
            cell = sums.setdefault((person.team or "(no team)", comp), [0, 0, 0])
            cell[0] += 1
            cell[1] += got >= target
            cell[2] += max(0, target - got)
    out = []
    for (team, comp), (n, meeting, gap) in sorted(sums.items()):
        hidden = 0 < n < k
        out.append(
            MatrixCell(team, comp, n, None if hidden else meeting, None if hidden else gap / n, hidden)
        )
    return out


# --- the phase-4 gate's figures ---------------------------------------------------------


@dataclass(frozen=True)
class PathTrainingEvidence(TrainingEvidence):
    """The gate's training figures from the learning paths, with demonstrated use in workflows.

    ``completed`` counts eligible people who finished their role's learning path;
    ``demonstrated`` those of them who decided on AI suggestions in their work in the last
    weeks of data (None when the warehouse has no usage data to tell).
    """

    demonstrated: int | None = None
    basis: str = "learning paths"

    @property
    def demonstrated_rate(self) -> float | None:
        if self.demonstrated is None or not self.completed:
            return None
        return self.demonstrated / self.completed


def training_evidence(
    eligible: Iterable[Learner],
    curricula: Sequence[Curriculum],
    states: Mapping[str, Mapping[str, CourseState]],
    courses: Mapping[str, Course],
    use_case: str,
    users: set[str] | None = None,
    recorded: frozenset[str] = frozenset(),
) -> PathTrainingEvidence:
    """Completion, assessment and demonstrated use of the eligible people of *use_case*.

    A person has completed training when they finished every learning path that applies to
    them; without an applicable curriculum, when they completed any course of the use case.
    A person is assessed when they have a result in an assessed course, and has passed when
    every assessed course they were assessed in is passed. *users* are the people with AI
    suggestion decisions in the recent weeks (None: unknown). *recorded* are courses outside the
    catalogue that learning records file under this use case (or under none: general courses).
    """
    people = list(eligible)
    enrolled = completed = assessed = passed = 0
    trained: list[str] = []
    for person in people:
        mine = states.get(person.person_id, {})
        relevant = {
            k: s
            for k, s in mine.items()
            if k in recorded or _in_use_case(courses.get(k), k, use_case, curricula)
        }
        enrolled += bool(relevant)
        paths = curricula_for(person, curricula, use_case)
        if paths:
            done = all(path_done_on(c, mine, courses) is not None for c in paths)
        else:
            done = any(s.completed_on is not None for s in relevant.values())
        if done:
            completed += 1
            trained.append(person.person_id)
        results = [s for k, s in relevant.items() if _assessed(courses.get(k), s)]
        if results:
            assessed += 1
            passed += all(s.passed for s in results)
    demonstrated = None if users is None else sum(p in users for p in trained)
    return PathTrainingEvidence(len(people), enrolled, completed, assessed, passed, demonstrated)


def _in_use_case(course: Course | None, key: str, use_case: str, curricula: Sequence[Curriculum]) -> bool:
    if course is not None and course.use_case == use_case:
        return True
    return any(key in c.path for c in curricula if c.use_case == use_case)


def _assessed(course: Course | None, state: CourseState) -> bool:
    """A result was recorded: a pass or a fail, or a score in an assessed course."""
    return state.results > 0 or (course is not None and course.assessed and state.best_score is not None)


# --- champions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Share of the use case's teams with at least one champion."""

    teams: int
    covered: int
    uncovered: tuple[str, ...]

    @property
    def share(self) -> float | None:
        return self.covered / self.teams if self.teams else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "teams": self.teams,
            "covered": self.covered,
            "share": self.share,
            "uncovered": list(self.uncovered),
        }


def coverage(teams: Iterable[str], champion_teams: Iterable[str]) -> Coverage:
    every, covered = set(teams), set(champion_teams)
    return Coverage(len(every), len(every & covered), tuple(sorted(every - covered)))


CHAMPION_FIELDS = ("team", "use_case", "person_id", "name", "since")


def parse_champion(doc: Any) -> dict[str, Any]:
    """A champion: the team and use case they champion, the (raw) person id, a name to show."""
    f.unknown_fields(doc, CHAMPION_FIELDS, "champion")
    return {
        "team": f.key(doc, "team"),
        "use_case": f.key(doc, "use_case"),
        "person_id": f.text(doc, "person_id"),
        "name": f.text(doc, "name"),
        "since": f.day(doc, "since"),
    }


# --- team goals ---------------------------------------------------------------------------


class GoalKind(StrEnum):
    ADOPTION = "adoption"
    PERFORMANCE = "performance"


GOAL_FIELDS = ("key", "team", "use_case", "kpi", "kind", "target", "since", "due", "incentive")
INDIVIDUAL_FIELDS = ("person_id", "person", "login", "employee", "user")


def parse_goal(doc: Any) -> dict[str, Any]:
    """A team goal on a KPI; any field naming a person is refused (no individual targets)."""
    if isinstance(doc, dict):
        named = [k for k in INDIVIDUAL_FIELDS if k in doc]
        if named:
            raise ValidationError(
                f"a goal names a person ({named[0]!r}): Paceline sets goals for teams only",
                field=named[0],
                fix="set the goal for the person's team; individual performance targets are not supported",
            )
    f.unknown_fields(doc, GOAL_FIELDS, "goal")
    kpi = f.text(doc, "kpi")
    if kpi not in KPIS:
        raise f.bad("kpi", kpi, "is not a KPI", f"use one of: {', '.join(sorted(KPIS))}")
    since, due = f.day(doc, "since"), f.day(doc, "due")
    assert since is not None and due is not None
    if due <= since:
        raise f.bad("due", due.isoformat(), "is not after since", "give a due date after the start")
    return {
        "key": f.key(doc, "key"),
        "team": f.key(doc, "team"),
        "use_case": f.key(doc, "use_case"),
        "kpi": kpi,
        "kind": f.choice(doc, "kind", GoalKind).value,
        "target": f.number(doc, "target", -1e12, 1e12),
        "since": since,
        "due": due,
        "incentive": f.text(doc, "incentive", True, f.NOTE_LIMIT),
    }


def goal_met(kpi: str, target: float, value: float | None) -> bool | None:
    """Whether the team's KPI *value* reaches *target* in the KPI's better direction."""
    if value is None:
        return None
    if KPIS[kpi].direction is Direction.LOWER:
        return value <= target
    return value >= target


def goal_progress(kpi: str, baseline: float | None, target: float, value: float | None) -> float | None:
    """How much of the way from the baseline to the target the team has come (0..1, capped)."""
    if baseline is None or value is None or target == baseline:
        return None
    share = (value - baseline) / (target - baseline)
    return min(1.0, max(0.0, share))
