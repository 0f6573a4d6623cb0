"""Phase 3: assess vendors, architectures and models, and cost the one you pick.

An assessment scores each option 1 (poor) to 5 (excellent) on the framework's
criteria (APIs, data controls, explainability, latency, security,
interoperability) plus two the program cares about when it has to live with the
choice: exportability (how easily models, prompts and data leave, i.e. lock-in)
and cost. The weighted score is a plain weighted mean on a 0..100 scale, so a
reader can redo it by hand, and each option names its weakest criterion, which
is where a negotiation or a mitigation should start.

The cost model turns token prices, per-call fees, infrastructure and licences
into an annual cost for a use case's volume. That total is what the value model
(:class:`paceline.domain.usecases.ValueInputs.annual_cost`) and the ROI series
count as the running cost, so the money is counted exactly once: in ROI, not in
the ``cost`` score (which judges pricing fit and predictability).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from paceline.domain.usecases import ValueInputs
from paceline.errors import ValidationError

SCORE_MIN = 1
SCORE_MAX = 5


class Criterion(StrEnum):
    """What an option is judged on; 5 is always the good end."""

    APIS = "apis"  # documented, stable APIs and SDKs for the integration points
    DATA_CONTROLS = "data_controls"  # residency, retention, no training on our data, access controls
    EXPLAINABILITY = "explainability"  # confidence, sources and rationale surfaced to users
    LATENCY = "latency"  # meets the workflow's response-time requirement with room to spare
    SECURITY = "security"  # certifications, SSO, audit logs, secrets and network isolation
    INTEROPERABILITY = "interoperability"  # open standards, fits the existing data and identity stack
    EXPORTABILITY = "exportability"  # models, prompts, data and logs can leave: low lock-in
    COST = "cost"  # pricing fit and predictability at our volume


CRITERION_TITLES: dict[Criterion, str] = {
    Criterion.APIS: "APIs",
    Criterion.DATA_CONTROLS: "Data controls",
    Criterion.EXPLAINABILITY: "Explainability",
    Criterion.LATENCY: "Latency",
    Criterion.SECURITY: "Security",
    Criterion.INTEROPERABILITY: "Interoperability",
    Criterion.EXPORTABILITY: "Exportability and lock-in",
    Criterion.COST: "Cost",
}

# Security and data controls weigh double: they are the conditions the framework
# puts on every architecture, a privacy breach is the costliest of its top risks,
# and a weakness there cannot be fixed later by configuration. The other criteria
# weigh the same. Cost weighs no more than the rest because the money itself is
# counted exactly in the ROI through the cost model; the score only judges fit.
DEFAULT_WEIGHTS: dict[Criterion, float] = {
    Criterion.SECURITY: 0.20,
    Criterion.DATA_CONTROLS: 0.20,
    Criterion.APIS: 0.10,
    Criterion.EXPLAINABILITY: 0.10,
    Criterion.LATENCY: 0.10,
    Criterion.INTEROPERABILITY: 0.10,
    Criterion.EXPORTABILITY: 0.10,
    Criterion.COST: 0.10,
}


class OptionKind(StrEnum):
    VENDOR = "vendor"
    ARCHITECTURE = "architecture"
    MODEL = "model"


def _bad(name: str, value: Any, message: str, fix: str) -> ValidationError:
    return ValidationError(message, field=name, value=value, fix=fix)


def _amount(name: str, value: Any) -> float:
    """A finite number, 0 or more; anything else is an error naming *name*."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, value, f"{name} {value!r} is not a number", "give a finite number, 0 or more")
    if value < 0:
        raise _bad(name, value, f"{name} {value!r} is negative", "give a number, 0 or more")
    return float(value)


