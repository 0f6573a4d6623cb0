"""``paceline.evaluate_pilot``: a table and a column mapping in, a :class:`PilotResult` out.

The table (a CSV or Parquet path, a pandas DataFrame or an Arrow table) is reduced by
DuckDB to one row per cell (arm x period x unit) with the count, mean and centred sum
of squares of the outcome; files are scanned by DuckDB and never loaded into pandas.
The statistics then run on those few rows (``paceline.analytics.pilot``), so ten
million task rows cost little more than the number of employees (DESIGN.md principle 5).

Example:
    >>> import pandas as pd, paceline
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "arm": ["ai", "ai", "ai", "c", "c", "c"]})
    >>> paceline.evaluate_pilot(df, outcome="y", group="arm", treated="ai").to_dict()["estimate"]
    -3.333333333333333
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from paceline.analytics.pilot import Design, PilotCells, PilotSpec, evaluate_cells
from paceline.analytics.result import Check, PilotResult, Status
from paceline.errors import SchemaError, ValidationError

VIEW = "pilot_source"
NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
ORDERED = (
    *NUMERIC,
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP_NS",
    "TIMESTAMP_MS",
    "TIMESTAMP_S",
    "TIME",
)


@dataclass(frozen=True)
class Mapping:
    """Which columns play which role, and how the outcome is read."""

    outcome: str
    group: str
    treated: Any
    unit: str | None = None
    period: str | None = None
    post: Any = None
    covariate: str | None = None
    log: bool = False

    @property
    def columns(self) -> list[tuple[str, str]]:
        named = [
            ("--outcome", self.outcome),
            ("--group", self.group),
            ("--unit", self.unit),
            ("--period", self.period),
            ("--covariate", self.covariate),
        ]
        return [(opt, col) for opt, col in named if col is not None]


def evaluate_pilot(
    data: Any,
    outcome: str,
    group: str,
    treated: Any,
    unit: str | None = None,
    period: str | None = None,
    post: Any = None,
    transform: str | None = None,
    covariate: str | None = None,
    alpha: float = 0.05,
    design: str = "auto",
    se: str = "auto",
    expected_share: float | None = 0.5,
) -> PilotResult:
    """Evaluate a pilot from any table with one row per observation (spec/interface.md).

    Rows whose ``group`` equals ``treated`` form the treatment arm, all others the
    control arm. With ``period``/``post`` the design is difference-in-differences
    (numeric or date periods: rows with ``period >= post`` are post; others: rows equal
    to ``post``). ``unit`` names the independent unit (e.g. the employee); ``transform="log"``
    compares log outcomes (relative lift = change of the geometric mean); ``covariate`` is a
    pre-period value for CUPED (randomised designs only). ``se`` overrides the automatic
    method (``welch``, ``nonrobust``, ``HC0``-``HC3``, ``cluster_CR1``, ``cluster_CR2``,
    ``wild_bootstrap``); ``expected_share`` is the planned treatment share for the
    sample-ratio check (None skips it).
    """
    spec = _spec(outcome, period, post, transform, covariate, alpha, design, se, expected_share)
    mapping = Mapping(outcome, group, treated, unit, period, post, covariate, transform == "log")
    con = duckdb.connect()
    try:
        _register(con, data)
        cells, notes = pilot_cells(con, VIEW, mapping)
    finally:
        con.close()
    return evaluate_cells(cells, spec, notes)


def _spec(
    outcome: str,
    period: str | None,
    post: Any,
    transform: str | None,
    covariate: str | None,
    alpha: float,
    design: str,
    se: str,
    expected_share: float | None,
) -> PilotSpec:
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must be between 0 and 1, got {alpha}", fix="e.g. --alpha 0.05")
    if transform not in (None, "log"):
        raise ValidationError(f"unknown transform {transform!r}", fix="use --transform log, or leave it out")
    if expected_share is not None and not 0 < expected_share < 1:
        raise ValidationError(f"expected_share must be between 0 and 1, got {expected_share}")
    if (period is None) != (post is None):
        raise ValidationError("--period and --post go together", fix="give both (a did design) or neither")
    if design not in ("auto", "ab", "did"):
        raise ValidationError(f"unknown design {design!r}", fix="use --design auto, ab or did")
    chosen = Design.DID if design == "did" or (design == "auto" and period is not None) else Design.AB
    if chosen is Design.DID and period is None:
        raise ValidationError("a did design needs --period and --post", fix="give --period COL --post VALUE")
    if chosen is Design.AB and period is not None:
        raise ValidationError("--period/--post make a did design", fix="use --design did or auto")
    if chosen is Design.DID and covariate is not None:
        raise ValidationError(
            "--covariate adjusts randomised (ab) designs only", fix="drop --covariate, or use --design ab"
        )
    return PilotSpec(chosen, outcome, alpha, se, transform == "log", expected_share)


def _register(con: duckdb.DuckDBPyConnection, data: Any) -> None:
    """Make ``data`` visible as the view ``pilot_source`` without copying a file into Python."""
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.exists():
            raise ValidationError(f"no such file: {path}", fix="check the path given to --data")
        name = path.name.lower()
        if name.endswith((".parquet", ".pq")):
            rel = con.read_parquet(str(path))
        elif name.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            rel = con.read_csv(str(path))
        else:
            raise ValidationError(
                f"cannot tell the format of {path.name}", fix="give a .csv or .parquet file"
            )
        rel.create_view(VIEW)
        return
    module = type(data).__module__.split(".")[0]
    if module not in ("pandas", "pyarrow", "polars"):
        raise ValidationError(
            f"cannot read a {type(data).__name__} as a table",
            fix="pass a CSV/Parquet path, a pandas DataFrame or an Arrow table",
        )
    con.register(VIEW, data)


def _schema(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _check_columns(schema: dict[str, str], mapping: Mapping) -> None:
    for option, column in mapping.columns:
        if column not in schema:
            shown = ", ".join(list(schema)[:20])
            raise SchemaError(
                f"column {column!r} (given to {option}) is not in the data; columns: {shown}",
                column=column,
                fix=f"pass one of the data's columns to {option}",
            )


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _number(con: duckdb.DuckDBPyConnection, view: str, column: str, kind: str, option: str) -> str:
    """A DOUBLE expression for a numeric or boolean column; ValidationError naming a bad value."""
    col = _q(column)
    if kind.startswith(NUMERIC) or kind == "BOOLEAN":
        return f"CAST({col} AS DOUBLE)"
    bad = con.execute(
        f"SELECT {col} FROM {view} WHERE {col} IS NOT NULL AND TRY_CAST({col} AS DOUBLE) IS NULL LIMIT 1"
    ).fetchone()
    if bad is not None:
        raise ValidationError(
            f"column {column!r} (given to {option}) is not numeric: it holds {bad[0]!r}",
            column=column,
            fix=f"give {option} a numeric or boolean column (true/false, 0/1)",
        )
    return f"TRY_CAST({col} AS DOUBLE)"


def _match(
    con: duckdb.DuckDBPyConnection, column: str, kind: str, value: Any, option: str, ordered: bool
) -> str:
    """A SQL condition: the column equals the value (or is at least it, for ordered periods)."""
    col = _q(column)
    if isinstance(value, bool):
        value = "true" if value else "false"
    if kind == "VARCHAR" or not (kind.startswith(ORDERED) or kind == "BOOLEAN"):
        return f"CAST({col} AS VARCHAR) = {_literal(str(value))}"
    cast = con.execute(f"SELECT TRY_CAST(? AS {kind})", [str(value)]).fetchone()
    if cast is None or cast[0] is None:
        raise ValidationError(
            f"{option} value {value!r} is not a {kind} like column {column!r}",
            column=column,
            fix=f"give {option} a value of the column's type",
        )
    literal = f"CAST({_literal(str(value))} AS {kind})"
    op = ">=" if ordered and kind != "BOOLEAN" else "="
    return f"{col} {op} {literal}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def pilot_cells(
    con: duckdb.DuckDBPyConnection, view: str, mapping: Mapping
) -> tuple[PilotCells, list[Check]]:
    """Per-cell sufficient statistics of ``view`` under ``mapping``, and notes on left-out rows."""
    schema = _schema(con, view)
    _check_columns(schema, mapping)
    y = _number(con, view, mapping.outcome, schema[mapping.outcome], "--outcome")
    x = (
        None
        if mapping.covariate is None
        else _number(con, view, mapping.covariate, schema[mapping.covariate], "--covariate")
    )
    treated = _match(con, mapping.group, schema[mapping.group], mapping.treated, "--treated", False)
    post = (
        None
        if mapping.period is None
        else _match(con, mapping.period, schema[mapping.period], mapping.post, "--post", True)
    )
    missing = _missing_conditions(mapping, y, x)
    notes = _missing_notes(con, view, missing)
    valid = " AND ".join(f"NOT ({cond})" for cond in missing.values())
    if mapping.log:
        _check_positive(con, view, y, valid, mapping.outcome)
        y = f"ln({y})"
    query = _cell_query(view, mapping, y, x, treated, post, valid)
    cols = con.execute(query).fetchnumpy()
    return _cells(cols, mapping), notes


def _missing_conditions(mapping: Mapping, y: str, x: str | None) -> dict[str, str]:
    conds = {
        f"outcome {mapping.outcome!r} missing": f"{y} IS NULL OR NOT isfinite({y})",
        f"group {mapping.group!r} missing": f"{_q(mapping.group)} IS NULL",
    }
    if mapping.unit is not None:
        conds[f"unit {mapping.unit!r} missing"] = f"{_q(mapping.unit)} IS NULL"
    if mapping.period is not None:
        conds[f"period {mapping.period!r} missing"] = f"{_q(mapping.period)} IS NULL"
    if x is not None:
        conds[f"covariate {mapping.covariate!r} missing"] = f"{x} IS NULL OR NOT isfinite({x})"
    return conds


def _missing_notes(con: duckdb.DuckDBPyConnection, view: str, missing: dict[str, str]) -> list[Check]:
    counts = ", ".join(f"count(*) FILTER (WHERE {cond})" for cond in missing.values())
    row = con.execute(f"SELECT count(*), {counts} FROM {view}").fetchone()
    assert row is not None
    parts = [f"{n} rows with {what}" for what, n in zip(missing, row[1:], strict=True) if n]
    if not parts:
        return []
    return [Check("missing_values", Status.WARN, f"left out of {row[0]} rows: " + "; ".join(parts))]


def _check_positive(con: duckdb.DuckDBPyConnection, view: str, y: str, valid: str, column: str) -> None:
    row = con.execute(f"SELECT count(*), min({y}) FROM {view} WHERE {valid} AND {y} <= 0").fetchone()
    if row is not None and row[0]:
        raise ValidationError(
            f"--transform log needs positive values, but {row[0]} rows of {column!r} are zero or "
            f"negative (e.g. {row[1]})",
            column=column,
            fix="leave out or correct those rows, or evaluate without --transform log",
        )


def _cell_query(
    view: str, mapping: Mapping, y: str, x: str | None, treated: str, post: str | None, valid: str
) -> str:
    keys = [f"({treated}) AS t"]
    if post is not None:
        keys.append(f"({post}) AS p")
    if mapping.unit is not None:
        keys.append(f"{_q(mapping.unit)} AS u")
    stats = ["count(*) AS n", "avg(y) AS mean", "var_pop(y) * count(*) AS m2"]
    if x is not None:
        stats += ["avg(x) AS x_mean", "var_pop(x) * count(*) AS x_m2", "covar_pop(y, x) * count(*) AS xy_c"]
    names = [k.rsplit(" AS ", 1)[1] for k in keys]
    inner = f"SELECT {', '.join(keys)}, {y} AS y{f', {x} AS x' if x else ''} FROM {view} WHERE {valid}"
    grouped = f"SELECT {', '.join(names)}, {', '.join(stats)} FROM ({inner}) GROUP BY ALL"
    code = ", dense_rank() OVER (ORDER BY u) - 1 AS code" if mapping.unit is not None else ""
    return f"SELECT *{code} FROM ({grouped}) ORDER BY ALL"


def _cells(cols: dict[str, Any], mapping: Mapping) -> PilotCells:
    def arr(name: str) -> np.ndarray:
        return np.asarray(cols[name], dtype=float)

    return PilotCells(
        treated=np.asarray(cols["t"], dtype=bool),
        n=np.asarray(cols["n"], dtype=np.int64),
        mean=arr("mean"),
        m2=arr("m2"),
        post=None if mapping.period is None else np.asarray(cols["p"], dtype=bool),
        unit=None if mapping.unit is None else np.asarray(cols["code"], dtype=np.int64),
        x_mean=arr("x_mean") if mapping.covariate else None,
        x_m2=arr("x_m2") if mapping.covariate else None,
        xy_c=arr("xy_c") if mapping.covariate else None,
    )
