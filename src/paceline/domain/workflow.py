"""Workflows as data and pure functions: the steps of the framework's process map.

A workflow is a small class: a pydantic model of its trigger payload (published as JSON
Schema with an example), a function per step (extract, infer, rules, act, record), and
its routing thresholds. Steps are pure: they take the case's data and return what the
runtime stores in the step journal, so a finished step's output is replayed, never
recomputed, after a crash. The runtime (``paceline.runtime``) owns the I/O: the case
rows, leases, the human-review wait and the outbox of downstream actions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel


class CaseStatus(StrEnum):
    RUNNING = "running"
    AWAITING_REVIEW = "awaiting_review"
    COMPLETED = "completed"
    FAILED = "failed"


class Step(StrEnum):
    """The process map, in order; ``review`` is skipped when routing completes automatically."""

    TRIGGER = "trigger"
    EXTRACT = "extract"
    INFER = "infer"
    RULES = "rules"
    ROUTE = "route"
    REVIEW = "review"
    ACT = "act"
    RECORD = "record"


STEPS: tuple[Step, ...] = tuple(Step)


class Route(StrEnum):
    AUTO = "auto"  # full automation: confident and no rule hit
    REVIEW = "review"  # a person decides
    QA = "qa"  # completed automatically, sampled for a quality-assurance review


class Decision(StrEnum):
    ACCEPT = "accept"
    EDIT = "edit"
    OVERRIDE = "override"
    REJECT = "reject"
    ESCALATE = "escalate"


REASON_CODES: dict[str, str] = {
    "wrong_field": "A field of the suggestion was wrong",
    "missing_info": "The suggestion missed information in the source",
    "wrong_route": "The suggested routing or category was wrong",
    "policy": "Policy or a rule requires a different outcome",
    "low_confidence": "The suggestion was not trustworthy enough to use",
    "needs_expert": "Needs a more senior or specialist reviewer",
    "duplicate": "The case duplicates another one",
    "other": "Other (say why in the comment)",
}


@dataclass(frozen=True)
class RuleHit:
    """A deterministic check that forces review, e.g. an amount over the limit."""

    rule: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Suggestion:
    """What the model proposes, with what a reviewer needs to judge it."""

    output: dict[str, Any]
    confidence: float
    rationale: tuple[str, ...] = ()
    sources: tuple[dict[str, str], ...] = ()  # {"label": ..., "href": ...}

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "confidence": self.confidence,
            "confidence_band": confidence_band(self.confidence),
            "rationale": list(self.rationale),
            "sources": list(self.sources),
        }


def confidence_band(confidence: float) -> str:
    """A band, not a raw percentage: raw scores anchor reviewers (notes/hitl.md §1.2)."""
    if confidence >= 0.9:
        return "high"
    if confidence >= 0.7:
        return "medium"
    return "low"


@dataclass(frozen=True)
class Thresholds:
    """Per-workflow routing: confident cases complete automatically, a sample goes to QA."""

    auto_complete: float = 0.9
    qa_sample_rate: float = 0.05
    review_sla_hours: float = 24.0
    review_lease_minutes: float = 10.0


def route(sample_key: str, suggestion: Suggestion, hits: list[RuleHit], t: Thresholds) -> Route:
    """Review when a rule fired or confidence is below the mark; else auto, with a QA sample.

    The sample is a hash of *sample_key* (the workflow and the case's external id), so a case
    replays to the same route after a crash and the same work item is sampled in every run.
    """
    if hits or suggestion.confidence < t.auto_complete:
        return Route.REVIEW
    return Route.QA if unit_interval(f"qa|{sample_key}") < t.qa_sample_rate else Route.AUTO


def unit_interval(text: str) -> float:
    """A stable number in [0, 1) from *text* (sticky sampling and bucketing)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def backoff(attempt: int, key: str, base: float, cap: float) -> float:
    """Seconds before retry number *attempt* (1, 2, ...): base * 2^(attempt - 1), capped, ±50% jitter.

    The jitter comes from *key*, so retries of many cases or actions spread out, reproducibly.
    """
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return delay * (0.5 + unit_interval(f"{key}|{attempt}"))


def idempotency_key(case_id: str, step: str, workflow_version: str, attempt_scope: str = "") -> str:
    """The key of a step or action: stable across retries, crashes and workers."""
    raw = f"{case_id}|{step}|{workflow_version}|{attempt_scope}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


@dataclass
class CaseContext:
    """What a step sees: the case's identity, its validated payload and earlier steps' outputs."""

    case_id: str
    external_id: str
    payload: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    model_variant: str = "baseline"


class Workflow:
    """Base class of a workflow. Subclasses set the class attributes and implement the steps."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    title: ClassVar[str] = ""
    use_case: ClassVar[str] = ""
    payload_model: ClassVar[type[BaseModel]]
    example_payload: ClassVar[dict[str, Any]]
    queue: ClassVar[str] = "default"  # the team or role whose reviewers see its review items
    thresholds: ClassVar[Thresholds] = Thresholds()

    def extract(self, ctx: CaseContext) -> dict[str, Any]:
        """Data extraction and preprocessing: the model's input features."""
        return dict(ctx.payload)

    def predictor(self, variant: str) -> Predictor:
        """The model serving *variant* (``baseline`` or a canary version), e.g. a runtime.models adapter."""
        raise NotImplementedError(f"{self.name} must implement predictor()")

    def suggest(self, ctx: CaseContext, features: dict[str, Any], call: ModelOutput) -> Suggestion:
        """Turn the model's output into what the reviewer sees (rationale, sources)."""
        return Suggestion(dict(call.prediction), call.confidence)

    def rules(self, ctx: CaseContext, features: dict[str, Any], suggestion: Suggestion) -> list[RuleHit]:
        """Deterministic checks that force review (none by default)."""
        return []

    def action(self, ctx: CaseContext, final: dict[str, Any]) -> dict[str, Any] | None:
        """The body sent to the downstream system (None: nothing to send)."""
        return {"external_id": ctx.external_id, "output": final}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "use_case": self.use_case,
            "queue": self.queue,
            "steps": [s.value for s in STEPS],
            "payload_schema": self.payload_model.model_json_schema(),
            "example_payload": self.example_payload,
            "thresholds": asdict(self.thresholds),
        }


WorkflowFactory = Callable[[], Workflow]


class ModelOutput(Protocol):
    prediction: dict[str, Any]
    confidence: float


class Predictor(Protocol):
    """A model adapter as the workflow sees it (implemented in paceline.runtime.models)."""

    name: str
    version: str

    def predict(self, features: Mapping[str, Any], conversation_id: str) -> Any: ...
