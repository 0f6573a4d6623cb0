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
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from paceline.domain.privacy import pseudonymise
from paceline.domain.tables import TABLES, Table
from paceline.errors import SchemaError, UsageError
from paceline.storage import readers
from paceline.storage.duck import arrow_table
from paceline.storage.ingest_sql import BatchQuery, build_query, q
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
        raise UsageError(f"unknown table {name!r}", fix=f"use one of: {', '.join(TABLES)}") from None


def check_header(table: Table, path: Path, names: Sequence[str]) -> None:
    """Raise :class:`SchemaError` when a required column is missing from *names*."""
    present = set(names)
    missing = [c for c in table.required_names if c not in present]
    missing += [" or ".join(g) for g in table.one_of_required if not present.intersection(g)]
    if missing:
        expected = ", ".join(f"{c.name}{'' if c.required else ' (optional)'}" for c in table.columns)
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

    def add(self, file: str, row: int, column: str | None, value: Any, reason: str, record: Any) -> None:
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._fh = os.fdopen(fd, "w", encoding="utf-8")
        line = {
            "file": file,
            "row": row,
            "column": column,
            "value": value,
            "reason": reason,
            "record": record,
        }
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


class _Pseudonyms:
    """HMAC each distinct person id once, into a DuckDB lookup table ``pseudonyms``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, secret: bytes, keep: Sequence[str]) -> None:
        self.con, self.secret, self.keep = con, secret, set(keep)
        self.known: set[str] = set()
        con.execute("CREATE TABLE pseudonyms (raw VARCHAR PRIMARY KEY, pseudo VARCHAR)")

    def add(self, values: Sequence[str]) -> None:
        fresh = [v for v in values if v not in self.known]
        if not fresh:
            return
        mapped = [v if v in self.keep else pseudonymise(self.secret, v) for v in fresh]
        self.con.register("fresh_pseudonyms", pa.table({"raw": fresh, "pseudo": mapped}))
        self.con.execute("INSERT INTO pseudonyms SELECT raw, pseudo FROM fresh_pseudonyms")
        self.con.unregister("fresh_pseudonyms")
        self.known.update(fresh)


class _Watcher:
    """Reports progress through one file's DuckDB passes by polling ``query_progress``.

    The passes of a Parquet file run inside DuckDB for seconds at a time on large
    files; this thread turns DuckDB's own progress into rows done for the bar.
    """

    PASSES = 4  # people, checks, repeated ids, copy

    def __init__(self, con: duckdb.DuckDBPyConnection, progress: Progress | None, base: int, rows: int,
                 total: int | None) -> None:
        self.con, self.progress, self.base, self.rows, self.total = con, progress, base, rows, total
        self.passes_done = 0
        self._best = base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _Watcher:
        if self.progress is not None:
            self.con.execute("SET enable_progress_bar = true")
            self._thread.start()
        return self

    def next_pass(self) -> None:
        self.passes_done += 1

    def _poll(self) -> None:
        assert self.progress is not None
        while not self._stop.wait(0.2):
            pct = max(0.0, min(self.con.query_progress(), 100.0))
            share = min((self.passes_done + pct / 100) / self.PASSES, 1.0)
            self._best = max(self._best, self.base + int(self.rows * share))  # never go backwards
            self.progress(self._best, self.total)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class _Loader:
    """State of one ingest call: a DuckDB session, the files it wrote, the counters.

    Each input file becomes a relation with a ``__row`` column (Parquet is read in
    place with its row numbers; CSV and JSON Lines are staged to Parquet batch by
    batch). DuckDB then makes three passes: the distinct person ids, the rows that
    break a rule, the ids seen twice; and one ``COPY`` writes the good, new rows.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        table: Table,
        secret: bytes,
        currency: str,
        quarantine_dir: Path,
        stamp: str,
        memory_limit: str = "1GB",
    ) -> None:
        self.table, self.currency = table, currency
        self.folder = warehouse.table_dir(table.name)
        self.schema = stored_schema(table)
        self.key = key_column(table)
        self.ingest_id = stamp
        self.work = self.folder / f".ingest-{stamp}"
        self.work.mkdir(parents=True)
        self.con = duckdb.connect(
            config={"memory_limit": memory_limit, "temp_directory": str(self.work / "spill")}
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar_print = false")  # never draw on the user's terminal
        self.existing = [str(f) for f in warehouse.data_files(table.name)]
        self.pseudonyms = _Pseudonyms(self.con, secret, table.keep_literal_person_ids)
        self.quarantine = _Quarantine(quarantine_dir, table.name, stamp)
        self.written: list[Path] = []
        self.loaded = self.duplicates = self.read = self.naive = 0

    def load_file(
        self, index: int, path: Path, fmt: str, batch_rows: int, progress: Progress | None,
        total: int | None = None,
    ) -> None:
        relation, schema, rows = self._relation(index, path, fmt, batch_rows, progress)
        base, self.read = self.read, self.read + rows
        if rows == 0 or schema is None:
            return
        query = build_query(self.table, schema, relation, self.currency, trim=fmt != "parquet")
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW checked AS {query.sql}")
        with _Watcher(self.con, progress if fmt == "parquet" else None, base, rows, total) as watch:
            self._map_people()
            watch.next_pass()
            good, naive = self._quarantine_rows(str(path), relation, query)
            watch.next_pass()
            written = self._write_new(index, watch)
        self.naive += naive
        self.loaded += written
        self.duplicates += good - written
        if progress:
            progress(self.read, total)

    def _relation(
        self, index: int, path: Path, fmt: str, batch_rows: int, progress: Progress | None
    ) -> tuple[str, pa.Schema | None, int]:
        """SQL for the file's rows with ``__row``, its raw schema, and the rows read."""
        if fmt == "parquet":
            schema = pq.ParquetFile(path).schema_arrow
            rows = pq.ParquetFile(path).metadata.num_rows
            relation = (
                f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {readers.ROW_COLUMN} "
                f"FROM read_parquet({_lit(path)}, file_row_number = true))"
            )
            return relation, schema.append(pa.field(readers.ROW_COLUMN, pa.int64())), rows
        staged: list[str] = []
        rows = 0
        for n, batch in enumerate(readers.iter_batches(path, fmt, batch_rows)):
            for bad in batch.rejected:
                self.quarantine.add(str(path), bad.row, bad.column, bad.value, bad.reason, bad.record)
            rows += len(batch.rejected) + batch.data.num_rows
            if batch.data.num_rows:
                target = self.work / f"stage-{index}-{n}.parquet"
                pq.write_table(batch.data, target, compression="none")
                staged.append(str(target))
            if progress:
                progress(self.read + rows, None)
        if not staged:
            return "", None, rows
        listing = ", ".join(_lit(s) for s in staged)
        relation = f"(SELECT * FROM read_parquet([{listing}], union_by_name = true))"
        schema = arrow_table(self.con.execute(f"SELECT * FROM {relation} LIMIT 0")).schema
        return relation, schema, rows

    def _map_people(self) -> None:
        for name in self.table.pseudonymised_names:
            values = self.con.execute(
                f"SELECT DISTINCT {q(name)} FROM checked WHERE {q(name)} IS NOT NULL"
            ).fetchall()
            self.pseudonyms.add([v[0] for v in values])

    def _quarantine_rows(self, file: str, relation: str, query: BatchQuery) -> tuple[int, int]:
        """Quarantine the rows that broke a rule; return the good rows and naive-time rows.

        One scan: the bad rows come back as two lists (short, unless the file is bad).
        """
        row = self.con.execute(f"""
            SELECT list({readers.ROW_COLUMN} ORDER BY {readers.ROW_COLUMN}) FILTER (WHERE __check > 0),
                   list(__check ORDER BY {readers.ROW_COLUMN}) FILTER (WHERE __check > 0),
                   count(*) FILTER (WHERE __check = 0),
                   count(*) FILTER (WHERE __check = 0 AND __naive)
            FROM checked
        """).fetchone()
        assert row is not None
        bad_rows, bad_checks, good, naive = row[0] or [], row[1] or [], int(row[2]), int(row[3])
        if not bad_rows:
            return good, naive
        self.con.register("bad_rows", pa.table({"r": pa.array(bad_rows, pa.int64())}))
        records = arrow_table(
            self.con.execute(
                f"SELECT * FROM {relation} WHERE {readers.ROW_COLUMN} IN (SELECT r FROM bad_rows) "
                f"ORDER BY {readers.ROW_COLUMN}"
            )
        ).to_pylist()
        self.con.unregister("bad_rows")
        for row_no, check_no, record in zip(bad_rows, bad_checks, records, strict=True):
            check = query.checks[check_no - 1]
            record.pop(readers.ROW_COLUMN, None)
            record = {k: _plain(v) for k, v in record.items()}
            value = record.get(check.column) if check.column else None
            self.quarantine.add(file, row_no, check.column, value, check.reason, record)
        return good, naive

    def _write_new(self, index: int, watch: _Watcher) -> int:
        """COPY the good rows whose identity is new into a pending file; return their count."""
        key_sql = q(self.key) if self.key != KEY else _row_key_sql(self.table)
        people = list(self.table.pseudonymised_names)
        joins = " ".join(f"LEFT JOIN pseudonyms ps{i} ON ps{i}.raw = c.{q(n)}" for i, n in enumerate(people))
        cols = []
        for name in self.schema.names:
            if name in people:
                cols.append(f"ps{people.index(name)}.pseudo AS {q(name)}")
            elif name == ROW:
                cols.append(f"c.{readers.ROW_COLUMN} AS {ROW}")
            elif name == INGEST_ID:
                cols.append(f"{_lit(self.ingest_id)} AS {INGEST_ID}")
            elif name == KEY:
                cols.append(f"c.__key AS {KEY}")
            else:
                cols.append(f"CAST(c.{q(name)} AS {_duck_type(self.schema.field(name).type)}) AS {q(name)}")
        keyed = f"(SELECT *, {key_sql} AS __key FROM checked WHERE __check = 0)"
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW keyed AS SELECT * FROM {keyed}")
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE repeats AS SELECT __key, min("
            f"{readers.ROW_COLUMN}) AS first_row FROM keyed GROUP BY __key HAVING count(*) > 1"
        )
        watch.next_pass()
        # ANTI JOINs, not correlated NOT EXISTS: DuckDB runs the latter about twice as slowly.
        anti = []
        if self._count("repeats"):
            anti.append(f"ANTI JOIN repeats r ON r.__key = c.__key AND r.first_row <> c.{readers.ROW_COLUMN}")
        prior = self.existing + [str(p) for p in self.written]
        if prior:
            files = ", ".join(map(_lit, prior))
            anti.append(f"ANTI JOIN read_parquet([{files}]) s ON s.{q(self.key)} = c.__key")
        target = self.work / f"part-{index}.parquet"
        self.con.execute(f"""
            COPY (
                SELECT {", ".join(cols)} FROM keyed c {joins} {" ".join(anti)}
            ) TO {_lit(target)} (FORMAT parquet, COMPRESSION zstd)
        """)
        written = pq.ParquetFile(target).metadata.num_rows
        if written:
            self.written.append(target)
        else:
            target.unlink()
        return written

    def _count(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def finish(self) -> str | None:
        """Publish the new files (each atomically) and close the quarantine."""
        self.con.close()
        for n, part in enumerate(self.written):
            os.replace(part, self.folder / f"part-{self.ingest_id}-{n}.parquet")
        shutil.rmtree(self.work, ignore_errors=True)
        return self.quarantine.close()

    def abort(self) -> None:
        self.con.close()
        shutil.rmtree(self.work, ignore_errors=True)
        partial = self.quarantine.close()
        if partial:
            Path(partial).unlink(missing_ok=True)


def _lit(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "BIGINT"
    return "VARCHAR"


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row_key_sql(table: Table) -> str:
    """A stable hash of every canonical column (after pseudonymisation), for tables without an id.

    Length-prefixed values: no two different rows encode to the same string.
    """
    people = set(table.pseudonymised_names)
    parts = []
    for c in table.column_names:
        value = (
            f"(SELECT pseudo FROM pseudonyms WHERE raw = CAST({q(c)} AS VARCHAR))"
            if c in people
            else f"CAST({q(c)} AS VARCHAR)"
        )
        parts.append(f"COALESCE(length({value}) || ':' || {value}, '-')")
    return f"md5(concat_ws(',', {', '.join(parts)}))"


def _known_total(files: Sequence[Path], formats: Sequence[str]) -> int | None:
    """Rows in all files when every one is Parquet (from metadata), else unknown."""
    counts = [readers.count_rows(p, f) for p, f in zip(files, formats, strict=True)]
    return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


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
            total = _known_total(files, formats)
            for index, (path, fmt) in enumerate(zip(files, formats, strict=True)):
                loader.load_file(index, path, fmt, batch_rows, progress, total)
        except (pa.ArrowInvalid, OSError, duckdb.IOException, duckdb.InvalidInputException) as exc:
            loader.abort()
            raise SchemaError(
                f"{path}: could not be read past row {loader.read} ({_first_line(exc)})",
                fix="check the file is complete and in the format its name says; nothing was loaded",
            ) from exc
        except BaseException:
            loader.abort()
            raise
        report.quarantine_file = loader.finish()
    report.rows_read, report.loaded = loader.read, loader.loaded
    report.duplicates = loader.duplicates
    report.quarantined = loader.quarantine.count
    report.reasons = dict(loader.quarantine.reasons)
    if loader.naive:
        report.notices.append(NAIVE_NOTICE)
    return report
