"""Validation of a pilot's plan: each bad field is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from paceline.domain.pilots import (
    Design,
    Guardrail,
    PilotSpec,
    PrimaryKpi,
    better,
    parse_acceptance,
    parse_guardrail,
    parse_primary,
    validate,
)
from paceline.errors import ValidationError

GOOD = PilotSpec(
    name="claims-pilot",
    use_case="claims-triage",
    hypothesis="Pre-filled claims raise throughput",
    design=Design.RANDOMISED,
    treatment_cohorts=("pilot",),
    control_cohorts=("control",),
    start=date(2026, 3, 2),
    end=date(2026, 5, 25),
    primary=(PrimaryKpi("productivity", 10),),
    guardrails=(Guardrail("error_rate", 5),),
)


def test_a_good_plan_validates_and_round_trips() -> None:
    assert validate(GOOD) is GOOD
    doc = GOOD.to_dict()
    assert doc["start"] == "2026-03-02" and doc["design"] == "randomised"
    assert doc["primary"] == [{"kpi": "productivity", "target_effect_pct": 10}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Claims Pilot!"}, "name"),
        ({"hypothesis": "  "}, "hypothesis"),
        ({"end": date(2026, 3, 1)}, "end"),
        ({"primary": ()}, "primary"),
        ({"primary": (PrimaryKpi("speed", 10),)}, "kpi"),
        ({"primary": (PrimaryKpi("productivity", 0),)}, "primary"),
        ({"primary": (PrimaryKpi("error_rate", -20),)}, "primary"),
        ({"guardrails": (Guardrail("error_rate", 0),)}, "guardrails"),
        ({"control_cohorts": ()}, "control_cohorts"),
        ({"control_cohorts": ("pilot",)}, "control_cohorts"),
        ({"treatment_cohorts": ()}, "treatment_cohorts"),
        ({"alpha": 0.7}, "alpha"),
        ({"primary": (PrimaryKpi("adoption_rate", 5),)}, "primary"),
        ({"guardrails": (Guardrail("adoption_rate", 5),)}, "guardrails"),
        ({"baseline_start": date(2026, 4, 1)}, "baseline_start"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate(replace(GOOD, **change))  # type: ignore[arg-type]
    assert err.value.details["field"] == field


def test_a_staggered_rollout_needs_no_control_cohort() -> None:
    staggered = replace(
        GOOD, design=Design.STAGGERED, treatment_cohorts=("wave-1", "wave-2"), control_cohorts=()
    )
    assert validate(staggered) is staggered


def test_parsers_and_direction() -> None:
    assert parse_primary("productivity:10%") == PrimaryKpi("productivity", 10.0)
    assert parse_guardrail("error_rate:5") == Guardrail("error_rate", 5.0)
    assert parse_acceptance("esat>=3.5").minimum == 3.5
    for bad in ("productivity", "productivity:x"):
        with pytest.raises(ValidationError):
            parse_primary(bad)
    with pytest.raises(ValidationError):
        parse_acceptance("esat>3")
    assert better("productivity", 5) and better("error_rate", -5) and not better("error_rate", 5)
