"""The risk register: ratings, bands, the five default risks and the summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.risks import (
    DEFAULT_RISKS,
    Risk,
    RiskCategory,
    RiskLevel,
    RiskStatus,
    default_register,
    level,
    rating,
    register_summary,
    validate_risk,
)
from paceline.domain.roles import Role
from paceline.domain.usecases import DataCategory, UseCase
from paceline.errors import ValidationError

PLAIN = UseCase(key="claims-triage", title="Claims triage", owner="ana")
SENSITIVE = replace(PLAIN, data_categories=(DataCategory.HEALTH,))


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (1, "low"),
        (4, "low"),
        (5, "medium"),
        (9, "medium"),
        (10, "high"),
        (14, "high"),
        (15, "critical"),
        (25, "critical"),
    ],
)
def test_rating_bands(score: int, band: str) -> None:
    assert level(score) == band
    assert isinstance(level(score), str)


def test_rating_is_likelihood_times_impact_and_names_bad_ratings() -> None:
    assert rating(3, 5) == 15 and level(rating(3, 5)) is RiskLevel.CRITICAL
    for args, field in (((0, 3), "likelihood"), ((3, 6), "impact"), ((True, 3), "likelihood")):
        with pytest.raises(ValidationError) as err:
            rating(*args)
        assert err.value.details["field"] == field


def test_defaults_are_the_five_framework_risks_valid_open_and_owned_by_a_role() -> None:
    assert [r.key for r in DEFAULT_RISKS] == [
        "data-quality",
        "low-adoption",
        "privacy-breach",
        "model-drift",
        "vendor-lock-in",
    ]
    roles = {r.value for r in Role}
    for risk in DEFAULT_RISKS:
        assert validate_risk(risk) is risk
        assert risk.status is RiskStatus.OPEN
        assert risk.owner in roles
        assert risk.residual_score < risk.inherent_score
    owners = {r.key: r.owner for r in DEFAULT_RISKS}
    assert owners == {
        "data-quality": "data-engineer",
        "low-adoption": "people",
        "privacy-breach": "security",
        "model-drift": "ml-engineer",
        "vendor-lock-in": "program-manager",
    }


def test_sensitive_data_makes_a_privacy_breach_severe() -> None:
    plain = {r.key: r for r in default_register(PLAIN)}
    sensitive = {r.key: r for r in default_register(SENSITIVE)}
    assert plain["privacy-breach"].inherent_impact == 4
    assert sensitive["privacy-breach"].inherent_impact == 5
    assert sensitive["privacy-breach"].inherent_level is RiskLevel.CRITICAL
    assert all(sensitive[k] == plain[k] for k in plain if k != "privacy-breach")
    assert all(validate_risk(r) for r in sensitive.values())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": "Data Quality"}, "key"),
        ({"title": " "}, "title"),
        ({"owner": ""}, "owner"),
        ({"mitigation": ""}, "mitigation"),
        ({"status": "done"}, "status"),
        ({"category": "weather"}, "category"),
        ({"inherent_impact": 6}, "inherent_impact"),
        ({"residual_likelihood": 0}, "residual_likelihood"),
        ({"residual_likelihood": 5}, "residual_likelihood"),
        ({"residual_impact": 5}, "residual_impact"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_risk(replace(DEFAULT_RISKS[0], **change))
    assert err.value.details["field"] == field
    assert err.value.details["fix"]


def test_residual_above_inherent_says_how_to_fix_it() -> None:
    with pytest.raises(ValidationError) as err:
        validate_risk(replace(DEFAULT_RISKS[3], residual_impact=4))
    assert "cannot raise" in err.value.details["fix"]


def test_to_dict_carries_scores_and_levels() -> None:
    doc = DEFAULT_RISKS[0].to_dict()
    assert doc["category"] == "data" and doc["status"] == "open"
    assert (doc["inherent_score"], doc["inherent_level"]) == (16, "critical")
    assert (doc["residual_score"], doc["residual_level"]) == (6, "medium")


def test_register_summary() -> None:
    risks = [
        *DEFAULT_RISKS,
        Risk(
            "old-system",
            "Legacy screen scraping",
            RiskCategory.OPERATIONAL,
            "The old integration breaks.",
            "Replaced by the API.",
            "ml-engineer",
            RiskStatus.CLOSED,
            5,
            5,
            5,
            5,
        ),
        replace(DEFAULT_RISKS[1], key="champions", status=RiskStatus.MITIGATING),
    ]
    summary = register_summary(risks)
    assert summary["total"] == 7
    assert summary["open"] == 5
    assert summary["by_status"] == {"open": 5, "mitigating": 1, "accepted": 0, "closed": 1}
    # residual: 6, 6, 4, 4, 6, 6 (the closed 25 is left out)
    assert summary["by_level"] == {"low": 2, "medium": 4, "high": 0, "critical": 0}
    # 6 ties: the highest inherent score (16) wins
    assert summary["highest"]["key"] == "data-quality"
    assert "Poor data quality" in summary["sentence"]


def test_empty_register_summary() -> None:
    summary = register_summary([])
    assert summary["highest"] is None and summary["open"] == 0
    assert summary["sentence"] == "No live risks in the register."


ratings = st.integers(1, 5)


@given(ratings, ratings, ratings, ratings)
def test_valid_exactly_when_the_residual_is_no_higher(il: int, ii: int, rl: int, ri: int) -> None:
    risk = replace(
        DEFAULT_RISKS[0],
        inherent_likelihood=il,
        inherent_impact=ii,
        residual_likelihood=rl,
        residual_impact=ri,
    )
    if rl <= il and ri <= ii:
        assert validate_risk(risk).residual_score <= risk.inherent_score
    else:
        with pytest.raises(ValidationError):
            validate_risk(risk)


@given(st.integers(1, 25), st.integers(1, 25))
def test_bands_are_monotone(a: int, b: int) -> None:
    order = list(RiskLevel)
    if a <= b:
        assert order.index(level(a)) <= order.index(level(b))


def test_docs_table_matches_the_defaults() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "roi.md").read_text(encoding="utf-8")
    for r in DEFAULT_RISKS:
        times = "\u00d7"
        inherent = (
            f"{r.inherent_likelihood} {times} {r.inherent_impact} = {r.inherent_score} {r.inherent_level}"
        )
        residual = (
            f"{r.residual_likelihood} {times} {r.residual_impact} = {r.residual_score} {r.residual_level}"
        )
        assert f"| `{r.key}` | {r.title} | {r.owner} | {inherent} | {residual} |" in text
