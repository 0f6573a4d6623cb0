"""A pilot as data: what it tests, how, on whom, and what would make it a success.

The record is written before the pilot starts (hypothesis, primary KPIs with the
effect they should show, guardrails with non-inferiority margins, the design and
its cohorts, the acceptance criteria, the estimand for durations), so the verdict
cannot be tuned after the fact. Validation here is pure; it names each bad field.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from paceline.domain.kpis import KPIS, Direction
from paceline.errors import ValidationError

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
NOT_PER_PERSON = frozenset({"adoption_rate"})  # measured over eligible people, not per person


class Design(StrEnum):
    RANDOMISED = "randomised"  # people (or teams) randomly assigned to the treatment and control cohorts
    DID = "did"  # a treated cohort and a comparable control cohort, before and after the switch-on
    STAGGERED = "staggered"  # cohorts switched on in waves at different dates


class Unit(StrEnum):
    PERSON = "person"
    TEAM = "team"


class DurationEstimand(StrEnum):
    """How a change in a duration KPI is stated, fixed before the pilot starts."""

    LOG = "log"  # ratio of geometric means (multiplicative effect)
    RATIO_OF_MEANS = "ratio_of_means"
    MEDIAN = "median"  # difference of medians


@dataclass(frozen=True)
class PrimaryKpi:
    """A KPI the pilot must improve, and the improvement (in %, positive) it aims to show.

    The direction comes from the KPI: ``productivity`` 10 means 10% more output per
    person-day, ``error_rate`` 20 means 20% fewer errors.
    """

    kpi: str
    target_effect_pct: float


@dataclass(frozen=True)
class Guardrail:
    """A KPI that must not get worse by more than ``margin_pct`` (a non-inferiority margin, in %)."""

    kpi: str
    margin_pct: float


@dataclass(frozen=True)
class Acceptance:
    """A user-acceptance criterion on the pilot's treated cohort, e.g. ``esat >= 3.5``."""

    kpi: str
    minimum: float


@dataclass(frozen=True)
class PilotSpec:
    """Everything decided before a pilot starts."""

    name: str
    use_case: str
    hypothesis: str
    design: Design
    treatment_cohorts: tuple[str, ...]
    control_cohorts: tuple[str, ...]
    start: date
    end: date
    primary: tuple[PrimaryKpi, ...]
    guardrails: tuple[Guardrail, ...] = ()
    acceptance: tuple[Acceptance, ...] = ()
    unit: Unit = Unit.PERSON
    duration_estimand: DurationEstimand = DurationEstimand.LOG
    alpha: float = 0.05
    weekly_looks: int = 0
    baseline_start: date | None = None
    notes: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for key in ("start", "end", "baseline_start"):
            doc[key] = doc[key].isoformat() if doc[key] else None
        for key in ("design", "unit", "duration_estimand"):
            doc[key] = str(doc[key])
        for key in ("treatment_cohorts", "control_cohorts", "primary", "guardrails", "acceptance"):
            doc[key] = list(doc[key])
        return doc


def _fail(field_name: str, message: str, fix: str) -> ValidationError:
    return ValidationError(message, field=field_name, fix=fix)


