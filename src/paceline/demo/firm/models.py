"""Model outputs and their labels: one monitored model per use case.

* ``claims-router`` suggests a queue for each AI-handled claim. From the drift
  month its inputs shift (larger amounts, a new ``app`` channel) and it is right
  less often until version 1.2.0 is retrained on the new data.
* ``scribe-coder`` drafts the note and suggests the visit's billing level.
* ``failure-risk`` scores every machine reading; its label is the AI4I outcome.

Labels come from the adjuster's or clinician's review, or downstream (a repair,
a reopened claim), as a label store would receive them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paceline.demo.firm.calendar import US_PER_DAY, US_PER_SECOND, Calendar
from paceline.demo.firm.maintenance import TYPES, Readings
from paceline.demo.firm.org import CLAIMS, CLINICAL, MAINTENANCE, Org
from paceline.demo.firm.tables import build, ids, join, number_text, person_ids, pick, task_ids
from paceline.demo.firm.work import SYSTEM, Work
from paceline.demo.params import AI4I, FirmParams

QUEUES = ("fast-track", "standard", "specialist", "siu")
LINES = ("auto", "home", "health", "travel")
CHANNELS = ("web", "phone", "broker", "app")
CODES = ("99212", "99213", "99214", "99215")
VISITS = ("new", "follow-up", "procedure")
OUTCOMES = ("no_failure", "failure")


@dataclass(frozen=True)
class Scored:
    """A model's outputs before they become the predictions and labels tables."""

    model: str
    use_case: str
    version: pa.Array
    at: np.ndarray
    prediction: pa.Array
    score: np.ndarray
    task_id: pa.Array
    features: pa.Array
    latency_ms: np.ndarray
    label: pa.Array
    labeled_at: np.ndarray
    source: pa.Array
    labeler: pa.Array


def _versions(month: np.ndarray, changes: list[tuple[int, str]], first: str) -> pa.Array:
    names = [first] + [v for _, v in changes]
    index = np.zeros(month.size, dtype=np.int64)
    for i, (since, _) in enumerate(changes, start=1):
        index[month >= since] = i
    return pick(names, index)


