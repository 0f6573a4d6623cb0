"""Loading files into the canonical tables.

One pass per file, in bounded batches: parse and check in DuckDB, quarantine the
rows that break a rule (with row number, column, value and reason), pseudonymise
person ids, drop rows whose identity is already stored (idempotent by id), and
stream the rest into one new Parquet file that is published atomically when the
ingest finishes. An interrupted ingest publishes nothing, so running it again is
always safe.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from paceline.domain.privacy import pseudonymise
from paceline.domain.tables import TABLES, Table
from paceline.errors import SchemaError, UsageError
from paceline.storage import readers
from paceline.storage.duck import arrow_table
from paceline.storage.ingest_sql import NAIVE_COLUMN, BatchQuery, build_query, q
from paceline.storage.warehouse import INGEST_ID, KEY, ROW, Warehouse, key_column, stored_schema

Progress = Callable[[int, int | None], None]
NAIVE_NOTICE = "timestamps without an offset were read as UTC"


@dataclass
class IngestReport:
    """What an ingest did; ``rows_read == loaded + duplicates + quarantined`` always."""

    table: str
    files: list[str]
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantine_file: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every row loaded or was a duplicate, 3 when some were quarantined."""
        return 3 if self.quarantined else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "files": self.files,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "quarantine_file": self.quarantine_file,
            "reasons": dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            "notices": self.notices,
        }


def resolve_table(name: str) -> Table:
    """The canonical table *name*, or a :class:`UsageError` listing the valid names."""
    try:
        return TABLES[name]
    except KeyError:
        raise UsageError(
            f"unknown table {name!r}", fix=f"use one of: {', '.join(TABLES)}"
        ) from None


def check_header(table: Table, path: Path, names: Sequence[str]) -> None:
    """Raise :class:`SchemaError` when a required column is missing from *names*."""
    present = set(names)
    missing = [c for c in table.required_names if c not in present]
    missing += [" or ".join(g) for g in table.one_of_required if not present.intersection(g)]
    if missing:
        expected = ", ".join(
            f"{c.name}{'' if c.required else ' (optional)'}" for c in table.columns
        )
        raise SchemaError(
            f"{path}: required column{'s' if len(missing) > 1 else ''} missing: "
            f"{', '.join(missing)}. Table {table.name} expects: {expected}",
            missing=missing,
            fix="add the column (names are case-sensitive) and ingest again",
        )


