"""Ingestion rules of spec/events.md, good paths and bad paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from paceline.bootstrap import Workspace
from paceline.errors import SchemaError, UsageError
from paceline.storage.ingest import IngestReport
from tests.storage.conftest import TASK_HEADER, Writer, task_row


def balanced(report: IngestReport, rows_in_file: int) -> None:
    assert report.rows_read == rows_in_file
    assert report.loaded + report.duplicates + report.quarantined == rows_in_file


def quarantine(report: IngestReport) -> list[dict[str, Any]]:
    assert report.quarantine_file is not None
    lines = Path(report.quarantine_file).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def frame(ws: Workspace, table: str) -> Any:
    return ws.connect().table(table).to_pandas()


def test_good_rows_load_with_defaults(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    path = write_csv("tasks.csv", [task_row(i) for i in range(5)])
    report = sqlite_workspace.ingest("task_events", path)
    balanced(report, 5)
    assert (report.loaded, report.exit_code, report.notices) == (5, 0, [])
    df = frame(sqlite_workspace, "task_events").sort_values("event_id")
    first = df.iloc[0]
    assert first.started_at == first.opened_at
    assert first.effort_seconds == 5400.0
    assert (first.automation, first.units) == ("none", 1.0)
    assert str(first.completed_at.tz) == "UTC"


def test_missing_required_column_loads_nothing(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    path = write_csv("tasks.csv", [task_row(1)], header=[c for c in TASK_HEADER if c != "completed_at"])
    with pytest.raises(SchemaError) as err:
        sqlite_workspace.ingest("task_events", path)
    assert "completed_at" in err.value.message and "expects:" in err.value.message
    assert err.value.exit_code == 2
    assert len(frame(sqlite_workspace, "task_events")) == 0


@pytest.mark.parametrize(
    ("override", "column", "reason"),
    [
        ({"ai_assisted": "perhaps"}, "ai_assisted", "ai_assisted is not a boolean (true/false/1/0/yes/no)"),
        ({"automation": "robotic"}, "automation", "automation not one of none/partial/full"),
        ({"completed_at": "2026-03-02T08:00:00Z"}, "completed_at", "completed_at before opened_at"),
        ({"opened_at": "yesterday"}, "opened_at", "opened_at is not an ISO 8601 timestamp"),
        ({"units": "lots"}, "units", "units is not a number"),
        ({"quality": "1.5"}, "quality", "quality outside 0..1"),
        ({"person_id": ""}, "person_id", "person_id is required"),
        ({"started_at": "2026-03-02T08:00:00Z"}, "started_at", "started_at before opened_at"),
        ({"effort_seconds": "-3"}, "effort_seconds", "effort_seconds outside 0..inf"),
    ],
)
def test_bad_rows_are_quarantined_with_row_column_value_reason(
    sqlite_workspace: Workspace, write_csv: Writer, override: dict[str, str], column: str, reason: str
) -> None:
    rows = [task_row(i) for i in range(4)]
    rows[2] = task_row(2, **override)
    header = list(dict.fromkeys([*TASK_HEADER, *override]))
    report = sqlite_workspace.ingest("task_events", write_csv("tasks.csv", rows, header=header))
    balanced(report, 4)
    assert (report.loaded, report.quarantined, report.exit_code) == (3, 1, 3)
    assert report.reasons == {reason: 1}
    [bad] = quarantine(report)
    assert (bad["row"], bad["column"], bad["reason"]) == (3, column, reason)
    assert bad["value"] == override[column]
    assert bad["record"]["event_id"] == "e2"


def test_duplicates_within_and_across_files_are_no_ops(
    sqlite_workspace: Workspace, write_csv: Writer
) -> None:
    a = write_csv("a.csv", [task_row(1), task_row(2), task_row(1)])
    b = write_csv("b.csv", [task_row(2), task_row(3)])
    report = sqlite_workspace.ingest("task_events", a, b)
    assert (report.rows_read, report.loaded, report.duplicates) == (5, 3, 2)
    again = sqlite_workspace.ingest("task_events", a, b)
    assert (again.loaded, again.duplicates, again.exit_code) == (0, 5, 0)
    assert sorted(frame(sqlite_workspace, "task_events").event_id) == ["e1", "e2", "e3"]


def test_empty_file_is_refused(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "tasks.csv"
    path.write_bytes(b"")
    with pytest.raises(SchemaError, match="empty"):
        sqlite_workspace.ingest("task_events", path)


def test_header_only_loads_zero_rows(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    report = sqlite_workspace.ingest("task_events", write_csv("tasks.csv", []))
    assert (report.rows_read, report.loaded, report.exit_code) == (0, 0, 0)


def test_wrong_format_for_the_extension(
    sqlite_workspace: Workspace, write_csv: Writer, tmp_path: Path
) -> None:
    fake = tmp_path / "tasks.parquet"
    fake.write_bytes(write_csv("tasks.csv", [task_row(1)]).read_bytes())
    with pytest.raises(SchemaError, match="not a readable PARQUET file") as err:
        sqlite_workspace.ingest("task_events", fake)
    assert "rename" in err.value.details["fix"]
    binary = tmp_path / "tasks2.csv"
    binary.write_bytes(b"PAR1\x00\x01\x02 not text")
    with pytest.raises(SchemaError):
        sqlite_workspace.ingest("task_events", binary)


def test_unknown_extension_and_table(sqlite_workspace: Workspace, tmp_path: Path, write_csv: Writer) -> None:
    odd = tmp_path / "tasks.xlsx"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot tell the format"):
        sqlite_workspace.ingest("task_events", odd)
    with pytest.raises(UsageError, match="unknown table 'tasks'"):
        sqlite_workspace.ingest("tasks", write_csv("t.csv", [task_row(1)]))


def test_non_utf8_bytes_quarantine_only_their_row(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    header = ",".join(TASK_HEADER)
    good = [",".join(str(v) for v in task_row(i).values()) for i in range(3)]
    bad = ",".join(str(v) for v in task_row(9, person_id="Jos\xe9").values()).encode("latin-1")
    path = tmp_path / "tasks.csv"
    path.write_bytes(
        "\n".join([header, good[0], good[1]]).encode() + b"\n" + bad + b"\n" + good[2].encode() + b"\n"
    )
    report = sqlite_workspace.ingest("task_events", path)
    balanced(report, 4)
    assert (report.loaded, report.quarantined) == (3, 1)
    [row] = quarantine(report)
    assert (row["row"], row["column"], row["reason"]) == (3, "person_id", "person_id is not valid UTF-8 text")


def test_a_one_megabyte_line_loads(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    huge = "x" * (1 << 20)
    rows = [task_row(1), task_row(2, priority=huge), task_row(3)]
    report = sqlite_workspace.ingest(
        "task_events", write_csv("tasks.csv", rows, header=[*TASK_HEADER, "priority"])
    )
    balanced(report, 3)
    assert report.loaded == 3
    df = frame(sqlite_workspace, "task_events")
    assert len(df.loc[df.event_id == "e2", "priority"].iloc[0]) == 1 << 20


def test_ragged_rows_are_quarantined_with_their_row_number(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    lines = [",".join(TASK_HEADER)] + [",".join(str(v) for v in task_row(i).values()) for i in range(4)]
    lines.insert(2, "e-short,t,claims-triage")
    path = tmp_path / "tasks.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = sqlite_workspace.ingest("task_events", path)
    balanced(report, 5)
    [row] = quarantine(report)
    assert (row["row"], row["reason"]) == (2, "row does not have as many fields as the header")


def test_row_numbers_survive_batch_boundaries(tmp_path: Path, write_csv: Writer) -> None:
    ws = Workspace.init(tmp_path / "ws", ingest_batch_rows=3)
    rows = [task_row(i) for i in range(10)]
    rows[7] = task_row(7, ai_assisted="?")
    report = ws.ingest("task_events", write_csv("tasks.csv", rows))
    assert [q["row"] for q in quarantine(report)] == [8]
    assert report.loaded == 9


def test_naive_timestamps_are_utc_and_said_so(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    rows = [
        task_row(1, opened_at="2026-03-02T09:00:00", completed_at="2026-03-02T09:30:00"),
        # 10:00+02:00 is 08:00 UTC: before the naive 09:00, read as UTC
        task_row(2, opened_at="2026-03-02T09:00:00", completed_at="2026-03-02T10:00:00+02:00"),
    ]
    report = sqlite_workspace.ingest("task_events", write_csv("tasks.csv", rows))
    assert report.notices == ["timestamps without an offset were read as UTC"]
    assert (report.loaded, report.reasons) == (1, {"completed_at before opened_at": 1})
    opened = frame(sqlite_workspace, "task_events").opened_at.iloc[0].to_pydatetime()
    assert opened == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_offsets_are_converted_to_utc(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    rows = [task_row(1, opened_at="2026-03-02T09:00:00-05:00", completed_at="2026-03-02T23:30:00-05:00")]
    sqlite_workspace.ingest("task_events", write_csv("tasks.csv", rows))
    df = frame(sqlite_workspace, "task_events")
    assert df.completed_at.iloc[0].to_pydatetime() == datetime(2026, 3, 3, 4, 30, tzinfo=UTC)


def test_person_ids_never_reach_the_warehouse(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    rows = [task_row(i, person_id=f"employee-{i:04d}") for i in range(5)]
    rows.append(task_row(99, person_id="system", automation="full"))
    sqlite_workspace.ingest("task_events", write_csv("tasks.csv", rows, header=[*TASK_HEADER, "automation"]))
    blob = b"".join(p.read_bytes() for p in (sqlite_workspace.home / "warehouse").rglob("*.parquet"))
    assert b"employee-00" not in blob
    people = set(frame(sqlite_workspace, "task_events").person_id)
    assert "system" in people and all(p.startswith("p_") for p in people - {"system"})


def test_pseudonyms_are_stable_across_tables(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    sqlite_workspace.ingest("task_events", write_csv("tasks.csv", [task_row(1, person_id="ana")]))
    sqlite_workspace.ingest("people", write_csv("people.csv", [{"person_id": "ana", "team": "claims-east"}]))
    tasks, people = frame(sqlite_workspace, "task_events"), frame(sqlite_workspace, "people")
    assert tasks.person_id.iloc[0] == people.person_id.iloc[0]


def test_people_latest_row_wins(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    sqlite_workspace.ingest("people", write_csv("p1.csv", [{"person_id": "ana", "team": "east"}]))
    sqlite_workspace.ingest("people", write_csv("p2.csv", [{"person_id": "ana", "team": "west"}]))
    again = sqlite_workspace.ingest("people", write_csv("p3.csv", [{"person_id": "ana", "team": "west"}]))
    assert again.duplicates == 1
    assert list(frame(sqlite_workspace, "people").team) == ["west"]


def test_extra_columns_are_kept_in_attributes(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    rows = [task_row(1, channel="phone", region="north")]
    sqlite_workspace.ingest("task_events", write_csv("tasks.csv", rows))
    attrs = json.loads(frame(sqlite_workspace, "task_events").attributes.iloc[0])
    assert attrs == {"channel": "phone", "region": "north"}


def test_jsonl_and_parquet_inputs(
    sqlite_workspace: Workspace, write_jsonl: Writer, write_parquet: Any
) -> None:
    lines = [task_row(1, ai_assisted=True, units=2), task_row(2, ai_assisted=False)]
    report = sqlite_workspace.ingest("task_events", write_jsonl("tasks.jsonl", lines))
    assert report.loaded == 2
    table = pa.table(
        {
            "event_id": ["e3", "e4"],
            "task_id": ["t3", "t4"],
            "use_case": ["claims-triage"] * 2,
            "person_id": ["a", "b"],
            "opened_at": pa.array([datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 9)], pa.timestamp("us")),
            "completed_at": pa.array([datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 8)], pa.timestamp("us")),
            "ai_assisted": [True, False],
            "units": [1.0, 3.0],
        }
    )
    report = sqlite_workspace.ingest("task_events", write_parquet("tasks.parquet", table))
    balanced(report, 2)
    assert (report.loaded, report.quarantined) == (1, 1)
    assert report.notices == ["timestamps without an offset were read as UTC"]
    assert report.reasons == {"completed_at before opened_at": 1}


def test_jsonl_lines_that_are_not_objects(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        json.dumps(task_row(1)) + "\n[1, 2]\n{broken\n" + json.dumps(task_row(2)) + "\n", encoding="utf-8"
    )
    report = sqlite_workspace.ingest("task_events", path)
    balanced(report, 4)
    assert [q["row"] for q in quarantine(report)] == [2, 3]


@pytest.mark.parametrize(
    ("table", "rows", "reason"),
    [
        (
            "survey_responses",
            [{"response_id": "r1", "survey": "nps", "score": "11", "responded_at": "2026-03-02"}],
            "score outside 0..10 for nps",
        ),
        (
            "survey_responses",
            [{"response_id": "r1", "survey": "csat", "score": "0", "responded_at": "2026-03-02"}],
            "score outside 1..5 for csat",
        ),
        (
            "survey_responses",
            [{"response_id": "r1", "survey": "nps", "score": "7.5", "responded_at": "2026-03-02"}],
            "score of an nps response must be a whole number",
        ),
        (
            "usage_events",
            [
                {
                    "event_id": "u1",
                    "person_id": "a",
                    "use_case": "x",
                    "occurred_at": "2026-03-02",
                    "action": "clicked",
                }
            ],
            "action not one of session/suggestion_shown/"
            "suggestion_accepted/suggestion_edited/suggestion_rejected/feedback",
        ),
        (
            "assignments",
            [
                {
                    "person_id": "a",
                    "use_case": "x",
                    "cohort": "pilot",
                    "eligible_from": "2026-03-02",
                    "eligible_to": "2026-01-01",
                }
            ],
            "eligible_to before eligible_from",
        ),
        (
            "labels",
            [
                {
                    "prediction_id": "",
                    "task_id": "",
                    "label": "ok",
                    "labeled_at": "2026-03-02",
                    "source": "review",
                }
            ],
            "prediction_id or task_id is required",
        ),
        (
            "predictions",
            [
                {
                    "prediction_id": "p1",
                    "model": "m",
                    "model_version": "1",
                    "use_case": "x",
                    "predicted_at": "2026-03-02",
                    "prediction": "a",
                    "features": "[1,2]",
                }
            ],
            "features is not a JSON object",
        ),
        (
            "costs",
            [
                {
                    "use_case": "x",
                    "period_start": "2026-03-01",
                    "period_end": "2026-03-31",
                    "category": "license",
                    "amount": "12,5",
                }
            ],
            "amount is not a number",
        ),
    ],
)
def test_table_specific_rules(
    sqlite_workspace: Workspace, write_csv: Writer, table: str, rows: list[dict[str, str]], reason: str
) -> None:
    report = sqlite_workspace.ingest(table, write_csv(f"{table}.csv", rows))
    assert report.reasons == {reason: 1}


def test_every_table_loads_a_good_row(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    good = {
        "people": {"person_id": "a", "team": "east", "role": "adjuster", "hire_date": "2024-05-01"},
        "assignments": {
            "person_id": "a",
            "use_case": "x",
            "cohort": "pilot",
            "eligible_from": "2026-01-01",
            "ai_enabled_from": "2026-02-01",
        },
        "usage_events": {
            "event_id": "u1",
            "person_id": "a",
            "use_case": "x",
            "occurred_at": "2026-03-02T10:00:00Z",
            "action": "Suggestion_Accepted",
        },
        "survey_responses": {
            "response_id": "r1",
            "survey": "NPS",
            "score": "9",
            "responded_at": "2026-03-02",
        },
        "predictions": {
            "prediction_id": "p1",
            "model": "m",
            "model_version": "1",
            "use_case": "x",
            "predicted_at": "2026-03-02",
            "prediction": "route-a",
            "score": "0.8",
            "features": '{"amount": 12}',
        },
        "labels": {
            "prediction_id": "p1",
            "label": "route-b",
            "labeled_at": "2026-03-03",
            "source": "review",
            "labeler": "b",
        },
        "costs": {
            "use_case": "x",
            "period_start": "2026-03-01",
            "period_end": "2026-03-31",
            "category": "compute",
            "amount": "120.5",
        },
    }
    for table, row in good.items():
        report = sqlite_workspace.ingest(table, write_csv(f"{table}.csv", [row]))
        assert (report.loaded, report.quarantined) == (1, 0), (table, report.reasons)
    costs = frame(sqlite_workspace, "costs")
    assert costs.currency.iloc[0] == "EUR"
    assert frame(sqlite_workspace, "usage_events").action.iloc[0] == "suggestion_accepted"
    assert frame(sqlite_workspace, "labels").labeler.iloc[0].startswith("p_")


def test_ingest_is_recorded_in_the_audit_log(sqlite_workspace: Workspace, write_csv: Writer) -> None:
    sqlite_workspace.ingest("task_events", write_csv("tasks.csv", [task_row(1)]))
    check = sqlite_workspace.verify_audit()
    assert check.ok and check.entries == 1


def test_progress_reaches_the_total(
    sqlite_workspace: Workspace, write_parquet: Any, write_csv: Writer
) -> None:
    n = 50_000
    table = pa.table(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "task_id": [f"t{i}" for i in range(n)],
            "use_case": ["claims-triage"] * n,
            "person_id": [f"p{i % 50}" for i in range(n)],
            "opened_at": pa.array([datetime(2026, 3, 2, 9, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")),
            "completed_at": pa.array(
                [datetime(2026, 3, 2, 10, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")
            ),
            "ai_assisted": [i % 2 == 0 for i in range(n)],
        }
    )
    seen: list[tuple[int, int | None]] = []
    sqlite_workspace.ingest(
        "task_events",
        write_parquet("big.parquet", table),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (n, n)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    sqlite_workspace.ingest(
        "task_events",
        write_csv("small.csv", [task_row(1)]),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (1, None)
