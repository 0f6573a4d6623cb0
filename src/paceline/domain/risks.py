"""The risk register: each risk rated before and after its mitigation, with an owner.

A risk is rated twice on the usual 5 x 5 matrix: *inherent* (as if nothing were
done) and *residual* (with the mitigation in place). Keeping both shows what the
mitigation buys and keeps it honest: the residual rating may never exceed the
inherent one, because a mitigation that makes a risk worse is a new risk, not a
mitigation. The rating bands (:func:`level`) are defined here once; the
portfolio's use-case risk score uses the same :func:`rating` and :func:`level`.

Every new use case starts with the framework's five top risks (:func:`default_register`),
so no register starts empty and the obvious risks have an owner from day one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from paceline.domain.roles import Role
from paceline.domain.usecases import UseCase
from paceline.errors import ValidationError

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
RATING_MIN = 1
RATING_MAX = 5


class RiskStatus(StrEnum):
    OPEN = "open"  # identified, mitigation not started
    MITIGATING = "mitigating"  # mitigation under way
    ACCEPTED = "accepted"  # the residual risk is accepted by its owner
    CLOSED = "closed"  # no longer applies


class RiskCategory(StrEnum):
    DATA = "data"
    ADOPTION = "adoption"
    PRIVACY = "privacy"  # regulatory and privacy
    MODEL = "model"
    VENDOR = "vendor"  # lock-in and technical debt
    SECURITY = "security"
    OPERATIONAL = "operational"
    OTHER = "other"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def rating(likelihood: int, impact: int) -> int:
    """Likelihood x impact on the 5 x 5 matrix: 1 (rare, minor) to 25 (almost certain, severe)."""
    for name, value in (("likelihood", likelihood), ("impact", impact)):
        _check_rating(name, value)
    return likelihood * impact


def level(score: int) -> RiskLevel:
    """The band of a rating: <= 4 low, <= 9 medium, <= 14 high, else critical.

    The cut points sit where one step of likelihood or impact moves a mid-matrix
    risk up a band, so a 3 x 3 (9) is still medium but 3 x 5 (15) is critical.
    """
    if score <= 4:
        return RiskLevel.LOW
    if score <= 9:
        return RiskLevel.MEDIUM
    if score <= 14:
        return RiskLevel.HIGH
    return RiskLevel.CRITICAL


def _check_rating(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not RATING_MIN <= value <= RATING_MAX:
        raise ValidationError(
            f"{name} {value!r} is not a rating",
            field=name,
            value=value,
            fix="rate 1 (rare / minor) to 5 (almost certain / severe)",
        )


@dataclass(frozen=True)
class Risk:
    """One entry of a use case's risk register; ratings are 1..5."""

    key: str
    title: str
    category: RiskCategory
    description: str
    mitigation: str
    owner: str  # a role (e.g. data-engineer) or the login of the person who owns it
    status: RiskStatus
    inherent_likelihood: int
    inherent_impact: int
    residual_likelihood: int
    residual_impact: int

    @property
    def inherent_score(self) -> int:
        return self.inherent_likelihood * self.inherent_impact

    @property
    def residual_score(self) -> int:
        return self.residual_likelihood * self.residual_impact

    @property
    def inherent_level(self) -> RiskLevel:
        return level(self.inherent_score)

    @property
    def residual_level(self) -> RiskLevel:
        return level(self.residual_score)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["category"], doc["status"] = str(self.category), str(self.status)
        doc["inherent_score"], doc["residual_score"] = self.inherent_score, self.residual_score
        doc["inherent_level"], doc["residual_level"] = str(self.inherent_level), str(self.residual_level)
        return doc


def _bad(name: str, value: Any, message: str, fix: str) -> ValidationError:
    return ValidationError(message, field=name, value=value, fix=fix)


def validate_risk(risk: Risk) -> Risk:
    """Return *risk* if every field is usable, else raise naming the first bad one."""
    if not KEY_PATTERN.match(risk.key):
        raise _bad("key", risk.key, f"risk key {risk.key!r} is not valid", "lower-case letters, digits, '-'")
    for name in ("title", "description", "mitigation", "owner"):
        if not str(getattr(risk, name)).strip():
            raise _bad(name, getattr(risk, name), f"the risk's {name} is empty", f"give the risk a {name}")
    for name, kind in (("category", RiskCategory), ("status", RiskStatus)):
        try:
            kind(getattr(risk, name))
        except ValueError:
            raise _bad(
                name,
                getattr(risk, name),
                f"unknown {name} {getattr(risk, name)!r}",
                f"use one of: {', '.join(kind)}",
            ) from None
    for name in ("inherent_likelihood", "inherent_impact", "residual_likelihood", "residual_impact"):
        _check_rating(name, getattr(risk, name))
    for part in ("likelihood", "impact"):
        inherent, residual = getattr(risk, f"inherent_{part}"), getattr(risk, f"residual_{part}")
        if residual > inherent:
            raise _bad(
                f"residual_{part}",
                residual,
                f"{risk.key}: residual {part} {residual} is above the inherent {part} {inherent}",
                f"a mitigation cannot raise the risk: rate residual {part} {inherent} or less, "
                f"or raise the inherent {part} if it was underrated",
            )
    return risk


