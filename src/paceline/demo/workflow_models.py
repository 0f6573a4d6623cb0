"""The scikit-learn models behind the demo's three workflows, trained on the demo firm's own data.

Each workflow has a :class:`ModelSpec`: the features its extract step computes from the
payload (the same function serves training and serving, so they never disagree), the
label, and a small estimator chosen to be ordinary and explainable:

* ``claims-router`` 2.0.0 — a decision tree over the claim's amount, line, channel, prior
  claims and pages, predicting the routing queue (the demo firm's adjusters' rules);
* ``scribe-coder`` 3.0.0 — a logistic regression over the encounter (transcript length,
  visit type, speakers, specialty), predicting the visit's billing level;
* ``failure-risk`` 2.0.0 — a decision tree over an AI4I sensor reading and the quantities
  the AI4I failure rules read (temperature difference, power, strain), predicting the
  failure mode, from which the workflow derives the technician's next step.

The data comes from the generator (:mod:`paceline.demo.firm`), with a seed and no
download: claims and encounters from the ``predictions`` and ``labels`` tables (the
features each suggestion was made on, and what the adjuster or clinician decided), sensor
readings and their failure modes from :func:`paceline.demo.firm.maintenance.sensor_readings`.
:func:`demo_history` splits each use case in time: the model trains on the history before
the firm's last 13 weeks, and a share of those weeks' work (:data:`EVERY`) becomes the runtime's
cases, with the ground truth the demo's reviewers decide by. Models are saved with joblib under
``<workspace>/models/`` with a JSON card beside each (version, features, classes, rows, hold-out
accuracy, seed).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paceline.demo.firm.calendar import US_PER_DAY, build_calendar
from paceline.demo.firm.maintenance import TYPES, Readings, sensor_readings
from paceline.demo.firm.models import CHANNELS, CODES, LINES, QUEUES, VISITS
from paceline.demo.firm.org import CLAIMS, CLINICAL, MAINTENANCE, SPECIALTIES
from paceline.demo.firm.rng import stream
from paceline.demo.params import AI4I, FirmParams
from paceline.domain.workflow import unit_interval
from paceline.errors import UsageError
from paceline.runtime.models import SklearnModel

DEFAULT_SEED = 7
FIRM_FAILURE_MODEL = "failure-risk"  # the firm's own model, which scored every reading
WEEKS = 13  # the recent months that run through the runtime: the firm's last 13 weeks (a quarter)
EVERY = {  # the share of those weeks' work that becomes runtime cases: one in n
    "claims-triage": 75,
    "clinical-documentation": 75,
    "predictive-maintenance": 30,  # of the quiet readings; every failing reading is a case
}
TRAINING_FIRM = {"people": 120, "months": 6}  # the firm generated when no demo data is at hand
HOLDOUT = 0.2  # the latest share of the training history, kept out to measure accuracy
BASELINE = "baseline"

# --- features: one function per workflow, used by its extract step and by training ---------------
FAILURE_MODES = ("none", "heat_dissipation", "power", "overstrain", "tool_wear", "random")
NEXT_ACTION = {
    "none": "no action: keep the machine running",
    "heat_dissipation": "check the cooling and raise the spindle speed before the next run",
    "power": "check the drive and bring speed and torque back into the power band",
    "overstrain": "replace the tool and reduce the load",
    "tool_wear": "replace the tool",
    "random": "inspect the machine",
}
WEAR_WINDOW = AI4I().wear_window  # a tool is replaced (or fails) in this window of minutes
OVERSTRAIN_LIMITS = AI4I().overstrain_limits  # Nm x min, per product type L, M, H


def claim_features(payload: Mapping[str, Any]) -> dict[str, float]:
    """A claim as numbers: log amount, counts, and one-hot line and channel (unknown: all zero)."""
    features = {
        "log_amount": math.log(max(float(payload["amount"]), 1.0)),
        "prior_claims": float(payload.get("prior_claims") or 0),
        "doc_pages": float(payload.get("doc_pages") or 0),
    }
    features |= {f"line_{x}": float(payload.get("line") == x) for x in LINES}
    features |= {f"channel_{x}": float(payload.get("channel") == x) for x in CHANNELS}
    return features


def encounter_features(payload: Mapping[str, Any]) -> dict[str, float]:
    """An encounter as numbers: log transcript minutes, speakers, one-hot visit type and specialty."""
    features = {
        "log_minutes": math.log(max(float(payload["transcript_minutes"]), 0.1)),
        "speakers": float(payload.get("speakers") or 2),
    }
    features |= {f"visit_{x}": float(payload.get("visit_type") == x) for x in VISITS}
    features |= {f"specialty_{x}": float(payload.get("specialty") == x) for x in SPECIALTIES}
    return features


def reading_features(payload: Mapping[str, Any]) -> dict[str, float]:
    """A sensor reading with what the AI4I rules read: temperature difference, power, strain."""
    air, process = float(payload["air_temperature_k"]), float(payload["process_temperature_k"])
    rpm, torque, wear = (
        float(payload["rotational_speed_rpm"]),
        float(payload["torque_nm"]),
        float(payload["tool_wear_min"]),
    )
    kind = payload.get("type")
    limit = OVERSTRAIN_LIMITS[TYPES.index(kind)] if kind in TYPES else OVERSTRAIN_LIMITS[0]
    features = {
        "air_temperature_k": air,
        "process_temperature_k": process,
        "rotational_speed_rpm": rpm,
        "torque_nm": torque,
        "tool_wear_min": wear,
        "temperature_difference_k": process - air,
        "power_w": torque * rpm * 2 * math.pi / 60,
        "strain_ratio": wear * torque / limit,
    }
    features |= {f"type_{x}": float(kind == x) for x in TYPES}
    return features


def _tree(seed: int, depth: int, leaf: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, random_state=seed)


def _logistic(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, random_state=seed))


@dataclass(frozen=True)
class ModelSpec:
    """What a workflow's model reads and predicts, and how it is built."""

    workflow: str
    use_case: str
    model: str
    version: str
    label: str  # the output field
    classes: tuple[str, ...]
    featurize: Callable[[Mapping[str, Any]], dict[str, float]]
    estimator: Callable[[int], Any]
    training_rows: int  # the latest rows of history it learns from

    @property
    def features(self) -> list[str]:
        return list(self.featurize(EXAMPLES[self.workflow]))


