"""Redaction patterns: what they catch, what they leave, configured names and patterns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.redaction import Redactor, is_sensitive
from paceline.errors import ValidationError

R = Redactor.build(["Alma Ruiz", "Ruiz"], {"badge": r"\bB-\d{4}\b"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to anna.b+ai@clinic.example.org now", "write to [EMAIL] now"),
        ("IBAN DE89 3704 0044 0532 0130 00 paid", "IBAN [IBAN] paid"),
        ("IBAN GB33BUKB20201555555555", "IBAN [IBAN]"),
        ("MRN: 12345678 admitted", "[RECORD] admitted"),
        ("patient no. 4455667 discharged", "[RECORD] discharged"),
        ("call +44 20 7946 0958 today", "call [PHONE] today"),
        ("call (030) 1234-5678", "call [PHONE]"),
        ("seen by Dr. Jones and Prof Anna Berg", "seen by [NAME] and [NAME]"),
        ("alma ruiz and RUIZ", "[NAME] and [NAME]"),
        ("badge B-1234 scanned", "badge [BADGE] scanned"),
    ],
)
def test_personal_data_is_replaced_by_its_tag(text: str, expected: str) -> None:
    assert R.text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "visit on 2026-03-02",
        "dose 50 mg twice",
        "amount 1,250.00 EUR",
        "claim 104233",
        "ICD-10 I10",
        "version 1.2.3",
    ],
)
def test_dates_amounts_and_short_numbers_are_kept(text: str) -> None:
    assert R.text(text) == text


def test_nested_values_keep_their_keys_and_non_text() -> None:
    doc = {"note": "Dr. Jones", "items": ["a@b.io", 3, None], "ok": True}
    assert R.value(doc) == {"note": "[NAME]", "items": ["[EMAIL]", 3, None], "ok": True}


def test_a_bad_configured_pattern_names_its_setting() -> None:
    with pytest.raises(ValidationError, match=r"redaction_patterns\.bad") as err:
        Redactor.build(extra={"bad": "(unclosed"})
    assert err.value.details["field"] == "redaction_patterns.bad"


def test_health_and_biometric_data_make_a_use_case_sensitive() -> None:
    assert is_sensitive(["health"]) and is_sensitive(["biometric", "personal"])
    assert not is_sensitive(["personal", "financial"])


@given(st.text(max_size=200))
def test_redaction_is_idempotent_and_leaves_no_email(text: str) -> None:
    once = R.text(text)
    assert R.text(once) == once
    assert R.patterns[0][1].search(once) is None
