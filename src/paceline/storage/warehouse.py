"""The event warehouse: the canonical tables as Parquet files, queried through Ibis.

Layout: ``<workspace>/warehouse/<table>/part-<ingest id>.parquet``, one immutable
file per ingest, published by an atomic rename, plus an empty ``_schema.parquet``
so a table with no data still has its columns. Readers open an in-memory DuckDB
over these files, so the web server and a CLI ingest run side by side without any
database lock. ``PACELINE_WAREHOUSE`` selects the engine (DuckDB by default).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from paceline.domain.tables import ARROW_TYPES, TABLES, Table
from paceline.errors import UsageError
from paceline.storage.ingest_sql import ATTRIBUTES

INGEST_ID = "_ingest_id"
ROW = "_row"
KEY = "_key"
SCHEMA_FILE = "_schema.parquet"
INTERNAL = (INGEST_ID, ROW, KEY)


def key_column(table: Table) -> str:
    """The column that identifies a row: the table's id, else a stored row hash."""
    return table.key[0] if len(table.key) == 1 else KEY


def stored_schema(table: Table) -> pa.Schema:
    """The Parquet schema of *table*: canonical columns, ``attributes``, bookkeeping."""
    fields = [pa.field(c.name, ARROW_TYPES[c.kind]) for c in table.columns]
    fields.append(pa.field(ATTRIBUTES, pa.string()))
    fields.append(pa.field(INGEST_ID, pa.string()))
    fields.append(pa.field(ROW, pa.int64()))
    if key_column(table) == KEY:
        fields.append(pa.field(KEY, pa.string()))
    return pa.schema(fields)


@dataclass
class Warehouse:
    """Paths of the Parquet files and a factory for engine connections."""

    root: Path
    url: str = "duckdb://"

    def ensure_layout(self) -> None:
        """Create each table's folder and its schema file (idempotent)."""
        for table in TABLES.values():
            folder = self.table_dir(table.name)
            folder.mkdir(parents=True, exist_ok=True)
            schema_file = folder / SCHEMA_FILE
            if not schema_file.exists():
                tmp = folder / f".{SCHEMA_FILE}.tmp"
                pq.write_table(stored_schema(table).empty_table(), tmp)
                os.replace(tmp, schema_file)

    def table_dir(self, name: str) -> Path:
        return self.root / name

    def data_files(self, name: str) -> list[Path]:
        """The published data files of table *name*, oldest first."""
        return sorted(self.table_dir(name).glob("part-*.parquet"))

    def glob(self, name: str) -> str:
        return str(self.table_dir(name) / "*.parquet")

    def connect(self) -> Any:
        """An Ibis connection with one view per canonical table."""
        if self.url.startswith("duckdb"):
            return self._connect_duckdb()
        if self.url.startswith("pyspark"):
            return self._connect_spark()
        raise UsageError(
            f"unknown warehouse engine {self.url!r}",
            fix="set PACELINE_WAREHOUSE to duckdb:// (default) or pyspark://local[2]",
        )

    def _connect_duckdb(self) -> Any:
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        for table in TABLES.values():
            con.raw_sql(f"CREATE OR REPLACE VIEW {table.name} AS {self.view_sql(table)}")
        return con

    def view_sql(self, table: Table) -> str:
        """SQL of the canonical view of *table* over its Parquet files."""
        source = f"read_parquet('{self.glob(table.name)}', union_by_name = true)"
        internal = ", ".join(c for c in INTERNAL if c in stored_schema(table).names)
        if table.name == "people":
            return (
                f"SELECT * EXCLUDE ({internal}, __rank) FROM ("
                f"SELECT *, row_number() OVER (PARTITION BY person_id "
                f"ORDER BY {INGEST_ID} DESC, {ROW} DESC) AS __rank FROM {source}) WHERE __rank = 1"
            )
        return f"SELECT * EXCLUDE ({internal}) FROM {source}"

    def _connect_spark(self) -> Any:
        """An Ibis connection on a Spark session over the same Parquet folders.

        Spark lists a table's files when the connection is made: reconnect to see
        data ingested later (the KPI cache notices new files on its own).
        """
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise UsageError(
                "PACELINE_WAREHOUSE asks for Spark but pyspark is not installed",
                fix="pip install 'paceline[spark]'",
            ) from exc
        master = self.url.split("://", 1)[1] or "local[2]"
        session = (
            SparkSession.builder.master(master)
            .appName("paceline")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        con = ibis.pyspark.connect(session)
        for table in TABLES.values():
            # The folder, not a glob: Spark skips the `_schema.parquet` file by its leading underscore.
            folder = str(self.table_dir(table.name).resolve())
            frame = session.read.schema(_spark_schema(table)).parquet(folder)
            frame.createOrReplaceTempView(f"{table.name}__raw")
            con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {table.name} AS {self._spark_view(table)}")
        return con

    def _spark_view(self, table: Table) -> str:
        cols = ", ".join([*table.column_names, ATTRIBUTES])
        if table.name == "people":
            return (
                f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY person_id "
                f"ORDER BY {INGEST_ID} DESC, {ROW} DESC) AS __rank FROM {table.name}__raw) "
                f"WHERE __rank = 1"
            )
        return f"SELECT {cols} FROM {table.name}__raw"


def _spark_schema(table: Table) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(stored_schema(table))