EXAMPLES: dict[str, dict[str, Any]] = {
    "claims-triage": {
        "policy_number": "POL-2231-0487",
        "line": "auto",
        "channel": "web",
        "amount": 1280.0,
        "currency": "EUR",
        "incident_date": "2026-06-12",
        "prior_claims": 0,
        "doc_pages": 3,
        "description": "Rear-end collision in a car park; photos and the repair quote attached.",
    },
    "clinical-documentation": {
        "specialty": "family-medicine",
        "visit_type": "follow-up",
        "transcript_minutes": 14.2,
        "speakers": 2,
    },
    "predictive-maintenance": {
        "machine_id": "plant-1/m007",
        "type": "M",
        "air_temperature_k": 300.4,
        "process_temperature_k": 310.1,
        "rotational_speed_rpm": 1512,
        "torque_nm": 41.3,
        "tool_wear_min": 108,
        "recorded_at": "2026-06-12T08:30:00Z",
    },
}

SPECS: dict[str, ModelSpec] = {
    "claims-triage": ModelSpec(
        "claims-triage",
        CLAIMS,
        "claims-router",
        "2.0.0",
        "queue",
        QUEUES,
        claim_features,
        lambda seed: _tree(seed, depth=4, leaf=30),
        10_000,
    ),
    "clinical-documentation": ModelSpec(
        "clinical-documentation",
        CLINICAL,
        "scribe-coder",
        "3.0.0",
        "billing_code",
        CODES,
        encounter_features,
        _logistic,
        6_000,
    ),
    "predictive-maintenance": ModelSpec(
        "predictive-maintenance",
        MAINTENANCE,
        "failure-risk",
        "2.0.0",
        "failure_mode",
        FAILURE_MODES,
        reading_features,
        lambda seed: _tree(seed, depth=6, leaf=10),
        20_000,
    ),
}


