"""Arrow tables with exactly the canonical columns of spec/events.md, built from arrays.

The schemas come from :mod:`paceline.domain.tables` (the same definition the
loaders use), so the demo cannot drift from the contract: a table with a missing,
extra or mistyped column fails here, at generation, not at ingest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paceline.demo.firm.org import USE_CASES, Org
from paceline.demo.firm.work import AUTOMATION, PRIORITIES, SYSTEM, Work
from paceline.domain.tables import ARROW_TYPES, SYSTEM_PERSON, TABLES

TASK_PREFIX = {USE_CASES[0]: "clm", USE_CASES[1]: "enc", USE_CASES[2]: "wo"}
ID_WIDTH = 9


def schema(name: str) -> pa.Schema:
    """The Arrow schema of canonical table *name*."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind]) for c in TABLES[name].columns])


def build(name: str, columns: Mapping[str, Any]) -> pa.Table:
    """Table *name* from *columns*; every canonical column must be given, and no other."""
    target = schema(name)
    if set(columns) != set(target.names):
        raise ValueError(f"{name}: columns {sorted(columns)} are not {sorted(target.names)}")
    arrays = [_array(columns[f.name], f.type) for f in target]
    return pa.Table.from_arrays(arrays, schema=target)


def _array(values: Any, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == kind else values.cast(kind)
    if pa.types.is_timestamp(kind) and isinstance(values, np.ndarray) and values.dtype == np.int64:
        return pa.array(values, type=pa.int64()).cast(kind)
    if pa.types.is_floating(kind) and isinstance(values, np.ndarray):
        return pa.array(values, type=kind, from_pandas=True)  # NaN becomes null
    return pa.array(values, type=kind)


def ids(prefix: str, numbers: np.ndarray, width: int = ID_WIDTH) -> pa.Array:
    """``prefix-000000123`` strings for integer *numbers*, built without a Python loop."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(f"{prefix}-", digits, "")


def task_ids(use_case: str, rows: np.ndarray, offset: int = 0) -> pa.Array:
    """The task id of each task row of *use_case* (rows are positions in time order)."""
    return ids(TASK_PREFIX[use_case], rows + 1 + offset)


def pick(values: Sequence[str], index: np.ndarray) -> pa.Array:
    """Strings by index, as a dictionary lookup done in Arrow."""
    return pc.take(pa.array(list(values), pa.string()), pa.array(index, pa.int64()))


def join(*parts: Any) -> pa.Array:
    """Concatenate string arrays and literals element-wise (JSON objects, ids)."""
    return pc.binary_join_element_wise(*parts, "")


def number_text(values: np.ndarray, decimals: int) -> pa.Array:
    """Numbers as JSON number literals, rounded to *decimals*."""
    rounded = np.round(values, decimals)
    if decimals == 0:
        return pc.cast(pa.array(rounded.astype(np.int64)), pa.string())
    return pc.cast(pa.array(rounded), pa.string())


def person_ids(org: Org, persons: np.ndarray, system: str | None = SYSTEM_PERSON) -> pa.Array:
    """Raw person ids of person numbers; SYSTEM becomes *system* (``system`` or null)."""
    lookup = pa.array([*org.person_id, system], pa.string())
    index = np.where(persons == SYSTEM, org.size, persons)
    return pc.take(lookup, pa.array(index, pa.int64()))


def task_events(org: Org, works: Sequence[Work], offset: int = 0) -> pa.Table:
    """The task_events table of *works*; event ids count across use cases from *offset*."""
    parts = []
    start = offset
    for work in works:
        t = work.tasks
        rows = np.arange(t.size)
        people = t.person
        team = pa.array([*org.team, None], pa.string())
        parts.append(
            build(
                "task_events",
                {
                    "event_id": ids("te", rows + 1 + start),
                    "task_id": task_ids(work.use_case, rows, offset),
                    "use_case": pa.array(np.full(t.size, work.use_case, dtype=object), pa.string()),
                    "person_id": person_ids(org, people),
                    "team": pc.take(team, pa.array(np.where(people == SYSTEM, org.size, people))),
                    "opened_at": t.opened,
                    "started_at": t.started,
                    "completed_at": t.completed,
                    "effort_seconds": t.effort,
                    "ai_assisted": t.assisted,
                    "automation": pick(AUTOMATION, t.automation),
                    "units": np.ones(t.size),
                    "quality": t.quality,
                    "error": t.error,
                    "priority": pick(PRIORITIES, t.priority),
                },
            )
        )
        start += t.size
    return pa.concat_tables(parts)


def dates(values: np.ndarray) -> pa.Array:
    """datetime64[D] (NaT allowed) as an Arrow date column."""
    days = values.astype("datetime64[D]")
    mask = np.isnat(days)
    return pa.array(np.where(mask, 0, days.astype(np.int64)).astype(np.int32), pa.int32(), mask=mask).cast(
        pa.date32()
    )


def people(org: Org) -> pa.Table:
    """One row per person: team, job role, hire date and location."""
    return build(
        "people",
        {
            "person_id": pa.array(list(org.person_id), pa.string()),
            "team": pa.array(list(org.team), pa.string()),
            "role": pa.array(list(org.role), pa.string()),
            "hire_date": dates(org.hire),
            "location": pa.array(list(org.location), pa.string()),
        },
    )


def assignments(org: Org) -> pa.Table:
    """Who is eligible for which use case, in which cohort, and when the AI was switched on."""
    who = np.flatnonzero(org.use_case >= 0)
    return build(
        "assignments",
        {
            "person_id": pa.array(list(org.person_id[who]), pa.string()),
            "use_case": pick(USE_CASES, org.use_case[who]),
            "cohort": pa.array(list(org.cohort[who]), pa.string()),
            "eligible_from": dates(org.eligible_from[who]),
            "eligible_to": pa.nulls(who.size, pa.date32()),
            "ai_enabled_from": dates(org.enabled_from[who]),
        },
    )
