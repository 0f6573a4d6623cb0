"""``paceline.drift``: how two tables differ, column by column, computed inside the engine.

Both tables stay in the engine (a Parquet or CSV file is scanned by DuckDB where
it lies; a pandas or Arrow table is handed to DuckDB without a copy). The engine
returns only summaries: row and missing counts, cells of a fine histogram, the values
of a few cells, and category counts (see :mod:`paceline.services.drift_numeric`).
The statistics and the decision are then computed from those summaries by
:mod:`paceline.analytics.drift`. :func:`compare_tables` takes any two Ibis tables,
so the same code runs on Spark.

Example:
    >>> import pandas as pd, paceline
    >>> ref = pd.DataFrame({"x": [1.0, 2, 3, 4], "c": ["a", "a", "b", "b"]})
    >>> cur = pd.DataFrame({"x": [3.0, 4, 5, 6], "c": ["a", "b", "b", "b"]})
    >>> paceline.drift(ref, cur).column("x").ks
    0.5
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np

from paceline.analytics import drift_cells as dc
from paceline.analytics.drift import (
    ColumnDrift,
    DriftPolicy,
    DriftReport,
    Kind,
    categorical_column,
    decide,
    empty_column,
    ks_test,
    numeric_column,
)
from paceline.errors import SchemaError, ValidationError
from paceline.services import drift_numeric as dn

PARQUET = (".parquet", ".pq")
CSV = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")
DEFAULT_MEMORY_LIMIT = "512MB"


@dataclass(frozen=True)
class EngineOptions:
    """How the work is cut into queries; the result does not depend on these."""

    batch: int = 4  # numeric columns per histogram query (more: fewer queries, more memory)
    refine_batch: int = 4  # numeric columns per refinement query (larger unions run slower on DuckDB)
    partitioned: bool | None = None  # restart window sums per cell (default: on engines other than DuckDB)
    max_categories: int = 10_000  # a "categorical" column with more distinct values is refused
    row_limit: int = dc.ROW_LIMIT  # values of a decile's cells returned; beyond, counted in the engine


def drift(
    reference: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    *,
    categorical: Sequence[str] = (),
    policy: DriftPolicy | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> DriftReport:
    """Compare *current* with *reference* column by column (spec/interface.md, ``monitor drift``).

    *reference* and *current* are CSV/Parquet paths, pandas DataFrames or Arrow tables.
    *columns* defaults to every column of the reference; *categorical* forces numeric
    columns (e.g. integer codes) to be compared as categories. DuckDB runs with
    *threads* (default: all cores) and spills to a temporary folder beyond *memory_limit*.
    """
    policy = policy or DriftPolicy()
    check_policy(policy)
    spill = tempfile.mkdtemp(prefix="paceline-drift-")
    con = ibis.duckdb.connect(
        threads=threads or os.cpu_count() or 1, memory_limit=memory_limit, temp_directory=spill
    )
    try:
        con.raw_sql("SET preserve_insertion_order = false")
        ref = load_table(con, reference, "reference")
        cur = load_table(con, current, "current")
        return compare_tables(ref, cur, columns, categorical=categorical, policy=policy)
    finally:
        con.disconnect()
        shutil.rmtree(spill, ignore_errors=True)


def check_policy(policy: DriftPolicy) -> None:
    problems = policy.problems()
    if problems:
        name, message = problems[0]
        raise ValidationError(f"drift setting {name!r}: {message}", field=name, fix=message)


def load_table(con: Any, source: Any, side: str) -> ir.Table:
    """*source* as a table of *con*: a file scanned in place, or an in-memory table."""
    if isinstance(source, ir.Table):
        return source
    if isinstance(source, str | Path):
        return _read_file(con, Path(source), side)
    module = type(source).__module__.split(".")[0]
    if module not in ("pandas", "pyarrow", "polars"):
        raise ValidationError(
            f"cannot read the {side} data from a {type(source).__name__}",
            field=side,
            fix="pass a CSV/Parquet path, a pandas DataFrame or an Arrow table",
        )
    return ibis.memtable(source)


def _read_file(con: Any, path: Path, side: str) -> ir.Table:
    if not path.exists():
        raise ValidationError(f"{side} file {path} does not exist", field=side, fix="check the path")
    name = path.name.lower()
    try:
        if path.is_dir():
            return con.read_parquet(str(path / "*.parquet"))
        if name.endswith(PARQUET):
            return con.read_parquet(str(path))
        if name.endswith(CSV):
            return con.read_csv(str(path))
    except duckdb.Error as exc:
        kind = "Parquet" if path.is_dir() or name.endswith(PARQUET) else "CSV"
        raise SchemaError(
            f"{side} file {path} is not a readable {kind} file ({str(exc).splitlines()[0][:200]})",
            field=side,
            fix=f"check that the file really is {kind}, or export it again",
        ) from exc
    raise ValidationError(
        f"cannot tell the format of the {side} file {path.name}",
        field=side,
        fix="give a .csv or .parquet file (or a folder of .parquet files)",
    )


# --- columns and their kinds ---------------------------------------------------------


def _kind_of(dtype: Any) -> Kind | None:
    if dtype.is_numeric():
        return Kind.NUMERIC
    if dtype.is_string() or dtype.is_boolean():
        return Kind.CATEGORICAL
    return None


def resolve_columns(
    ref: ir.Table, cur: ir.Table, columns: Sequence[str] | None, categorical: Sequence[str] = ()
) -> tuple[dict[str, Kind], dict[str, str]]:
    """Each compared column's kind, and the columns left out (with why) when none were named."""
    ref_schema, cur_schema = ref.schema(), cur.schema()
    named = columns is not None
    wanted = list(dict.fromkeys(columns)) if columns is not None else list(ref_schema.names)
    for name in list(wanted) + list(categorical):
        _require(name, ref_schema, "reference")
        _require(name, cur_schema, "current")
    kinds: dict[str, Kind] = {}
    skipped: dict[str, str] = {}
    for name in wanted:
        ref_kind, cur_kind = _kind_of(ref_schema[name]), _kind_of(cur_schema[name])
        if name in categorical:
            kinds[name] = Kind.CATEGORICAL
        elif ref_kind is None or cur_kind is None:
            dtype = ref_schema[name] if ref_kind is None else cur_schema[name]
            if named:
                raise SchemaError(
                    f"column {name!r} holds {dtype} values; drift compares numbers and categories",
                    column=name,
                    fix="leave it out of --columns, or cast it to a number or text first",
                )
            skipped[name] = f"{dtype} values are neither numbers nor categories"
        elif ref_kind is not cur_kind:
            raise SchemaError(
                f"column {name!r} is {_words(ref_kind)} in the reference but {_words(cur_kind)} "
                f"in the current data ({ref_schema[name]} vs {cur_schema[name]})",
                column=name,
                fix=f"give both sides the same type, or compare it as categories with --categorical {name}",
            )
        else:
            kinds[name] = ref_kind
    for name in categorical:
        if name not in wanted:
            raise ValidationError(
                f"--categorical names {name!r}, which is not among the compared columns",
                column=name,
                fix="add it to --columns, or drop it from --categorical",
            )
    return kinds, skipped


