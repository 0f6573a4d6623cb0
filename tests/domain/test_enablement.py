"""Curricula, learning states, the competency matrix, goals, champions and frontline sessions."""

from __future__ import annotations

from datetime import date

import pytest

from paceline.domain import curricula as cur
from paceline.domain import frontline
from paceline.domain.enablement import (
    Learner,
    PathTrainingEvidence,
    coverage,
    curricula_for,
    goal_met,
    goal_progress,
    parse_champion,
    parse_goal,
    person_matrix,
    targets_for,
    team_matrix,
    training_evidence,
)
from paceline.domain.evidence import Evidence, Thresholds
from paceline.domain.gates import CheckStatus, DemonstratedUse
from paceline.domain.learning import (
    LearningEvent,
    Verb,
    achieved_levels,
    by_person,
    course_states,
    path_done_on,
)
from paceline.domain.usecases import Phase, UseCase
from paceline.errors import ValidationError

D = date
COURSES = {
    c.key: c
    for c in (
        cur.parse_course(
            {
                "key": "basics",
                "title": "Basics",
                "kind": "micro-lesson",
                "minutes": 15,
                "grants": {"prompting": 1},
                "use_case": "uc",
            }
        ),
        cur.parse_course(
            {
                "key": "cert",
                "title": "Certificate",
                "kind": "certification",
                "minutes": 45,
                "grants": {"prompting": 2, "verification": 2},
                "pass_mark": 0.7,
                "use_case": "uc",
            }
        ),
    )
}
PATH = cur.parse_curriculum(
    {
        "key": "agents",
        "title": "Agents",
        "use_case": "uc",
        "role": "agent",
        "path": ["basics", "cert"],
        "targets": {"prompting": 2, "verification": 2},
    }
)


def ev(
    person: str, course: str, verb: Verb, day: int, score: float | None = None, success: bool | None = None
) -> LearningEvent:
    return LearningEvent(person, course, verb, D(2025, 3, day), score, success)


