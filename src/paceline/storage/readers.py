"""Streaming readers for CSV, Parquet and JSON Lines.

Each reader yields :class:`Batch` objects of bounded size so a file larger than
memory loads in constant memory. Every batch carries the 1-based data-row number
of each row in its file, and rows the reader itself could not parse (a ragged CSV
line, bytes that are not UTF-8, a JSON line that is not an object) as
:class:`RejectedRow` items, so they are quarantined instead of lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from paceline.errors import SchemaError, UsageError

CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_BLOCK_BYTES = 32 << 20  # a single row may be up to this long
ROW_COLUMN = "__row"


@dataclass(frozen=True)
class RejectedRow:
    """A row the reader could not turn into columns."""

    row: int
    column: str | None
    value: str | None
    reason: str
    record: dict[str, Any] | str | None = None


@dataclass
class Batch:
    """Up to ``batch_rows`` rows of one file, with a ``__row`` column of row numbers."""

    data: pa.Table
    rejected: list[RejectedRow] = field(default_factory=list)


def detect_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from the file name, or a :class:`UsageError`."""
    name = path.name.lower()
    for fmt, suffixes in (("csv", CSV_SUFFIXES), ("parquet", PARQUET_SUFFIXES), ("jsonl", JSONL_SUFFIXES)):
        if name.endswith(suffixes):
            return fmt
    raise UsageError(
        f"{path}: cannot tell the format from the file name",
        fix="name the file .csv, .parquet or .jsonl (JSON Lines)",
    )


def read_header(path: Path, fmt: str) -> list[str]:
    """The column names of *path*, without reading its rows."""
    if not path.exists():
        raise UsageError(f"{path}: no such file", fix="check the path")
    if path.stat().st_size == 0:
        raise SchemaError(f"{path}: the file is empty (no header row)", fix="export the table again")
    try:
        if fmt == "parquet":
            return list(pq.ParquetFile(path).schema_arrow.names)
        if fmt == "csv":
            return _csv_header(path)
        return _jsonl_header(path)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(
            f"{path}: not a readable {fmt.upper()} file ({_short(exc)})",
            fix=f"check that the file really is {fmt.upper()}, or rename it to its real format",
        ) from exc


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _csv_header(path: Path) -> list[str]:
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    with path.open("rb") as fh:
        first = fh.readline(CSV_BLOCK_BYTES)
    if b"\x00" in first:
        raise SchemaError(
            f"{path}: the header row holds NUL bytes; this is not a text CSV file",
            fix="check the file really is CSV, or rename it to its real format",
        )
    text = first.decode("utf-8-sig").rstrip("\r\n")
    names = [n.strip().strip('"') for n in text.split(delimiter)]
    if not any(names):
        raise SchemaError(f"{path}: the first line is empty, not a header row", fix="add the header row")
    return names


def _jsonl_header(path: Path) -> list[str]:
    names: dict[str, None] = {}
    with path.open("rb") as fh:
        for i, line in enumerate(fh):
            if i >= 1000:
                break
            try:
                obj = json.loads(line) if line.strip() else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # the row is quarantined when the batches are read
            if isinstance(obj, dict):
                names.update(dict.fromkeys(obj))
    if not names:
        raise SchemaError(f"{path}: no JSON object in the first lines", fix="write one JSON object per line")
    return list(names)


def iter_batches(path: Path, fmt: str, batch_rows: int) -> Iterator[Batch]:
    """Batches of *path* in file order."""
    if fmt == "parquet":
        yield from _parquet_batches(path, batch_rows)
    elif fmt == "csv":
        yield from _csv_batches(path, batch_rows)
    else:
        yield from _jsonl_batches(path, batch_rows)


def count_rows(path: Path, fmt: str) -> int | None:
    """Rows in the file when cheap to know (Parquet metadata), else ``None``."""
    return pq.ParquetFile(path).metadata.num_rows if fmt == "parquet" else None


def _with_rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    return table.append_column(ROW_COLUMN, pa.array(rows, type=pa.int64()))


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[Batch]:
    pf = pq.ParquetFile(path)
    start = 1
    for rb in pf.iter_batches(batch_size=batch_rows):
        n = rb.num_rows
        table = pa.Table.from_batches([rb])
        yield Batch(_with_rows(table, np.arange(start, start + n)))
        start += n