def _words(kind: Kind) -> str:
    return "numeric" if kind is Kind.NUMERIC else "text (categorical)"


def _require(name: str, schema: Any, side: str) -> None:
    if name not in schema.names:
        shown = ", ".join(list(schema.names)[:20])
        raise SchemaError(
            f"column {name!r} is not in the {side} data (its columns: {shown})",
            column=name,
            fix="choose columns both sides have with --columns A,B,...",
        )


# --- the comparison ------------------------------------------------------------------------


def compare_tables(
    ref: ir.Table,
    cur: ir.Table,
    columns: Sequence[str] | None = None,
    *,
    categorical: Sequence[str] = (),
    policy: DriftPolicy | None = None,
    options: EngineOptions | None = None,
    windows: dict[str, Any] | None = None,
) -> DriftReport:
    """Drift of *cur* against *ref* (two Ibis tables on the same backend)."""
    policy = policy or DriftPolicy()
    check_policy(policy)
    options = options or EngineOptions()
    kinds, skipped = resolve_columns(ref, cur, columns, categorical)
    if not kinds:
        raise ValidationError(
            "no column to compare: the tables have no numeric or text columns in common",
            fix="pass --columns with the columns to compare",
        )
    profile = _profile(ref, cur, kinds)
    for side, rows in (("reference", profile.ref_rows), ("current", profile.cur_rows)):
        if rows == 0:
            raise ValidationError(
                f"the {side} data has no rows", field=side, fix=f"check the {side} file or time window"
            )
    partitioned = options.partitioned
    if partitioned is None:
        partitioned = ref.get_backend().name != "duckdb"
    results = _numeric_columns(ref, cur, kinds, profile, options, partitioned)
    results |= _categorical_columns(ref, cur, kinds, profile, options.max_categories)
    ordered = [results[name] for name in kinds]
    return DriftReport(profile.ref_rows, profile.cur_rows, decide(ordered, policy), policy, skipped, windows)


@dataclass(frozen=True)
class Profile:
    ref_rows: int
    cur_rows: int
    ref: dict[str, Any]
    cur: dict[str, Any]
    unclean: frozenset[int] = frozenset()  # numeric columns holding NaN or infinity

    def counts(self, i: int) -> tuple[int, int, int, int]:
        n, m = int(self.ref[f"n{i}"]), int(self.cur[f"n{i}"])
        return n, m, self.ref_rows - n, self.cur_rows - m


