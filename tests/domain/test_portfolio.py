"""The value-at-stake model, the questionnaires, the risk bands and the ranking.

The worked example is the one in docs/portfolio.md: if a figure changes here, change it there.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.portfolio import (
    FEASIBILITY_KEYS,
    FEASIBILITY_QUESTIONS,
    READINESS_KEYS,
    READINESS_QUESTIONS,
    RiskLevel,
    business_case,
    money,
    questionnaire_score,
    rank,
    risk_discount,
    risk_level,
    risk_score,
    value_at_stake,
)
from paceline.domain.usecases import UseCase, ValueInputs, validate
from paceline.errors import ValidationError

EXAMPLE = ValueInputs(
    volume_per_year=120_000,
    minutes_per_task=12,
    cost_per_hour=45,
    uplift_low=0.20,
    uplift_expected=0.35,
    uplift_high=0.45,
    error_rate=0.08,
    error_cost=60,
    error_reduction=0.25,
    expected_adoption=0.7,
    annual_cost=150_000,
)
READINESS = {
    "data_available": 3,
    "quality_measured": 1,
    "labels_exist": 0,
    "lineage_documented": 2,
    "privacy_basis": 4,
    "integration_access": 3,
}
FEASIBILITY = {
    "users_involved": 4,
    "fits_workflow": 3,
    "sponsor_committed": 4,
    "training_capacity": 2,
    "change_saturation_low": 2,
    "champions_available": 3,
}
CLAIMS = UseCase(
    key="claims-triage",
    title="Claims triage",
    owner="alice",
    value=EXAMPLE,
    readiness=READINESS,
    feasibility=FEASIBILITY,
    risk_likelihood=3,
    risk_impact=4,
)


def test_the_worked_example_of_the_docs() -> None:
    v = value_at_stake(EXAMPLE)
    assert (v.hours_saved.low, v.hours_saved.expected, v.hours_saved.high) == pytest.approx(
        (3360, 5880, 7560)
    )
    assert v.time_value.expected == pytest.approx(264_600)
    assert v.error_value.expected == pytest.approx(100_800) == v.error_value.low == v.error_value.high
    assert (v.total.low, v.total.expected, v.total.high) == pytest.approx((252_000, 365_400, 441_000))
    assert (v.net.low, v.net.expected, v.net.high) == pytest.approx((102_000, 215_400, 291_000))
    assert v.roi == pytest.approx(1.436)
    assert v.payback_months == pytest.approx(4.93, abs=0.005)

    case = business_case(CLAIMS)
    assert case.readiness.value == 55.0 and case.readiness.weakest == ["labels_exist", "quality_measured"]
    assert case.feasibility.value == 78.75
    assert (case.risk_score, case.risk_level) == (12, RiskLevel.HIGH)
    assert risk_discount(12) == pytest.approx(37 / 48)
    assert case.priority == pytest.approx(71_915, abs=0.5)
    assert case.ai_act_tier == "minimal"
    assert case.reasons[0].startswith("expected net value 215k a year (range 102k to 291k")
    assert "paid back in 4.9 months" in case.reasons[1]
    assert case.reasons[2].startswith("data readiness 55/100; weakest: labels or ground truth")
    assert case.reasons[3] == "adoption feasibility 79/100"  # 60 or more: no weakest named


def test_questionnaires_are_well_formed() -> None:
    for questions, keys in ((READINESS_QUESTIONS, READINESS_KEYS), (FEASIBILITY_QUESTIONS, FEASIBILITY_KEYS)):
        assert math.isclose(sum(q.weight for q in questions), 1.0)
        assert len(questions) == 6 == len(keys) == len({q.key for q in questions})
    validate(CLAIMS, READINESS_KEYS, FEASIBILITY_KEYS)


def test_an_empty_questionnaire_scores_zero_and_says_so() -> None:
    score = questionnaire_score({}, READINESS_QUESTIONS)
    assert score.value == 0 and score.unanswered == [q.key for q in READINESS_QUESTIONS]
    partial = questionnaire_score({"data_available": 4}, READINESS_QUESTIONS)
    assert partial.value == 25.0 and "data_available" not in partial.unanswered
    full = questionnaire_score(dict.fromkeys(READINESS_KEYS, 4), READINESS_QUESTIONS)
    assert full.value == 100 and full.unanswered == []
    assert "no question answered yet" in business_case(UseCase("idea", "Idea", "bob")).reasons[1]


def test_bad_answers_are_named() -> None:
    with pytest.raises(ValidationError, match="labels_exits"):
        questionnaire_score({"labels_exits": 2}, READINESS_QUESTIONS)
    with pytest.raises(ValidationError, match="0 \\(not at all\\) to 4"):
        questionnaire_score({"labels_exist": 5}, READINESS_QUESTIONS)


def test_zero_cost_and_zero_value_give_no_ratio() -> None:
    nothing = value_at_stake(ValueInputs())
    assert nothing.roi is None and nothing.payback_months is None
    free = value_at_stake(
        ValueInputs(volume_per_year=10, minutes_per_task=60, cost_per_hour=10, uplift_high=1)
    )
    assert free.roi is None and free.total.high == 100 and free.payback_months is None  # expected total 0


def test_risk_bands() -> None:
    assert [risk_level(s) for s in (1, 4, 5, 9, 10, 14, 15, 25)] == [
        RiskLevel.LOW,
        RiskLevel.LOW,
        RiskLevel.MEDIUM,
        RiskLevel.MEDIUM,
        RiskLevel.HIGH,
        RiskLevel.HIGH,
        RiskLevel.CRITICAL,
        RiskLevel.CRITICAL,
    ]
    assert risk_score(5, 5) == 25 and risk_discount(25) == 0.5 and risk_discount(1) == 1
    for bad in ((0, 3), (3, 6), (True, 3)):
        with pytest.raises(ValidationError):
            risk_score(*bad)
    with pytest.raises(ValidationError):
        risk_level(26)


def test_prohibited_ranks_last_with_priority_zero() -> None:
    banned = UseCase(
        "mood-watch", "Mood watch", "bob", value=EXAMPLE, ai_act=("emotion_recognition_workplace",)
    )
    weak = UseCase(
        "tiny",
        "Tiny",
        "carl",
        value=ValueInputs(annual_cost=1000),
        readiness=READINESS,
        feasibility=FEASIBILITY,
    )
    ranked = rank([banned, weak, CLAIMS])
    assert ranked[1].priority < 0  # costs more than it saves, still above a banned practice
    assert [c.use_case for c in ranked] == ["claims-triage", "tiny", "mood-watch"]
    assert [c.rank for c in ranked] == [1, 2, 3]
    last = ranked[-1]
    assert last.priority == 0 and last.ai_act_tier == "prohibited"
    assert "Art. 5(1)(f)" in last.reasons[-1] and "ranks last" in last.reasons[-1]


def test_caller_tier_overrides_and_is_checked() -> None:
    assert rank([CLAIMS], {"claims-triage": "prohibited"})[0].priority == 0
    assert rank([CLAIMS], {"claims-triage": "high"})[0].ai_act_tier == "high"
    with pytest.raises(ValidationError, match="severe"):
        rank([CLAIMS], {"claims-triage": "severe"})


def test_ties_are_broken_by_key_and_everything_is_json() -> None:
    a, b = UseCase("b-case", "B", "x"), UseCase("a-case", "A", "x")
    assert [c.use_case for c in rank([a, b])] == ["a-case", "b-case"]
    doc = rank([CLAIMS])[0].to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["phase_name"] == "assess" and doc["risk_level"] == "high" and doc["rank"] == 1


def test_money() -> None:
    assert [money(x) for x in (1_234_567, 999_999, 45_300, 800, -2_600)] == [
        "1.2M",
        "1.0M",
        "45k",
        "800",
        "-3k",
    ]


shares = st.floats(0, 1, allow_nan=False)
amounts = st.floats(0, 1e6, allow_nan=False)


@st.composite
def inputs(draw: st.DrawFn) -> ValueInputs:
    lo, mid, hi = sorted(draw(shares) for _ in range(3))
    return ValueInputs(
        volume_per_year=draw(amounts),
        minutes_per_task=draw(st.floats(0, 600)),
        cost_per_hour=draw(st.floats(0, 500)),
        uplift_low=lo,
        uplift_expected=mid,
        uplift_high=hi,
        error_rate=draw(shares),
        error_cost=draw(st.floats(0, 1e4)),
        error_reduction=draw(shares),
        expected_adoption=draw(shares),
        annual_cost=draw(amounts),
    )


@given(inputs())
def test_value_ranges_are_ordered(v: ValueInputs) -> None:
    out = value_at_stake(v)
    for r in (out.hours_saved, out.time_value, out.total, out.net):
        assert r.low <= r.expected <= r.high
    assert out.net.expected == pytest.approx(out.total.expected - v.annual_cost)


answer_sets = st.dictionaries(st.sampled_from(sorted(READINESS_KEYS)), st.integers(0, 4))


@given(answer_sets)
def test_scores_stay_in_range(answers: dict[str, int]) -> None:
    score = questionnaire_score(answers, READINESS_QUESTIONS)
    assert 0 <= score.value <= 100
    assert set(score.unanswered) == READINESS_KEYS - set(answers)
    assert len(score.weakest) == 2


use_cases = st.builds(
    UseCase,
    key=st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z"),
    title=st.just("t"),
    owner=st.just("o"),
    value=inputs(),
    readiness=answer_sets,
    feasibility=st.dictionaries(st.sampled_from(sorted(FEASIBILITY_KEYS)), st.integers(0, 4)),
    risk_likelihood=st.integers(1, 5),
    risk_impact=st.integers(1, 5),
    ai_act=st.lists(st.sampled_from(["social_scoring", "credit_scoring", "deepfake"]), max_size=1).map(tuple),
)


@given(st.lists(use_cases, max_size=8, unique_by=lambda u: u.key))
def test_rank_is_a_sorted_permutation(ucs: list[UseCase]) -> None:
    ranked = rank(ucs)
    assert sorted(c.use_case for c in ranked) == sorted(u.key for u in ucs)
    assert [c.rank for c in ranked] == list(range(1, len(ucs) + 1))
    allowed = [c for c in ranked if c.ai_act_tier != "prohibited"]
    assert ranked[: len(allowed)] == allowed  # prohibited ones at the end
    priorities = [c.priority for c in allowed]
    assert priorities == sorted(priorities, reverse=True)


def test_the_docs_quote_the_code() -> None:
    """docs/portfolio.md quotes the example's reasons, the questionnaires, the AI Act rules and the RACI."""
    from pathlib import Path

    from paceline.domain.ai_act import RULES
    from paceline.domain.raci import DEFAULT_RACI, PROGRAM_ROLES
    from paceline.domain.usecases import Phase

    text = (Path(__file__).resolve().parents[2] / "docs" / "portfolio.md").read_text(encoding="utf-8")
    for reason in business_case(CLAIMS).reasons:
        assert f"- {reason}\n" in text, reason
    for q in (*READINESS_QUESTIONS, *FEASIBILITY_QUESTIONS):
        assert f"| `{q.key}` | {q.text} | {q.weight:.2f} |" in text, q.key
    for rule in RULES:
        assert f"| `{rule.key}` |" in text and rule.ref in text, rule.key
    for phase in Phase:
        letters = " | ".join(DEFAULT_RACI[phase][role].value for role in PROGRAM_ROLES)
        assert f"| {int(phase)} {phase.slug} | {letters} |" in text, phase