def _wrong(truth: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A class other than *truth*, uniformly among the other *k - 1*."""
    return (truth + rng.integers(1, k, truth.size)) % k


def _confidence(correct: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.round(np.where(correct, rng.beta(9, 2, correct.size), rng.beta(4, 3, correct.size)), 4)


def _route(amount: np.ndarray, line: np.ndarray, prior: np.ndarray, pages: np.ndarray) -> np.ndarray:
    """The right queue of a claim (the rules the adjusters apply)."""
    siu = (prior >= 3) & (amount > 5000)
    specialist = (amount > 20000) | ((line == LINES.index("health")) & (pages > 6))
    fast = (amount < 1500) & (prior == 0) & np.isin(line, [LINES.index("auto"), LINES.index("travel")])
    return np.select([siu, specialist, fast], [3, 2, 0], default=1)


def router(org: Org, cal: Calendar, work: Work, params: FirmParams, rng: np.random.Generator) -> Scored:
    """The claims router on every AI-handled claim (assisted or fully automated)."""
    t, tl, mp = work.tasks, cal.timeline, params.models
    rows = np.flatnonzero(t.assisted)
    n, system = rows.size, t.person[rows] == SYSTEM
    month = cal.month[t.day[rows]]
    drifted = month >= tl.drift_month
    amount = np.exp(7.6 + mp.drift_amount_shift * drifted + rng.standard_normal(n))
    line = rng.choice(len(LINES), n, p=[0.5, 0.25, 0.15, 0.10])
    channel = rng.choice(3, n, p=[0.45, 0.35, 0.20])
    channel = np.where(drifted & (rng.random(n) < mp.drift_app_share), CHANNELS.index("app"), channel)
    prior = rng.poisson(0.6, n)
    pages = 1 + rng.poisson(3, n)
    truth = _route(amount, line, prior, pages)
    stale = drifted & (month < tl.retrain_month)
    # Automated claims are the ones the router was sure of; a few prove misrouted downstream.
    correct = system | (rng.random(n) < np.where(stale, mp.router_drift_accuracy, mp.router_accuracy))
    predicted = np.where(correct, truth, _wrong(truth, len(QUEUES), rng))
    label = np.where(system & t.error[rows], _wrong(truth, len(QUEUES), rng), truth)
    latency = np.round(120 * np.exp(0.3 * rng.standard_normal(n)), 1)
    return Scored(
        model="claims-router",
        use_case=CLAIMS,
        version=_versions(month, [(tl.scale_up, "1.1.0"), (tl.retrain_month, "1.2.0")], "1.0.0"),
        # People see the suggestion when they open the claim; the automation decides at intake.
        at=np.where(system, t.opened[rows], t.started[rows]) + np.round(latency * 1000).astype(np.int64),
        prediction=pick(QUEUES, predicted),
        score=np.where(system, np.round(rng.uniform(0.9, 0.995, n), 4), _confidence(correct, rng)),
        task_id=task_ids(CLAIMS, rows),
        features=join(
            '{"amount":',
            number_text(amount, 2),
            ',"channel":"',
            pick(CHANNELS, channel),
            '","line":"',
            pick(LINES, line),
            '","prior_claims":',
            number_text(prior, 0),
            ',"doc_pages":',
            number_text(pages, 0),
            "}",
        ),
        latency_ms=latency,
        label=pick(QUEUES, label),
        labeled_at=np.where(system, t.completed[rows] + 14 * US_PER_DAY, t.completed[rows]),
        source=pick(("review", "downstream"), system.astype(np.int64)),
        labeler=person_ids(org, t.person[rows], system=None),
    )


def _near_miss(truth: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """An adjacent level (coding mistakes are off by one), inside ``0..levels-1``."""
    step = np.where(rng.random(truth.size) < 0.5, -1, 1)
    off = truth + step
    return np.where((off < 0) | (off >= levels), truth - step, off)


def scribe(org: Org, cal: Calendar, work: Work, params: FirmParams, rng: np.random.Generator) -> Scored:
    """The scribe's suggested billing level on every assisted encounter."""
    t = work.tasks
    rows = np.flatnonzero(t.assisted)
    n = rows.size
    minutes = np.exp(np.log(15.0) + 0.35 * rng.standard_normal(n))
    truth = np.searchsorted([8.0, 15.0, 25.0], minutes)
    correct = rng.random(n) < params.models.scribe_accuracy
    predicted = np.where(correct, truth, _near_miss(truth, len(CODES), rng))
    latency = np.round(2500 * np.exp(0.35 * rng.standard_normal(n)), 1)
    return Scored(
        model="scribe-coder",
        use_case=CLINICAL,
        version=_versions(cal.month[t.day[rows]], [(cal.timeline.scale_up, "2.4.0")], "2.3.0"),
        at=t.started[rows] + np.round(latency * 1000).astype(np.int64),
        prediction=pick(CODES, predicted),
        score=_confidence(correct, rng),
        task_id=task_ids(CLINICAL, rows),
        features=join(
            '{"transcript_minutes":',
            number_text(minutes, 1),
            ',"specialty":"',
            pa.array(list(org.specialty[t.person[rows]]), pa.string()),
            '","visit_type":"',
            pick(VISITS, rng.choice(3, n, p=[0.25, 0.6, 0.15])),
            '","speakers":',
            number_text(2 + (rng.random(n) < 0.3), 0),
            "}",
        ),
        latency_ms=latency,
        label=pick(CODES, truth),
        labeled_at=t.completed[rows],
        source=pick(("review",), np.zeros(n, dtype=np.int64)),
        labeler=person_ids(org, t.person[rows], system=None),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-x)))


