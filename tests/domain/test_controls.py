"""Frameworks and controls: parsing with named errors, applicability, status from dated evidence."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.controls import (
    Applicability,
    ControlState,
    EvidenceItem,
    EvidenceKind,
    applicable,
    control_status,
    control_to_doc,
    parse_control,
    parse_framework,
)
from paceline.errors import ValidationError

DAY = date(2026, 3, 2)


def fw(**controls: Any) -> dict[str, Any]:
    return {
        "key": "acme",
        "title": "Acme policy",
        "controls": [{"id": "P-1", "title": "Owner named", **controls}],
    }


def test_a_framework_parses_with_defaults() -> None:
    parsed = parse_framework(fw())
    c = parsed.controls[0]
    assert c.ref == "acme/P-1"
    assert c.evidence == (EvidenceKind.DOCUMENT,) and c.max_age_days == 365
    assert c.applies == Applicability()


def test_the_top_level_rule_is_the_default_of_each_control() -> None:
    doc = fw() | {"applies": {"tiers": ["high"]}}
    doc["controls"].append({"id": "P-2", "title": "Later", "applies": {"phase_from": 5}})
    parsed = parse_framework(doc)
    assert parsed.controls[0].applies.tiers == {"high"}
    assert parsed.controls[1].applies.tiers == {"high"} and parsed.controls[1].applies.phase_from == 5


@pytest.mark.parametrize(
    ("doc", "field", "message"),
    [
        ([], "framework", "mapping"),
        ({"key": "Acme!", "title": "x", "controls": [{"id": "a", "title": "b"}]}, "key", "lower-case"),
        ({"key": "acme", "title": "x", "controls": []}, "controls", "non-empty"),
        (
            {"key": "acme", "title": "x", "owner": "me", "controls": [{"id": "a", "title": "b"}]},
            "owner",
            "not a framework field",
        ),
        (fw(evidence=["fax"]), "controls[0].evidence", "'fax' is not one of"),
        (fw(applies={"tiers": ["huge"]}), "controls[0].applies.tiers", "'huge' is not one of"),
        (fw(applies={"phase_from": 9}), "controls[0].applies.phase_from", "phase number"),
        (fw(applies={"region": "EU"}), "controls[0].applies.region", "not a known rule"),
        (fw(max_age_days=0), "controls[0].max_age_days", "between 1 and 3660"),
        (fw(colour="red"), "controls[0].colour", "not a control field"),
        ({"key": "acme", "title": "x", "controls": [{"title": "b"}]}, "controls[0].id", "required"),
    ],
)
def test_bad_frameworks_name_the_field(doc: Any, field: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as err:
        parse_framework(doc)
    assert err.value.details["field"] == field


def test_duplicate_control_ids_are_refused() -> None:
    doc = fw()
    doc["controls"].append({"id": "P-1", "title": "Again"})
    with pytest.raises(ValidationError, match="appears twice") as err:
        parse_framework(doc)
    assert err.value.details["field"] == "controls[1].id"


def test_applicability_by_tier_data_and_phase() -> None:
    rule = Applicability(frozenset({"high"}), frozenset({"health"}), 5)
    assert rule.matches("high", ["health", "personal"], 5)
    assert not rule.matches("limited", ["health"], 6)
    assert not rule.matches("high", ["personal"], 6)
    assert not rule.matches("high", ["health"], 4)
    assert Applicability(sensitive_only=True).matches("minimal", ["biometric"], 1)
    assert not Applicability(sensitive_only=True).matches("minimal", ["financial"], 1)
    controls = parse_framework(fw(applies={"phase_from": 3})).controls
    assert applicable(controls, "minimal", [], 2) == []
    assert len(applicable(controls, "minimal", [], 3)) == 1


def item(kind: EvidenceKind, dated: date, **kw: Any) -> EvidenceItem:
    return EvidenceItem(kind, "x", dated, **kw)


def test_status_met_then_expired_then_open() -> None:
    c = parse_framework(fw(evidence=["document", "training_completion"], max_age_days=30)).controls[0]
    assert control_status(c, [], "uc", DAY).state is ControlState.OPEN
    fresh = item(EvidenceKind.TRAINING_COMPLETION, DAY - timedelta(days=29), use_case="uc")
    s = control_status(c, [fresh], "uc", DAY)
    assert s.state is ControlState.MET and s.until == DAY + timedelta(days=1)
    assert control_status(c, [fresh], "uc", DAY + timedelta(days=1)).state is ControlState.EXPIRED
    # evidence dated after the day does not count yet (an honest status as of a past day)
    assert control_status(c, [fresh], "uc", DAY - timedelta(days=30)).state is ControlState.OPEN


def test_an_upload_expires_on_its_own_date_and_only_counts_for_its_control() -> None:
    c = parse_framework(fw()).controls[0]
    doc = item(EvidenceKind.DOCUMENT, DAY - timedelta(days=10), expires=DAY, control="acme/P-1")
    assert control_status(c, [doc], "uc", DAY - timedelta(days=1)).state is ControlState.MET
    assert control_status(c, [doc], "uc", DAY).state is ControlState.EXPIRED
    other = item(EvidenceKind.DOCUMENT, DAY, control="acme/P-9")
    assert control_status(c, [other], "uc", DAY).state is ControlState.OPEN


def test_evidence_of_another_use_case_does_not_count_but_program_wide_does() -> None:
    c = parse_framework(fw(evidence=["management_review"])).controls[0]
    theirs = item(EvidenceKind.MANAGEMENT_REVIEW, DAY, use_case="other")
    program = item(EvidenceKind.MANAGEMENT_REVIEW, DAY, use_case=None)
    assert control_status(c, [theirs], "uc", DAY).state is ControlState.OPEN
    assert control_status(c, [program], "uc", DAY).state is ControlState.MET


ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ._()/-]{0,20}", fullmatch=True)
kinds = st.lists(st.sampled_from([k.value for k in EvidenceKind]), min_size=1, unique=True)


@given(
    ids, st.text(min_size=1, max_size=50).filter(str.strip), kinds, st.integers(1, 6), st.integers(1, 3660)
)
def test_a_control_round_trips_through_its_import_form(
    cid: str, title: str, evidence: list[str], phase: int, age: int
) -> None:
    doc = {
        "id": cid,
        "title": title,
        "evidence": evidence,
        "applies": {"phase_from": phase},
        "max_age_days": age,
    }
    c = parse_control(doc, "acme", "c", Applicability())
    assert parse_control(control_to_doc(c), "acme", "c", Applicability()) == c
