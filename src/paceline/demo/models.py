"""The demo's three models in the registry, with the history the firm's data implies.

Each workflow's model (:data:`paceline.demo.workflow_models.SPECS`) served earlier versions
in the firm's history (``claims-router`` 1.0.0 → 1.1.0 → 1.2.0, ``scribe-coder`` 2.3.0 →
2.4.0, ``failure-risk`` 0.9.0 → 1.0.0, read from the ``predictions`` table), and the runtime
trained and serves a new one (2.0.0, 3.0.0, 2.0.0, saved under ``<workspace>/models/``).
:func:`register_demo_models` records all of them the way a team would have: each version
with its artifact hash, lineage (the warehouse ingests and the demo's files it learned from,
with their SHA-256) and hold-out metrics; each promotion asked for by the demo ML engineer
and approved by the demo business owner, on the firm's calendar, so the newest version is in
production and the older ones deprecated (or retired two generations back); a model card; a
90-day retraining schedule; and, where the runtime serves a canary variant
(``<workflow>@<variant>.joblib``), that version in the canary stage.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from paceline.bootstrap import Workspace
from paceline.demo.workflow_models import SPECS, ModelSpec
from paceline.domain.roles import Grant, Role
from paceline.services.access import Principal
from paceline.services.model_registry import ModelRegistryService, VersionIn
from paceline.storage.model_repo import SqlModelRepository

DATA_DIR = "demo-data"  # as paceline.demo.run writes it
MODELS_DIR = "models"  # as paceline.demo.runtime saves the trained models
ENGINEER = Principal("demo-ml-engineer", (Grant(Role.ML_ENGINEER),))
OWNER = Principal("demo-business-owner", (Grant(Role.BUSINESS_OWNER),))
RETRAIN_EVERY_DAYS = 90
REMIND_DAYS_BEFORE = 14
RETIRE_AFTER_DAYS = 60  # a superseded version is kept deprecated this long, for rollback

CARDS: dict[str, dict[str, Any]] = {
    "claims-triage": {
        "purpose": "Suggest the queue a new claim goes to (fast-track, standard, specialist, SIU).",
        "intended_use": "A suggestion shown to the intake adjuster, who accepts or corrects it; "
        "rule checks send large or incomplete claims to review regardless.",
        "out_of_scope": "Deciding claims, setting reserves, or any automatic denial.",
        "limitations": "Few commercial and marine claims; SIU referrals are rare, so its recall "
        "there is the least certain. Retrained after the claim mix drifted in month 10.",
        "human_oversight": "Every suggestion below the auto-complete confidence is reviewed; a QA "
        "sample of automatic completions is reviewed blind.",
    },
    "clinical-documentation": {
        "purpose": "Suggest the visit's billing level (99212-99215) from the encounter.",
        "intended_use": "A draft the clinician confirms or edits before the note is signed.",
        "out_of_scope": "Clinical decisions, diagnoses, or billing without the clinician's sign-off.",
        "limitations": "Trained on four specialties; long multi-speaker visits are under-represented.",
        "human_oversight": "The clinician signs every note; edits feed the label store.",
    },
    "predictive-maintenance": {
        "purpose": "Flag the failure mode a machine reading points to, and the technician's next step.",
        "intended_use": "A ranked work list for the shift's technicians.",
        "out_of_scope": "Stopping machines automatically; safety interlocks stay in the PLC.",
        "limitations": "Random failures cannot be predicted; new machine types are unseen.",
        "human_oversight": "A technician decides every work order; overrides are reviewed weekly.",
    },
}


@dataclass(frozen=True)
class Served:
    """One version as it appears in the warehouse's predictions."""

    version: str
    first: datetime
    last: datetime
    rows: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _served(ws: Workspace, model: str) -> list[Served]:
    """The versions of *model* in the predictions table, oldest first."""
    p = ws.warehouse_connection().table("predictions")
    mine = p.filter(p.model == model)
    found = (
        mine.group_by("model_version")
        .aggregate(first=mine.predicted_at.min(), last=mine.predicted_at.max(), rows=mine.count())
        .order_by("first")
    )
    return [
        Served(r["model_version"], r["first"], r["last"], r["rows"])
        for r in ws.warehouse_connection().to_pyarrow(found).to_pylist()
    ]