@contextmanager
def table_lock(folder: Path) -> Iterator[None]:
    """Serialise ingests of one table across processes (readers are never blocked)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".ingest.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _Quarantine:
    """Writes bad rows as JSON Lines, creating the file only when there is one."""

    def __init__(self, folder: Path, table: str, stamp: str) -> None:
        self.path = folder / f"{table}-{stamp}.jsonl"
        self.folder = folder
        self.reasons: Counter[str] = Counter()
        self._fh: Any = None

    def add(self, file: str, row: int, column: str | None, value: Any, reason: str,
            record: Any) -> None:
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._fh = os.fdopen(fd, "w", encoding="utf-8")
        line = {"file": file, "row": row, "column": column, "value": value, "reason": reason,
                "record": record}
        self._fh.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
        self.reasons[reason] += 1

    @property
    def count(self) -> int:
        return sum(self.reasons.values())

    def close(self) -> str | None:
        if self._fh is None:
            return None
        self._fh.close()
        return str(self.path)


class _Pseudonymiser:
    """HMAC person ids once per distinct value (a file has few people, many rows)."""

    def __init__(self, secret: bytes, keep: Sequence[str]) -> None:
        self.secret = secret
        self.keep = set(keep)
        self.cache: dict[str, str] = {}

    def column(self, values: pa.ChunkedArray) -> pa.Array:
        encoded = pc.dictionary_encode(values).combine_chunks()
        uniques = encoded.dictionary.to_pylist()
        mapped = [self._one(v) for v in uniques]
        return pc.take(pa.array(mapped, pa.string()), encoded.indices)

    def _one(self, value: str | None) -> str | None:
        if value is None or value in self.keep:
            return value
        hit = self.cache.get(value)
        if hit is None:
            hit = self.cache[value] = pseudonymise(self.secret, value)
        return hit


class _Loader:
    """State of one ingest call: the DuckDB session, the writer and the counters."""

    def __init__(self, warehouse: Warehouse, table: Table, secret: bytes, currency: str,
                 quarantine_dir: Path, stamp: str) -> None:
        self.table, self.currency = table, currency
        self.folder = warehouse.table_dir(table.name)
        self.schema = stored_schema(table)
        self.key = key_column(table)
        self.ingest_id = stamp
        self.con = duckdb.connect(config={"threads": max(os.cpu_count() or 1, 1)})
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = true")
        self._load_seen(warehouse)
        self.pseudo = _Pseudonymiser(secret, table.keep_literal_person_ids)
        self.quarantine = _Quarantine(quarantine_dir, table.name, stamp)
        self.tmp = self.folder / f".part-{stamp}.parquet.tmp"
        self.writer: pq.ParquetWriter | None = None
        self.loaded = self.duplicates = self.read = self.naive = 0

    def _load_seen(self, warehouse: Warehouse) -> None:
        files = warehouse.data_files(self.table.name)
        self.con.execute("CREATE TABLE seen (k VARCHAR)")
        if files:
            listing = ", ".join(f"'{f}'" for f in files)
            self.con.execute(f"INSERT INTO seen SELECT {q(self.key)} FROM read_parquet([{listing}])")

    def load_file(self, path: Path, fmt: str, batch_rows: int, progress: Progress | None) -> None:
        total = readers.count_rows(path, fmt)
        for batch in readers.iter_batches(path, fmt, batch_rows):
            for bad in batch.rejected:
                self.quarantine.add(str(path), bad.row, bad.column, bad.value, bad.reason, bad.record)
            self.read += len(batch.rejected) + batch.data.num_rows
            if batch.data.num_rows:
                self._load_batch(str(path), batch.data)
            if progress:
                progress(self.read, total)

    def _load_batch(self, file: str, raw: pa.Table) -> None:
        query = build_query(self.table, raw.schema, "raw_batch", self.currency)
        self.con.register("raw_batch", raw)
        result = arrow_table(self.con.execute(query.sql))
        self.con.unregister("raw_batch")
        checks = result.column("__check")
        self._quarantine_rows(file, raw, result, checks, query)
        good = result.filter(pc.equal(checks, 0))
        self.naive += pc.sum(good.column(NAIVE_COLUMN)).as_py() or 0
        good = good.drop_columns(["__check", NAIVE_COLUMN])
        for name in self.table.pseudonymised_names:
            good = good.set_column(good.schema.get_field_index(name), name,
                                   self.pseudo.column(good.column(name)))
        fresh = self._drop_seen(good)
        self.duplicates += good.num_rows - fresh.num_rows
        self._write(fresh)

    def _quarantine_rows(self, file: str, raw: pa.Table, result: pa.Table, checks: pa.ChunkedArray,
                         query: BatchQuery) -> None:
        bad_idx = pc.indices_nonzero(pc.greater(checks, 0)).to_pylist()
        if not bad_idx:
            return
        rows = result.column(readers.ROW_COLUMN)
        names = [n for n in raw.column_names if n != readers.ROW_COLUMN]
        for i in bad_idx:
            check = query.checks[checks[i].as_py() - 1]
            record = {n: _plain(raw.column(n)[i].as_py()) for n in names}
            value = record.get(check.column) if check.column else None
            self.quarantine.add(file, rows[i].as_py(), check.column, value, check.reason, record)

    def _drop_seen(self, good: pa.Table) -> pa.Table:
        if self.key == KEY:
            good = good.append_column(KEY, _row_keys(good, self.table))
        self.con.register("good", good)
        fresh = arrow_table(self.con.execute(f"""
            WITH hits AS (SELECT k FROM seen WHERE k IN (SELECT {q(self.key)} FROM good))
            SELECT * FROM good
            WHERE {q(self.key)} NOT IN (SELECT k FROM hits)
            QUALIFY row_number() OVER (PARTITION BY {q(self.key)} ORDER BY {readers.ROW_COLUMN}) = 1
        """))
        self.con.unregister("good")
        self.con.register("fresh", fresh)
        self.con.execute(f"INSERT INTO seen SELECT {q(self.key)} FROM fresh")
        self.con.unregister("fresh")
        return fresh

    def _write(self, fresh: pa.Table) -> None:
        if not fresh.num_rows:
            return
        fresh = fresh.rename_columns([ROW if n == readers.ROW_COLUMN else n for n in fresh.column_names])
        fresh = fresh.append_column(INGEST_ID, pa.repeat(pa.scalar(self.ingest_id), fresh.num_rows))
        fresh = fresh.select(self.schema.names).cast(self.schema)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        self.writer.write_table(fresh, row_group_size=1 << 20)
        self.loaded += fresh.num_rows

    def finish(self) -> str | None:
        """Publish the new file (if any rows loaded) and close the quarantine."""
        if self.writer is not None:
            self.writer.close()
            os.replace(self.tmp, self.folder / f"part-{self.ingest_id}.parquet")
        self.con.close()
        return self.quarantine.close()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)
        self.con.close()
        partial = self.quarantine.close()
        if partial:
            Path(partial).unlink(missing_ok=True)


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row_keys(good: pa.Table, table: Table) -> pa.Array:
    """A stable hash of every canonical column, for tables without an id."""
    con = duckdb.connect()
    con.register("g", good.select(list(table.column_names)))
    # Length-prefixed values: no two different rows can encode to the same string.
    parts = ", ".join(
        f"COALESCE(length(CAST({q(c)} AS VARCHAR)) || ':' || CAST({q(c)} AS VARCHAR), '-')"
        for c in table.column_names
    )
    keys = arrow_table(con.execute(f"SELECT md5(concat_ws(',', {parts})) AS k FROM g"))
    con.close()
    return keys.column("k").combine_chunks()


def new_ingest_id() -> str:
    """Sortable by time (the people view keeps the latest row), unique across processes."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)


