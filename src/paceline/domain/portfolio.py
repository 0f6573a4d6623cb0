"""Phase 1's business case: value at stake, data readiness, adoption feasibility, risk, rank.

The framework asks phase 1 for "a prioritized use-case list with business case (ROI,
risk, adoption feasibility)". This module turns a :class:`~paceline.domain.usecases.UseCase`
into that business case and orders the portfolio by a **risk-adjusted expected value**:

    priority = expected net value x readiness/100 x feasibility/100 x risk discount

Readiness and feasibility act as rough probabilities that the value will be realised:
a use case whose data is not there, or whose users will not adopt it, is worth less
than its spreadsheet says. The two questionnaires name the causes the framework lists
among its top risks (poor data quality, low adoption), so a low score also says what to
fix first. The EU AI Act tier is not a discount but a gate: a prohibited practice cannot
be deployed at any value, so it ranks last with priority 0.

Everything here is pure and recomputed on demand, so a changed answer changes the rank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from paceline.domain import ai_act, risks
from paceline.domain.risks import RiskLevel
from paceline.domain.usecases import Phase, UseCase, ValueInputs
from paceline.errors import ValidationError

MAX_ANSWER = 4
WEAK_SCORE = 60.0  # below this, the reasons name the two weakest questions


@dataclass(frozen=True)
class Question:
    """One question answered 0 (not at all) to 4 (fully); weights of a questionnaire sum to 1."""

    key: str
    text: str
    weight: float


READINESS_QUESTIONS: tuple[Question, ...] = (
    Question("data_available", "the data is available and accessible to the team", 0.25),
    Question("quality_measured", "data quality is known and measured", 0.20),
    Question("labels_exist", "labels or ground truth exist to train and evaluate against", 0.15),
    Question("lineage_documented", "lineage from source to use is documented", 0.10),
    Question("privacy_basis", "a privacy and legal basis for this use of the data is established", 0.15),
    Question("integration_access", "integration access to the source systems is in place", 0.15),
)

FEASIBILITY_QUESTIONS: tuple[Question, ...] = (
    Question("users_involved", "the future users are involved in the design", 0.20),
    Question("fits_workflow", "the tool fits the existing workflow", 0.20),
    Question("sponsor_committed", "a sponsor is committed", 0.20),
    Question("training_capacity", "there is capacity to train the users", 0.15),
    Question("change_saturation_low", "change saturation is low (4 = the team has room for change)", 0.10),
    Question("champions_available", "champions are available among the users", 0.15),
)

READINESS_KEYS: frozenset[str] = frozenset(q.key for q in READINESS_QUESTIONS)
FEASIBILITY_KEYS: frozenset[str] = frozenset(q.key for q in FEASIBILITY_QUESTIONS)


@dataclass(frozen=True)
class Score:
    """A questionnaire's score, 0..100, with what is missing and what is weakest.

    ``weakest`` lists the two lowest-answered questions (unanswered counts as 0; ties go
    to the heavier question, then to questionnaire order): what to fix first.
    """

    value: float
    unanswered: list[str] = field(default_factory=list)
    weakest: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unanswered": list(self.unanswered), "weakest": list(self.weakest)}


def questionnaire_score(answers: Mapping[str, int], questions: Sequence[Question]) -> Score:
    """The weighted mean of answer/4 over ALL questions, times 100 (rounded to 0.01).

    An unanswered question counts as 0 rather than being left out, so a half-filled
    questionnaire cannot look better than a complete one; an empty one scores 0 and
    lists every question as unanswered.
    """
    keys = {q.key for q in questions}
    for key, answer in answers.items():
        if key not in keys:
            fix = f"use one of: {', '.join(sorted(keys))}"
            raise ValidationError(f"unknown question {key!r}: {fix}", field=key, value=key, fix=fix)
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer <= MAX_ANSWER:
            fix = "answer 0 (not at all) to 4 (fully)"
            raise ValidationError(f"answer to {key!r} is {answer!r}: {fix}", field=key, value=answer, fix=fix)
    total_weight = sum(q.weight for q in questions)
    points = sum(q.weight * answers.get(q.key, 0) / MAX_ANSWER for q in questions)
    value = 100.0 * points / total_weight if total_weight else 0.0
    order = sorted(
        range(len(questions)), key=lambda i: (answers.get(questions[i].key, 0), -questions[i].weight, i)
    )
    return Score(
        value=round(min(100.0, max(0.0, value)), 2),
        unanswered=[q.key for q in questions if q.key not in answers],
        weakest=[questions[i].key for i in order[:2]],
    )


@dataclass(frozen=True)
class ValueRange:
    """A yearly amount under the low, expected and high uplift."""

    low: float
    expected: float
    high: float

    def __add__(self, other: ValueRange) -> ValueRange:
        return ValueRange(self.low + other.low, self.expected + other.expected, self.high + other.high)

    def minus(self, amount: float) -> ValueRange:
        return ValueRange(self.low - amount, self.expected - amount, self.high - amount)

    def times(self, factor: float) -> ValueRange:
        return ValueRange(self.low * factor, self.expected * factor, self.high * factor)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class ValueAtStake:
    """The yearly value of a use case, its cost, and the return on that cost.

    ``roi`` and ``payback_months`` are for the expected case.
    """

    hours_saved: ValueRange
    time_value: ValueRange
    error_value: ValueRange
    total: ValueRange
    annual_cost: float
    net: ValueRange
    roi: float | None
    payback_months: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def value_at_stake(v: ValueInputs) -> ValueAtStake:
    """The value-at-stake model, per year; each range uses the low, expected and high uplift.

    ::

        hours_saved   = volume x minutes_per_task / 60 x uplift x expected_adoption
        time_value    = hours_saved x cost_per_hour
        error_value   = volume x error_rate x error_cost x error_reduction x expected_adoption
        total         = time_value + error_value
        net           = total - annual_cost
        roi           = net / annual_cost          (expected; None when the cost is 0)
        payback_months = 12 x annual_cost / total  (expected; None when the total is 0)

    Adoption scales both savings because only people who use the tool save time or
    errors. The error value has no range: the uplift is about time, not errors.
    """
    task_hours = v.volume_per_year * v.minutes_per_task / 60.0
    hours = ValueRange(v.uplift_low, v.uplift_expected, v.uplift_high).times(task_hours * v.expected_adoption)
    errors = v.volume_per_year * v.error_rate * v.error_cost * v.error_reduction * v.expected_adoption
    error_value = ValueRange(errors, errors, errors)
    time_value = hours.times(v.cost_per_hour)
    total = time_value + error_value
    net = total.minus(v.annual_cost)
    return ValueAtStake(
        hours_saved=hours,
        time_value=time_value,
        error_value=error_value,
        total=total,
        annual_cost=v.annual_cost,
        net=net,
        roi=net.expected / v.annual_cost if v.annual_cost else None,
        payback_months=12.0 * v.annual_cost / total.expected if total.expected else None,
    )


def _rating(name: str, level: int) -> None:
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
        fix = "rate 1 (rare / minor) to 5 (almost certain / severe)"
        raise ValidationError(f"{name} {level!r} is not valid: {fix}", field=name, value=level, fix=fix)


def risk_score(likelihood: int, impact: int) -> int:
    """Likelihood x impact on the usual 5 x 5 matrix: 1..25, the risk register's own rating."""
    _rating("risk_likelihood", likelihood)  # named as the use case's fields
    _rating("risk_impact", impact)
    return risks.rating(likelihood, impact)


