"""Helpers to write small input files for the loaders."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

TASK_HEADER = ["event_id", "task_id", "use_case", "person_id", "opened_at", "completed_at", "ai_assisted"]


def task_row(i: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": f"e{i}",
        "task_id": f"t{i}",
        "use_case": "claims-triage",
        "person_id": f"emp{i % 7}",
        "opened_at": "2026-03-02T09:00:00Z",
        "completed_at": "2026-03-02T10:30:00Z",
        "ai_assisted": "true",
    }
    row.update(over)
    return row


Writer = Callable[[str, Sequence[dict[str, Any]]], Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> Writer:
    def write(name: str, rows: Sequence[dict[str, Any]], header: Sequence[str] | None = None) -> Path:
        path = tmp_path / name
        cols = list(header or (rows[0].keys() if rows else TASK_HEADER))
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        return path

    return write  # type: ignore[return-value]


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Writer:
    def write(name: str, rows: Sequence[dict[str, Any]]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_parquet(tmp_path: Path) -> Callable[[str, pa.Table], Path]:
    def write(name: str, table: pa.Table) -> Path:
        path = tmp_path / name
        pq.write_table(table, path)
        return path

    return write
