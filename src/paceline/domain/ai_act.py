"""The EU AI Act risk tier of a use case, decided by rules rather than by a score.

The Act (Regulation (EU) 2024/1689) sorts AI systems by what they are used for, not by
how risky they feel: a practice listed in Art. 5 is banned, one in an Annex III area is
high-risk, one of the Art. 50 cases carries transparency duties, and everything else is
minimal. A weighted score would blur those lines (a "75/100" system is not thereby
high-risk), so :func:`classify` walks the rules in the Act's own order and says which one
decided the tier, which others also matched, and what a deployer then has to do.

The questionnaire is a list of yes/no practices; a use case stores the keys answered
"yes" (``UseCase.ai_act``). Two keys are not practices but modifiers of the Annex III
rules: ``narrow_procedural_task`` claims the Art. 6(3) derogation, and ``profiles_people``
cancels it (Art. 6(3), last subparagraph: profiling keeps an Annex III system high-risk).

The wording below is our own short summary; the references point to the Act, which is
the text that counts.

This is decision support, not legal advice: it helps a program manager ask the right
questions early and record the answer. A lawyer confirms the tier before a high-risk or
borderline system goes live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from paceline.errors import ValidationError


class Tier(StrEnum):
    """The four tiers, most severe first (the order of :data:`TIER_ORDER`)."""

    PROHIBITED = "prohibited"
    HIGH = "high"
    LIMITED = "limited"
    MINIMAL = "minimal"


TIER_ORDER: tuple[Tier, ...] = (Tier.PROHIBITED, Tier.HIGH, Tier.LIMITED, Tier.MINIMAL)


class Category(StrEnum):
    """Which part of the Act a question belongs to (:data:`RULES` gives the tier each "yes" leads to)."""

    PROHIBITED = "prohibited"  # Art. 5
    HIGH_RISK = "high_risk"  # Art. 6(2) and Annex III
    TRANSPARENCY = "transparency"  # Art. 50
    MODIFIER = "modifier"  # Art. 6(3): the derogation and its override by profiling


CATEGORY_TIER: dict[Category, Tier] = {
    Category.PROHIBITED: Tier.PROHIBITED,
    Category.HIGH_RISK: Tier.HIGH,
    Category.TRANSPARENCY: Tier.LIMITED,
}


class ActQuestion(NamedTuple):
    """One yes/no question. Unpacks as ``key, text, category``."""

    key: str
    text: str
    category: Category


class Rule(NamedTuple):
    """What a "yes" triggers: the reference in the Act, the tier, and the practice in plain words."""

    key: str
    ref: str
    tier: Tier
    practice: str


DEROGATION = "narrow_procedural_task"
PROFILING = "profiles_people"

_P, _H, _T, _M = Category.PROHIBITED, Category.HIGH_RISK, Category.TRANSPARENCY, Category.MODIFIER

# key, question, category, reference(s), practice in plain words (used in reasons)
_TABLE: tuple[tuple[str, str, Category, tuple[str, ...], str], ...] = (
    # Art. 5: banned practices.
    (
        "manipulative_techniques",
        "Does it use subliminal, manipulative or deceptive techniques that distort people's "
        "decisions in a way likely to cause them significant harm?",
        _P,
        ("Art. 5(1)(a)",),
        "manipulating people's decisions to their harm",
    ),
    (
        "exploits_vulnerabilities",
        "Does it exploit a vulnerability due to age, disability or a social or economic "
        "situation to distort behaviour harmfully?",
        _P,
        ("Art. 5(1)(b)",),
        "exploiting people's vulnerabilities",
    ),
    (
        "social_scoring",
        "Does it score or classify people by social behaviour or personal traits, leading to "
        "unfair or unrelated detrimental treatment?",
        _P,
        ("Art. 5(1)(c)",),
        "social scoring",
    ),
    (
        "predictive_policing_profiling",
        "Does it predict whether a person will commit a crime based only on profiling or personality traits?",
        _P,
        ("Art. 5(1)(d)",),
        "predicting crime from profiling alone",
    ),
    (
        "untargeted_face_scraping",
        "Does it build or expand a facial recognition database by untargeted scraping of "
        "images from the internet or CCTV?",
        _P,
        ("Art. 5(1)(e)",),
        "untargeted scraping of facial images",
    ),
    (
        "emotion_recognition_workplace",
        "Does it infer the emotions of people at work or in education (other than for "
        "medical or safety reasons)?",
        _P,
        ("Art. 5(1)(f)",),
        "emotion recognition at work or in education",
    ),
    (
        "biometric_categorisation_sensitive",
        "Does it use biometric data to infer race, political opinions, union membership, "
        "religion or beliefs, sex life or sexual orientation?",
        _P,
        ("Art. 5(1)(g)",),
        "biometric categorisation by sensitive traits",
    ),
    (
        "realtime_remote_biometric_id",
        "Is it real-time remote biometric identification in publicly accessible spaces for law enforcement?",
        _P,
        ("Art. 5(1)(h)",),
        "real-time remote biometric identification in public for law enforcement",
    ),
    # Annex III: high-risk areas (Art. 6(2)).
    (
        "biometric_identification",
        "Does it identify people remotely from biometric data (beyond confirming a person is "
        "who they claim to be)?",
        _H,
        ("Annex III 1(a)",),
        "remote biometric identification",
    ),
    (
        "critical_infrastructure_safety",
        "Is it a safety component in running critical infrastructure (digital infrastructure, "
        "road traffic, water, gas, heating, electricity)?",
        _H,
        ("Annex III 2",),
        "a safety component of critical infrastructure",
    ),
    (
        "education_access_assessment",
        "Does it decide access or admission to education, assess learning outcomes or "
        "monitor students during tests?",
        _H,
        ("Annex III 3",),
        "access to or assessment in education",
    ),
    (
        "employment_recruitment",
        "Is it used to recruit or select people: targeting job ads, filtering applications or "
        "evaluating candidates?",
        _H,
        ("Annex III 4(a)",),
        "recruitment and selection of candidates",
    ),
    (
        "employment_decisions",
        "Does it make or shape decisions on promotion, termination or the terms of a work relationship?",
        _H,
        ("Annex III 4(b)",),
        "decisions on promotion, termination or work terms",
    ),
    (
        "task_allocation_by_traits",
        "Does it allocate tasks to workers based on their individual behaviour or personal traits?",
        _H,
        ("Annex III 4(b)",),
        "allocating work by individual behaviour or traits",
    ),
    (
        "worker_monitoring_evaluation",
        "Does it monitor or evaluate the performance or behaviour of individual workers?",
        _H,
        ("Annex III 4(b)",),
        "monitoring or evaluating individual workers",
    ),
    (
        "essential_public_services",
        "Does it assess whether people are eligible for public benefits or services, or grant, "
        "reduce or revoke them?",
        _H,
        ("Annex III 5(a)",),
        "eligibility for essential public services",
    ),
    (
        "credit_scoring",
        "Does it evaluate people's creditworthiness or set their credit score (fraud detection excepted)?",
        _H,
        ("Annex III 5(b)",),
        "credit scoring of people",
    ),
    (
        "life_health_insurance_pricing",
        "Does it assess risk or set prices for people's life or health insurance?",
        _H,
        ("Annex III 5(c)",),
        "life or health insurance risk and pricing",
    ),
    (
        "emergency_dispatch_triage",
        "Does it classify emergency calls, dispatch emergency services or triage patients in emergency care?",
        _H,
        ("Annex III 5(d)",),
        "emergency call handling, dispatch or triage",
    ),
    (
        "law_enforcement",
        "Is it used by or for law enforcement (risk of becoming a victim, evidence reliability, "
        "profiling in investigations)?",
        _H,
        ("Annex III 6",),
        "law enforcement",
    ),
    (
        "migration_border",
        "Is it used in migration, asylum or border control (risk assessment, examining "
        "applications, detecting people)?",
        _H,
        ("Annex III 7",),
        "migration, asylum or border control",
    ),
    (
        "justice_democracy",
        "Does it assist judicial authorities in researching or applying the law, or aim to "
        "influence elections or voting behaviour?",
        _H,
        ("Annex III 8",),
        "the administration of justice or democratic processes",
    ),
    # Art. 50: transparency cases.
    (
        "interacts_with_people",
        "Does it interact directly with people (e.g. a chatbot or voice assistant)?",
        _T,
        ("Art. 50(1)",),
        "interacting directly with people",
    ),
    (
        "generates_synthetic_content",
        "Does it generate synthetic text, images, audio or video?",
        _T,
        ("Art. 50(2)",),
        "generating synthetic content",
    ),
    (
        "emotion_recognition_other",
        "Does it recognise emotions outside work and education (e.g. of customers)?",
        _T,
        ("Annex III 1(c)", "Art. 50(3)"),
        "emotion recognition outside work and education",
    ),
    (
        "deepfake",
        "Does it produce deepfakes (realistic content showing real people, places or events), or "
        "publish AI-written text on matters of public interest?",
        _T,
        ("Art. 50(4)",),
        "producing deepfakes or AI-written public-interest text",
    ),
    # Art. 6(3): the derogation and the profiling override.
    (
        DEROGATION,
        "Does it only perform a narrow procedural task, improve or prepare a human's work, or "
        "flag patterns for a human to review, without replacing the human's assessment?",
        _M,
        ("Art. 6(3)",),
        "a narrow procedural or preparatory task",
    ),
    (
        PROFILING,
        "Does it profile people: evaluate personal aspects such as performance, reliability, "
        "behaviour, preferences or location from their data?",
        _M,
        ("Art. 6(3)",),
        "profiling of people",
    ),
)


def _tier_of(ref: str, category: Category) -> Tier:
    """Annex III references are high-risk wherever they appear (emotion recognition outside
    work is both an Annex III area and an Art. 50 transparency case)."""
    return Tier.HIGH if ref.startswith("Annex III") else CATEGORY_TIER[category]


AI_ACT_QUESTIONS: tuple[ActQuestion, ...] = tuple(ActQuestion(k, t, c) for k, t, c, _, _ in _TABLE)
AI_ACT_KEYS: frozenset[str] = frozenset(q.key for q in AI_ACT_QUESTIONS)
RULES: tuple[Rule, ...] = tuple(
    Rule(key, ref, _tier_of(ref, category), practice)
    for key, _, category, refs, practice in _TABLE
    if category is not Category.MODIFIER
    for ref in refs
)
PRACTICES: dict[str, str] = {key: practice for key, _, _, _, practice in _TABLE}

# What a deployer must do, by tier. Our summary; the article numbers say where to read more.
AI_LITERACY = (
    "Make sure the staff who run or use the system have enough AI literacy for it (Art. 4); "
    "this applies to every AI system"
)
PROHIBITED_OBLIGATIONS: tuple[str, ...] = (
    "Do not deploy or use it: the practice is banned in the EU since 2 February 2025 (Art. 5)",
    "Redesign the use case to remove the practice, or retire it, and record the decision",
)
HIGH_OBLIGATIONS: tuple[str, ...] = (
    "Use it as the provider's instructions say, and keep the input data you control relevant "
    "to the intended purpose (Art. 26(1), 26(4))",
    "Assign human oversight to named people who are trained, competent and have the authority "
    "to override or stop it (Art. 26(2), Art. 14)",
    "Monitor its operation; if it presents a risk, suspend use and inform the provider and the "
    "market surveillance authority (Art. 26(5))",
    "Report serious incidents to the provider and the authorities without delay (Art. 26(5), Art. 73)",
    "Keep the logs it generates for at least six months (Art. 26(6))",
    "Before using it at work, inform workers' representatives and the affected workers (Art. 26(7))",
    "Tell people affected by decisions it supports that it is used, and be ready to explain "
    "its role in a decision (Art. 26(11), Art. 86)",
    "Carry out a data protection impact assessment where the GDPR requires one, using the "
    "provider's information (Art. 26(9))",
)
FRIA_REQUIRED = (
    "Carry out a fundamental rights impact assessment before first use: required for credit "
    "scoring and life or health insurance pricing (Art. 27)"
)
FRIA_KEYS = frozenset({"credit_scoring", "life_health_insurance_pricing"})
FRIA_WHERE_REQUIRED = (
    "Carry out a fundamental rights impact assessment before first use if you are a public "
    "body or provide a public service (Art. 27)"
)
DEROGATION_OBLIGATIONS: tuple[str, ...] = (
    "Document why the system is not high-risk under the Art. 6(3) derogation before use, and "
    "keep the assessment available to authorities (Art. 6(4)); check the provider registered it "
    "(Art. 49(2))",
)
TRANSPARENCY_OBLIGATIONS: dict[str, str] = {
    "Art. 50(1)": "Tell people they are interacting with an AI system, unless it is obvious (Art. 50(1))",
    "Art. 50(2)": "Make sure generated content is marked, machine-readably, as AI-generated (Art. 50(2))",
    "Art. 50(3)": "Inform the people exposed to emotion recognition or biometric categorisation, "
    "and process their data lawfully (Art. 50(3))",
    "Art. 50(4)": "Disclose that deepfakes, and AI-written text published on matters of public "
    "interest, are AI-generated (Art. 50(4))",
}
MINIMAL_OBLIGATIONS: tuple[str, ...] = (
    "No tier-specific duties; voluntary codes of conduct may be followed (Art. 95)",
)


@dataclass(frozen=True)
class FiredRule:
    """A rule that matched an answer, with the tier it leads to on its own."""

    key: str
    rule: str
    tier: Tier
    practice: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "rule": self.rule, "tier": self.tier.value, "practice": self.practice}


@dataclass(frozen=True)
class TierDecision:
    """The tier, the rule that decided it and why, every rule that matched, and what to do.

    ``derogation`` is true when the Art. 6(3) derogation lowered an Annex III match.
    """

    tier: Tier
    rule: str
    reason: str
    fired: list[FiredRule] = field(default_factory=list)
    obligations: list[str] = field(default_factory=list)
    derogation: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier.value,
            "rule": self.rule,
            "reason": self.reason,
            "fired": [f.to_dict() for f in self.fired],
            "obligations": list(self.obligations),
            "derogation": self.derogation,
        }


def validate_answers(keys: Iterable[str]) -> frozenset[str]:
    """The answered keys as a set, or a :class:`ValidationError` naming the first unknown key."""
    answered = list(keys)
    for key in answered:
        if key not in AI_ACT_KEYS:
            fix = f"use one of: {', '.join(sorted(AI_ACT_KEYS))}"
            raise ValidationError(
                f"ai_act {key!r} is not a question of the EU AI Act questionnaire: {fix}",
                field="ai_act",
                value=key,
                fix=fix,
            )
    return frozenset(answered)


def _fired(answered: frozenset[str]) -> list[FiredRule]:
    """Matched rules in the questionnaire's order (Art. 5, Annex III, Art. 50)."""
    return [FiredRule(r.key, r.ref, r.tier, r.practice) for r in RULES if r.key in answered]