DEFAULT_RISKS: tuple[Risk, ...] = (
    Risk(
        key="data-quality",
        title="Poor data quality",
        category=RiskCategory.DATA,
        description="Incomplete, stale or inconsistent source data leads the AI to wrong suggestions, "
        "and the KPIs measured from the same data cannot be trusted.",
        mitigation="Build cleaning and validation into the pipelines, monitor completeness and freshness "
        "with alerts, trace lineage, and use synthetic data only where real data is too thin.",
        owner=Role.DATA_ENGINEER.value,
        status=RiskStatus.OPEN,
        inherent_likelihood=4,
        inherent_impact=4,
        residual_likelihood=2,
        residual_impact=3,
    ),
    Risk(
        key="low-adoption",
        title="Low user adoption",
        category=RiskCategory.ADOPTION,
        description="People keep working the old way, so the tool is paid for but the time savings "
        "and quality gains never show up.",
        mitigation="Design the workflow with its users, train each role on its own tasks, name champions, "
        "and show people the time the tool saves them in their daily work.",
        owner=Role.PEOPLE.value,
        status=RiskStatus.OPEN,
        inherent_likelihood=4,
        inherent_impact=3,
        residual_likelihood=2,
        residual_impact=3,
    ),
    Risk(
        key="privacy-breach",
        title="Regulatory or privacy breach",
        category=RiskCategory.PRIVACY,
        description="Personal or confidential data is exposed, kept too long or used without a legal "
        "basis, or the use case breaks a sector rule: fines, lost trust and a forced stop.",
        mitigation="Privacy by design: collect the minimum, anonymise or pseudonymise, strict "
        "role-based access, and a privacy and compliance review before each release.",
        owner=Role.SECURITY.value,
        status=RiskStatus.OPEN,
        inherent_likelihood=3,
        inherent_impact=4,
        residual_likelihood=1,
        residual_impact=4,
    ),
    Risk(
        key="model-drift",
        title="Model drift and degraded performance",
        category=RiskCategory.MODEL,
        description="The data or the task changes after go-live and the model quietly gets worse, "
        "so errors rise before anyone notices.",
        mitigation="Monitor model quality and input drift in production with alert thresholds, keep a "
        "retraining schedule, and keep a tested rollback to the previous version.",
        owner=Role.ML_ENGINEER.value,
        status=RiskStatus.OPEN,
        inherent_likelihood=3,
        inherent_impact=3,
        residual_likelihood=2,
        residual_impact=2,
    ),
    Risk(
        key="vendor-lock-in",
        title="Vendor lock-in or technical debt",
        category=RiskCategory.VENDOR,
        description="The solution depends on one vendor's formats and APIs, or on one-off glue code, "
        "so switching, upgrading or scaling becomes slow and expensive.",
        mitigation="Prefer modular architectures and open standards, keep models, prompts and data in "
        "exportable formats, and score exportability in every vendor assessment.",
        owner=Role.PROGRAM_MANAGER.value,
        status=RiskStatus.OPEN,
        inherent_likelihood=3,
        inherent_impact=3,
        residual_likelihood=2,
        residual_impact=3,
    ),
)


def default_register(use_case: UseCase) -> list[Risk]:
    """The five top risks for *use_case*; sensitive data makes a privacy breach severe (impact 5)."""
    risks = list(DEFAULT_RISKS)
    if use_case.handles_sensitive_data:
        risks = [replace(r, inherent_impact=5) if r.key == "privacy-breach" else r for r in risks]
    return risks


def _open(risk: Risk) -> bool:
    return risk.status != RiskStatus.CLOSED


def register_summary(risks: Iterable[Risk]) -> dict[str, Any]:
    """Counts by residual level and status, and the highest residual risk, for a register.

    Closed risks are counted by status but left out of the levels and the highest
    risk: they no longer expose the use case to anything.
    """
    risks = list(risks)
    live = [r for r in risks if _open(r)]
    by_level = {str(lv): 0 for lv in RiskLevel}
    for r in live:
        by_level[str(r.residual_level)] += 1
    by_status = {str(s): 0 for s in RiskStatus}
    for r in risks:
        by_status[str(RiskStatus(r.status))] += 1
    ranked = sorted(live, key=lambda r: (-r.residual_score, -r.inherent_score, r.key))
    top = ranked[0] if ranked else None
    if top is None:
        sentence = "No live risks in the register."
    else:
        sentence = (
            f"{len(live)} live risk(s), {by_status['open']} not yet being mitigated; the highest residual "
            f"risk is {top.title} ({top.residual_score}, {top.residual_level}), owned by {top.owner}."
        )
    return {
        "total": len(risks),
        "by_level": by_level,
        "by_status": by_status,
        "open": by_status[RiskStatus.OPEN.value],
        "highest": top.to_dict() if top else None,
        "sentence": sentence,
    }
