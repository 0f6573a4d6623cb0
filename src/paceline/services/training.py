"""Learning records (enrollment, completion, assessment) for the phase-4 gate.

Records arrive from the CLI (a CSV file), the API (JSON rows) or a form. Like every
loader: each row is checked, good rows are loaded, bad rows are reported with their row
number, field, value and the fix, and nothing good is lost. ``record_id`` makes loading
idempotent (the same record twice is a duplicate, not a second completion). Person ids are
pseudonymised with the workspace key before they are stored, so they join the warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from paceline.domain.roles import Action
from paceline.services.access import Principal
from paceline.services.lifecycle import LifecycleRepository

REQUIRED = ("record_id", "person_id", "course", "enrolled_on")
OPTIONAL = ("use_case", "completed_on", "score", "pass_mark")
MAX_LENGTH = {"record_id": 200, "course": 200, "use_case": 80}  # the stored columns' sizes


@dataclass
class TrainingReport:
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return len(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "problems": self.problems,
        }


class RowProblem(ValueError):
    def __init__(self, column: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def _day(row: dict[str, Any], name: str, required: bool) -> date | None:
    text = _text(row, name)
    if not text:
        if required:
            raise RowProblem(name, row.get(name), f"{name} is required (YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise RowProblem(name, text, f"{name} is not a date: write YYYY-MM-DD") from None


def _number(row: dict[str, Any], name: str) -> float | None:
    text = _text(row, name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RowProblem(name, text, f"{name} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise RowProblem(name, text, f"{name} must be a finite number, 0 or more")
    return value


def parse_row(row: dict[str, Any]) -> dict[str, Any]:
    """One learning record in stored form (person not yet pseudonymised), or a :class:`RowProblem`."""
    for name in REQUIRED:
        if not _text(row, name):
            raise RowProblem(name, row.get(name), f"{name} is required")
    # key=str: a CSV row with more values than headers has a None key next to the names
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL) - {"source"}, key=str)
    if unknown:
        raise RowProblem(
            unknown[0], row[unknown[0]], f"unknown column; the columns are {REQUIRED + OPTIONAL}"
        )
    for name, limit in MAX_LENGTH.items():
        if len(_text(row, name)) > limit:
            raise RowProblem(name, _text(row, name)[:40] + "…", f"{name} is longer than {limit} characters")
    enrolled = _day(row, "enrolled_on", True)
    completed = _day(row, "completed_on", False)
    if completed is not None and enrolled is not None and completed < enrolled:
        raise RowProblem("completed_on", str(completed), "completed_on is before enrolled_on")
    score, mark = _number(row, "score"), _number(row, "pass_mark")
    if score is not None and mark is None:
        raise RowProblem("pass_mark", row.get("pass_mark"), "a score needs the assessment's pass_mark")
    return {
        "record_id": _text(row, "record_id"),
        "person_id": _text(row, "person_id"),
        "use_case": _text(row, "use_case") or None,
        "course": _text(row, "course"),
        "enrolled_on": enrolled,
        "completed_on": completed,
        "score": score,
        "pass_mark": mark,
    }


def record_training(
    repo: LifecycleRepository,
    by: Principal,
    rows: Iterable[dict[str, Any]],
    pseudonymise: Callable[[str], str],
    source: str,
) -> TrainingReport:
    """Load learning records: good rows stored, duplicates skipped, bad rows reported."""
    by.require(Action.TRAINING_RECORD)
    report = TrainingReport()
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        report.rows_read += 1
        try:
            doc = parse_row(row)
        except RowProblem as p:
            report.problems.append({"row": number, "column": p.column, "value": p.value, "reason": p.reason})
            continue
        if doc["record_id"] in seen or repo.has_training_record(doc["record_id"]):
            report.duplicates += 1
            continue
        seen.add(doc["record_id"])
        repo.add_training_record({**doc, "person_id": pseudonymise(doc["person_id"]), "source": source[:40]})
        report.loaded += 1
    return report


def training_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by course (never per person): enrolled, completed, assessed, passed."""
    courses: dict[str, dict[str, int]] = {}
    for r in records:
        c = courses.setdefault(r["course"], {"enrolled": 0, "completed": 0, "assessed": 0, "passed": 0})
        c["enrolled"] += 1
        c["completed"] += r["completed_on"] is not None
        if r["score"] is not None and r["pass_mark"] is not None:
            c["assessed"] += 1
            c["passed"] += r["score"] >= r["pass_mark"]
    return {"courses": [{"course": k, **v} for k, v in sorted(courses.items())]}