def _risk(a: AI4I, r: dict[str, np.ndarray], noise: np.ndarray) -> np.ndarray:
    """The model's failure probability: soft versions of the AI4I rules, plus model error."""
    power = r["torque"] * r["rpm"] * 2 * np.pi / 60
    heat = _sigmoid((a.hdf_delta_k - (r["process"] - r["air"])) / 0.3) * _sigmoid((a.hdf_rpm - r["rpm"]) / 40)
    band = _sigmoid((a.power_band_w[0] - power) / 150) + _sigmoid((power - a.power_band_w[1]) / 150)
    strain = _sigmoid((r["wear"] * r["torque"] - np.asarray(a.overstrain_limits)[r["kind"]]) / 400)
    worn = 0.4 * _sigmoid((r["wear"] - a.wear_window[0]) / 8)
    return _sigmoid(-4.5 + 8 * np.maximum.reduce([heat, band, strain, worn]) + noise)


def failure_risk(
    cal: Calendar, readings: Readings, link: np.ndarray, params: FirmParams, rng: np.random.Generator
) -> Scored:
    """The failure-risk model on every reading from the first wave on (in shadow mode elsewhere)."""
    a, tl = params.maintenance.ai4i, cal.timeline
    rows = np.flatnonzero(readings.day >= cal.first_day(min(tl.waves)))
    n = rows.size
    r = {k: getattr(readings, k)[rows] for k in ("air", "process", "rpm", "torque", "wear", "kind", "at")}
    p = _risk(a, r, 0.7 * rng.standard_normal(n))
    predicted = (p >= 0.5).astype(np.int64)
    task = link[rows]
    latency = np.round(40 * np.exp(0.3 * rng.standard_normal(n)), 1)
    return Scored(
        model="failure-risk",
        use_case=MAINTENANCE,
        version=_versions(cal.month[readings.day[rows]], [(tl.scale_up, "1.0.0")], "0.9.0"),
        at=r["at"] + np.round(latency * 1000).astype(np.int64),
        prediction=pick(OUTCOMES, predicted),
        score=np.round(np.where(predicted == 1, p, 1 - p), 4),
        task_id=pc.if_else(pa.array(task < 0), pa.scalar(None, pa.string()), task_ids(MAINTENANCE, task)),
        features=join(
            '{"type":"',
            pick(TYPES, r["kind"]),
            '","air_temperature_k":',
            number_text(r["air"], 1),
            ',"process_temperature_k":',
            number_text(r["process"], 1),
            ',"rotational_speed_rpm":',
            number_text(r["rpm"], 0),
            ',"torque_nm":',
            number_text(r["torque"], 1),
            ',"tool_wear_min":',
            number_text(r["wear"], 0),
            "}",
        ),
        latency_ms=latency,
        label=pick(OUTCOMES, readings.failure[rows].astype(np.int64)),
        labeled_at=r["at"] + US_PER_DAY,
        source=pick(("downstream",), np.zeros(n, dtype=np.int64)),
        labeler=pa.nulls(n, pa.string()),
    )


def prediction_tables(scored: list[Scored]) -> tuple[pa.Table, pa.Table]:
    """The predictions and labels tables of every model (prediction ids ``pr-...``)."""
    preds, labels, start = [], [], 0
    for s in scored:
        n = s.at.size
        pid = ids("pr", np.arange(start + 1, start + n + 1))
        start += n
        preds.append(
            build(
                "predictions",
                {
                    "prediction_id": pid,
                    "model": pick((s.model,), np.zeros(n, dtype=np.int64)),
                    "model_version": s.version,
                    "use_case": pick((s.use_case,), np.zeros(n, dtype=np.int64)),
                    "predicted_at": s.at,
                    "prediction": s.prediction,
                    "score": s.score,
                    "task_id": s.task_id,
                    "features": s.features,
                    "latency_ms": s.latency_ms,
                },
            )
        )
        labeled_at = np.maximum(s.labeled_at, s.at + US_PER_SECOND)
        columns = {"prediction_id": pid, "task_id": s.task_id, "label": s.label, "labeled_at": labeled_at}
        labels.append(build("labels", columns | {"source": s.source, "labeler": s.labeler}))
    return pa.concat_tables(preds), pa.concat_tables(labels)
