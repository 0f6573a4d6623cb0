"""Survey responses: customers' CSAT and NPS, and employees' satisfaction (esat).

Customer scores follow the task that served them: a misrouted claim or a coding
error costs about a point of CSAT, so error reductions reach customers; AI has
no direct effect on them (BLR: NPS change not significant). Employees answer a
quarterly pulse survey; adopters score higher by their use case's ``esat_lift``
(framework case A: +15% among claims adjusters), and the negative-control team
lower.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from paceline.demo.firm.calendar import US_PER_HOUR, US_PER_SECOND, Calendar
from paceline.demo.firm.org import CLAIMS, CLINICAL, USE_CASES, Org
from paceline.demo.firm.tables import build, ids, person_ids, pick, task_ids
from paceline.demo.firm.work import Work
from paceline.demo.params import FirmParams

SURVEY = ("csat", "nps", "esat")
SEGMENTS = {CLAIMS: ("retail", "commercial"), CLINICAL: ("returning-patient", "new-patient")}
SEGMENT_SHARE = {CLAIMS: 0.2, CLINICAL: 0.3}


def _scores(mean: np.ndarray, sd: float, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.round(mean + sd * rng.standard_normal(mean.size)), low, high)


def _customers(
    org: Org, work: Work, survey: int, sample: float, rng: np.random.Generator
) -> dict[str, object]:
    """CSAT (survey 0) or NPS (survey 1) responses for a random sample of *work*'s tasks."""
    t = work.tasks
    rows = np.flatnonzero(rng.random(t.size) < sample)
    err = t.error[rows]
    score = (
        _scores(4.0 - 1.0 * err, 0.9, 1, 5, rng) if survey == 0 else _scores(8.3 - 2.5 * err, 1.6, 0, 10, rng)
    )
    delay = np.round(rng.exponential(86400.0, rows.size)).astype(np.int64) * US_PER_SECOND
    segment = (rng.random(rows.size) < SEGMENT_SHARE[work.use_case]).astype(np.int64)
    return {
        "survey": np.full(rows.size, survey),
        "score": score,
        "responded_at": t.completed[rows] + delay,
        "use_case": np.full(rows.size, USE_CASES.index(work.use_case)),
        "task_id": task_ids(work.use_case, rows),
        "person_id": person_ids(org, t.person[rows], system=None),
        "segment": pick(SEGMENTS[work.use_case], segment),
    }


def _lifts(org: Org, params: FirmParams) -> np.ndarray:
    by_case = np.array([params.claims.esat_lift, params.clinical.esat_lift, params.maintenance.esat_lift])
    lift = np.where(org.use_case >= 0, by_case[np.maximum(org.use_case, 0)], 0.0)
    return np.where(org.negative_control, params.claims.negative_control_esat_lift, lift)


def _employees(org: Org, cal: Calendar, params: FirmParams, rng: np.random.Generator) -> dict[str, object]:
    """The quarterly pulse survey of everyone assigned to a use case."""
    w = params.workforce
    lift = _lifts(org, params)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for month in range(w.esat_every_months - 1, cal.timeline.months, w.esat_every_months):
        day = cal.month_start(month + 1) - np.timedelta64(7, "D")
        who = np.flatnonzero(
            (org.use_case >= 0) & (org.hire <= day) & (rng.random(org.size) < w.esat_response)
        )
        adopted = org.adopt_at[who] <= day  # NaT compares False
        score = _scores(w.esat_base * (1 + lift[who] * adopted), 0.9, 1, 5, rng)
        sent = int(day.astype("datetime64[us]").astype(np.int64)) + 9 * US_PER_HOUR
        at = sent + rng.integers(0, 5 * 24 * 3600, who.size) * US_PER_SECOND
        parts.append((who, score, at))
    who, score, at = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return {
        "survey": np.full(who.size, 2),
        "score": score,
        "responded_at": at,
        "use_case": org.use_case[who],
        "task_id": pa.nulls(who.size, pa.string()),
        "person_id": person_ids(org, who),
        "segment": pa.array(list(org.role[who]), pa.string()),
    }


def survey_responses(
    org: Org, cal: Calendar, works: Sequence[Work], params: FirmParams, rng: np.random.Generator
) -> pa.Table:
    """CSAT for claims and encounters, NPS for claims, esat for employees (ids ``sr-...``)."""
    by_case = {w.use_case: w for w in works}
    parts = [
        _customers(org, by_case[CLAIMS], 0, params.claims.csat_sample, rng),
        _customers(org, by_case[CLAIMS], 1, params.claims.nps_sample, rng),
        _customers(org, by_case[CLINICAL], 0, params.clinical.csat_sample, rng),
        _employees(org, cal, params, rng),
    ]
    tables = [
        pa.table({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in part.items()})
        for part in parts
    ]
    merged = pa.concat_tables(tables, promote_options="permissive")
    at = merged.column("responded_at").to_numpy()
    order = np.argsort(at, kind="stable")
    merged = merged.take(pa.array(order))
    return build(
        "survey_responses",
        {
            "response_id": ids("sr", np.arange(1, merged.num_rows + 1)),
            "survey": pick(SURVEY, merged.column("survey").to_numpy()),
            "score": merged.column("score").to_numpy(),
            "responded_at": at[order],
            "use_case": pick(USE_CASES, merged.column("use_case").to_numpy()),
            "task_id": merged.column("task_id"),
            "person_id": merged.column("person_id"),
            "segment": merged.column("segment"),
        },
    )
