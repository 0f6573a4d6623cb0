"""Usage events: what people do with the assistant (adoption, behavioural adoption).

An adopter opens a ``session`` on each assisted working day; each assisted task
logs one suggestion event, its outcome (``accepted``, ``edited``, ``rejected``)
or ``suggestion_shown`` when the user did neither; a few tasks also log
``feedback``. People who never adopted log nothing, which is exactly what the
adoption KPI counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paceline.demo.firm.calendar import SHIFT_START_HOUR, US_PER_HOUR, US_PER_SECOND, Calendar
from paceline.demo.firm.org import USE_CASES, Org
from paceline.demo.firm.tables import TASK_PREFIX, build, ids, join, person_ids, pick
from paceline.demo.firm.work import SYSTEM, Work
from paceline.demo.params import FirmParams, SuggestionMix

OUTCOME_ACTIONS = ("suggestion_accepted", "suggestion_edited", "suggestion_rejected", "suggestion_shown")
ACTIONS = ("session", *OUTCOME_ACTIONS, "feedback")


def _mix(params: FirmParams, use_case: str) -> SuggestionMix:
    return {
        USE_CASES[0]: params.claims.suggestions,
        USE_CASES[1]: params.clinical.suggestions,
        USE_CASES[2]: params.maintenance.suggestions,
    }[use_case]


def _one(work: Work, cal: Calendar, params: FirmParams, rng: np.random.Generator) -> list[np.ndarray]:
    """Columns (person, at, action, task row) of one use case's usage events."""
    row, day = np.nonzero(work.grid.assisted)
    session_at = (
        cal.day_us(day) + SHIFT_START_HOUR * US_PER_HOUR - rng.integers(60, 900, day.size) * US_PER_SECOND
    )
    t = work.tasks
    tasks = np.flatnonzero(t.assisted & (t.person != SYSTEM))
    shares = np.asarray(_mix(params, work.use_case).shares())
    outcome = 1 + rng.choice(len(OUTCOME_ACTIONS), size=tasks.size, p=shares)
    lag = np.minimum(30.0, t.effort[tasks] / 2)
    suggest_at = t.started[tasks] + np.round(lag * US_PER_SECOND).astype(np.int64)
    feedback = tasks[rng.random(tasks.size) < params.adoption.feedback_share]
    return [
        np.concatenate([work.grid.persons[row], t.person[tasks], t.person[feedback]]),
        np.concatenate([session_at, suggest_at, t.completed[feedback]]),
        np.concatenate([np.zeros(row.size, np.int64), outcome, np.full(feedback.size, len(ACTIONS) - 1)]),
        np.concatenate([np.full(row.size, -1), tasks, feedback]),
    ]


def usage_events(
    org: Org, cal: Calendar, works: Sequence[Work], params: FirmParams, rng: np.random.Generator
) -> pa.Table:
    """Every usage event of the timeline, in time order (event ids ``ue-...``)."""
    cols: list[list[np.ndarray]] = [[], [], [], [], []]
    for work in works:
        one = _one(work, cal, params, rng)
        for i, values in enumerate(one):
            cols[i].append(values)
        cols[4].append(np.full(one[0].size, USE_CASES.index(work.use_case)))
    person, at, action, task, use_case = (np.concatenate(c) for c in cols)
    order = np.lexsort((person, at))
    person, at, action, task, use_case = (c[order] for c in (person, at, action, task, use_case))
    digits = pc.utf8_lpad(pc.cast(pa.array(task + 1), pa.string()), width=9, padding="0")
    task_id = join(pick([TASK_PREFIX[u] for u in USE_CASES], use_case), "-", digits)
    return build(
        "usage_events",
        {
            "event_id": ids("ue", np.arange(1, person.size + 1)),
            "person_id": person_ids(org, person),
            "use_case": pick(USE_CASES, use_case),
            "occurred_at": at,
            "action": pick(ACTIONS, action),
            "task_id": pc.if_else(pa.array(task < 0), pa.scalar(None, pa.string()), task_id),
        },
    )