def risk_level(score: int) -> RiskLevel:
    """The band of a risk score: 1-4 low, 5-9 medium, 10-14 high, 15-25 critical.

    The bands are the risk register's (:func:`paceline.domain.risks.level`), so a use
    case and the risks in its register speak the same scale: anything "possible and
    severe" (3 x 5 = 15) or "likely and major" (4 x 4 = 16) is critical.
    """
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 25:
        fix = "a risk score 1..25 (likelihood x impact)"
        raise ValidationError(f"risk score {score!r} is not valid: {fix}", field="risk", value=score, fix=fix)
    return risks.level(score)


def risk_discount(score: int) -> float:
    """1 for the lowest risk down to 0.5 for the highest: 1 - (score - 1) / 48.

    Risk lowers the priority but never wipes it out: mitigations exist, and a valuable
    risky use case should still show up near the top for someone to decide on.
    """
    risk_level(score)  # validates
    return 1.0 - (score - 1) / 48.0


@dataclass(frozen=True)
class BusinessCase:
    """One row of the prioritised use-case list. ``rank`` is 0 until :func:`rank` orders it."""

    use_case: str
    title: str
    phase: Phase
    value: ValueAtStake
    readiness: Score
    feasibility: Score
    risk_score: int
    risk_level: RiskLevel
    ai_act_tier: str
    priority: float
    rank: int = 0
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case,
            "title": self.title,
            "phase": int(self.phase),
            "phase_name": self.phase.slug,
            "value": self.value.to_dict(),
            "readiness": self.readiness.to_dict(),
            "feasibility": self.feasibility.to_dict(),
            "risk_score": self.risk_score,
            "risk_level": self.risk_level.value,
            "ai_act_tier": self.ai_act_tier,
            "priority": self.priority,
            "rank": self.rank,
            "reasons": list(self.reasons),
        }


def money(amount: float) -> str:
    """A short amount for sentences: 1.2M, 45k, 800 (no currency: the firm's own)."""
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    if size >= 999_950:
        return f"{sign}{size / 1e6:.1f}M"
    if size >= 1_000:
        return f"{sign}{size / 1e3:.0f}k"
    return f"{sign}{size:.0f}"