def _transparency(fired: list[FiredRule]) -> list[str]:
    refs = dict.fromkeys(f.rule for f in fired if f.rule in TRANSPARENCY_OBLIGATIONS)
    return [TRANSPARENCY_OBLIGATIONS[ref] for ref in refs]


def _high_obligations(fired: list[FiredRule]) -> list[str]:
    keys = {f.key for f in fired}
    fria = FRIA_REQUIRED if keys & FRIA_KEYS else FRIA_WHERE_REQUIRED
    return [*HIGH_OBLIGATIONS, fria]


def _describe(fired: list[FiredRule]) -> str:
    return "; ".join(f"{f.practice} ({f.rule})" for f in fired)


def classify(answers: Iterable[str]) -> TierDecision:
    """The tier for the practices answered "yes", decided in the Act's order.

    1. Any Art. 5 practice: **prohibited**.
    2. Any Annex III area: **high**, unless ``narrow_procedural_task`` is answered and
       ``profiles_people`` is not (Art. 6(3)); then the Annex III matches are set aside
       and the next rules decide.
    3. Any Art. 50 case: **limited** (its transparency duties also apply to a high tier).
    4. Otherwise **minimal**. AI literacy (Art. 4) applies to every tier but prohibited.
    """
    answered = validate_answers(answers)
    fired = _fired(answered)
    by_tier = {tier: [f for f in fired if f.tier is tier] for tier in TIER_ORDER}
    if by_tier[Tier.PROHIBITED]:
        first = by_tier[Tier.PROHIBITED][0]
        reason = f"prohibited practice: {_describe(by_tier[Tier.PROHIBITED])}"
        return TierDecision(Tier.PROHIBITED, first.rule, reason, fired, list(PROHIBITED_OBLIGATIONS))
    transparency = _transparency(fired)
    high = by_tier[Tier.HIGH]
    derogated = bool(high) and DEROGATION in answered and PROFILING not in answered
    if high and not derogated:
        reason = f"high-risk area: {_describe(high)}"
        if DEROGATION in answered:
            reason += "; the Art. 6(3) derogation does not apply because the system profiles people"
        obligations = [*_high_obligations(fired), *transparency, AI_LITERACY]
        return TierDecision(Tier.HIGH, high[0].rule, reason, fired, obligations)
    prefix = ""
    extra: list[str] = []
    if derogated:
        prefix = (
            f"{_describe(high)} would be high-risk, but the Art. 6(3) derogation applies "
            f"(a narrow procedural or preparatory task, no profiling); "
        )
        extra = list(DEROGATION_OBLIGATIONS)
    limited = by_tier[Tier.LIMITED]
    if limited:
        reason = f"{prefix}transparency duties: {_describe(limited)}"
        obligations = [*extra, *transparency, AI_LITERACY]
        return TierDecision(Tier.LIMITED, limited[0].rule, reason, fired, obligations, derogated)
    if derogated:
        reason = f"{prefix}no other rule matched"
        obligations = [*extra, *MINIMAL_OBLIGATIONS, AI_LITERACY]
        return TierDecision(Tier.MINIMAL, "Art. 6(3)", reason, fired, obligations, True)
    reason = "no prohibited, high-risk or transparency practice was answered"
    return TierDecision(Tier.MINIMAL, "none", reason, fired, [*MINIMAL_OBLIGATIONS, AI_LITERACY])