@dataclass(frozen=True)
class CostBreakdown:
    """A year's running cost of an option for one use case, in the firm's currency."""

    inference: float
    infrastructure: float
    licences: float
    other: float
    total: float
    per_task: float | None  # None when the volume is 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CostModel:
    """How an option costs money: per task, per month and per year.

    Inference per task is ``(tokens_in x price_in + tokens_out x price_out) / 1e6``
    plus ``price_per_call x calls_per_task``; either part may be 0, so token-priced
    models, per-request APIs and a mix of both fit. Token counts are per task
    (summed over all its calls).
    """

    tokens_in_per_task: float = 0.0
    tokens_out_per_task: float = 0.0
    price_in_per_million: float = 0.0
    price_out_per_million: float = 0.0
    price_per_call: float = 0.0
    calls_per_task: float = 1.0
    infrastructure_per_month: float = 0.0
    licences_per_year: float = 0.0
    other_per_year: float = 0.0

    def inference_per_task(self) -> float:
        """What the model or API charges for one task."""
        validate_cost_model(self)
        tokens = self.tokens_in_per_task * self.price_in_per_million
        tokens += self.tokens_out_per_task * self.price_out_per_million
        return tokens / 1_000_000 + self.price_per_call * self.calls_per_task

    def annual_cost(self, volume_per_year: float) -> CostBreakdown:
        """The year's cost at *volume_per_year* tasks; fixed costs do not scale with volume."""
        volume = _amount("volume_per_year", volume_per_year)
        inference = self.inference_per_task() * volume
        infrastructure = self.infrastructure_per_month * 12
        total = inference + infrastructure + self.licences_per_year + self.other_per_year
        return CostBreakdown(
            inference=inference,
            infrastructure=infrastructure,
            licences=self.licences_per_year,
            other=self.other_per_year,
            total=total,
            per_task=total / volume if volume > 0 else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_cost_model(model: CostModel) -> CostModel:
    """Return *model* if every price and count is a finite number >= 0, else name the field."""
    for f in fields(model):
        _amount(f"cost.{f.name}", getattr(model, f.name))
    return model


def parse_cost_model(doc: Mapping[str, Any] | None) -> CostModel:
    """A cost model from a JSON/YAML object; unknown keys are named, so typos do not vanish."""
    doc = doc or {}
    names = {f.name for f in fields(CostModel)}
    for key in doc:
        if key not in names:
            raise _bad(f"cost.{key}", key, f"unknown cost field {key!r}", f"use one of: {', '.join(names)}")
    return validate_cost_model(CostModel(**{k: _amount(f"cost.{k}", v) for k, v in doc.items()}))


def apply_cost(value: ValueInputs, option: TechOption) -> ValueInputs:
    """The use case's value inputs with the chosen option's annual cost as its running cost."""
    return replace(value, annual_cost=option.cost.annual_cost(value.volume_per_year).total)


@dataclass(frozen=True)
class TechOption:
    """A candidate: a vendor, an architecture or a model, scored 1..5 on each criterion."""

    name: str
    kind: OptionKind
    scores: dict[Criterion, int]
    notes: str = ""
    cost: CostModel = field(default_factory=CostModel)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": str(self.kind),
            "scores": {str(c): s for c, s in self.scores.items()},
            "notes": self.notes,
            "cost": self.cost.to_dict(),
        }


@dataclass(frozen=True)
class Contribution:
    """One criterion's part of an option's score: ``weight x (score - 1) / 4 x 100`` points."""

    criterion: Criterion
    score: int
    weight: float  # normalised: the weights of one assessment sum to 1
    points: float


@dataclass(frozen=True)
class OptionScore:
    """An assessed option: its rank (1 is best; equal scores share a rank) and why."""

    rank: int
    name: str
    kind: OptionKind
    score: float  # 0..100
    contributions: tuple[Contribution, ...]
    weakest: Criterion
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "name": self.name,
            "kind": str(self.kind),
            "score": self.score,
            "contributions": [
                {"criterion": str(c.criterion), "score": c.score, "weight": c.weight, "points": c.points}
                for c in self.contributions
            ],
            "weakest": str(self.weakest),
            "notes": self.notes,
        }


def normalise_weights(weights: Mapping[str, float] | None = None) -> dict[Criterion, float]:
    """Weights that sum to 1. Criteria left out weigh 0 (given weights replace the defaults)."""
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    parsed: dict[Criterion, float] = {}
    for key, weight in weights.items():
        criterion = _criterion(key, "weights")
        parsed[criterion] = _amount(f"weights.{criterion}", weight)
    total = sum(parsed.values())
    if total <= 0:
        raise _bad("weights", dict(weights), "the weights sum to 0", "give at least one criterion a weight")
    return {c: parsed.get(c, 0.0) / total for c in Criterion}


def _criterion(key: str, where: str) -> Criterion:
    try:
        return Criterion(key)
    except ValueError:
        raise _bad(
            f"{where}.{key}", key, f"unknown criterion {key!r}", f"use one of: {', '.join(Criterion)}"
        ) from None