def ingest_files(
    warehouse: Warehouse,
    table_name: str,
    paths: Sequence[str | Path],
    *,
    secret: bytes,
    quarantine_dir: Path,
    currency: str = "EUR",
    batch_rows: int = 1_000_000,
    progress: Progress | None = None,
) -> IngestReport:
    """Load *paths* into *table_name*; see the module docstring for the guarantees."""
    table = resolve_table(table_name)
    files = [Path(p) for p in paths]
    if not files:
        raise UsageError("no file given", fix="name one or more CSV, Parquet or JSON Lines files")
    formats = []
    for path in files:
        fmt = readers.detect_format(path)
        check_header(table, path, readers.read_header(path, fmt))
        formats.append(fmt)
    warehouse.ensure_layout()
    report = IngestReport(table.name, [str(p) for p in files])
    with table_lock(warehouse.table_dir(table.name)):
        loader = _Loader(warehouse, table, secret, currency, quarantine_dir, new_ingest_id())
        try:
            for path, fmt in zip(files, formats, strict=True):
                loader.load_file(path, fmt, batch_rows, progress)
        except (pa.ArrowInvalid, OSError) as exc:
            loader.abort()
            raise SchemaError(
                f"{path}: could not be read past row {loader.read} ({str(exc).splitlines()[0][:200]})",
                fix="check the file is complete and in the format its name says; nothing was loaded",
            ) from exc
        except BaseException:
            loader.abort()
            raise
        report.quarantine_file = loader.finish()
    report.rows_read, report.loaded, report.duplicates = loader.read, loader.loaded, loader.duplicates
    report.quarantined = loader.quarantine.count
    report.reasons = dict(loader.quarantine.reasons)
    if loader.naive:
        report.notices.append(NAIVE_NOTICE)
    return report
