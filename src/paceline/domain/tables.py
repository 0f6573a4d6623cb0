"""The canonical event tables of spec/events.md, as data.

One definition serves the loaders (which columns are required, how to parse and
check them), the warehouse (the Parquet schema) and the docs. Nothing here does
I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa


class Kind(StrEnum):
    """How a column is parsed and stored."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    DATE = "date"
    FLOAT = "float"
    BOOL = "bool"
    ENUM = "enum"
    JSON = "json"


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    ``default_from`` names another column whose value fills a missing one
    (``started_at`` defaults to ``opened_at``); ``default`` is a constant default.
    """

    name: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | float | None = None
    default_from: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    pseudonymised: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Ordering:
    """A rule ``later >= earlier`` between two time columns; violations are quarantined."""

    earlier: str
    later: str

    @property
    def reason(self) -> str:
        return f"{self.later} before {self.earlier}"


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns, its identity and its row rules.

    ``key`` lists the columns that identify a row for idempotent ingestion; an
    empty key means the whole row is the identity (exact duplicates are no-ops).
    ``one_of_required`` names column groups of which at least one must be present.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    orderings: tuple[Ordering, ...] = ()
    one_of_required: tuple[tuple[str, ...], ...] = ()
    doc: str = ""
    keep_literal_person_ids: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def pseudonymised_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pseudonymised)


def _c(name: str, kind: Kind, required: bool = False, **kw: object) -> Column:
    return Column(name, kind, required, **kw)  # type: ignore[arg-type]


S, TS, D, F, B, E, J = Kind.STRING, Kind.TIMESTAMP, Kind.DATE, Kind.FLOAT, Kind.BOOL, Kind.ENUM, Kind.JSON

AUTOMATION_LEVELS = ("none", "partial", "full")
USAGE_ACTIONS = (
    "session",
    "suggestion_shown",
    "suggestion_accepted",
    "suggestion_edited",
    "suggestion_rejected",
    "feedback",
)
SURVEYS = ("csat", "nps", "esat")
SURVEY_SCALES: dict[str, tuple[float, float]] = {"csat": (1, 5), "nps": (0, 10), "esat": (1, 5)}
LABEL_SOURCES = ("review", "downstream", "audit")
COST_CATEGORIES = ("license", "compute", "people", "training", "other")
SYSTEM_PERSON = "system"

TASK_EVENTS = Table(
    "task_events",
    (
        _c("event_id", S, True),
        _c("task_id", S, True),
        _c("use_case", S, True),
        _c("person_id", S, True, pseudonymised=True),
        _c("team", S),
        _c("opened_at", TS, True),
        _c("started_at", TS, default_from="opened_at"),
        _c("completed_at", TS, True),
        _c("effort_seconds", F, minimum=0),
        _c("ai_assisted", B, True),
        _c("automation", E, choices=AUTOMATION_LEVELS, default="none"),
        _c("units", F, default=1.0, minimum=0),
        _c("quality", F, minimum=0, maximum=1),
        _c("error", B),
        _c("priority", S),
    ),
    key=("event_id",),
    orderings=(Ordering("opened_at", "started_at"), Ordering("started_at", "completed_at")),
    doc="One row per finished unit of work.",
    keep_literal_person_ids=(SYSTEM_PERSON,),
)

PEOPLE = Table(
    "people",
    (
        _c("person_id", S, True, pseudonymised=True),
        _c("team", S, True),
        _c("role", S),
        _c("hire_date", D),
        _c("location", S),
    ),
    doc="One row per person; the latest row per person_id wins.",
)

ASSIGNMENTS = Table(
    "assignments",
    (
        _c("person_id", S, True, pseudonymised=True),
        _c("use_case", S, True),
        _c("cohort", S, True),
        _c("eligible_from", D, True),
        _c("eligible_to", D),
        _c("ai_enabled_from", D),
    ),
    orderings=(Ordering("eligible_from", "eligible_to"),),
    doc="Who is eligible for a use case, in which cohort, and when the AI was switched on.",
)

USAGE_EVENTS = Table(
    "usage_events",
    (
        _c("event_id", S, True),
        _c("person_id", S, True, pseudonymised=True),
        _c("use_case", S, True),
        _c("occurred_at", TS, True),
        _c("action", E, True, choices=USAGE_ACTIONS),
        _c("task_id", S),
    ),
    key=("event_id",),
    doc="Interactions with AI tools.",
)

SURVEY_RESPONSES = Table(
    "survey_responses",
    (
        _c("response_id", S, True),
        _c("survey", E, True, choices=SURVEYS),
        _c("score", F, True),
        _c("responded_at", TS, True),
        _c("use_case", S),
        _c("task_id", S),
        _c("person_id", S, pseudonymised=True),
        _c("segment", S),
    ),
    key=("response_id",),
    doc="CSAT (1-5), NPS (0-10) and employee satisfaction (1-5) responses.",
)

PREDICTIONS = Table(
    "predictions",
    (
        _c("prediction_id", S, True),
        _c("model", S, True),
        _c("model_version", S, True),
        _c("use_case", S, True),
        _c("predicted_at", TS, True),
        _c("prediction", S, True),
        _c("score", F),
        _c("task_id", S),
        _c("features", J),
        _c("latency_ms", F, minimum=0),
    ),
    key=("prediction_id",),
    doc="Model outputs, for monitoring.",
)

LABELS = Table(
    "labels",
    (
        _c("prediction_id", S),
        _c("task_id", S),
        _c("label", S, True),
        _c("labeled_at", TS, True),
        _c("source", E, True, choices=LABEL_SOURCES),
        _c("labeler", S, pseudonymised=True),
    ),
    one_of_required=(("prediction_id", "task_id"),),
    doc="Ground truth and corrections (the label store).",
)

COSTS = Table(
    "costs",
    (
        _c("use_case", S, True),
        _c("period_start", D, True),
        _c("period_end", D, True),
        _c("category", E, True, choices=COST_CATEGORIES),
        _c("amount", F, True),
        _c("currency", S),
    ),
    orderings=(Ordering("period_start", "period_end"),),
    doc="Costs per use case and period, for ROI.",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        TASK_EVENTS,
        PEOPLE,
        ASSIGNMENTS,
        USAGE_EVENTS,
        SURVEY_RESPONSES,
        PREDICTIONS,
        LABELS,
        COSTS,
    )
}

BOOL_TRUE = ("true", "1", "yes")
BOOL_FALSE = ("false", "0", "no")

# How each kind is stored: the Parquet schema of the warehouse and of the demo's files.
ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.STRING: pa.string(),
    Kind.ENUM: pa.string(),
    Kind.JSON: pa.string(),
    Kind.FLOAT: pa.float64(),
    Kind.BOOL: pa.bool_(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.DATE: pa.date32(),
}
