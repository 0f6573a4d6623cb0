"""The model registry's rules: stages and their moves, approvals, model cards, lineage and reminders.

A model version moves through five stages::

    candidate ──► canary ──► production ──► deprecated ──► retired
        │  ▲         │                          │
        │  └─────────┘ (rolled back)            └──► production (rolled back, approved)
        └──► production / retired

Moving a version to ``canary`` or ``production`` serves its predictions to people, so it
needs an approval by someone holding ``model.approve`` who is not the person who asked for
it (four eyes: MLflow's open request for promotion approvals, mlflow#2863), and a complete
model card. A model has at most one production version: promoting one moves the previous
one to ``deprecated``, and that demotion is recorded too (mlflow#2169: "which model was
Production in the past"). Everything here is pure; the service applies it and audits it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from paceline.errors import ValidationError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,59}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_RETRAIN_DAYS = 3650


class Stage(StrEnum):
    CANDIDATE = "candidate"
    CANARY = "canary"
    PRODUCTION = "production"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class Task(StrEnum):
    """What a model predicts: one of two classes (with a positive one) or one of several."""

    BINARY = "binary"
    MULTICLASS = "multiclass"


class Cause(StrEnum):
    """Why a version's stage changed (a column of the stage history)."""

    REGISTERED = "registered"  # the version entered the registry as a candidate
    APPROVED = "approved"  # an approved request
    DIRECT = "direct"  # a move that needs no approval (deprecate, retire, roll a canary back)
    SUPERSEDED = "superseded"  # demoted because another version went to production


ALLOWED_MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.CANDIDATE: frozenset({Stage.CANARY, Stage.PRODUCTION, Stage.RETIRED}),
    Stage.CANARY: frozenset({Stage.PRODUCTION, Stage.CANDIDATE, Stage.DEPRECATED, Stage.RETIRED}),
    Stage.PRODUCTION: frozenset({Stage.DEPRECATED}),
    Stage.DEPRECATED: frozenset({Stage.PRODUCTION, Stage.RETIRED}),
    Stage.RETIRED: frozenset(),
}
NEEDS_APPROVAL: frozenset[Stage] = frozenset({Stage.CANARY, Stage.PRODUCTION})
SERVING: frozenset[Stage] = frozenset({Stage.CANARY, Stage.PRODUCTION})


def parse_stage(value: str | Stage, name: str = "stage") -> Stage:
    try:
        return Stage(value)
    except ValueError:
        choices = ", ".join(s.value for s in Stage)
        raise ValidationError(
            f"{name} {value!r} is not one of: {choices}", field=name, fix=f"use one of: {choices}"
        ) from None


def check_move(version: str, current: Stage, target: Stage) -> None:
    """Raise :class:`ValidationError` unless *current* → *target* is an allowed move."""
    if target in ALLOWED_MOVES[current]:
        return
    allowed = ", ".join(sorted(s.value for s in ALLOWED_MOVES[current])) or "none (retired is final)"
    raise ValidationError(
        f"version {version} is {current.value}: it cannot move to {target.value}",
        field="stage",
        fix=f"from {current.value} it can move to: {allowed}",
    )


def needs_approval(target: Stage) -> bool:
    """Whether moving a version to *target* waits for a second person's approval."""
    return target in NEEDS_APPROVAL


def login_of(actor: str) -> str:
    """The person behind an actor string (``user:alice`` and ``cli:alice`` are both alice)."""
    return actor.split(":", 1)[1] if ":" in actor else actor


def approval_problem(requested_by: str, approver: str) -> str | None:
    """Why *approver* may not approve a request by *requested_by* (None when they may)."""
    if login_of(requested_by) == login_of(approver):
        return f"{login_of(approver)} asked for this change and may not approve it too (four eyes)"
    return None


@dataclass(frozen=True)
class Move:
    """One stage change the registry will record."""

    version: str
    from_stage: Stage
    to_stage: Stage
    cause: Cause


def plan_moves(stages: Mapping[str, Stage], version: str, target: Stage, cause: Cause) -> list[Move]:
    """The moves that putting *version* into *target* causes, itself first.

    *stages* maps every version of the model to its stage. Going to production demotes
    the current production version (there is one at most) to deprecated.
    """
    current = stages[version]
    check_move(version, current, target)
    moves = [Move(version, current, target, cause)]
    if target is Stage.PRODUCTION:
        moves += [
            Move(other, Stage.PRODUCTION, Stage.DEPRECATED, Cause.SUPERSEDED)
            for other, stage in sorted(stages.items())
            if stage is Stage.PRODUCTION and other != version
        ]
    return moves


# --- names ----------------------------------------------------------------------------------
def check_name(value: str) -> str:
    if not NAME_RE.match(value or ""):
        raise ValidationError(
            f"model name {value!r} is not valid",
            field="model",
            fix="use letters, digits and . _ - (at most 120), e.g. claims-router",
        )
    return value