def _ingests(ws: Workspace, *tables: str) -> list[str]:
    """The warehouse ingests (file ids) of *tables* that came from the demo's files."""
    return [f.stem.removeprefix("part-") for t in tables for f in ws.warehouse.data_files(t)[:1]]


def _lineage(ws: Workspace, until: datetime, note: str) -> dict[str, Any]:
    data = ws.home / DATA_DIR
    files = [
        {"path": f"{DATA_DIR}/{n}.parquet", "sha256": _sha256(data / f"{n}.parquet")}
        for n in ("predictions", "labels")
    ]
    return {
        "ingest_ids": _ingests(ws, "predictions", "labels"),
        "files": [f for f in files if (ws.home / f["path"]).exists()],
        "data_until": until.isoformat(),
        "note": note,
    }


def _card(spec: ModelSpec, training: str, evaluation: str) -> dict[str, Any]:
    return {
        **CARDS[spec.use_case],
        "training_data": training,
        "evaluation": evaluation,
        "owners": ["demo-ml-engineer"],
    }


class _Clock:
    """The registry's clock, set to the firm's calendar for each recorded step."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def _promote(
    registry: ModelRegistryService, clock: _Clock, model: str, version: str, to: str, at: datetime, why: str
) -> None:
    clock.at = at
    asked = registry.request_stage(ENGINEER, model, version, to, why)
    registry.approve(OWNER, asked["approval"]["id"], "evaluation and card reviewed")


def _history(
    registry: ModelRegistryService, clock: _Clock, ws: Workspace, spec: ModelSpec, served: list[Served]
) -> None:
    """The versions the firm served before the runtime, each promoted when it started serving."""
    for s in served:
        clock.at = s.first - timedelta(days=7)
        card = _card(
            spec,
            f"The firm's {spec.use_case} history before {s.first.date()} (predictions and their labels).",
            f"Served {s.rows} predictions from {s.first.date()} to {s.last.date()}: "
            "see paceline monitor performance.",
        )
        spec_in = VersionIn(
            s.version,
            f"registry://{spec.model}/{s.version}",
            hashlib.sha256(f"{spec.model}@{s.version}".encode()).hexdigest(),
            _lineage(
                ws, clock.at, "the firm's own model before Paceline's runtime (artifact kept by the vendor)"
            ),
            {},
            trained_at=clock.at,
            card=card,
        )
        registry.register_version(ENGINEER, spec.model, spec_in)
        _promote(
            registry,
            clock,
            spec.model,
            s.version,
            "production",
            s.first,
            f"serves the firm from {s.first.date()}",
        )


def _runtime_version(
    registry: ModelRegistryService, clock: _Clock, ws: Workspace, spec: ModelSpec, variant: str = ""
) -> str | None:
    """Register the runtime's trained model (the baseline, or a canary *variant*); its version."""
    name = spec.workflow + (f"@{variant}" if variant else "")
    path = ws.home / MODELS_DIR / f"{name}.joblib"
    card_path = path.with_suffix(".json")
    if not path.exists() or not card_path.exists():
        return None
    trained = json.loads(card_path.read_text(encoding="utf-8"))
    version = str(trained["version"])
    if any(v["version"] == version for v in registry.repo.versions(spec.model)):
        return None
    until = datetime.fromisoformat(trained["trained_until"]) if trained.get("trained_until") else clock.at
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    clock.at = until
    metrics = {
        "holdout_accuracy": trained["holdout_accuracy"],
        "rows": trained["rows"],
        "holdout_rows": trained["holdout_rows"],
    }
    card = _card(
        spec,
        f"{trained['rows']} rows of the firm's history up to {until.date()} ({trained['label']} as "
        f"labelled by the firm's people); features: {', '.join(trained['features'])}.",
        f"Accuracy {trained['holdout_accuracy']} on the latest {trained['holdout_rows']} rows, "
        "held out in time.",
    )
    note = (
        f"trained by paceline.demo with seed {trained.get('seed')} "
        f"(scikit-learn {trained.get('sklearn_version')})"
    )
    spec_in = VersionIn(
        version,
        f"{MODELS_DIR}/{path.name}",
        _sha256(path),
        _lineage(ws, until, note),
        metrics,
        trained_at=until,
        card=card,
    )
    registry.register_version(ENGINEER, spec.model, spec_in)
    return version


