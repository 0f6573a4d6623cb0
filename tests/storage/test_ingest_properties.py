"""Property tests for the loaders: accounting, round trips, timestamp and boolean parsing."""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paceline.storage.ingest import IngestReport, ingest_files
from paceline.storage.warehouse import Warehouse
from tests.storage.conftest import task_row

COLUMNS = [
    "event_id",
    "task_id",
    "use_case",
    "person_id",
    "opened_at",
    "completed_at",
    "ai_assisted",
    "automation",
    "priority",
]
BREAKERS: dict[str, dict[str, str]] = {
    "bad bool": {"ai_assisted": "perhaps"},
    "bad enum": {"automation": "robot"},
    "bad time": {"opened_at": "not a time"},
    "backwards": {"completed_at": "2026-03-02T08:00:00Z"},
    "no person": {"person_id": "  "},
}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(rows: list[dict[str, Any]], name: str = "tasks.csv") -> tuple[IngestReport, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        wh = Warehouse(Path(tmp) / "wh")
        report = ingest_files(
            wh, "task_events", [path], secret=b"k", quarantine_dir=Path(tmp) / "q", batch_rows=7
        )
        stored = [r for f in wh.data_files("task_events") for r in pq.read_table(f).to_pylist()]
    return report, stored


row_spec = st.tuples(st.integers(0, 12), st.sampled_from([None, *BREAKERS]))


@SETTINGS
@given(st.lists(row_spec, max_size=40))
def test_every_row_is_loaded_duplicate_or_quarantined(specs: list[tuple[int, str | None]]) -> None:
    rows = [task_row(i, **(BREAKERS[b] if b else {})) for i, b in specs]
    report, stored = run(rows)
    valid_ids = [f"e{i}" for i, b in specs if b is None]
    assert report.rows_read == len(rows) == report.loaded + report.duplicates + report.quarantined
    assert report.quarantined == sum(1 for _, b in specs if b)
    assert sorted(r["event_id"] for r in stored) == sorted(set(valid_ids))
    assert report.duplicates == len(valid_ids) - len(set(valid_ids))


text_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=60
)


@SETTINGS
@given(text_values)
def test_text_survives_csv_quoting(value: str) -> None:
    report, stored = run([task_row(1, priority=value)])
    assert report.loaded == 1
    expected = value.strip(" \t\n") or None  # surrounding blanks are trimmed
    assert stored[0]["priority"] == expected


aware = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-14 * 60, 14 * 60)),
)


@SETTINGS
@given(aware, st.sampled_from(["T", " "]))
def test_iso_timestamps_keep_their_instant(moment: datetime, sep: str) -> None:
    text = moment.isoformat(sep=sep)
    report, stored = run([task_row(1, opened_at=text, completed_at=text)])
    assert (report.loaded, report.notices) == (1, [])
    assert stored[0]["opened_at"] == moment.astimezone(UTC)


@SETTINGS
@given(st.sampled_from(["true", "1", "yes", "false", "0", "no"]), st.randoms())
def test_booleans_in_any_case(token: str, rnd: Any) -> None:
    cased = "".join(c.upper() if rnd.random() < 0.5 else c for c in token)
    report, stored = run([task_row(1, ai_assisted=f" {cased} ")])
    assert report.loaded == 1
    assert stored[0]["ai_assisted"] is (token in ("true", "1", "yes"))