def check_version(value: str) -> str:
    if not VERSION_RE.match(value or ""):
        raise ValidationError(
            f"version {value!r} is not valid",
            field="version",
            fix="use letters, digits and . _ + - (at most 60), e.g. 2.1.0",
        )
    return value


def check_sha256(value: str, name: str) -> str:
    text = (value or "").strip().lower()
    if not SHA256_RE.match(text):
        raise ValidationError(
            f"{name} {value!r} is not a SHA-256 digest",
            field=name,
            fix="64 hexadecimal characters, e.g. the output of sha256sum",
        )
    return text


# --- model cards ----------------------------------------------------------------------------
CARD_REQUIRED: tuple[str, ...] = (
    "purpose",
    "intended_use",
    "training_data",
    "evaluation",
    "limitations",
    "owners",
)
CARD_OPTIONAL: tuple[str, ...] = (
    "out_of_scope",
    "ethical_considerations",
    "human_oversight",
    "contact",
    "references",
)
CARD_LISTS = ("owners", "references")
MAX_CARD_TEXT = 20_000


@dataclass(frozen=True)
class ModelCard:
    """What a model is for and how far to trust it (after Mitchell et al., "Model Cards", 2019).

    A card may be filled in over time; :func:`card_gaps` says what is still missing, and a
    version goes to canary or production only with no gaps.
    """

    purpose: str = ""
    intended_use: str = ""
    training_data: str = ""
    evaluation: str = ""
    limitations: str = ""
    owners: tuple[str, ...] = ()
    out_of_scope: str = ""
    ethical_considerations: str = ""
    human_oversight: str = ""
    contact: str = ""
    references: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in doc.items()}


def _card_value(key: str, value: Any) -> str | tuple[str, ...]:
    if key in CARD_LISTS:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ValidationError(
                f"card field {key} must be a list of text, not {value!r}",
                field=f"card.{key}",
                fix='e.g. ["claims-ml-team", "demo-ml-engineer"]',
            )
        return tuple(i.strip() for i in items if i.strip())
    if not isinstance(value, str):
        raise ValidationError(
            f"card field {key} must be text, not {value!r}", field=f"card.{key}", fix="write it as a sentence"
        )
    if len(value) > MAX_CARD_TEXT:
        raise ValidationError(
            f"card field {key} is {len(value)} characters long",
            field=f"card.{key}",
            fix=f"keep it under {MAX_CARD_TEXT} characters and link to the full document",
        )
    return value.strip()


def parse_card(doc: Mapping[str, Any], base: ModelCard | None = None) -> ModelCard:
    """A card from *doc* (only the fields given change *base*); unknown fields are refused."""
    if not isinstance(doc, Mapping):
        raise ValidationError("a model card is an object of fields", field="card", fix="e.g. {purpose: ...}")
    known = CARD_REQUIRED + CARD_OPTIONAL
    unknown = sorted(set(doc) - set(known))
    if unknown:
        raise ValidationError(
            f"unknown card field {unknown[0]!r}", field=f"card.{unknown[0]}", fix=f"use: {', '.join(known)}"
        )
    changes: dict[str, Any] = {k: _card_value(k, v) for k, v in doc.items()}
    return replace(base or ModelCard(), **changes)


def card_gaps(card: ModelCard) -> list[str]:
    """The required fields the card leaves empty, in the card's order."""
    return [k for k in CARD_REQUIRED if not getattr(card, k)]


# --- lineage and metrics ----------------------------------------------------------------------
@dataclass(frozen=True)
class FileRef:
    path: str
    sha256: str


@dataclass(frozen=True)
class Lineage:
    """The data a version was trained on: warehouse ingests, files and label-store exports."""

    ingest_ids: tuple[str, ...] = ()
    files: tuple[FileRef, ...] = ()
    label_exports: tuple[FileRef, ...] = ()
    data_until: str = ""  # the time of the latest training row
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingest_ids": list(self.ingest_ids),
            "files": [asdict(f) for f in self.files],
            "label_exports": [asdict(f) for f in self.label_exports],
            "data_until": self.data_until,
            "note": self.note,
        }


def _file_refs(items: Any, name: str) -> tuple[FileRef, ...]:
    if not isinstance(items, list | tuple):
        raise ValidationError(f"lineage.{name} must be a list", field=f"lineage.{name}")
    refs = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str) or not item["path"].strip():
            raise ValidationError(
                f"lineage.{name}[{i}] must be an object with a path and a sha256",
                field=f"lineage.{name}[{i}]",
                fix='e.g. {"path": "exports/labels-2026-05.parquet", "sha256": "..."}',
            )
        refs.append(
            FileRef(
                item["path"].strip(), check_sha256(str(item.get("sha256", "")), f"lineage.{name}[{i}].sha256")
            )
        )
    return tuple(refs)