def _runtime_versions(ws: Workspace, spec: ModelSpec) -> set[str]:
    """The versions the runtime trained for *spec*'s workflow (its baseline and canary files)."""
    cards = (ws.home / MODELS_DIR).glob(f"{spec.workflow}*.json")
    return {str(json.loads(p.read_text(encoding="utf-8")).get("version")) for p in cards}


def _retire_old(registry: ModelRegistryService, clock: _Clock, model: str) -> None:
    """Retire all but the newest deprecated version; plan the newest one's retirement."""
    deprecated = [v for v in registry.repo.versions(model) if v["stage"] == "deprecated"]
    deprecated.sort(key=lambda v: v["stage_changed_at"])
    for old in deprecated[:-1]:
        registry.retire(ENGINEER, model, old["version"], "two versions newer are serving; no rollback needed")
    if deprecated and not deprecated[-1]["retirement_date"]:
        retire_on = (clock.at + timedelta(days=RETIRE_AFTER_DAYS)).date()
        registry.set_dates(ENGINEER, model, deprecated[-1]["version"], retirement=retire_on)


def _model(registry: ModelRegistryService, clock: _Clock, ws: Workspace, spec: ModelSpec) -> dict[str, Any]:
    if registry.repo.get_model(spec.model) is None:
        registry.register_model(ENGINEER, spec.model, spec.use_case, f"{spec.workflow} model", "multiclass")
    # the runtime's version is not history, also when this runs before the runtime trained it
    known = {v["version"] for v in registry.repo.versions(spec.model)}
    skip = _runtime_versions(ws, spec) | {spec.version} | known
    _history(registry, clock, ws, spec, [s for s in _served(ws, spec.model) if s.version not in skip])
    baseline = _runtime_version(registry, clock, ws, spec)
    if baseline is not None:
        why = "the runtime's model, retrained on the firm's history"
        _promote(registry, clock, spec.model, baseline, "production", clock.at, why)
    _retire_old(registry, clock, spec.model)
    for variant in sorted(
        p.stem.split("@", 1)[1] for p in (ws.home / MODELS_DIR).glob(f"{spec.workflow}@*.joblib")
    ):
        canary = _runtime_version(registry, clock, ws, spec, variant)
        if canary is not None:
            _promote(
                registry,
                clock,
                spec.model,
                canary,
                "canary",
                clock.at,
                f"the runtime's canary variant {variant!r}",
            )
    registry.set_schedule(ENGINEER, spec.model, RETRAIN_EVERY_DAYS, REMIND_DAYS_BEFORE)
    final = {v["version"]: v["stage"] for v in registry.repo.versions(spec.model)}
    return {
        "model": spec.model,
        "use_case": spec.use_case,
        "production": next((v for v, s in final.items() if s == "production"), None),
        "canary": [v for v, s in final.items() if s == "canary"],
        "versions": final,
    }


def register_demo_models(ws: Workspace, say: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Record the three workflows' models, versions, cards, lineage, stages and schedules.

    Call it once the use cases are in the inventory. ``paceline.demo.run.build_demo`` calls it
    twice: before the program, for the firm's earlier versions (so the phase-5 gate finds the
    production models), and after the runtime has trained and saved its models, for those. A
    model already registered keeps what it has and gains only the versions it lacks.
    """
    tell = say or (lambda _: None)
    out = []
    for spec in SPECS.values():
        tell(f"registering {spec.model} with its versions")
        clock = _Clock()
        with ws.store.write(ENGINEER.actor) as session:
            out.append(_model(ModelRegistryService(SqlModelRepository(session), clock), clock, ws, spec))
    return out