def validate_option(option: TechOption, weights: Mapping[Criterion, float] | None = None) -> TechOption:
    """Return *option* if it can be assessed: a name, known kind, a 1..5 score per weighted criterion."""
    if not option.name.strip():
        raise _bad("name", option.name, "an option needs a name", "e.g. the vendor or architecture name")
    try:
        OptionKind(option.kind)
    except ValueError:
        raise _bad(
            "kind", option.kind, f"unknown kind {option.kind!r}", f"use one of: {', '.join(OptionKind)}"
        ) from None
    for key, score in option.scores.items():
        criterion = _criterion(key, f"{option.name}.scores")
        if isinstance(score, bool) or not isinstance(score, int) or not SCORE_MIN <= score <= SCORE_MAX:
            raise _bad(
                f"{option.name}.scores.{criterion}",
                score,
                f"{option.name}: {criterion} score {score!r} is out of range",
                "score 1 (poor) to 5 (excellent)",
            )
    for criterion, weight in (weights or DEFAULT_WEIGHTS).items():
        if weight > 0 and criterion not in option.scores:
            raise _bad(
                f"{option.name}.scores.{criterion}",
                None,
                f"{option.name} has no {criterion} score",
                f"score {criterion} 1..5, or give it weight 0",
            )
    validate_cost_model(option.cost)
    return option


def parse_option(doc: Mapping[str, Any]) -> TechOption:
    """An option from a JSON/YAML object (``scores`` keyed by criterion name); validated by :func:`assess`."""
    unknown = set(doc) - {"name", "kind", "scores", "notes", "cost"}
    if unknown:
        name = sorted(unknown)[0]
        raise _bad(name, doc[name], f"unknown option field {name!r}", "use name, kind, scores, notes, cost")
    kind = doc.get("kind", OptionKind.VENDOR)
    try:
        kind = OptionKind(kind)
    except ValueError:
        raise _bad("kind", kind, f"unknown kind {kind!r}", f"use one of: {', '.join(OptionKind)}") from None
    scores = doc.get("scores") or {}
    if not isinstance(scores, Mapping):
        raise _bad("scores", scores, "scores must be an object", 'e.g. {"security": 4, "apis": 5}')
    name = str(doc.get("name", ""))
    return TechOption(
        name=name,
        kind=kind,
        scores={_criterion(str(k), f"{name}.scores"): v for k, v in scores.items()},
        notes=str(doc.get("notes", "")),
        cost=parse_cost_model(doc.get("cost")),
    )


def _contributions(option: TechOption, weights: Mapping[Criterion, float]) -> tuple[Contribution, ...]:
    out = []
    for criterion in Criterion:
        weight = weights.get(criterion, 0.0)
        if weight > 0:
            score = option.scores[criterion]
            points = weight * (score - SCORE_MIN) / (SCORE_MAX - SCORE_MIN) * 100
            out.append(Contribution(criterion, score, weight, points))
    return tuple(out)


def _weakest(contributions: Iterable[Contribution]) -> Criterion:
    """The lowest score; on a tie the heavier criterion, since improving it gains most."""
    return min(contributions, key=lambda c: (c.score, -c.weight)).criterion


def assess(options: Iterable[TechOption], weights: Mapping[str, float] | None = None) -> list[OptionScore]:
    """Rank *options* by weighted score (0..100), best first; ties by name."""
    normal = normalise_weights(weights)
    options = list(options)
    if not options:
        raise _bad("options", [], "there is nothing to assess", "add at least one option")
    seen: set[str] = set()
    unranked = []
    for option in options:
        validate_option(option, normal)
        if option.name in seen:
            raise _bad("name", option.name, f"option {option.name!r} appears twice", "give each a new name")
        seen.add(option.name)
        parts = _contributions(option, normal)
        score = min(100.0, max(0.0, sum(c.points for c in parts)))
        unranked.append((score, option, parts))
    unranked.sort(key=lambda t: (-t[0], t[1].name))
    ranked: list[OptionScore] = []
    for position, (score, option, parts) in enumerate(unranked, start=1):
        tied = bool(ranked) and math.isclose(ranked[-1].score, score, abs_tol=1e-9)
        rank = ranked[-1].rank if tied else position
        kind = OptionKind(option.kind)
        ranked.append(OptionScore(rank, option.name, kind, score, parts, _weakest(parts), option.notes))
    return ranked
