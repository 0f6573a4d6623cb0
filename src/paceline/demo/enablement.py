"""The demo firm's phase 4: curricula by role, learning records, champions, team goals and sessions.

Everything goes through the same services a user would call, as HR (``demo-people``) would:
the catalogue is defined, the learning system's history arrives as xAPI statements (with
deterministic statement ids, so running it twice loads nothing new), champions are named,
team goals set and frontline sessions planned and held. The completion days are the ones the
firm generator used for its training effect (:mod:`paceline.demo.firm.training`), recomputed
from the same seed, so the records and the outcomes agree.

:func:`calibrated_truth` computes, from the generator's own rates, the training effect on the
claims adjusters' productivity that the training-to-outcome estimate should recover.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from paceline.bootstrap import Workspace
from paceline.demo.firm.calendar import Calendar, build_calendar
from paceline.demo.firm.claims import COMPLEX_RATE, person_effects
from paceline.demo.firm.org import CLAIMS, SUPPORT, USE_CASES, Org, build_org
from paceline.demo.firm.rng import stream
from paceline.demo.firm.training import completion_days, effect_scale
from paceline.demo.firm.work import activity, seasonality
from paceline.demo.params import FirmParams
from paceline.domain.roles import Grant, Role
from paceline.services.access import Principal

HR = Principal("demo-people", (Grant(Role.PEOPLE),))
NAMESPACE = uuid.UUID("5b0f6a3e-7c1d-4f4e-9a55-0c2d8e7f1b11")
LMS = "https://lms.demo-firm.example/courses/"
ADL = "http://adlnet.gov/expapi/verbs/"
SHOWN_LEARNER = "demo-reviewer"  # linked to a claims adjuster, to show "My learning"
Say = Callable[[str], None]

COMPETENCIES = (
    ("ai-literacy", "AI literacy", "What the assistant does and where it fails (EU AI Act Art. 4)."),
    ("prompting", "Working with suggestions", "Asking, refining and editing what the assistant proposes."),
    ("verification", "Verifying AI output", "Checking sources, confidence and rules before acting."),
    ("feedback", "Feedback to the model", "Corrections and reason codes that improve the next version."),
    ("coaching", "Coaching peers", "Running frontline sessions and helping colleagues adopt."),
    ("claims-workflow", "Claims triage with AI", "Pre-filling and routing claims with the assistant."),
    ("clinical-workflow", "Documentation with the scribe", "Reviewing and signing drafted notes."),
    ("maintenance-workflow", "AI-guided troubleshooting", "Acting on failure risk and repair guidance."),
)
# per use case: (code, workflow competency, the use case's three courses' titles)
TRACKS = {
    "claims-triage": (
        "claims",
        "claims-workflow",
        ("The claims assistant", "Routing scenarios", "Claims AI certificate"),
    ),
    "clinical-documentation": (
        "scribe",
        "clinical-workflow",
        ("The AI scribe", "Note review scenarios", "Scribe certificate"),
    ),
    "predictive-maintenance": (
        "guide",
        "maintenance-workflow",
        ("The repair guide", "Troubleshooting scenarios", "Maintenance AI certificate"),
    ),
}
LEADS = {"claims-triage": "team-lead", "predictive-maintenance": "crew-lead"}
NAMES = (
    "A. Martin",
    "B. Okafor",
    "C. Nguyen",
    "D. Rossi",
    "E. Schmidt",
    "F. Haddad",
    "G. Kowalski",
    "H. Silva",
    "I. Dubois",
    "J. Tanaka",
    "K. Andersen",
    "L. Moreau",
    "M. Costa",
    "N. Ivanova",
    "O. Brennan",
    "P. Laurent",
    "Q. Fischer",
    "R. Mendes",
    "S. Okoye",
    "T. Berg",
)
FEEDBACK = (
    "suggestions for motor claims route well; property claims need a second look",
    "the confidence score is easy to miss on small screens",
    "reason codes for overrides are too coarse",
    "new joiners want a short refresher on verifying sources",
    "the draft saves time on routine cases, less on complex ones",
    "ask the model team why two similar claims were routed differently",
)


def _courses(use_case: str) -> list[dict[str, Any]]:
    code, workflow, titles = TRACKS[use_case]
    basics, scenarios, cert = titles
    return [
        {
            "key": f"{code}-basics",
            "title": basics,
            "kind": "micro-lesson",
            "minutes": 15,
            "use_case": use_case,
            "grants": {"prompting": 1, workflow: 1},
            "modules": ["what it suggests", "accept, edit, override"],
            "activity_ids": [f"{LMS}{code}-basics"],
        },
        {
            "key": f"{code}-scenarios",
            "title": scenarios,
            "kind": "workshop",
            "minutes": 120,
            "use_case": use_case,
            "grants": {"verification": 2, "feedback": 1, workflow: 2},
            "modules": ["inside the frontier", "outside it"],
            "activity_ids": [f"{LMS}{code}-scenarios"],
        },
        {
            "key": f"{code}-certificate",
            "title": cert,
            "kind": "certification",
            "minutes": 45,
            "use_case": use_case,
            "pass_mark": 0.7,
            "grants": {"prompting": 2, "verification": 2, workflow: 2},
            "activity_ids": [f"{LMS}{code}-certificate"],
        },
    ]


def catalogue() -> dict[str, list[dict[str, Any]]]:
    """The demo firm's competencies, courses and curricula (one path per use case, plus leads)."""
    courses = [
        {
            "key": "ai-literacy",
            "title": "AI literacy for everyone",
            "kind": "micro-lesson",
            "minutes": 20,
            "grants": {"ai-literacy": 1},
            "activity_ids": [f"{LMS}ai-literacy"],
        },
        {
            "key": "champion-coaching",
            "title": "Coaching your team",
            "kind": "workshop",
            "minutes": 90,
            "grants": {"coaching": 2},
            "activity_ids": [f"{LMS}champion-coaching"],
        },
    ]
    curricula = []
    for use_case, (code, workflow, _) in TRACKS.items():
        courses += _courses(use_case)
        path = ["ai-literacy", f"{code}-basics", f"{code}-scenarios", f"{code}-certificate"]
        targets = {"ai-literacy": 1, "prompting": 2, "verification": 2, "feedback": 1, workflow: 2}
        curricula.append(
            {
                "key": f"{code}-all",
                "title": f"{use_case}: everyone",
                "use_case": use_case,
                "role": "*",
                "path": path,
                "targets": targets,
            }
        )
        if use_case in LEADS:
            curricula.append(
                {
                    "key": f"{code}-leads",
                    "title": f"{use_case}: team leads",
                    "use_case": use_case,
                    "role": LEADS[use_case],
                    "path": ["champion-coaching"],
                    "targets": {"coaching": 2},
                }
            )
    comps = [{"key": k, "title": t, "description": d} for k, t, d in COMPETENCIES]
    return {"competencies": comps, "courses": courses, "curricula": curricula}