def _score_reason(name: str, score: Score, questions: Sequence[Question], answers: Mapping[str, int]) -> str:
    text = f"{name} {score.value:.0f}/100"
    if len(score.unanswered) == len(questions):
        return f"{text}: no question answered yet"
    if score.value < WEAK_SCORE:
        by_key = {q.key: q.text for q in questions}
        weakest = ", ".join(f"{by_key[k]} ({answers.get(k, 0)}/4)" for k in score.weakest)
        text += f"; weakest: {weakest}"
    if score.unanswered:
        text += f"; {len(score.unanswered)} of {len(questions)} questions unanswered (counted as 0)"
    return text


def _value_reasons(value: ValueAtStake) -> list[str]:
    if value.total.expected == 0 and value.annual_cost == 0:
        return ["no value estimated yet: fill in volume, minutes per task, uplift and cost"]
    net = value.net
    reasons = [
        f"expected net value {money(net.expected)} a year "
        f"(range {money(net.low)} to {money(net.high)}, after a running cost of {money(value.annual_cost)})"
    ]
    if value.total.expected == 0:
        reasons.append("no value estimated yet: fill in volume, minutes per task and uplift")
    elif value.roi is None:
        reasons.append("no running cost recorded, so no return on cost can be computed")
    else:
        payback = f"{value.payback_months:.1f}" if value.payback_months is not None else "-"
        reasons.append(f"return {value.roi:.1f}x the running cost, paid back in {payback} months")
    return reasons


def _tier_reason(decision: ai_act.TierDecision | None, tier: str) -> str:
    if tier == ai_act.Tier.PROHIBITED:
        why = decision.reason if decision else "prohibited practice (recorded by a reviewer)"
        return f"EU AI Act: {why}; it cannot be deployed, so it ranks last with priority 0"
    if decision is None:
        return f"EU AI Act tier {tier} (given by the caller)"
    ref = f" ({decision.rule})" if decision.fired else ""
    return f"EU AI Act tier {tier}{ref}: {decision.reason}"


def _tier(uc: UseCase, given: str | None) -> tuple[str, ai_act.TierDecision | None]:
    if given is None:
        decision = ai_act.classify(uc.ai_act)
        return decision.tier.value, decision
    try:
        return ai_act.Tier(given).value, None
    except ValueError:
        fix = f"use one of: {', '.join(t.value for t in ai_act.Tier)}"
        raise ValidationError(
            f"AI Act tier {given!r} of {uc.key} is not valid: {fix}",
            field="ai_act_tier",
            value=given,
            fix=fix,
        ) from None


def business_case(uc: UseCase, ai_act_tier: str | None = None) -> BusinessCase:
    """The business case of one use case (unranked: ``rank`` is 0).

    *ai_act_tier* is the tier recorded by a reviewer; without it the tier is computed
    from the use case's answers with :func:`paceline.domain.ai_act.classify`.
    """
    value = value_at_stake(uc.value)
    readiness = questionnaire_score(uc.readiness, READINESS_QUESTIONS)
    feasibility = questionnaire_score(uc.feasibility, FEASIBILITY_QUESTIONS)
    score = risk_score(uc.risk_likelihood, uc.risk_impact)
    level = risk_level(score)
    tier, decision = _tier(uc, ai_act_tier)
    discount = risk_discount(score)
    if tier == ai_act.Tier.PROHIBITED:
        priority = 0.0
    else:
        priority = value.net.expected * readiness.value / 100 * feasibility.value / 100 * discount + 0.0
    reasons = [
        *_value_reasons(value),
        _score_reason("data readiness", readiness, READINESS_QUESTIONS, uc.readiness),
        _score_reason("adoption feasibility", feasibility, FEASIBILITY_QUESTIONS, uc.feasibility),
        f"risk {score}/25 ({level.value}) lowers the priority by {100 * (1 - discount):.0f}%",
        _tier_reason(decision, tier),
    ]
    return BusinessCase(
        use_case=uc.key,
        title=uc.title,
        phase=uc.phase,
        value=value,
        readiness=readiness,
        feasibility=feasibility,
        risk_score=score,
        risk_level=level,
        ai_act_tier=tier,
        priority=priority,
        reasons=reasons,
    )


def rank(use_cases: Sequence[UseCase], ai_act_tiers: Mapping[str, str] | None = None) -> list[BusinessCase]:
    """The prioritised use-case list: highest priority first, prohibited ones last, ranks 1..n.

    *ai_act_tiers* maps a use-case key to a tier recorded by a reviewer; use cases not in
    it get the tier computed from their answers. Equal priorities are ordered by key so
    the list is stable.
    """
    tiers = ai_act_tiers or {}
    cases = [business_case(uc, tiers.get(uc.key)) for uc in use_cases]
    cases.sort(key=lambda c: (c.ai_act_tier == ai_act.Tier.PROHIBITED, -c.priority, c.use_case))
    return [replace(c, rank=i) for i, c in enumerate(cases, start=1)]