# --- the demo firm's history, split in time --------------------------------------------------------
@dataclass(frozen=True)
class DemoCase:
    """A case for the runtime from the firm's recent weeks, with what its reviewer would decide."""

    external_id: str
    payload: dict[str, Any]
    truth: str
    reviewer: str | None  # the person who handled it in the firm (None: anyone of the team)
    at: datetime
    record: str | None = None  # the task in the firm's files this case replays (None: new work)


@dataclass(frozen=True)
class History:
    """One workflow's training rows (before the cut-off) and its cases (after it)."""

    payloads: list[dict[str, Any]]
    labels: list[str]
    cases: list[DemoCase]
    reviewers: list[str]  # the team that reviews the workflow's cases
    until: str  # the time of the latest training row: the model's data cut-off


def _us(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _when(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


def _split(
    at: np.ndarray, weeks: int, train_rows: int, every: int, cap: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indexes: the latest *train_rows* before the cut-off, and one in *every* row after it (a
    seeded draw, so spread over the whole period), at most *cap*."""
    order = np.argsort(at, kind="stable")
    cutoff = at.max() - weeks * 7 * US_PER_DAY
    before, after = order[at[order] < cutoff], order[at[order] >= cutoff]
    train = before[-train_rows:]
    wanted = _share(after.size, every, cap)
    picked = np.sort(rng.choice(after.size, wanted, replace=False))
    return train, after[picked.astype(np.int64)]


def _share(size: int, every: int, cap: int | None) -> int:
    """How many of *size* rows one in *every* is (rounded up), at most *cap*."""
    wanted = -(-size // max(every, 1))
    return min(wanted, size) if cap is None else min(wanted, size, cap)


def _rng(seed: int, workflow: str) -> np.random.Generator:
    return stream(seed, f"runtime-{workflow}")


def _team(tables: Mapping[str, pa.Table], use_case: str) -> list[str]:
    a = tables["assignments"]
    mine = a.filter(pc.and_(pc.equal(a["use_case"], use_case), pc.is_valid(a["ai_enabled_from"])))
    return sorted(set(mine["person_id"].to_pylist()))


def _scored(tables: Mapping[str, pa.Table], model: str) -> tuple[pa.Table, pa.Table]:
    """The model's predictions and, row for row, their labels.

    The generator writes both tables in the same order; if they were reordered (read back
    from another source), the labels are joined by prediction id instead.
    """
    p, labels = tables["predictions"], tables["labels"]
    mask = pc.equal(p["model"], model)
    mine = p.filter(mask).select(["prediction_id", "predicted_at", "task_id", "features"])
    if labels.num_rows == p.num_rows:
        aligned = labels.filter(mask).select(["prediction_id", "label", "labeler"])
        if aligned["prediction_id"].equals(mine["prediction_id"]):
            return mine, aligned
    joined = mine.select(["prediction_id"]).join(
        labels.select(["prediction_id", "label", "labeler"]), "prediction_id", join_type="left outer"
    )
    order = {pid: i for i, pid in enumerate(joined["prediction_id"].to_pylist())}
    index = [order[pid] for pid in mine["prediction_id"].to_pylist()]
    return mine, joined.take(index)


def claim_payload(task_id: str, features: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The intake form of a generated claim. The firm's data has no policy number or incident date,
    so they are derived from the claim's id; a few intake forms miss them (3% and 2%)."""
    number = int(unit_interval(f"policy-number|{task_id}") * 10**8)
    policy = (
        None
        if unit_interval(f"policy|{task_id}") < 0.03
        else f"POL-{number // 10**4:04d}-{number % 10**4:04d}"
    )
    ago = int(unit_interval(f"incident|{task_id}") * 14)
    incident = None if unit_interval(f"incident-missing|{task_id}") < 0.02 else (at.date() - timedelta(ago))
    return {
        "policy_number": policy,
        "line": features["line"],
        "channel": features["channel"],
        "amount": float(features["amount"]),
        "currency": "EUR",
        "incident_date": None if incident is None else incident.isoformat(),
        "prior_claims": int(features["prior_claims"]),
        "doc_pages": int(features["doc_pages"]),
        "description": f"{features['line']} claim received by {features['channel']}",
    }


def _from_predictions(
    tables: Mapping[str, pa.Table], spec: ModelSpec, weeks: int, every: int, cap: int | None, seed: int
) -> History:
    scored, truth = _scored(tables, spec.model)
    at = _us(scored["predicted_at"])
    train, recent = _split(at, weeks, spec.training_rows, every, cap, _rng(seed, spec.workflow))
    payloads = [json.loads(s) for s in scored["features"].take(train).to_pylist()]  # the model's inputs
    picked, decided = scored.take(recent).to_pylist(), truth.take(recent).to_pylist()
    demo_cases = []
    for row, label, us in zip(picked, decided, at[recent], strict=True):
        when, raw = _when(us), json.loads(row["features"])
        payload = claim_payload(row["task_id"], raw, when) if spec.use_case == CLAIMS else raw
        task = row["task_id"]
        demo_cases.append(DemoCase(task, payload, label["label"], label["labeler"], when, task))
    labels = truth["label"].take(train).to_pylist()
    until = _when(at[train].max()).isoformat() if train.size else ""
    return History(payloads, labels, demo_cases, _team(tables, spec.use_case), until)


def work_orders(tables: Mapping[str, pa.Table]) -> dict[tuple[int, float, float], str]:
    """The firm's urgent work order of each failing reading, by the reading's time, torque and speed.

    The firm's ``failure-risk`` model scored every reading at its time plus the call's latency, and
    its prediction names the work order a failure opened; the reading is found again from those.
    """
    p = tables["predictions"]
    if "latency_ms" not in p.column_names:
        return {}
    mine = p.filter(pc.and_(pc.equal(p["model"], FIRM_FAILURE_MODEL), pc.is_valid(p["task_id"])))
    at = _us(mine["predicted_at"]) - np.round(mine["latency_ms"].to_numpy(zero_copy_only=False) * 1000)
    orders = {}
    for when, features, task in zip(
        at.astype(np.int64).tolist(), mine["features"].to_pylist(), mine["task_id"].to_pylist(), strict=True
    ):
        reading = json.loads(features)
        orders[(when, float(reading["torque_nm"]), float(reading["rotational_speed_rpm"]))] = task
    return orders


def failure_mode(readings: Readings) -> np.ndarray:
    """Each reading's failure mode (index into FAILURE_MODES); the deterministic AI4I modes first."""
    modes = np.zeros(readings.day.size, dtype=np.int64)
    ordered = (readings.hdf, readings.pwf, readings.osf, readings.twf, readings.rnf)
    for index in range(len(ordered), 0, -1):  # the first mode that fires wins
        modes[ordered[index - 1]] = index
    return modes


def reading_payload(readings: Readings, row: int) -> dict[str, Any]:
    return {
        "machine_id": f"plant-{readings.plant[row] + 1}/m{readings.machine[row] + 1:03d}",
        "type": TYPES[readings.kind[row]],
        "air_temperature_k": float(readings.air[row]),
        "process_temperature_k": float(readings.process[row]),
        "rotational_speed_rpm": float(readings.rpm[row]),
        "torque_nm": float(readings.torque[row]),
        "tool_wear_min": float(readings.wear[row]),
        "recorded_at": _when(readings.at[row]).isoformat(),
    }


def _from_readings(
    tables: Mapping[str, pa.Table],
    params: FirmParams,
    spec: ModelSpec,
    weeks: int,
    every: int,
    cap: int | None,
    seed: int,
) -> History:
    """Readings of every machine. The recent weeks' cases are every failing reading (each one an
    alert a technician sees) and one in *every* quiet reading; with *cap*, at most half failing."""
    readings = sensor_readings(build_calendar(params.timeline), params.maintenance, stream(seed, "sensors"))
    modes = failure_mode(readings)
    rng = _rng(seed, spec.workflow)
    train, _ = _split(readings.at, weeks, spec.training_rows, 1, 0, rng)
    cutoff = readings.at.max() - weeks * 7 * US_PER_DAY
    recent = np.flatnonzero(readings.at >= cutoff)
    failing, quiet = recent[modes[recent] > 0], recent[modes[recent] == 0]
    n_fail = failing.size if cap is None else min(failing.size, cap // 2)
    n_quiet = _share(quiet.size, every, None if cap is None else cap - n_fail)
    picked = np.concatenate(
        [rng.choice(failing, n_fail, replace=False), rng.choice(quiet, n_quiet, replace=False)]
    ).astype(np.int64)
    picked = picked[np.argsort(readings.at[picked], kind="stable")]
    orders = work_orders(tables)
    demo_cases = [
        DemoCase(
            f"reading-{readings.machine[r] + 1:03d}-{readings.day[r]:04d}",
            reading_payload(readings, r),
            FAILURE_MODES[modes[r]],
            None,
            _when(readings.at[r]),
            orders.get((int(readings.at[r]), float(readings.torque[r]), float(readings.rpm[r]))),
        )
        for r in picked
    ]
    payloads = [reading_payload(readings, int(r)) for r in train]
    labels = [FAILURE_MODES[m] for m in modes[train]]
    until = _when(readings.at[train].max()).isoformat() if train.size else ""
    return History(payloads, labels, demo_cases, _team(tables, spec.use_case), until)


def recent_weeks(params: FirmParams, weeks: int = WEEKS) -> int:
    """*weeks*, but at most half of the firm's timeline, so a short firm keeps history to train on."""
    return max(1, min(weeks, params.timeline.months * 52 // 24))


def demo_history(
    tables: Mapping[str, pa.Table],
    params: FirmParams,
    seed: int,
    weeks: int = WEEKS,
    every: Mapping[str, int] | None = None,
    cases: int | None = None,
) -> dict[str, History]:
    """Per workflow: training history before the last *weeks* (at most half the timeline), and the
    cases sampled from them.

    *every* gives each workflow's share of the recent work (:data:`EVERY` by default: one claim
    or encounter in *n*; every failing machine reading and one quiet one in *n*); *cases* caps
    the cases per workflow (0: training history only). *tables* are the firm's
    ``predictions``, ``labels`` and ``assignments`` (as generated, or read back from the demo's
    Parquet files); sensor readings are regenerated from *seed*.
    """
    shares = {**EVERY, **(every or {})}
    weeks = recent_weeks(params, weeks)
    out = {}
    for name, spec in SPECS.items():
        if spec.use_case == MAINTENANCE:
            out[name] = _from_readings(tables, params, spec, weeks, shares[name], cases, seed)
        else:
            out[name] = _from_predictions(tables, spec, weeks, shares[name], cases, seed)
    return out


# --- training, saving, loading ----------------------------------------------------------------------
@dataclass(frozen=True)
class Card:
    """What is known about a trained model: the JSON beside its joblib file."""

    workflow: str
    model: str
    version: str
    label: str
    features: list[str]
    classes: list[str]
    rows: int
    holdout_rows: int
    holdout_accuracy: float
    seed: int
    trained_until: str  # the time of the latest training row (the model's data cut-off)
    sklearn_version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Trained:
    estimator: Any
    card: Card


def matrix(spec: ModelSpec, payloads: Sequence[Mapping[str, Any]], names: Sequence[str]) -> np.ndarray:
    """The payloads' features as rows, in the order of *names*."""
    rows = (spec.featurize(p) for p in payloads)
    return np.array([[row[f] for f in names] for row in rows], dtype=float).reshape(-1, len(names))


def train(
    spec: ModelSpec, payloads: list[dict[str, Any]], labels: list[str], seed: int, until: str = ""
) -> Trained:
    """Fit *spec*'s estimator on the older rows; report accuracy on the latest ``HOLDOUT`` share."""
    import sklearn

    if len(payloads) != len(labels) or len(payloads) < 50:
        raise UsageError(f"{spec.model}: {len(payloads)} training rows are too few (at least 50)")
    names = spec.features
    x = matrix(spec, payloads, names)
    y = np.asarray(labels, dtype=object).astype(str)
    cut = int(len(y) * (1 - HOLDOUT))
    estimator = spec.estimator(seed)
    estimator.fit(x[:cut], y[:cut])
    accuracy = float((estimator.predict(x[cut:]) == y[cut:]).mean())
    card = Card(
        workflow=spec.workflow,
        model=spec.model,
        version=spec.version,
        label=spec.label,
        features=names,
        classes=[str(c) for c in estimator.classes_],
        rows=cut,
        holdout_rows=len(y) - cut,
        holdout_accuracy=round(accuracy, 4),
        seed=seed,
        trained_until=until,
        sklearn_version=sklearn.__version__,
    )
    return Trained(estimator, card)


def model_path(models_dir: Path, workflow: str, variant: str = BASELINE) -> Path:
    suffix = "" if variant == BASELINE else f"@{variant}"
    return models_dir / f"{workflow}{suffix}.joblib"


def save(trained: Trained, models_dir: Path, variant: str = BASELINE) -> Path:
    """Write the estimator (joblib) and its card (JSON) under *models_dir*; the joblib path."""
    import joblib

    models_dir.mkdir(parents=True, exist_ok=True)
    path = model_path(models_dir, trained.card.workflow, variant)
    tmp = path.with_name(f".{path.name}.tmp")
    joblib.dump(trained.estimator, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(
        json.dumps(trained.card.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return path


def train_all(history: Mapping[str, History], seed: int) -> dict[str, Trained]:
    return {name: train(SPECS[name], h.payloads, h.labels, seed, h.until) for name, h in history.items()}


def training_tables(seed: int = DEFAULT_SEED) -> tuple[dict[str, pa.Table], FirmParams]:
    """A small demo firm to train on when no demo data is at hand (a fraction of a second)."""
    from paceline.demo.firm import generate_firm

    params = FirmParams.sized(**TRAINING_FIRM)
    return generate_firm(params, seed).tables, params


_CACHE: dict[int, dict[str, SklearnModel]] = {}  # per seed: models trained in memory
_LOCK = threading.Lock()


def load_model(
    workflow: str, models_dir: Path | None, variant: str = BASELINE, seed: int = DEFAULT_SEED
) -> SklearnModel:
    """The workflow's model for *variant*: from *models_dir* if saved there, else trained in memory.

    A canary variant needs its own file (``<workflow>@<variant>.joblib``); the baseline falls
    back to a model trained on a small generated firm (deterministic, not saved), so a
    workspace without the demo can still run the workflows.
    """
    spec = SPECS[workflow]
    path = None if models_dir is None else model_path(models_dir, workflow, variant)
    if path is not None and path.exists():
        card_path = path.with_suffix(".json")
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
        version, features = card.get("version", spec.version), card.get("features", spec.features)
        return SklearnModel.load(spec.model, version, path, features, spec.label)
    if variant != BASELINE:
        raise UsageError(
            f"no model for variant {variant!r} of {workflow}",
            fix=f"save it as {model_path(models_dir or Path('models'), workflow, variant)}",
        )
    with _LOCK:
        if seed not in _CACHE:
            tables, params = training_tables(seed)
            trained = train_all(demo_history(tables, params, seed, cases=0), seed)
            _CACHE[seed] = {
                name: SklearnModel(
                    SPECS[name].model, t.card.version, t.estimator, t.card.features, t.card.label
                )
                for name, t in trained.items()
            }
        return _CACHE[seed][workflow]
