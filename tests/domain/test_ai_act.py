"""The EU AI Act tier: every rule alone, the precedence, the derogation and its override."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.ai_act import (
    AI_ACT_KEYS,
    AI_ACT_QUESTIONS,
    DEROGATION,
    PROFILING,
    RULES,
    TIER_ORDER,
    Category,
    Tier,
    classify,
    validate_answers,
)
from paceline.errors import ValidationError

PRACTICE_KEYS = sorted({r.key for r in RULES})
EXPECTED = {
    "manipulative_techniques": (Tier.PROHIBITED, "Art. 5(1)(a)"),
    "exploits_vulnerabilities": (Tier.PROHIBITED, "Art. 5(1)(b)"),
    "social_scoring": (Tier.PROHIBITED, "Art. 5(1)(c)"),
    "predictive_policing_profiling": (Tier.PROHIBITED, "Art. 5(1)(d)"),
    "untargeted_face_scraping": (Tier.PROHIBITED, "Art. 5(1)(e)"),
    "emotion_recognition_workplace": (Tier.PROHIBITED, "Art. 5(1)(f)"),
    "biometric_categorisation_sensitive": (Tier.PROHIBITED, "Art. 5(1)(g)"),
    "realtime_remote_biometric_id": (Tier.PROHIBITED, "Art. 5(1)(h)"),
    "biometric_identification": (Tier.HIGH, "Annex III 1(a)"),
    "critical_infrastructure_safety": (Tier.HIGH, "Annex III 2"),
    "education_access_assessment": (Tier.HIGH, "Annex III 3"),
    "employment_recruitment": (Tier.HIGH, "Annex III 4(a)"),
    "employment_decisions": (Tier.HIGH, "Annex III 4(b)"),
    "task_allocation_by_traits": (Tier.HIGH, "Annex III 4(b)"),
    "worker_monitoring_evaluation": (Tier.HIGH, "Annex III 4(b)"),
    "essential_public_services": (Tier.HIGH, "Annex III 5(a)"),
    "credit_scoring": (Tier.HIGH, "Annex III 5(b)"),
    "life_health_insurance_pricing": (Tier.HIGH, "Annex III 5(c)"),
    "emergency_dispatch_triage": (Tier.HIGH, "Annex III 5(d)"),
    "law_enforcement": (Tier.HIGH, "Annex III 6"),
    "migration_border": (Tier.HIGH, "Annex III 7"),
    "justice_democracy": (Tier.HIGH, "Annex III 8"),
    "interacts_with_people": (Tier.LIMITED, "Art. 50(1)"),
    "generates_synthetic_content": (Tier.LIMITED, "Art. 50(2)"),
    "emotion_recognition_other": (Tier.HIGH, "Annex III 1(c)"),  # also Art. 50(3)
    "deepfake": (Tier.LIMITED, "Art. 50(4)"),
}
LITERACY = "Art. 4"


def test_the_questionnaire_covers_every_rule_once() -> None:
    assert set(EXPECTED) == set(PRACTICE_KEYS)
    assert set(EXPECTED) | {DEROGATION, PROFILING} == AI_ACT_KEYS
    assert len(AI_ACT_QUESTIONS) == len(AI_ACT_KEYS)
    for key, text, category in AI_ACT_QUESTIONS:  # unpacks as a triple
        assert text.endswith("?") and len(text) < 200 and isinstance(category, Category), key


@pytest.mark.parametrize("key", PRACTICE_KEYS)
def test_each_rule_fires_alone_with_its_tier(key: str) -> None:
    decision = classify([key])
    assert (decision.tier, decision.rule) == EXPECTED[key]
    assert {f.key for f in decision.fired} == {key}
    assert decision.reason and decision.obligations and not decision.derogation
    literacy = any(LITERACY in o for o in decision.obligations)
    assert literacy is (decision.tier is not Tier.PROHIBITED)


def test_nothing_answered_is_minimal() -> None:
    decision = classify([])
    assert decision.tier is Tier.MINIMAL and decision.fired == [] and decision.rule == "none"
    assert any(LITERACY in o for o in decision.obligations)
    assert classify([PROFILING]).tier is Tier.MINIMAL  # profiling alone is no Annex III area


def test_emotion_recognition_outside_work_carries_both_duties() -> None:
    decision = classify(["emotion_recognition_other"])
    assert [f.rule for f in decision.fired] == ["Annex III 1(c)", "Art. 50(3)"]
    assert any("Art. 50(3)" in o for o in decision.obligations)


def test_prohibited_beats_high_beats_limited() -> None:
    everything = classify(["deepfake", "credit_scoring", "social_scoring"])
    assert (everything.tier, everything.rule) == (Tier.PROHIBITED, "Art. 5(1)(c)")
    assert {f.tier for f in everything.fired} == {Tier.PROHIBITED, Tier.HIGH, Tier.LIMITED}
    high = classify(["interacts_with_people", "worker_monitoring_evaluation"])
    assert (high.tier, high.rule) == (Tier.HIGH, "Annex III 4(b)")
    assert any("Art. 50(1)" in o for o in high.obligations)  # transparency still applies
    assert any("six months" in o for o in high.obligations)
    assert any("workers' representatives" in o for o in high.obligations)


def test_a_prohibited_practice_cannot_be_derogated() -> None:
    assert classify(["social_scoring", DEROGATION]).tier is Tier.PROHIBITED


def test_the_derogation_lowers_annex_iii_to_the_next_tier() -> None:
    minimal = classify(["task_allocation_by_traits", DEROGATION])
    assert (minimal.tier, minimal.rule, minimal.derogation) == (Tier.MINIMAL, "Art. 6(3)", True)
    assert any("Art. 6(4)" in o for o in minimal.obligations)
    assert minimal.fired[0].tier is Tier.HIGH  # the match stays visible
    limited = classify(["employment_recruitment", DEROGATION, "interacts_with_people"])
    assert (limited.tier, limited.rule, limited.derogation) == (Tier.LIMITED, "Art. 50(1)", True)
    assert "derogation applies" in limited.reason


def test_profiling_overrides_the_derogation() -> None:
    decision = classify(["worker_monitoring_evaluation", DEROGATION, PROFILING])
    assert (decision.tier, decision.rule, decision.derogation) == (Tier.HIGH, "Annex III 4(b)", False)
    assert "profiles people" in decision.reason


def test_the_fria_is_named_for_credit_and_insurance() -> None:
    assert any("required for credit" in o for o in classify(["credit_scoring"]).obligations)
    assert not any("required for credit" in o for o in classify(["law_enforcement"]).obligations)


def test_unknown_keys_are_named_with_the_valid_ones() -> None:
    with pytest.raises(ValidationError) as err:
        classify(["social_scoring", "emotion_recognition"])
    assert "'emotion_recognition'" in err.value.message
    assert "emotion_recognition_workplace" in err.value.details["fix"]
    assert err.value.details["field"] == "ai_act"
    assert validate_answers(["deepfake", "deepfake"]) == {"deepfake"}


@given(st.sets(st.sampled_from(sorted(AI_ACT_KEYS))))
def test_the_tier_is_the_most_severe_applicable_rule(answers: set[str]) -> None:
    decision = classify(answers)
    derogated = DEROGATION in answers and PROFILING not in answers
    tiers = {f.tier for f in decision.fired if not (derogated and f.tier is Tier.HIGH)}
    expected = next((t for t in TIER_ORDER if t in tiers), Tier.MINIMAL)
    assert decision.tier is expected
    assert decision.to_dict()["tier"] == expected.value
