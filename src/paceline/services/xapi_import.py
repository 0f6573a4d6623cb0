"""Load xAPI statements into the learning store: idempotent, batched, with bad-input reports.

Like every loader: each statement is checked, good ones load, bad ones are reported with
their number, field, value and reason, and nothing good is lost. The statement id makes
loading idempotent (the same statement twice is a duplicate). Statements are written in
batches of :data:`BATCH` with one executemany each, and the import itself is one audited
record (counts and a SHA-256 of the loaded ids), so 100,000 statements cost seconds, not
100,000 audit entries. Person ids are pseudonymised before they are stored; a problem in
an actor field never echoes the raw id.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from paceline.services.xapi import Ignored, Statement, StatementProblem, Voiding, course_key, parse_all

BATCH = 5000
HIDDEN = "(a person id, not shown)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the time of a voiding statement's own row


class StatementStore(Protocol):
    def existing_statements(self, ids: list[str]) -> set[str]: ...
    def insert_statements(self, rows: list[dict[str, Any]]) -> None: ...
    def void_statements(self, ids: list[str]) -> int: ...
    def add_import(self, doc: dict[str, Any], by: str) -> dict[str, Any]: ...


@dataclass
class ImportReport:
    source: str
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    ignored: int = 0
    voided: int = 0
    ignored_verbs: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    import_id: int | None = None

    @property
    def quarantined(self) -> int:
        return len(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "import_id": self.import_id,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "quarantined": self.quarantined,
            "voided": self.voided,
            "ignored_verbs": dict(sorted(self.ignored_verbs.items())),
            "problems": self.problems,
            "notices": self.notices,
        }


class _Loader:
    """The state of one import: the batch waiting to be written and what was seen."""

    def __init__(
        self, store: StatementStore, pseudonymise: Callable[[str], str], source: str, report: ImportReport
    ) -> None:
        self.store, self.source, self.report = store, source[:40], report
        self._pseudonymise = pseudonymise
        self._people: dict[str, str] = {}
        self.batch: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.loaded_ids: list[str] = []
        self.voids: list[str] = []
        self.naive = 0

    def person(self, raw: str) -> str:
        pid = self._people.get(raw)
        if pid is None:
            pid = self._people[raw] = self._pseudonymise(raw)
        return pid

    def add(self, row: dict[str, Any]) -> None:
        if row["statement_id"] in self.seen:
            self.report.duplicates += 1
            return
        self.seen.add(row["statement_id"])
        self.batch.append(row)
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        known = self.store.existing_statements([r["statement_id"] for r in self.batch])
        fresh = [r for r in self.batch if r["statement_id"] not in known]
        self.store.insert_statements(fresh)
        self.report.duplicates += len(self.batch) - len(fresh)
        self.report.loaded += len(fresh)
        self.loaded_ids.extend(r["statement_id"] for r in fresh)
        self.batch = []


def _row(loader: _Loader, s: Statement, course: str) -> dict[str, Any]:
    return {
        "statement_id": s.statement_id,
        "person_id": loader.person(s.person),
        "course": course,
        "verb": s.verb.value,
        "occurred_at": s.at,
        "score": s.score,
        "success": s.success,
        "voided": False,
        "source": loader.source,
        "import_id": None,
    }


def _void_row(loader: _Loader, v: Voiding) -> dict[str, Any]:
    """A voiding statement is kept (so importing it twice is a duplicate) but is nobody's record."""
    return {
        "statement_id": v.statement_id,
        "person_id": "",
        "course": "",
        "verb": "voided",
        "occurred_at": _EPOCH,
        "score": None,
        "success": None,
        "voided": True,
        "source": loader.source,
        "import_id": None,
    }


def _problem(number: int, p: StatementProblem) -> dict[str, Any]:
    value = HIDDEN if p.field.startswith("actor") else p.value
    return {"row": number, "column": p.field, "value": value, "reason": p.reason}


def import_statements(
    store: StatementStore,
    docs: Iterable[Any],
    pseudonymise: Callable[[str], str],
    by_activity: Mapping[str, str],
    source: str,
    fmt: str,
    by: str,
) -> ImportReport:
    """Parse, check and load *docs* (statement objects); returns the report (see the module doc)."""
    report = ImportReport(source=source)
    loader = _Loader(store, pseudonymise, source, report)
    ignored: Counter[str] = Counter()
    for number, parsed in parse_all(docs):
        report.rows_read += 1
        if isinstance(parsed, Ignored):
            ignored[parsed.verb] += 1
            continue
        if isinstance(parsed, StatementProblem):
            report.problems.append(_problem(number, parsed))
            continue
        if isinstance(parsed, Voiding):
            loader.voids.append(parsed.target)
            loader.add(_void_row(loader, parsed))
            continue
        try:
            course = course_key(parsed.activity, by_activity)
        except StatementProblem as p:
            report.problems.append(_problem(number, p))
            continue
        loader.naive += parsed.naive_time
        loader.add(_row(loader, parsed, course))
    loader.flush()
    report.voided = store.void_statements(loader.voids) if loader.voids else 0
    report.ignored, report.ignored_verbs = sum(ignored.values()), dict(ignored)
    if loader.naive:
        report.notices.append(f"{loader.naive} timestamps without an offset were read as UTC")
    digest = hashlib.sha256("\n".join(loader.loaded_ids).encode()).hexdigest()
    doc = {
        "source": source[:200],
        "format": fmt[:20],
        "rows_read": report.rows_read,
        "loaded": report.loaded,
        "duplicates": report.duplicates,
        "ignored": report.ignored,
        "quarantined": report.quarantined,
        "voided": report.voided,
        "digest": digest,
    }
    report.import_id = store.add_import(doc, by)["id"]
    return report
