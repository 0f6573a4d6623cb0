"""Learning records: the loader (good rows loaded, bad rows reported, duplicates skipped),
pseudonymisation that joins the warehouse, and the phase-4 training evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paceline.bootstrap import Workspace
from paceline.domain.evidence import TrainingEvidence
from paceline.domain.privacy import pseudonymise
from paceline.domain.roles import Grant, Role
from paceline.errors import PermissionDenied
from paceline.services.access import Principal, operator
from paceline.services.gate_service import training_evidence
from paceline.services.training import OPTIONAL, REQUIRED, RowProblem, parse_row, training_summary

OP = operator()
KEY = "claims-triage"


def row(record_id: str, person: str, **kw: Any) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "person_id": person,
        "course": "ai-101",
        "enrolled_on": "2025-01-06",
        **kw,
    }


def _stored(ws: Workspace, use_case: str | None = None) -> list[dict[str, Any]]:
    with ws.lifecycle(readonly=True) as lc:
        return lc.repo.training_records(use_case)  # type: ignore[attr-defined, no-any-return]


# --- parse_row -------------------------------------------------------------------------
def test_parse_row_converts_types() -> None:
    doc = parse_row(row("r1", " alice ", use_case="", completed_on="2025-02-01", score="82.5", pass_mark=70))
    assert doc["person_id"] == "alice" and doc["use_case"] is None
    assert str(doc["enrolled_on"]) == "2025-01-06" and str(doc["completed_on"]) == "2025-02-01"
    assert (doc["score"], doc["pass_mark"]) == (82.5, 70.0)


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"record_id": ""}, "record_id"),
        ({"person_id": None}, "person_id"),
        ({"course": "  "}, "course"),
        ({"enrolled_on": "06/01/2025"}, "enrolled_on"),
        ({"completed_on": "soon"}, "completed_on"),
        ({"completed_on": "2025-01-01"}, "completed_on"),  # before enrolment
        ({"score": "high", "pass_mark": "70"}, "score"),
        ({"score": "-1", "pass_mark": "70"}, "score"),
        ({"score": "nan", "pass_mark": "70"}, "score"),
        ({"score": "80"}, "pass_mark"),
        ({"grade": "A"}, "grade"),
        ({"record_id": "x" * 201}, "record_id"),
        ({"use_case": "u" * 81}, "use_case"),
    ],
)
def test_parse_row_names_the_bad_column(changes: dict[str, Any], column: str) -> None:
    with pytest.raises(RowProblem) as err:
        parse_row({**row("r1", "alice"), **changes})
    assert err.value.column == column and err.value.reason


_cell = st.none() | st.text(max_size=12) | st.integers() | st.floats() | st.dates().map(str)
_columns = st.sampled_from([*REQUIRED, *OPTIONAL, "source", "grade"]) | st.none() | st.text(max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_columns, _cell, max_size=10))
def test_parse_row_raises_only_row_problems(data: dict[Any, Any]) -> None:
    try:
        doc = parse_row(data)
    except RowProblem as p:
        assert p.reason
        return
    assert all(doc[name] for name in ("record_id", "person_id", "course", "enrolled_on"))
    if doc["completed_on"] is not None:
        assert doc["completed_on"] >= doc["enrolled_on"]
    if doc["score"] is not None:
        assert doc["pass_mark"] is not None and doc["score"] >= 0


# --- the loader --------------------------------------------------------------------------
def test_good_rows_load_bad_rows_are_reported_duplicates_skipped(workspace: Workspace) -> None:
    rows = [
        row("r1", "alice", use_case=KEY, completed_on="2025-02-01", score="80", pass_mark="70"),
        row("r2", "bob", enrolled_on="yesterday"),
        row("r1", "alice"),  # the same record twice in one load
        row("r3", "carol", score="90"),
        row("r4", "dave"),
    ]
    report = workspace.record_training(rows, "lms-export.csv")
    assert (report.rows_read, report.loaded, report.duplicates, report.quarantined) == (5, 2, 1, 2)
    assert report.problems == [
        {
            "row": 2,
            "column": "enrolled_on",
            "value": "yesterday",
            "reason": "enrolled_on is not a date: write YYYY-MM-DD",
        },
        {
            "row": 4,
            "column": "pass_mark",
            "value": None,
            "reason": "a score needs the assessment's pass_mark",
        },
    ]
    assert report.to_dict()["quarantined"] == 2
    stored = _stored(workspace)
    assert [r["record_id"] for r in stored] == ["r1", "r4"]
    assert stored[0]["source"] == "lms-export.csv" and stored[0]["score"] == 80.0
    # loading again is idempotent: every record is a duplicate
    again = workspace.record_training(rows[:1] + rows[4:], "again")
    assert (again.loaded, again.duplicates) == (0, 2)
    assert len(_stored(workspace)) == 2


def test_person_ids_are_pseudonymised_with_the_workspace_key(workspace: Workspace) -> None:
    workspace.record_training([row("r1", "alice")], "test")
    (stored,) = _stored(workspace)
    assert "alice" not in stored["person_id"]
    assert stored["person_id"] == pseudonymise(workspace.secret, "alice")


def test_only_people_and_managers_record_training(workspace: Workspace) -> None:
    for role in (Role.BUSINESS_OWNER, Role.DATA_ENGINEER, Role.REVIEWER):
        with pytest.raises(PermissionDenied, match=r"training\.record"):
            workspace.record_training([row("r1", "a")], "x", by=Principal("u", (Grant(role),)))
    hr = Principal("hr", (Grant(Role.PEOPLE),))
    assert workspace.record_training([row("r1", "a")], "x", by=hr).loaded == 1


def test_summary_counts_by_course_never_by_person() -> None:
    records = [
        {"course": "ai-101", "completed_on": "2025-02-01", "score": 80.0, "pass_mark": 70.0},
        {"course": "ai-101", "completed_on": None, "score": None, "pass_mark": None},
        {"course": "ai-201", "completed_on": "2025-02-01", "score": 60.0, "pass_mark": 70.0},
    ]
    assert training_summary(records) == {
        "courses": [
            {"course": "ai-101", "enrolled": 2, "completed": 1, "assessed": 1, "passed": 1},
            {"course": "ai-201", "enrolled": 1, "completed": 1, "assessed": 1, "passed": 0},
        ]
    }


# --- joined with the warehouse: the phase-4 evidence -----------------------------------
def _assignments(ws: Workspace, tmp_path: Path) -> None:
    lines = ["person_id,use_case,cohort,eligible_from,ai_enabled_from"]
    lines += [f"emp-{i},{KEY},wave-1,2025-01-01,2025-01-15" for i in range(1, 6)]
    lines += ["emp-9,other-case,wave-1,2025-01-01,2025-01-15"]
    path = tmp_path / "assignments.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ws.ingest("assignments", path)
    assert report.loaded == 6


def test_training_evidence_counts_eligible_people(workspace: Workspace, tmp_path: Path) -> None:
    _assignments(workspace, tmp_path)
    done = {"completed_on": "2025-02-01"}
    workspace.record_training(
        [
            row("a1", "emp-1", use_case=KEY, **done, score="80", pass_mark="70"),
            row("a2", "emp-2", use_case=KEY, **done, score="60", pass_mark="70"),
            row("a3", "emp-2", use_case=KEY, **done, score="75", pass_mark="70"),  # passed the retake
            row("a4", "emp-3", use_case=KEY),  # enrolled only
            row("a5", "emp-4", **done),  # a general course (no use case) counts
            row("a6", "emp-5", use_case="other-case", **done),  # another use case's course does not
            row("a7", "emp-9", use_case=KEY, **done),  # not eligible for this use case
        ],
        "lms",
    )
    # the stored pseudonyms are the warehouse's, so the records join the assignments
    people = set(workspace.warehouse_connection().table("assignments").person_id.to_pyarrow().to_pylist())
    assert {r["person_id"] for r in _stored(workspace)} <= people
    with workspace.gates(readonly=True) as gates:
        ev = training_evidence(gates.repo, gates.facts, KEY)
    assert ev == TrainingEvidence(eligible=5, enrolled=4, completed=3, assessed=2, passed=2)
    assert ev.completion_rate == 0.6 and ev.pass_rate == 1.0
    with workspace.gates(readonly=True) as gates:
        assert training_evidence(gates.repo, gates.facts, "nobody-eligible") is None


def test_the_phase_4_gate_reads_the_training(workspace: Workspace, tmp_path: Path) -> None:
    _assignments(workspace, tmp_path)
    with workspace.lifecycle() as lc:
        lc.create(OP, {"key": KEY, "title": "Claims triage", "owner": "bo", "phase": "enable"})
    workspace.record_training(
        [row(f"t{i}", f"emp-{i}", use_case=KEY, completed_on="2025-02-01") for i in range(1, 4)], "lms"
    )
    with workspace.gates(readonly=True) as gates:
        decision = gates.evaluate(OP, KEY)
    check = {r.rule: r for r in decision.results}["training_completion"]
    assert check.status.value == "fail" and "3 of 5 eligible people" in check.reason
    workspace.record_training(
        [row(f"t{i}", f"emp-{i}", use_case=KEY, completed_on="2025-02-01") for i in (4, 5)], "lms"
    )
    with workspace.gates(readonly=True) as gates:
        check = {r.rule: r for r in gates.evaluate(OP, KEY).results}["training_completion"]
    assert check.status.value == "pass" and "100.0%" in check.reason