def _profile(ref: ir.Table, cur: ir.Table, kinds: dict[str, Kind]) -> Profile:
    """Rows, present values and ranges, in one plain scan of each side.

    NaN and ±inf show in a plain min or max (DuckDB and Spark sort NaN above every
    number), so only the columns that hold them are profiled again, excluding them.
    """
    columns = dict(enumerate(kinds.items()))
    sides = _scan_both(ref, cur, columns, unclean=False)
    unclean = {
        i
        for i, (_, kind) in columns.items()
        if kind is Kind.NUMERIC and not all(_finite(side[f"lo{i}"], side[f"hi{i}"]) for side in sides)
    }
    if unclean:
        again = {i: columns[i] for i in sorted(unclean)}
        for side, found in zip(sides, _scan_both(ref, cur, again, unclean=True), strict=True):
            side.update(found)
    return Profile(int(sides[0]["rows"]), int(sides[1]["rows"]), sides[0], sides[1], frozenset(unclean))


def _finite(*values: Any) -> bool:
    return all(v is None or math.isfinite(v) for v in values)


def _scan_both(
    ref: ir.Table, cur: ir.Table, columns: dict[int, tuple[str, Kind]], unclean: bool
) -> list[dict[str, Any]]:
    """:func:`_scan` of both sides in one query: ``[reference, current]``."""
    parts = [_scan(t, columns, unclean).mutate(side=ibis.literal(s, "int8")) for s, t in ((0, ref), (1, cur))]
    found = sorted(ibis.union(*parts).to_pyarrow().to_pylist(), key=lambda row: row.pop("side"))
    return found


def _scan(t: ir.Table, columns: dict[int, tuple[str, Kind]], unclean: bool) -> ir.Table:
    """One aggregate over *t*: rows, and per column its present count (and range when numeric)."""
    aggs: dict[str, ir.Value] = {"rows": t.count()}
    for i, (name, kind) in columns.items():
        if kind is Kind.CATEGORICAL:
            aggs[f"n{i}"] = t[name].count()
            continue
        x, ok = dn.finite(t, name, clean=not unclean)
        if unclean:
            x = ok.ifelse(x, ibis.null("float64"))
        aggs |= {f"n{i}": x.count(), f"lo{i}": x.min(), f"hi{i}": x.max()}
    return t.aggregate(**aggs)


def _numeric_columns(
    ref: ir.Table,
    cur: ir.Table,
    kinds: dict[str, Kind],
    profile: Profile,
    options: EngineOptions,
    partitioned: bool,
) -> dict[str, ColumnDrift]:
    out: dict[str, ColumnDrift] = {}
    plans: dict[int, dn.NumericPlan] = {}
    for i, (name, kind) in enumerate(kinds.items()):
        if kind is not Kind.NUMERIC:
            continue
        n, m, _, _ = profile.counts(i)
        if n == 0 or m == 0:
            out[name] = empty_column(name, kind, profile.counts(i))
            continue
        low = min(profile.ref[f"lo{i}"], profile.cur[f"lo{i}"])
        high = max(profile.ref[f"hi{i}"], profile.cur[f"hi{i}"])
        grid = dn.Grid.over(name, float(low), float(high), n + m, clean=i not in profile.unclean)
        plans[i] = dn.NumericPlan(name, grid, n, m)
    _run_numeric(ref, cur, plans, options, partitioned)
    for i, plan in plans.items():
        assert plan.stats is not None
        s = plan.stats
        out[plan.name] = numeric_column(
            plan.name,
            profile.counts(i),
            ks_test(s.ks, plan.n, plan.m),
            s.wasserstein,
            s.deciles,
            s.ref_psi_counts,
            s.cur_psi_counts,
        )
    return out


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]


def _run_numeric(
    ref: ir.Table,
    cur: ir.Table,
    plans: dict[int, dn.NumericPlan],
    options: EngineOptions,
    partitioned: bool,
) -> None:
    """Fill each plan's statistics.

    The histograms run a batch of columns at a time (only a batch's cells are in memory);
    each column then keeps only what it must refine and what its cells settled, and the
    refinements of many columns share one query.
    """
    for part in _chunks(list(plans.items()), options.batch):
        batch = dict(part)
        expr = dn.histogram_expr(ref, cur, [(i, p.grid) for i, p in part])
        dn.read_cells(expr.to_pyarrow(), batch)
        for _ in range(dn.ZOOM_LEVELS):  # outliers: split the cells holding most values
            _zoom(ref, cur, batch, dn.plan_heavy_zoom(batch))
        for _ in range(dn.ZOOM_LEVELS):  # much data: split the cells the counts cannot settle
            for plan in batch.values():
                _screened(plan)
            if not _zoom(ref, cur, batch, dn.plan_unsettled_zoom(batch)):
                break
        for plan in batch.values():
            screen = _screened(plan)
            plan.todo = dc.refinement(screen, dc.decile_ranks(plan.n), options.row_limit)
            plan.settled = dc.settled(screen, plan.todo)
            plan.cells = plan.screen = None  # what the refinement needs is in todo and settled
    for part in _chunks(list(plans.items()), options.refine_batch):
        _refine(ref, cur, dict(part), partitioned)


