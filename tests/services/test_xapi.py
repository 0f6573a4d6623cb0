"""The xAPI statement parser: what it reads, what it refuses and why; never a crash on odd input."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paceline.domain.learning import Verb
from paceline.services.xapi import (
    Ignored,
    Statement,
    StatementProblem,
    Voiding,
    course_key,
    documents,
    parse_all,
    parse_statement,
)

SID = "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"


def statement(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": SID,
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "emp-0042"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "passed"}},
        "object": {"objectType": "Activity", "id": "https://lms.example/courses/claims-certificate"},
        "result": {"score": {"scaled": 0.82}, "success": True, "completion": True},
        "timestamp": "2025-05-09T10:00:00+02:00",
    }
    doc.update(changes)
    return doc


def test_a_statement_is_read_into_a_learning_event() -> None:
    s = parse_statement(statement())
    assert isinstance(s, Statement)
    assert (s.statement_id, s.person, s.verb, s.score, s.success) == (
        SID,
        "emp-0042",
        Verb.PASSED,
        0.82,
        True,
    )
    assert s.at == datetime(2025, 5, 9, 8, tzinfo=UTC) and not s.naive_time
    assert course_key(s.activity, {}) == "claims-certificate"
    assert course_key(s.activity, {s.activity: "claims-ai-cert"}) == "claims-ai-cert"


def test_the_person_is_the_account_else_the_mailbox() -> None:
    mbox = parse_statement(statement(actor={"mbox": "mailto:Ana.Lopez@Firm.example", "name": "Ana"}))
    assert isinstance(mbox, Statement) and mbox.person == "ana.lopez@firm.example"
    sha = parse_statement(statement(actor={"mbox_sha1sum": "ab" * 20}))
    assert isinstance(sha, Statement) and sha.person == "ab" * 20


def test_raw_scores_are_scaled_and_naive_times_read_as_utc() -> None:
    s = parse_statement(
        statement(result={"score": {"raw": 30, "min": 10, "max": 50}}, timestamp="2025-05-09T10:00:00")
    )
    assert isinstance(s, Statement) and s.score == 0.5 and s.naive_time
    assert s.at == datetime(2025, 5, 9, 10, tzinfo=UTC)
    stored = parse_statement(statement(timestamp=None, stored="2025-05-10T00:00:00Z"))
    assert isinstance(stored, Statement) and stored.at.day == 10


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "not-a-uuid"}, "id"),
        ({"id": None}, "id"),
        ({"actor": {"objectType": "Group", "member": []}}, "actor.objectType"),
        ({"actor": {"name": "nobody"}}, "actor"),
        ({"actor": {"mbox": "ana@firm.example"}}, "actor.mbox"),
        ({"actor": {"account": {"homePage": "x"}}}, "actor.account.name"),
        ({"verb": {}}, "verb.id"),
        ({"verb": "passed"}, "verb"),
        ({"object": {"objectType": "Agent", "mbox": "mailto:a@b"}}, "object.objectType"),
        ({"object": {}}, "object.id"),
        ({"result": {"score": {"scaled": 1.5}}}, "result.score.scaled"),
        ({"result": {"score": {"scaled": "high"}}}, "result.score.scaled"),
        ({"result": {"score": {"raw": 5}}}, "result.score.max"),
        ({"result": {"score": {"raw": 5, "min": 10, "max": 10}}}, "result.score.max"),
        ({"result": {"score": {"raw": 60, "max": 50}}}, "result.score.raw"),
        ({"result": {"success": "yes"}}, "result.success"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": None}, "timestamp"),
    ],
)
def test_a_bad_statement_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(StatementProblem) as err:
        parse_statement(statement(**changes))
    assert err.value.field == field and err.value.reason


def test_other_verbs_are_ignored_and_voiding_withdraws() -> None:
    with pytest.raises(Ignored) as err:
        parse_statement(statement(verb={"id": "http://adlnet.gov/expapi/verbs/experienced"}))
    assert err.value.verb == "experienced"
    cmi5 = parse_statement(statement(verb={"id": "https://w3id.org/xapi/adl/verbs/completed/"}))
    assert isinstance(cmi5, Statement) and cmi5.verb is Verb.COMPLETED
    target = str(uuid.uuid4())
    void = parse_statement(
        {
            "id": SID,
            "actor": {"mbox": "mailto:lms@firm.example"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": target},
        }
    )
    assert void == Voiding(SID, target)


def test_an_unknown_activity_needs_a_key_like_last_segment() -> None:
    with pytest.raises(StatementProblem, match="not a known course"):
        course_key("https://lms.example/courses/Claims Certificate!", {})


def test_documents_read_objects_lists_pages_and_lines() -> None:
    one = statement()
    assert list(documents(json.dumps(one))) == [one]
    assert list(documents(json.dumps([one, one]))) == [one, one]
    assert list(documents(json.dumps({"statements": [one], "more": ""}))) == [one]
    lines = list(documents(json.dumps(one) + "\n\n" + "{broken\n" + json.dumps(one) + "\n"))
    assert lines[0] == one and lines[2] == one
    assert isinstance(lines[1], StatementProblem) and lines[1].field == "line"
    assert list(documents("   ")) == []
    numbered = list(parse_all(lines))
    assert [n for n, _ in numbered] == [1, 2, 3] and isinstance(numbered[1][1], StatementProblem)


# --- properties ---------------------------------------------------------------------------------
names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
verbs = st.sampled_from([v.value for v in Verb])
keys = st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(
    sid=st.uuids(),
    person=names,
    verb=verbs,
    course=keys,
    at=moments,
    scaled=st.none() | st.floats(0, 1),
    success=st.none() | st.booleans(),
)
def test_valid_statements_round_trip(
    sid: uuid.UUID,
    person: str,
    verb: str,
    course: str,
    at: datetime,
    scaled: float | None,
    success: bool | None,
) -> None:
    result: dict[str, Any] = {}
    if scaled is not None:
        result["score"] = {"scaled": scaled}
    if success is not None:
        result["success"] = success
    doc = statement(
        id=str(sid).upper(),
        actor={"account": {"homePage": "https://lms", "name": person}},
        verb={"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        object={"id": f"https://lms.example/c/{course}"},
        result=result,
        timestamp=at.isoformat(),
    )
    s = parse_statement(json.loads(json.dumps(doc)))
    assert isinstance(s, Statement)
    assert (s.statement_id, s.person.strip(), s.verb.value, s.score, s.success) == (
        str(sid),
        person.strip(),
        verb,
        scaled,
        success,
    )
    assert s.at == at and course_key(s.activity, {}) == course


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "id": st.none() | st.text(max_size=40) | st.uuids().map(str),
        "actor": json_values,
        "verb": json_values | st.fixed_dictionaries({"id": st.text(max_size=60)}),
        "object": json_values,
        "result": json_values,
        "timestamp": json_values | moments.map(lambda d: d.isoformat()),
    },
)


@settings(max_examples=300, deadline=None)
@given(doc=fields | json_values)
def test_any_json_is_read_or_refused_never_crashes(doc: Any) -> None:
    try:
        parsed = parse_statement(doc)
    except StatementProblem as p:
        assert p.field and p.reason
    except Ignored as i:
        assert isinstance(i.verb, str)
    else:
        assert isinstance(parsed, Statement | Voiding)