# --- learning statements ---------------------------------------------------------------------


def _day(value: np.datetime64) -> date:
    return date.fromisoformat(str(value))


@dataclass(frozen=True)
class Learner:
    """A person of the demo firm as HR's learning system knows them (raw HR id)."""

    raw_id: str
    use_case: str
    team: str
    role: str
    enabled: date
    trained: date | None


def _statement(p: Learner, course: str, verb: str, on: date, score: float | None = None) -> dict[str, Any]:
    sid = uuid.uuid5(NAMESPACE, f"{p.raw_id}|{course}|{verb}|{on.isoformat()}")
    doc: dict[str, Any] = {
        "id": str(sid),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.demo-firm.example", "name": p.raw_id},
        },
        "verb": {"id": ADL + verb, "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": LMS + course},
        "timestamp": datetime(on.year, on.month, on.day, 10, tzinfo=UTC).isoformat(),
    }
    if score is not None:
        doc["result"] = {
            "score": {"scaled": round(score, 3)},
            "success": verb == "passed",
            "completion": True,
        }
    return doc


def _path(p: Learner) -> list[str]:
    code = TRACKS[p.use_case][0]
    path = ["ai-literacy", f"{code}-basics", f"{code}-scenarios", f"{code}-certificate"]
    return (["champion-coaching"] if LEADS.get(p.use_case) == p.role else []) + path


