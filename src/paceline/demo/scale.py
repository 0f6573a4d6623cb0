"""``paceline demo --scale N``: N task events of the demo's shape, for benchmarks.

A firm large enough for N events is generated one slice of its people at a time
(``--chunk`` events per slice, a million by default) and appended to one Parquet
file as a row group per slice, so memory stays flat however large N is. Each
slice is an independent draw of the default firm's teams (its own random stream),
with its own people (``emp-0000001`` ...), so ids stay unique across slices.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from paceline.demo.firm import generate_workload
from paceline.demo.firm.rng import stream
from paceline.demo.firm.tables import ids, schema, task_events
from paceline.demo.params import FirmParams, Workforce
from paceline.errors import UsageError

FILE_NAME = "task_events.parquet"
FIRST_GUESS = 1_500.0  # task events per person over 18 months; corrected after the first slice
HEADROOM = 1.15  # draw a little more than needed, then keep exactly what is needed

ScaleProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ScaleReport:
    """What ``--scale`` wrote, and how fast."""

    path: Path
    rows: int
    slices: int
    people: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "rows": self.rows,
            "slices": self.slices,
            "people": self.people,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
        }


def _slice(
    params: FirmParams, people: int, seed: int, part: int, first_person: int, first_task: int
) -> tuple[pa.Table, int]:
    """One slice's task events and its head count; people and task numbers continue the slices before."""
    sized = replace(params, workforce=replace(params.workforce, employees=people))
    work = generate_workload(sized, seed, (part,))
    renamed = ids("emp", np.arange(first_person + 1, first_person + work.org.size + 1), width=7)
    org = replace(work.org, person_id=renamed.to_numpy(zero_copy_only=False))
    return task_events(org, work.works, offset=first_task), work.org.size


def write_scale(
    rows: int,
    out: str | Path,
    *,
    seed: int = 0,
    chunk_rows: int = 1_000_000,
    params: FirmParams | None = None,
    progress: ScaleProgress | None = None,
) -> ScaleReport:
    """Write exactly *rows* task events to ``<out>/task_events.parquet``; see the module docstring."""
    if rows < 1 or chunk_rows < 1:
        raise UsageError(f"--scale needs a positive number of rows, got {rows}", fix="e.g. --scale 10000000")
    params = params or FirmParams()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    target, partial = folder / FILE_NAME, folder / f".{FILE_NAME}.partial"
    started = time.perf_counter()
    written = id_base = people_total = part = 0
    per_person = FIRST_GUESS
    with pq.ParquetWriter(partial, schema("task_events"), compression="zstd") as writer:
        while written < rows:
            want = min(chunk_rows, rows - written)
            people = max(Workforce.employees // 20, math.ceil(want * HEADROOM / per_person))
            table, size = _slice(params, people, seed, part, people_total, id_base)
            per_person, id_base, people_total = (
                table.num_rows / size,
                id_base + table.num_rows,
                people_total + size,
            )
            table = _keep(table, want, seed, part, written)
            writer.write_table(table, row_group_size=table.num_rows)
            written, part = written + table.num_rows, part + 1
            if progress:
                progress(written, rows)
    os.replace(partial, target)
    return ScaleReport(target, written, part, people_total, time.perf_counter() - started)


def _keep(table: pa.Table, want: int, seed: int, part: int, written: int) -> pa.Table:
    """Exactly *want* rows (a uniform sample when there are more), event ids from *written* + 1."""
    if table.num_rows > want:
        chosen = np.sort(stream(seed, "scale", part).choice(table.num_rows, want, replace=False))
        table = table.take(pa.array(chosen))
    return table.set_column(
        0, "event_id", ids("te", np.arange(written + 1, written + table.num_rows + 1), 10)
    )