# --- curricula -------------------------------------------------------------------------------
def test_a_course_is_read_field_by_field() -> None:
    course = COURSES["cert"]
    assert course.kind is cur.CourseKind.CERTIFICATION and course.assessed and course.pass_mark == 0.7
    assert dict(course.grants) == {"prompting": 2, "verification": 2}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"kind": "lecture"}, "kind"),
        ({"minutes": 0}, "minutes"),
        ({"pass_mark": 1.5}, "pass_mark"),
        ({"grants": {}}, "grants"),
        ({"grants": {"prompting": 5}}, "grants.prompting"),
        ({"grants": "prompting"}, "grants"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_course_names_the_field(change: dict[str, object], field: str) -> None:
    doc = {"key": "x", "title": "X", "kind": "workshop", "minutes": 60, "grants": {"prompting": 1}} | change
    with pytest.raises(ValidationError) as err:
        cur.parse_course(doc)
    assert err.value.details["field"] == field and err.value.details["fix"]


def test_a_curriculum_needs_known_courses_and_reachable_targets() -> None:
    cur.check_curriculum(PATH, COURSES)
    with pytest.raises(ValidationError, match="not a known course"):
        cur.check_curriculum(cur.parse_curriculum(PATH.to_dict() | {"path": ["basics", "nope"]}), COURSES)
    too_high = cur.parse_curriculum(PATH.to_dict() | {"targets": {"verification": 3}})
    with pytest.raises(ValidationError, match="cannot be reached") as err:
        cur.check_curriculum(too_high, COURSES)
    assert err.value.details["field"] == "targets.verification"
    with pytest.raises(ValidationError, match="twice"):
        cur.parse_curriculum(PATH.to_dict() | {"path": ["basics", "basics"]})


def test_curricula_apply_by_role_and_use_case() -> None:
    everyone = cur.parse_curriculum(PATH.to_dict() | {"key": "all", "role": "*", "targets": {"prompting": 1}})
    agent = Learner("p1", "t1", "agent", ("uc",))
    lead = Learner("p2", "t1", "lead", ("uc",))
    assert curricula_for(agent, [PATH, everyone]) == [PATH, everyone]
    assert curricula_for(lead, [PATH, everyone]) == [everyone]
    assert curricula_for(agent, [PATH], use_case="other") == []
    assert targets_for([PATH, everyone]) == {"prompting": 2, "verification": 2}


# --- learning states ----------------------------------------------------------------------------
def test_states_fold_events_in_any_order() -> None:
    events = [
        ev("p1", "cert", Verb.PASSED, 20, 0.8),
        ev("p1", "basics", Verb.COMPLETED, 5),
        ev("p1", "cert", Verb.FAILED, 12, 0.5),
        ev("p1", "basics", Verb.REGISTERED, 1),
    ]
    forward, backward = course_states(events, COURSES), course_states(events[::-1], COURSES)
    assert forward == backward
    cert = forward[("p1", "cert")]
    assert (cert.passed_on, cert.failed, cert.results, cert.best_score) == (D(2025, 3, 20), 1, 2, 0.8)
    assert forward[("p1", "basics")].enrolled_on == D(2025, 3, 1)
    mine = by_person(forward)["p1"]
    assert path_done_on(PATH, mine, COURSES) == D(2025, 3, 20)
    assert achieved_levels(mine, COURSES) == {"prompting": 2, "verification": 2}


def test_passing_is_judged_by_success_then_verb_then_pass_mark() -> None:
    states = course_states(
        [
            ev("a", "cert", Verb.COMPLETED, 3, 0.9),  # above the mark: a pass
            ev("b", "cert", Verb.COMPLETED, 3, 0.5),  # below: a fail
            ev("c", "cert", Verb.COMPLETED, 3, 0.9, success=False),  # the LMS says failed
            ev("d", "cert", Verb.COMPLETED, 3),  # no result: completed, not passed
        ],
        COURSES,
    )
    assert [states[(p, "cert")].passed for p in "abcd"] == [True, False, False, False]
    assert not states[("d", "cert")].done(COURSES["cert"])  # an assessed course needs the pass
    assert states[("d", "cert")].completed_on == D(2025, 3, 3)
    assert path_done_on(PATH, {"cert": states[("a", "cert")]}, COURSES) is None  # basics missing


# --- the matrix ------------------------------------------------------------------------------------
def test_the_team_matrix_suppresses_small_groups() -> None:
    people = [Learner(f"p{i}", "big" if i < 6 else "small", "agent", ("uc",)) for i in range(9)]
    targets = {p.person_id: {"verification": 2} for p in people}
    achieved = {f"p{i}": {"verification": 2 if i % 2 == 0 else 1} for i in range(9)}
    cells = {c.team: c for c in team_matrix(people, targets, achieved, k=5)}
    big, small = cells["big"], cells["small"]
    assert (big.people, big.meeting, big.share_meeting, big.mean_gap) == (6, 3, 0.5, 0.5)
    assert small.suppressed and small.people == 3 and small.meeting is None and small.mean_gap is None
    assert small.to_dict()["share_meeting"] is None


def test_a_person_row_shows_targets_and_reached_levels() -> None:
    rows = person_matrix({"verification": 2, "prompting": 2}, {"prompting": 3, "ai-literacy": 1})
    assert [(r.competency, r.target, r.achieved, r.gap) for r in rows] == [
        ("ai-literacy", 0, 1, 0),
        ("prompting", 2, 3, 0),
        ("verification", 2, 0, 2),
    ]


# --- the gate's figures --------------------------------------------------------------------------
def _evidence() -> PathTrainingEvidence:
    people = [Learner(p, "t", "agent", ("uc",)) for p in ("a", "b", "c", "d")]
    events = [
        ev("a", "basics", Verb.COMPLETED, 2),
        ev("a", "cert", Verb.PASSED, 4, 0.9),
        ev("b", "basics", Verb.COMPLETED, 2),
        ev("b", "cert", Verb.FAILED, 4, 0.4),
        ev("c", "basics", Verb.REGISTERED, 2),
    ]
    states = by_person(course_states(events, COURSES))
    return training_evidence(people, [PATH], states, COURSES, "uc", users={"a", "d"})


def test_training_evidence_counts_paths_assessments_and_use() -> None:
    t = _evidence()
    assert (t.eligible, t.enrolled, t.completed, t.assessed, t.passed) == (4, 3, 1, 2, 1)
    assert t.completion_rate == 0.25 and t.pass_rate == 0.5
    assert t.demonstrated == 1 and t.demonstrated_rate == 1.0  # d used it but is not trained


def test_demonstrated_use_reads_the_trained_peoples_use() -> None:
    uc = UseCase(key="uc", title="UC", owner="o", phase=Phase.ENABLE)
    base = Evidence(use_case=uc, today=D(2025, 6, 1), ai_act_tier="minimal", ai_act_rule="-", adoption=0.1)
    result = DemonstratedUse().check(Evidence(**{**base.__dict__, "training": _evidence()}))
    assert result.status is CheckStatus.PASS and "1 of 1 trained" in result.reason
    assert "/enablement/outcomes" in result.evidence[0].href
    # without learning paths the rule falls back to the adoption rate
    assert DemonstratedUse().check(base).status is CheckStatus.FAIL
    low = PathTrainingEvidence(10, 10, 10, 0, 0, demonstrated=3)
    result = DemonstratedUse().check(
        Evidence(**{**base.__dict__, "training": low, "thresholds": Thresholds()})
    )
    assert result.status is CheckStatus.FAIL and "30.0%" in result.reason


# --- champions and goals --------------------------------------------------------------------------
def test_coverage_is_the_share_of_teams_with_a_champion() -> None:
    cov = coverage(["t1", "t2", "t3", "t4"], ["t1", "t3", "t3", "elsewhere"])
    assert (cov.teams, cov.covered, cov.share, cov.uncovered) == (4, 2, 0.5, ("t2", "t4"))
    assert coverage([], ["t1"]).share is None


def test_a_champion_needs_a_team_a_person_and_a_name() -> None:
    doc = parse_champion(
        {"team": "t1", "use_case": "uc", "person_id": "emp-1", "name": "A. B.", "since": "2025-03-01"}
    )
    assert doc["since"] == D(2025, 3, 1)
    with pytest.raises(ValidationError) as err:
        parse_champion(
            {"team": "t1", "use_case": "uc", "person_id": "emp-1", "name": "", "since": "2025-03-01"}
        )
    assert err.value.details["field"] == "name"


GOAL = {
    "key": "t1-adoption",
    "team": "t1",
    "use_case": "uc",
    "kpi": "adoption_rate",
    "kind": "adoption",
    "target": 0.7,
    "since": "2025-01-01",
    "due": "2025-06-30",
    "incentive": "a team offsite",
}


def test_goals_are_for_teams_never_for_a_person() -> None:
    assert parse_goal(GOAL)["target"] == 0.7
    for field in ("person_id", "login"):
        with pytest.raises(ValidationError, match="teams only") as err:
            parse_goal(GOAL | {field: "emp-1"})
        assert err.value.details["field"] == field
    with pytest.raises(ValidationError) as err:
        parse_goal(GOAL | {"kpi": "happiness"})
    assert err.value.details["field"] == "kpi"
    with pytest.raises(ValidationError) as err:
        parse_goal(GOAL | {"due": "2024-12-31"})
    assert err.value.details["field"] == "due"


def test_goal_progress_follows_the_kpis_direction() -> None:
    assert goal_met("adoption_rate", 0.7, 0.72) is True
    assert goal_met("handling_time", 40.0, 42.0) is False  # lower is better
    assert goal_met("handling_time", 40.0, None) is None
    assert goal_progress("adoption_rate", 0.4, 0.7, 0.55) == pytest.approx(0.5)
    assert goal_progress("handling_time", 50.0, 40.0, 45.0) == pytest.approx(0.5)
    assert goal_progress("adoption_rate", 0.4, 0.7, 0.9) == 1.0


# --- frontline sessions and the change log ----------------------------------------------------------
def test_cadence_is_weekly_until_enablement_then_monthly() -> None:
    assert frontline.cadence_for(Phase.PILOT) is frontline.Cadence.WEEKLY
    assert frontline.cadence_for(Phase.ENABLE) is frontline.Cadence.WEEKLY
    assert frontline.cadence_for(Phase.SCALE) is frontline.Cadence.MONTHLY


def test_schedules_lay_out_weeks_and_months() -> None:
    weekly = frontline.schedule(D(2025, 1, 6), D(2025, 2, 3), frontline.Cadence.WEEKLY)
    assert weekly == [D(2025, 1, 6), D(2025, 1, 13), D(2025, 1, 20), D(2025, 1, 27), D(2025, 2, 3)]
    monthly = frontline.schedule(D(2025, 1, 31), D(2025, 4, 30), frontline.Cadence.MONTHLY)
    assert monthly == [D(2025, 1, 31), D(2025, 2, 28), D(2025, 3, 28), D(2025, 4, 28)]
    with pytest.raises(ValidationError):
        frontline.schedule(D(2025, 2, 1), D(2025, 1, 1), frontline.Cadence.WEEKLY)
    with pytest.raises(ValidationError, match="more than one plan"):
        frontline.schedule(D(2020, 1, 1), D(2030, 1, 1), frontline.Cadence.WEEKLY)


def test_a_held_session_needs_feedback() -> None:
    held = frontline.parse_session_result({"held_on": "2025-03-03", "attendees": 9, "feedback": ["too slow"]})
    assert held["status"] == "held" and held["feedback"] == ["too slow"]
    with pytest.raises(ValidationError) as err:
        frontline.parse_session_result({"held_on": "2025-03-03", "feedback": []})
    assert err.value.details["field"] == "feedback"
    assert frontline.parse_session_result({"status": "cancelled"})["held_on"] is None


def test_sessions_summary_counts_overdue_and_next() -> None:
    rows = [
        {"scheduled_on": "2025-03-03", "status": "held"},
        {"scheduled_on": "2025-03-10", "status": "planned"},
        {"scheduled_on": "2025-03-24", "status": "planned"},
        {"scheduled_on": "2025-03-17", "status": "cancelled"},
    ]
    summary = frontline.summarise_sessions(rows, D(2025, 3, 20))
    assert (summary.held, summary.planned, summary.cancelled, summary.overdue) == (1, 2, 1, 1)
    assert summary.next_on == D(2025, 3, 24)


def test_change_log_lines_for_flags_and_model_stages() -> None:
    flag = {
        "seq": 7,
        "at": "2025-05-01T10:00:00+00:00",
        "actor": "user:ml",
        "action": "update",
        "entity": "flags",
        "entity_id": "release.claims-triage",
        "data": {
            "canary_percent": {"old": 0.0, "new": 10.0},
            "reason": {"old": "", "new": "canary of 1.2.0"},
        },
    }
    line = frontline.change_entry(flag)
    assert line is not None and line.kind == "workflow" and line.what == "canary percent 0.0 → 10.0"
    assert line.reason == "canary of 1.2.0"
    stage = {
        "seq": 8,
        "at": "2025-05-02T10:00:00+00:00",
        "actor": "user:pm",
        "action": "create",
        "entity": "model_stage_changes",
        "entity_id": "3",
        "data": {
            "model": "claims-router",
            "version": "1.2.0",
            "from_stage": "staging",
            "to_stage": "production",
            "cause": "approved",
            "reason": "retrained on drifted data",
        },
    }
    line = frontline.change_entry(stage)
    assert line is not None and line.subject == "claims-router"
    assert line.what == "version 1.2.0: staging → production (approved)"
    assert frontline.change_entry({**stage, "entity": "users"}) is None