def parse_lineage(doc: Mapping[str, Any]) -> Lineage:
    """Lineage from *doc*; at least one ingest, file or label export is required."""
    if not isinstance(doc, Mapping):
        raise ValidationError("lineage is an object", field="lineage")
    known = ("ingest_ids", "files", "label_exports", "data_until", "note")
    unknown = sorted(set(doc) - set(known))
    if unknown:
        raise ValidationError(
            f"unknown lineage field {unknown[0]!r}",
            field=f"lineage.{unknown[0]}",
            fix=f"use: {', '.join(known)}",
        )
    ingests = doc.get("ingest_ids") or []
    if not isinstance(ingests, list | tuple) or not all(isinstance(i, str) and i.strip() for i in ingests):
        raise ValidationError("lineage.ingest_ids must be a list of ingest ids", field="lineage.ingest_ids")
    lineage = Lineage(
        tuple(i.strip() for i in ingests),
        _file_refs(doc.get("files") or [], "files"),
        _file_refs(doc.get("label_exports") or [], "label_exports"),
        str(doc.get("data_until") or ""),
        str(doc.get("note") or ""),
    )
    if not (lineage.ingest_ids or lineage.files or lineage.label_exports):
        raise ValidationError(
            "a version must name the data it was trained on",
            field="lineage",
            fix="give ingest ids, training files or label-store exports (with their SHA-256)",
        )
    return lineage


def parse_metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """Evaluation figures at training time: names to finite numbers."""
    if not isinstance(doc, Mapping):
        raise ValidationError("metrics is an object of name: number", field="metrics")
    out = {}
    for key, value in doc.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(
                f"metric {key!r} is {value!r}, not a finite number", field=f"metrics.{key}", fix="e.g. 0.91"
            )
        out[str(key)] = float(value)
    return out


# --- schedules and reminders ---------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """Retrain every *every_days* days from the last training; remind *remind_days_before* ahead."""

    every_days: int
    remind_days_before: int = 7

    def __post_init__(self) -> None:
        if not 1 <= self.every_days <= MAX_RETRAIN_DAYS:
            raise ValidationError(
                f"retraining every {self.every_days} days is out of range",
                field="every_days",
                fix=f"use 1 to {MAX_RETRAIN_DAYS}, e.g. 90",
            )
        if not 0 <= self.remind_days_before < self.every_days:
            raise ValidationError(
                f"a reminder {self.remind_days_before} days ahead does not fit a {self.every_days}-day cycle",
                field="remind_days_before",
                fix=f"use 0 to {self.every_days - 1}",
            )


class ReminderKind(StrEnum):
    RETRAIN = "retrain"
    DEPRECATE = "deprecate"
    RETIRE = "retire"


@dataclass(frozen=True)
class VersionDates:
    """What reminders need to know of one version."""

    version: str
    stage: Stage
    trained_on: date
    deprecation_date: date | None = None
    retirement_date: date | None = None


@dataclass(frozen=True)
class Reminder:
    model: str
    version: str
    kind: ReminderKind
    due: date
    status: str  # "due" (within the reminder window) or "overdue"
    days: int  # days until due (negative: days overdue)
    message: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind.value, "due": self.due.isoformat()}


def _reminder(
    model: str, version: str, kind: ReminderKind, due: date, today: date, ahead: int, what: str
) -> Reminder | None:
    days = (due - today).days
    if days > ahead:
        return None
    status = "overdue" if days < 0 else "due"
    when = f"{-days} days overdue" if days < 0 else ("today" if days == 0 else f"in {days} days")
    return Reminder(model, version, kind, due, status, days, f"{what} {version} of {model}: {when} ({due})")


def reminders(
    model: str,
    versions: Sequence[VersionDates],
    schedule: Schedule | None,
    today: date,
    ahead: int = 7,
) -> list[Reminder]:
    """Reminders that are due (within the window) or overdue on *today*, soonest first.

    Retraining is due *every_days* after the newest training of a version still in use
    (candidate, canary or production); the window is the schedule's ``remind_days_before``.
    Deprecation and retirement dates remind *ahead* days before, until the version has
    reached that stage.
    """
    found: list[Reminder | None] = []
    live = [v for v in versions if v.stage in (Stage.CANDIDATE, *SERVING)]
    if schedule is not None and live:
        newest = max(live, key=lambda v: v.trained_on)
        due = newest.trained_on + timedelta(days=schedule.every_days)
        found.append(
            _reminder(
                model,
                newest.version,
                ReminderKind.RETRAIN,
                due,
                today,
                schedule.remind_days_before,
                "retrain",
            )
        )
    for v in versions:
        if v.deprecation_date and v.stage in (Stage.CANDIDATE, *SERVING):
            found.append(
                _reminder(
                    model, v.version, ReminderKind.DEPRECATE, v.deprecation_date, today, ahead, "deprecate"
                )
            )
        if v.retirement_date and v.stage is not Stage.RETIRED:
            found.append(
                _reminder(model, v.version, ReminderKind.RETIRE, v.retirement_date, today, ahead, "retire")
            )
    return sorted(
        (r for r in found if r is not None), key=lambda r: (r.due, r.model, r.version, r.kind.value)
    )


def production_version(stages: Iterable[tuple[str, Stage]]) -> str | None:
    """The model's production version, if any."""
    return next((v for v, s in stages if s is Stage.PRODUCTION), None)
