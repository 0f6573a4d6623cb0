"""A use case in the portfolio: what it is, who owns it, and the inputs that rank it.

The record holds the facts a program manager gathers in phase 1 (the process, its
volume and cost, the data it touches, who is affected, answers to the readiness,
feasibility and EU AI Act questionnaires). Everything derived from them (value at
stake, scores, the risk tier, the rank) is computed in :mod:`paceline.domain.portfolio`
and :mod:`paceline.domain.ai_act`, never stored, so a changed answer changes the rank.
Validation is pure and names each bad field.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any

from paceline.errors import ValidationError

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class Phase(IntEnum):
    """The six phases of the program, in order (the value is the phase number)."""

    ASSESS = 1
    PILOT = 2
    SELECT = 3
    ENABLE = 4
    INTEGRATE = 5
    SCALE = 6

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def title(self) -> str:
        return PHASE_TITLES[self]


PHASE_TITLES = {
    Phase.ASSESS: "Assess needs and map opportunities",
    Phase.PILOT: "Pilot design and rapid validation",
    Phase.SELECT: "Technology selection and architecture",
    Phase.ENABLE: "Training, change management and enablement",
    Phase.INTEGRATE: "Integration and operational workflows",
    Phase.SCALE: "Scale, governance and continuous improvement",
}


class Status(StrEnum):
    PROPOSED = "proposed"  # in the inventory, not yet approved to work on
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    RETIRED = "retired"


class DataCategory(StrEnum):
    """Kinds of data a use case touches; personal, health and biometric data raise the bar."""

    PERSONAL = "personal"
    HEALTH = "health"
    BIOMETRIC = "biometric"
    EMPLOYEE = "employee"
    FINANCIAL = "financial"
    CUSTOMER = "customer"
    OPERATIONAL = "operational"
    PUBLIC = "public"


SENSITIVE_CATEGORIES = frozenset({DataCategory.PERSONAL, DataCategory.HEALTH, DataCategory.BIOMETRIC})


@dataclass(frozen=True)
class ValueInputs:
    """The process facts behind the value-at-stake model (per year, in the firm's currency).

    Uplifts and reductions are shares (0.25 = 25% of handling time saved); the
    expected adoption is the share of eligible people expected to use the tool.
    """

    volume_per_year: float = 0.0
    minutes_per_task: float = 0.0
    cost_per_hour: float = 0.0
    uplift_low: float = 0.0
    uplift_expected: float = 0.0
    uplift_high: float = 0.0
    error_rate: float = 0.0  # share of tasks with an error today
    error_cost: float = 0.0  # cost of one error
    error_reduction: float = 0.0  # share of errors the AI is expected to remove
    expected_adoption: float = 1.0
    annual_cost: float = 0.0  # expected running cost; the technology cost model refines it


SHARES = (
    "uplift_low",
    "uplift_expected",
    "uplift_high",
    "error_rate",
    "error_reduction",
    "expected_adoption",
)


@dataclass(frozen=True)
class UseCase:
    """One entry of the use-case inventory."""

    key: str
    title: str
    owner: str  # login of the accountable business owner
    business_process: str = ""
    department: str = ""
    geography: str = ""
    goal: str = ""
    status: Status = Status.PROPOSED
    phase: Phase = Phase.ASSESS
    data_categories: tuple[DataCategory, ...] = ()
    people_affected: int = 0
    models: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    value: ValueInputs = field(default_factory=ValueInputs)
    readiness: dict[str, int] = field(default_factory=dict)  # question key -> answer 0..4
    feasibility: dict[str, int] = field(default_factory=dict)  # question key -> answer 0..4
    risk_likelihood: int = 3  # 1..5
    risk_impact: int = 3  # 1..5
    ai_act: tuple[str, ...] = ()  # keys of the EU AI Act questionnaire answered "yes"

    @property
    def handles_sensitive_data(self) -> bool:
        return any(c in SENSITIVE_CATEGORIES for c in self.data_categories)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["status"] = self.status.value
        doc["phase"] = int(self.phase)
        doc["phase_name"] = self.phase.slug
        doc["data_categories"] = [c.value for c in self.data_categories]
        doc["models"], doc["vendors"], doc["ai_act"] = (
            list(self.models),
            list(self.vendors),
            list(self.ai_act),
        )
        return doc

    def with_changes(self, **changes: Any) -> UseCase:
        return validate(replace(self, **changes))


def _bad(name: str, value: Any, fix: str) -> ValidationError:
    return ValidationError(f"{name} {value!r} is not valid: {fix}", field=name, value=value, fix=fix)


def _answers(name: str, answers: dict[str, int], questions: frozenset[str] | None) -> None:
    for key, answer in answers.items():
        if questions is not None and key not in questions:
            raise _bad(f"{name}.{key}", key, f"use one of: {', '.join(sorted(questions))}")
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer <= 4:
            raise _bad(f"{name}.{key}", answer, "answer 0 (not at all) to 4 (fully)")


def validate(
    uc: UseCase,
    readiness_questions: frozenset[str] | None = None,
    feasibility_questions: frozenset[str] | None = None,
) -> UseCase:
    """Return *uc* if every field is usable, else raise a :class:`ValidationError` naming it."""
    if not KEY_PATTERN.match(uc.key):
        raise _bad("key", uc.key, "lower-case letters, digits and '-', e.g. claims-triage")
    if not uc.title.strip():
        raise _bad("title", uc.title, "give the use case a title")
    if not uc.owner.strip():
        raise _bad("owner", uc.owner, "name the accountable business owner (a login)")
    if uc.people_affected < 0:
        raise _bad("people_affected", uc.people_affected, "a count of people, 0 or more")
    for name in ("risk_likelihood", "risk_impact"):
        level = getattr(uc, name)
        if not isinstance(level, int) or not 1 <= level <= 5:
            raise _bad(name, level, "rate 1 (rare / minor) to 5 (almost certain / severe)")
    for name, number in asdict(uc.value).items():
        if not isinstance(number, int | float) or not math.isfinite(number) or number < 0:
            raise _bad(f"value.{name}", number, "a finite number, 0 or more")
        if name in SHARES and number > 1:
            raise _bad(f"value.{name}", number, "a share between 0 and 1 (0.25 means 25%)")
    v = uc.value
    if not v.uplift_low <= v.uplift_expected <= v.uplift_high:
        raise _bad(
            "value.uplift_expected", v.uplift_expected, "low <= expected <= high (shares of time saved)"
        )
    _answers("readiness", uc.readiness, readiness_questions)
    _answers("feasibility", uc.feasibility, feasibility_questions)
    return uc


def _choice(kind: type[Any], value: Any, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise _bad(name, value, f"use one of: {choices}") from None


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\n]", value)]
    if not isinstance(value, list | tuple):
        raise _bad(name, value, "a list of names")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _int_answers(value: Any, name: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(name, value, "an object of question -> answer (0..4)")
    out: dict[str, int] = {}
    for key, answer in value.items():
        try:
            out[str(key)] = int(answer)
        except (TypeError, ValueError, OverflowError):
            raise _bad(f"{name}.{key}", answer, "answer 0 (not at all) to 4 (fully)") from None
    return out


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise _bad(name, value, "a number") from None


def from_dict(doc: dict[str, Any], base: UseCase | None = None) -> UseCase:
    """A use case from its JSON form (API bodies, files, stored rows); *base* supplies defaults.

    Unknown fields are refused so a typo does not vanish silently.
    """
    known = {f for f in UseCase.__dataclass_fields__} | {"phase_name"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _bad(unknown[0], doc[unknown[0]], f"unknown field; the fields are: {', '.join(sorted(known))}")
    start = base.to_dict() if base is not None else {}
    merged = {**start, **doc}
    for required in ("key", "title", "owner"):
        if not merged.get(required):
            raise ValidationError(f"{required} is required", field=required, fix="see docs/portfolio.md")
    value_doc = merged.get("value") or {}
    if not isinstance(value_doc, dict):
        raise _bad("value", value_doc, "an object of value-model inputs")
    value_fields = ValueInputs.__dataclass_fields__
    for name in value_doc:
        if name not in value_fields:
            raise _bad(f"value.{name}", value_doc[name], f"use one of: {', '.join(value_fields)}")
    value = ValueInputs(**{k: _number(v, f"value.{k}") for k, v in value_doc.items()})
    phase = merged.get("phase", 1)
    try:
        phase_value = Phase(int(phase)) if str(phase).isdigit() else Phase[str(phase).upper()]
    except (KeyError, ValueError):
        raise _bad("phase", phase, "a phase number 1..6 or name (assess, pilot, select, ...)") from None
    try:
        people = int(merged.get("people_affected", 0) or 0)
        likelihood = int(merged.get("risk_likelihood", 3))
        impact = int(merged.get("risk_impact", 3))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(
            f"a count or rating is not a whole number: {exc}", fix="use whole numbers"
        ) from None
    uc = UseCase(
        key=str(merged["key"]).strip(),
        title=str(merged["title"]).strip(),
        owner=str(merged["owner"]).strip(),
        business_process=str(merged.get("business_process", "")),
        department=str(merged.get("department", "")),
        geography=str(merged.get("geography", "")),
        goal=str(merged.get("goal", "")),
        status=_choice(Status, merged.get("status", "proposed"), "status"),
        phase=phase_value,
        data_categories=tuple(
            _choice(DataCategory, c, "data_categories")
            for c in _strings(merged.get("data_categories"), "data_categories")
        ),
        people_affected=people,
        models=_strings(merged.get("models"), "models"),
        vendors=_strings(merged.get("vendors"), "vendors"),
        value=value,
        readiness=_int_answers(merged.get("readiness"), "readiness"),
        feasibility=_int_answers(merged.get("feasibility"), "feasibility"),
        risk_likelihood=likelihood,
        risk_impact=impact,
        ai_act=_strings(merged.get("ai_act"), "ai_act"),
    )
    return validate(uc)