def _csv_batches(path: Path, batch_rows: int) -> Iterator[Batch]:
    names = _csv_header(path)
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    ragged: list[RejectedRow] = []

    def on_invalid(row: Any) -> str:
        line = row.number
        ragged.append(
            RejectedRow(
                row=(line - 1) if line else -1,
                column=None,
                value=None,
                reason="row does not have as many fields as the header",
                record=row.text[:10_000],
            )
        )
        return "skip"

    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES, encoding="utf8"),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.binary())),
    )
    next_row = 1
    pending: list[pa.Table] = []
    pending_rows = 0
    for rb in reader:
        rejected, ragged[:] = list(ragged), []
        rows = _row_numbers(next_row, rb.num_rows, {r.row for r in rejected})
        seen_rows = [int(rows[-1])] if len(rows) else []
        next_row = max(seen_rows + [r.row for r in rejected], default=next_row - 1) + 1
        table, bad = _decode_utf8(pa.Table.from_batches([rb]), rows)
        pending.append(_with_rows(table, _keep(rows, bad) if bad else rows))
        pending_rows += table.num_rows
        if pending_rows >= batch_rows or rejected or bad:
            yield Batch(pa.concat_tables(pending), rejected + bad)
            pending, pending_rows = [], 0
    if pending or ragged:
        yield Batch(pa.concat_tables(pending) if pending else _empty(names), list(ragged))


def _empty(names: list[str]) -> pa.Table:
    return _with_rows(pa.table({n: pa.array([], pa.string()) for n in names}), np.array([], dtype=np.int64))


def _row_numbers(start: int, n: int, skipped: set[int]) -> np.ndarray:
    """The *n* data-row numbers from *start* on, leaving out the rows the parser skipped."""
    if not skipped:
        return np.arange(start, start + n, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    row, i = start, 0
    while i < n:
        if row not in skipped:
            out[i] = row
            i += 1
        row += 1
    return out


def _keep(rows: np.ndarray, bad: list[RejectedRow]) -> np.ndarray:
    drop = {b.row for b in bad}
    return np.array([r for r in rows if r not in drop], dtype=np.int64)


def _decode_utf8(table: pa.Table, rows: np.ndarray) -> tuple[pa.Table, list[RejectedRow]]:
    """Binary CSV columns as text; rows with bytes that are not UTF-8 are rejected."""
    try:
        return table.cast(pa.schema([(n, pa.string()) for n in table.column_names])), []
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    bad: list[RejectedRow] = []
    bad_idx: set[int] = set()
    for name in table.column_names:
        for i, cell in enumerate(table.column(name).to_pylist()):
            try:
                cell.decode("utf-8")
            except UnicodeDecodeError:
                if i not in bad_idx:
                    bad_idx.add(i)
                    bad.append(
                        RejectedRow(
                            int(rows[i]),
                            name,
                            cell.decode("utf-8", "replace"),
                            f"{name} is not valid UTF-8 text",
                            {
                                k: table.column(k)[i].as_py().decode("utf-8", "replace")
                                for k in table.column_names
                            },
                        )
                    )
    keep = [i for i in range(table.num_rows) if i not in bad_idx]
    kept = table.take(pa.array(keep, pa.int64()))
    return kept.cast(pa.schema([(n, pa.string()) for n in kept.column_names])), bad


def _jsonl_batches(path: Path, batch_rows: int) -> Iterator[Batch]:
    names = _jsonl_header(path)
    columns: dict[str, list[str | None]] = {n: [] for n in names}
    rows: list[int] = []
    rejected: list[RejectedRow] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                _jsonl_row(line, number, columns, rows, rejected)
            if len(rows) >= batch_rows:
                yield _jsonl_batch(columns, rows, rejected)
                columns, rows, rejected = {n: [] for n in columns}, [], []
        if rows or rejected:
            yield _jsonl_batch(columns, rows, rejected)


def _jsonl_row(
    line: bytes,
    number: int,
    columns: dict[str, list[str | None]],
    rows: list[int],
    rejected: list[RejectedRow],
) -> None:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        text = line.decode("utf-8", "replace")[:10_000]
        rejected.append(RejectedRow(number, None, None, f"line is not valid JSON ({_short(exc)})", text))
        return
    if not isinstance(obj, dict):
        rejected.append(RejectedRow(number, None, None, "line is not a JSON object", str(obj)[:10_000]))
        return
    for key in obj:
        if key not in columns:
            columns[key] = [None] * len(rows)
    for key, values in columns.items():
        values.append(_as_text(obj.get(key)))
    rows.append(number)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _jsonl_batch(columns: dict[str, list[str | None]], rows: list[int], rejected: list[RejectedRow]) -> Batch:
    table = pa.table({n: pa.array(v, pa.string()) for n, v in columns.items()})
    return Batch(_with_rows(table, np.array(rows, dtype=np.int64)), rejected)