def _trained(p: Learner, end: date, first_pass: float, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
    """A finished path: enrolled before switch-on, courses spread to the end, the certificate last."""
    assert p.trained is not None
    enrolled = p.enabled - timedelta(days=3)
    path = _path(p)
    span = max((p.trained - enrolled).days, 0)
    for i, course in enumerate(path):
        yield _statement(p, course, "registered", enrolled)
        on = enrolled + timedelta(days=round(span * (i + 1) / len(path)))
        if course.endswith("-certificate"):
            if rng.random() >= first_pass:
                retry = max(enrolled, p.trained - timedelta(days=7))
                yield _statement(p, course, "failed", retry, float(rng.uniform(0.45, 0.68)))
            yield _statement(p, course, "passed", p.trained, float(rng.uniform(0.72, 0.98)))
        elif on < end:
            yield _statement(p, course, "completed", on)


def _untrained(p: Learner, end: date, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
    """Not finished: enrolled; most did the first lessons, some failed the certificate once."""
    enrolled = p.enabled - timedelta(days=3)
    path = _path(p)
    for course in path:
        yield _statement(p, course, "registered", enrolled)
    if rng.random() < 0.6:
        on = enrolled + timedelta(days=int(rng.integers(3, 21)))
        if on < end:
            yield _statement(p, path[0], "completed", on)
    if rng.random() < 0.3:
        on = enrolled + timedelta(days=int(rng.integers(20, 60)))
        if on < end:
            yield _statement(p, path[-1], "failed", on, float(rng.uniform(0.4, 0.68)))


def learners(org: Org, trained: np.ndarray) -> list[Learner]:
    """Everyone assigned to a use case and switched on, with the day they finished (None: not yet)."""
    out = []
    for i in np.flatnonzero((org.use_case != SUPPORT) & ~np.isnat(org.enabled_from)):
        done = None if np.isnat(trained[i]) else _day(trained[i])
        out.append(
            Learner(
                str(org.person_id[i]),
                USE_CASES[int(org.use_case[i])],
                str(org.team[i]),
                str(org.role[i]),
                _day(org.enabled_from[i]),
                done,
            )
        )
    return out


def firm_learners(params: FirmParams, seed: int) -> tuple[list[Learner], Calendar]:
    """The learners of the firm ``generate_firm(params, seed)`` builds (the same org and days)."""
    cal = build_calendar(params.timeline)
    org = build_org(params, cal, stream(seed, "org"))
    trained = completion_days(org, cal, params.training, stream(seed, "training"))
    return learners(org, trained), cal


def statements(params: FirmParams, seed: int) -> tuple[list[dict[str, Any]], list[Learner], Calendar]:
    """The learning system's xAPI history of the demo firm (statements before the timeline's end)."""
    people, cal = firm_learners(params, seed)
    rng, end = stream(seed, "learning-records"), _day(cal.end)
    out: list[dict[str, Any]] = []
    for p in people:
        if p.enabled - timedelta(days=3) >= end:
            continue
        made = (
            _trained(p, end, params.training.first_attempt_pass, rng)
            if p.trained
            else _untrained(p, end, rng)
        )
        out.extend(s for s in made if s["timestamp"][:10] < end.isoformat())
    return out, people, cal


# --- champions, goals, sessions ------------------------------------------------------------------


def _champions(ws: Workspace, people: list[Learner], cal: Calendar) -> dict[str, int]:
    """A champion (the first to finish the path) in every team, but one maintenance crew in four.

    Returns the first champion's id per use case (they run its frontline sessions).
    """
    firsts: dict[tuple[str, str], Learner] = {}
    for p in sorted(people, key=lambda x: (x.trained or date.max, x.raw_id)):
        if p.trained is not None:
            firsts.setdefault((p.use_case, p.team), p)
    ids: dict[str, int] = {}
    seen: dict[str, int] = {}
    with ws.enablement_network(HR) as net:
        for n, ((use_case, team), p) in enumerate(sorted(firsts.items(), key=lambda kv: kv[0])):
            seen[use_case] = seen.get(use_case, 0) + 1
            if use_case == "predictive-maintenance" and seen[use_case] % 4 == 0:
                continue  # one crew in four has no champion yet
            since = max(p.trained or p.enabled, _day(cal.start))
            doc = {
                "use_case": use_case,
                "team": team,
                "person_id": p.raw_id,
                "name": NAMES[n % len(NAMES)],
                "since": since.isoformat(),
            }
            saved = net.add_champion(HR, doc)
            ids.setdefault(use_case, saved["id"])
    return ids


def _goals(ws: Workspace, people: list[Learner], cal: Calendar, params: FirmParams) -> int:
    """Adoption goals for the claims teams and a handling-time goal for the first crew of each plant."""
    t = params.timeline
    since = _day(cal.month_start(t.scale_up))
    due = _day(cal.month_start(t.months)) - timedelta(days=1)
    k = ws.settings.min_group_size
    sizes: dict[tuple[str, str], int] = {}
    for p in people:
        sizes[(p.use_case, p.team)] = sizes.get((p.use_case, p.team), 0) + 1
    docs = []
    for (use_case, team), size in sorted(sizes.items()):
        if size < k:
            continue
        if use_case == "claims-triage" and not team.endswith("complex"):
            docs.append(
                {
                    "key": f"{team}-adoption",
                    "team": team,
                    "use_case": use_case,
                    "kpi": "adoption_rate",
                    "kind": "adoption",
                    "target": 0.7,
                    "since": since.isoformat(),
                    "due": due.isoformat(),
                    "incentive": "the team's learning budget doubles when the goal is met",
                }
            )
        elif use_case == "predictive-maintenance" and team.endswith("-a"):
            docs.append(
                {
                    "key": f"{team}-handling",
                    "team": team,
                    "use_case": use_case,
                    "kpi": "handling_time",
                    "kind": "performance",
                    "target": 40.0,
                    "since": since.isoformat(),
                    "due": due.isoformat(),
                    "incentive": "a team day out when the crew reaches it",
                }
            )
    with ws.enablement_network(HR) as net:
        for d in docs:
            net.save_goal(HR, d)
    return len(docs)


def _sessions(ws: Workspace, cal: Calendar, params: FirmParams, champions: dict[str, int]) -> int:
    """Weekly sessions during the claims pilot, monthly from scale-up; the past ones held with feedback."""
    t = params.timeline
    pilot, scale, end = (_day(cal.month_start(m)) for m in (t.pilot_start, t.scale_up, t.months))
    held = 0
    with ws.enablement_network(HR) as net:
        net.plan_sessions(
            HR, "claims-triage", pilot, scale - timedelta(days=1), "", "weekly", champions.get(CLAIMS)
        )
        net.plan_sessions(
            HR, "claims-triage", scale, end - timedelta(days=1), "", "monthly", champions.get(CLAIMS)
        )
        for i, s in enumerate(net.sessions(HR, "claims-triage", end)["sessions"]):
            day = date.fromisoformat(s["scheduled_on"])
            if day >= end - timedelta(days=21):
                continue  # the latest ones are still ahead of the data
            doc = {
                "status": "held",
                "held_on": day.isoformat(),
                "attendees": 8 + i % 7,
                "feedback": [FEEDBACK[i % len(FEEDBACK)], FEEDBACK[(i + 2) % len(FEEDBACK)]],
                "actions": ["pass the routing question to the model team"] if i % 3 == 0 else [],
            }
            net.record_session(HR, s["id"], doc)
            held += 1
    return held


def record_enablement(ws: Workspace, params: FirmParams, seed: int, say: Say | None = None) -> dict[str, Any]:
    """Define the curricula and load the firm's learning records, champions, goals and sessions.

    Call after the firm's tables are loaded (the champions and goals check the teams) and before
    the program is recorded (the phase-4 gate reads these records).
    """
    tell = say or (lambda _: None)
    tell("defining the curricula and loading the learning system's history")
    doc = catalogue()
    with ws.enablement(HR) as en:
        for c in doc["competencies"]:
            en.save_competency(HR, c)
        for c in doc["courses"]:
            en.save_course(HR, c)
        for c in doc["curricula"]:
            en.save_curriculum(HR, c)
    history, people, cal = statements(params, seed)
    with ws.enablement(HR) as en:
        report = en.import_xapi(HR, history, "demo-lms")
    tell("naming champions, setting team goals, holding frontline sessions")
    champions = _champions(ws, people, cal)
    goals = _goals(ws, people, cal, params)
    held = _sessions(ws, cal, params, champions)
    shown = next(
        (p for p in people if p.use_case == CLAIMS and p.trained and p.role == "claims-adjuster"), None
    )
    if shown is not None:
        with ws.enablement(HR) as en:
            en.link_learner(HR, SHOWN_LEARNER, shown.raw_id)
    with ws.enablement_network(readonly=True) as net:
        named = sum(len(net.champions(HR, u)["champions"]) for u in TRACKS)
    return {"statements": report.loaded, "champions": named, "goals": goals, "sessions_held": held}


# --- the truth the training-to-outcome estimate should recover ----------------------------------


def _weeks(cal: Calendar) -> np.ndarray:
    """Monday-based week number of each working day."""
    days = cal.days.astype("datetime64[D]").astype(np.int64)
    return (days - 4) // 7  # 1970-01-05 was a Monday: day 4 starts week 0


def calibrated_truth(params: FirmParams, seed: int) -> dict[str, float]:
    """The injected training effect on claims productivity, in the estimator's terms.

    From the generator's own expected task rates (base rate, season, the assistant's gain on
    each assisted day) with and without the training factor: the mean difference in tasks per
    working day over the trained people's weeks from their completion week on, per AI cohort,
    pooled by trained people like the estimate; and that difference relative to the same
    people's rate in the week before they finished.
    """
    cal = build_calendar(params.timeline)
    org = build_org(params, cal, stream(seed, "org"))
    trained = completion_days(org, cal, params.training, stream(seed, "training"))
    c, persons = params.claims, org.members(CLAIMS)
    grid = activity(org, persons, cal, params.adoption, params.workforce.attendance, stream(seed, "claims"))
    gain, _ = person_effects(org, persons, c)
    base = (
        c.tasks_per_day
        * np.exp(0.2 * org.skill_z[persons])
        * np.where(org.negative_control[persons], COMPLEX_RATE, 1.0)
    )
    rate = base[:, None] * seasonality(cal, params.workforce.seasonality)[None, :]
    scale = effect_scale(org, persons, cal, params.training, trained)
    diff = rate * (np.exp(gain[:, None] * scale * grid.assisted) - np.exp(gain[:, None] * grid.assisted))
    level = rate * np.exp(gain[:, None] * grid.assisted)
    week = _weeks(cal)
    on = org.enabled_from[persons]
    done = trained[persons]
    cohorts: dict[object, list[int]] = {}
    for i in range(persons.size):
        if not np.isnat(on[i]):
            cohorts.setdefault(int((on[i].astype(np.int64) - 4) // 7), []).append(i)
    effects, bases, weights = [], [], []
    for members in cohorts.values():
        untrained = [i for i in members if np.isnat(done[i])]
        treated = [i for i in members if not np.isnat(done[i]) and done[i] > on[i]]
        if not untrained or not treated:
            continue
        d_sum = d_n = b_sum = b_n = 0.0
        for i in treated:
            g = int((done[i].astype(np.int64) - 4) // 7)
            present = grid.present[i]
            post = present & (week >= g)
            pre = present & (week == g - 1)
            for w in np.unique(week[post]):
                days = post & (week == w)
                d_sum, d_n = d_sum + float(diff[i, days].mean()), d_n + 1
            if pre.any():
                b_sum, b_n = b_sum + float(level[i, pre].mean()), b_n + 1
        if d_n and b_n:
            effects.append(d_sum / d_n)
            bases.append(b_sum / b_n)
            weights.append(len(treated))
    w = np.asarray(weights, dtype=float) / sum(weights)
    effect, baseline = float(w @ np.asarray(effects)), float(w @ np.asarray(bases))
    return {
        "estimate": effect,
        "relative": effect / baseline,
        "ai_effect_uplift": params.training.ai_effect_uplift,
        "trained_people": float(sum(weights)),
    }