def _screened(plan: dn.NumericPlan) -> dc.Screen:
    """The plan's screen, computed again only after a zoom replaced its cells."""
    if plan.screen is None:
        assert plan.cells is not None
        plan.screen = dc.screen(plan.cells, plan.grid.origin, plan.n, plan.m)
    return plan.screen


def _zoom(
    ref: ir.Table, cur: ir.Table, plans: dict[int, dn.NumericPlan], zooms: list[tuple[int, dn.Grid]]
) -> bool:
    """Split the cells the plans chose; whether there was anything to split."""
    if zooms:
        dn.read_zoom(dn.zoom_expr(ref, cur, zooms).to_pyarrow(), zooms, plans)
    return bool(zooms)


@dataclass
class _Refining:
    """One column between its refinement query and its statistics."""

    refined: dc.Refined
    edges: np.ndarray
    ref_le: np.ndarray
    cur_le: np.ndarray


def _refine(
    ref: ir.Table,
    cur: ir.Table,
    plans: dict[int, dn.NumericPlan],
    partitioned: bool,
) -> None:
    """Refine these columns in one query, then count at the deciles the rows could not place."""
    tasks = {}
    for i, plan in plans.items():
        assert plan.todo is not None
        tasks[i] = dn.RefineTask(i, plan.grid, plan.todo, plan.n, plan.m)
    found = dn.refine_expr(ref, cur, list(tasks.values()), partitioned).to_pyarrow()
    asks: list[tuple[int, dn.Grid, float]] = []
    pending: dict[int, _Refining] = {}
    for i, task in tasks.items():
        refined = dn.read_refined(found, task)
        edges = dc.deciles(task.plan, refined.rows)
        ref_le, cur_le, requests = dc.counts_at(task.plan, refined.rows, edges)
        asks += [(i, task.grid, r.edge) for r in requests]
        pending[i] = _Refining(refined, edges, ref_le, cur_le)
    if asks:  # deciles whose cells held too many values to return: counted by the engine
        for row in dn.count_at_expr(ref, cur, asks).to_pyarrow().to_pylist():
            col, _, edge = asks[row["ask"]]
            state = pending[col]
            j = int(np.nonzero(state.edges == edge)[0][0])
            (state.ref_le if row["side"] == 0 else state.cur_le)[j] = row["n"]
    for i, plan in plans.items():
        state = pending[i]
        assert plan.settled is not None
        plan.stats = dc.finish(plan.settled, state.refined, state.edges, (state.ref_le, state.cur_le))
        plan.todo = None


def _categorical_columns(
    ref: ir.Table, cur: ir.Table, kinds: dict[str, Kind], profile: Profile, max_categories: int
) -> dict[str, ColumnDrift]:
    names = [(i, name) for i, (name, kind) in enumerate(kinds.items()) if kind is Kind.CATEGORICAL]
    if not names:
        return {}
    parts = []
    for i, name in names:
        sides = [
            t.select(v=t[name].cast("string"), side=ibis.literal(s, "int64")) for s, t in ((0, ref), (1, cur))
        ]
        u = sides[0].union(sides[1])
        u = u.filter(u.v.notnull())
        counts = u.group_by("v").aggregate(n=u.count(), cb=u.side.sum())
        counts = counts.select("v", ca=counts.n - counts.cb, cb=counts.cb).limit(max_categories + 1)
        parts.append(counts.mutate(col=ibis.literal(i, "int32")))
    table = (ibis.union(*parts) if len(parts) > 1 else parts[0]).to_pyarrow()
    col = table.column("col").to_pylist()
    values, ca, cb = (table.column(c).to_pylist() for c in ("v", "ca", "cb"))
    out: dict[str, ColumnDrift] = {}
    for i, name in names:
        rows = [j for j, c in enumerate(col) if c == i]
        if len(rows) > max_categories:
            raise ValidationError(
                f"column {name!r} has more than {max_categories:,} distinct values: too many to compare "
                "as categories",
                column=name,
                fix="leave it out with --columns, or bucket it first",
            )
        counts = profile.counts(i)
        if counts[0] == 0 or counts[1] == 0:
            out[name] = empty_column(name, Kind.CATEGORICAL, counts)
            continue
        out[name] = categorical_column(
            name, counts, [values[j] for j in rows], [ca[j] for j in rows], [cb[j] for j in rows]
        )
    return out