def validate(spec: PilotSpec) -> PilotSpec:
    """Return *spec* if every rule holds, else raise naming the first bad field."""
    if not NAME_PATTERN.match(spec.name):
        raise _fail("name", f"pilot name {spec.name!r} is not valid", "use lower-case letters, digits, . _ -")
    if not spec.hypothesis.strip():
        raise _fail("hypothesis", "the hypothesis is empty", "say what the AI should change, and for whom")
    if spec.end <= spec.start:
        raise _fail(
            "end", f"the pilot ends ({spec.end}) before it starts ({spec.start})", "give an end after start"
        )
    if spec.baseline_start is not None and spec.baseline_start >= spec.start:
        raise _fail("baseline_start", "the baseline must start before the pilot", "pick an earlier date")
    if not spec.primary:
        raise _fail("primary", "a pilot needs at least one primary KPI", "e.g. --primary productivity:10")
    _check_cohorts(spec)
    named = [p.kpi for p in spec.primary] + [g.kpi for g in spec.guardrails]
    named += [a.kpi for a in spec.acceptance]
    for kpi in named:
        if kpi not in KPIS:
            raise _fail("kpi", f"unknown KPI {kpi!r}", f"use one of: {', '.join(KPIS)}")
    for kpi in [p.kpi for p in spec.primary] + [g.kpi for g in spec.guardrails]:
        if kpi in NOT_PER_PERSON:
            raise _fail(
                "primary" if kpi in {p.kpi for p in spec.primary} else "guardrails",
                f"{kpi} cannot be a primary KPI or guardrail: pilots are judged per person and "
                f"{kpi} is measured over the eligible people",
                f"use {kpi} as an acceptance criterion, e.g. --accept '{kpi}>=0.6'",
            )
    for p in spec.primary:
        if p.target_effect_pct <= 0:
            raise _fail(
                "primary",
                f"the target improvement of {p.kpi} must be positive",
                "state the smallest improvement worth adopting, e.g. error_rate:20 for 20% fewer errors",
            )
    for g in spec.guardrails:
        if g.margin_pct <= 0:
            raise _fail(
                "guardrails", f"the margin of {g.kpi} must be positive", "e.g. --guardrail error_rate:5"
            )
    if not 0 < spec.alpha < 0.5:
        raise _fail("alpha", f"alpha {spec.alpha} is out of range", "use e.g. 0.05")
    if not 0 <= spec.weekly_looks <= 52:
        raise _fail("weekly_looks", "weekly looks must be between 0 and 52", "e.g. 8 for an 8-week pilot")
    return spec


def _check_cohorts(spec: PilotSpec) -> None:
    if not spec.treatment_cohorts:
        raise _fail(
            "treatment_cohorts", "no treatment cohort", "name the cohort(s) from assignments, e.g. pilot"
        )
    if spec.design is not Design.STAGGERED and not spec.control_cohorts:
        raise _fail(
            "control_cohorts", f"a {spec.design} pilot needs a control cohort", "e.g. --control control"
        )
    overlap = set(spec.treatment_cohorts) & set(spec.control_cohorts)
    if overlap:
        raise _fail(
            "control_cohorts",
            f"{', '.join(sorted(overlap))} is both treatment and control",
            "a cohort belongs to one side",
        )


def better(kpi: str, relative_change_pct: float) -> bool:
    """Whether a relative change is an improvement for *kpi* (errors should fall, output rise)."""
    return (relative_change_pct > 0) == (KPIS[kpi].direction is Direction.HIGHER)


def parse_primary(text: str) -> PrimaryKpi:
    """``productivity:10`` -> aim for 10% more; ``error_rate:20`` -> aim for 20% fewer errors."""
    kpi, effect = _split(text, "primary")
    return PrimaryKpi(kpi, effect)


def parse_guardrail(text: str) -> Guardrail:
    """``error_rate:5`` -> the error rate may not worsen by more than 5%."""
    kpi, margin = _split(text, "guardrail")
    return Guardrail(kpi, margin)


def parse_acceptance(text: str) -> Acceptance:
    """``esat>=3.5`` or ``adoption_rate>=0.6``."""
    kpi, sep, value = text.partition(">=")
    if not sep:
        raise _fail("acceptance", f"acceptance criterion {text!r} is not KPI>=VALUE", "e.g. esat>=3.5")
    try:
        return Acceptance(kpi.strip(), float(value))
    except ValueError:
        raise _fail("acceptance", f"{value!r} is not a number", "e.g. esat>=3.5") from None


def _split(text: str, name: str) -> tuple[str, float]:
    kpi, sep, number = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return kpi.strip(), float(number.strip().rstrip("%"))
    except ValueError:
        raise _fail(name, f"{name} {text!r} is not KPI:PERCENT", f"e.g. --{name} productivity:10") from None
