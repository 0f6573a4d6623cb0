"""The use-case record: from_dict, validate and the JSON round trip; a property test that
arbitrary input is refused with a ValidationError and nothing else."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paceline.domain.usecases import (
    DataCategory,
    Phase,
    Status,
    UseCase,
    ValueInputs,
    from_dict,
    validate,
)
from paceline.errors import ValidationError

MINIMAL = {"key": "claims-triage", "title": "Claims triage", "owner": "bo"}


def test_minimal_use_case_takes_the_defaults() -> None:
    uc = from_dict(MINIMAL)
    assert (uc.key, uc.title, uc.owner) == ("claims-triage", "Claims triage", "bo")
    assert uc.phase is Phase.ASSESS and uc.status is Status.PROPOSED
    assert uc.value == ValueInputs()
    assert (uc.risk_likelihood, uc.risk_impact) == (3, 3)


def test_full_document_round_trips_through_to_dict() -> None:
    doc = {
        **MINIMAL,
        "business_process": "claims intake",
        "department": "claims",
        "geography": "EU",
        "goal": "faster triage",
        "status": "active",
        "phase": "pilot",
        "data_categories": "personal, financial",
        "people_affected": 40,
        "models": ["gpt-x", " "],
        "vendors": "acme\nglobex",
        "value": {
            "volume_per_year": "1000",
            "minutes_per_task": 12,
            "uplift_expected": 0.2,
            "uplift_high": 0.3,
        },
        "readiness": {"data_available": "3"},
        "feasibility": {"users_involved": 4},
        "risk_likelihood": "2",
        "risk_impact": 4,
        "ai_act": ["employment"],
    }
    uc = from_dict(doc)
    assert uc.phase is Phase.PILOT and uc.status is Status.ACTIVE
    assert uc.data_categories == (DataCategory.PERSONAL, DataCategory.FINANCIAL)
    assert uc.handles_sensitive_data
    assert uc.models == ("gpt-x",) and uc.vendors == ("acme", "globex")
    assert uc.value.volume_per_year == 1000.0 and uc.value.uplift_expected == 0.2
    assert uc.readiness == {"data_available": 3}
    assert (uc.risk_likelihood, uc.risk_impact) == (2, 4)
    out = uc.to_dict()
    assert out["phase"] == 2 and out["phase_name"] == "pilot" and out["status"] == "active"
    assert from_dict(out) == uc  # the stored form reads back unchanged


@pytest.mark.parametrize("phase", [3, "3", "select", "SELECT"])
def test_phase_by_number_or_name(phase: Any) -> None:
    assert from_dict({**MINIMAL, "phase": phase}).phase is Phase.SELECT


def test_phase_titles_and_slugs() -> None:
    assert [p.slug for p in Phase] == ["assess", "pilot", "select", "enable", "integrate", "scale"]
    assert all(p.title for p in Phase)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"key": ""}, "key"),
        ({"title": ""}, "title"),
        ({"owner": ""}, "owner"),
        ({"nickname": "x"}, "nickname"),
        ({"status": "done"}, "status"),
        ({"phase": 7}, "phase"),
        ({"phase": "launch"}, "phase"),
        ({"data_categories": ["secret"]}, "data_categories"),
        ({"data_categories": 5}, "data_categories"),
        ({"people_affected": -1}, "people_affected"),
        ({"risk_likelihood": 0}, "risk_likelihood"),
        ({"risk_impact": 6}, "risk_impact"),
        ({"value": "lots"}, "value"),
        ({"value": {"volume": 1}}, "value.volume"),
        ({"value": {"cost_per_hour": "x"}}, "value.cost_per_hour"),
        ({"value": {"cost_per_hour": -5}}, "value.cost_per_hour"),
        ({"value": {"cost_per_hour": "inf"}}, "value.cost_per_hour"),
        ({"value": {"error_rate": 1.5}}, "value.error_rate"),
        ({"value": {"uplift_low": 0.3, "uplift_expected": 0.2, "uplift_high": 0.4}}, "value.uplift_expected"),
        ({"readiness": {"data_available": 5}}, "readiness.data_available"),
        ({"readiness": {"data_available": "most"}}, "readiness.data_available"),
        ({"readiness": [1, 2]}, "readiness"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        from_dict({**MINIMAL, **changes})
    assert err.value.details.get("field") == field


@pytest.mark.parametrize(
    "changes",
    [
        {"people_affected": float("inf")},
        {"risk_likelihood": float("inf")},
        {"value": {"volume_per_year": 10**400}},
        {"readiness": {"data_available": float("inf")}},
    ],
)
def test_overflowing_numbers_are_validation_errors(changes: dict[str, Any]) -> None:
    # json.loads("1e999") is inf: an API body must get a 422, not a crash
    with pytest.raises(ValidationError):
        from_dict({**MINIMAL, **changes})


def test_base_supplies_defaults_and_changes_win() -> None:
    base = from_dict({**MINIMAL, "department": "claims", "people_affected": 10})
    uc = from_dict({"people_affected": 12}, base=base)
    assert uc.department == "claims" and uc.people_affected == 12 and uc.key == base.key


def test_validate_checks_questionnaire_keys_when_given() -> None:
    uc = from_dict({**MINIMAL, "readiness": {"not_a_question": 2}})
    assert validate(uc) is uc  # without the question list any key is accepted
    with pytest.raises(ValidationError) as err:
        validate(uc, readiness_questions=frozenset({"data_available"}))
    assert err.value.details["field"] == "readiness.not_a_question"


def test_with_changes_validates() -> None:
    uc = from_dict(MINIMAL)
    assert uc.with_changes(phase=Phase.ENABLE).phase is Phase.ENABLE
    with pytest.raises(ValidationError):
        uc.with_changes(title="  ")


def test_validate_refuses_non_finite_value_inputs() -> None:
    uc = UseCase("a", "A", "bo", value=ValueInputs(volume_per_year=math.nan))
    with pytest.raises(ValidationError, match=r"value\.volume_per_year"):
        validate(uc)


# --- property: arbitrary input never crashes with anything but a ValidationError ---------

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_field_names = st.sampled_from([*UseCase.__dataclass_fields__, "phase_name", "unknown", "value"]) | st.text(
    max_size=10
)
_value_docs = st.dictionaries(
    st.sampled_from([*ValueInputs.__dataclass_fields__, "nope"]), _scalars | st.text(max_size=6), max_size=4
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=st.dictionaries(_field_names, _values, max_size=8),
    value=st.none() | _value_docs,
    with_required=st.booleans(),
)
def test_from_dict_raises_only_validation_errors(
    doc: dict[str, Any], value: dict[str, Any] | None, with_required: bool
) -> None:
    if value is not None:
        doc = {**doc, "value": value}
    if with_required:
        doc = {**MINIMAL, **doc}
    try:
        uc = from_dict(doc)
    except ValidationError:
        return
    # whatever is accepted is a valid record that survives its stored form
    assert validate(uc) is uc
    assert from_dict(uc.to_dict()) == uc
