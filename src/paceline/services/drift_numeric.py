"""Numeric drift inside the engine: fine histograms, zoom, and exact refinement, as Ibis expressions.

The method is explained in :mod:`paceline.analytics.drift_cells`. This module only
builds the engine work and moves small summaries:

1. one histogram query per batch of columns: per cell of ``2**17`` equal-width bins
   over the merged range, the count and the sum of ``x - origin`` of each side (both
   sides in one grouping, so the cells arrive merged);
2. where one cell holds more than 1/1024 of the values and over 50,000 of them
   (outliers stretched the range), that cell is split again into ``2**17`` sub-cells
   (at most two more levels; cells with a single distinct value are recognised);
3. one ordered pass over the values of the cells that the counts could not settle
   and of the cells holding the reference's decile ranks (one query per batch, the
   running counts restarting per column), giving each column's exact KS maximum and
   Wasserstein integral in one row, and the distinct values of the decile cells with
   their running counts (a few thousand rows at most).

Every step is a grouped aggregate, a semi-join or a window: the same expressions
run on DuckDB and on Spark. Only cells come back, and the values of a few of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis import _

from paceline.analytics import drift_cells as dc

BINS = 2**17  # first-level cells for up to ~2M values; more values get more cells (see bins_for)
MAX_BINS = 2**20  # keys k1 * B**2 + k2 * B + k3 stay below 2**60
HEAVY_SHARE = 1 / 1024  # a cell holding more than this share of the values is split again
HEAVY_LIMIT = 32  # at most this many cells are split per level and column
HEAVY_LEAST = 50_000  # and only cells with more values than this: refining fewer is cheaper than a zoom
ZOOM_LEVELS = 2  # levels below the first histogram
REFINE_TARGET = 500_000  # more values in unsettled cells than this: split those cells first
SUBCELLS = 2**17  # at most this many sub-cells from splitting unsettled cells


def bins_for(values: int) -> int:
    """First-level cells for *values* present values on both sides together.

    F - G shrinks like 1/sqrt(n) while a cell holds 1/B of the values, so the share of
    values in unsettled cells grows like sqrt(n)/B: B grows with sqrt(n), in powers of two.
    """
    bins = BINS
    while bins < MAX_BINS and values > 2_000_000 * (bins // BINS) ** 2:
        bins *= 2
    return bins


def finite(t: ir.Table, name: str, clean: bool) -> tuple[ir.FloatingValue, ir.BooleanValue]:
    """The column as float64 and the condition that a value is present.

    NaN and ±inf count as missing (DuckDB sorts NaN as a value). When the profile showed
    a column has neither (*clean*), the cheaper ``IS NOT NULL`` suffices.
    """
    x = t[name]
    floating = x.type().is_floating()
    if not x.type().is_float64():
        x = x.cast("float64")
    if floating and not clean:
        # x - x is 0 for finite x, NaN for NaN and ±inf (and null for null): one test on every engine
        # (Ibis compiles isinf() to FALSE on Spark)
        return x, (x - x) == 0
    return x, x.notnull()


@dataclass(frozen=True)
class Zoom:
    """One zoom level: cells of the previous levels split again into ``bins`` sub-cells each."""

    parents: np.ndarray  # int64 keys of the split cells, sorted
    start: np.ndarray  # absolute lower edge of each parent
    width: np.ndarray  # sub-cell width per parent (0 for a parent of zero width)
    bins: np.ndarray  # sub-cells per parent

    def table(self, level: int) -> ir.Table:
        """``parent{level}, start{level}, scale{level}, top{level}`` (distinct names per level)."""
        scale = np.divide(1.0, self.width, out=np.zeros_like(self.width), where=self.width > 0)
        columns = {
            "parent": pa.array(self.parents, pa.int64()),
            "start": pa.array(self.start, pa.float64()),
            "scale": pa.array(scale, pa.float64()),
            "top": pa.array(self.bins - 1, pa.int64()),
        }
        return ibis.memtable(pa.table({f"{name}{level}": values for name, values in columns.items()}))

    def edges(self, parents: np.ndarray, sub: np.ndarray, origin: float) -> tuple[np.ndarray, np.ndarray]:
        """Nominal edges (relative to *origin*) of sub-cells *sub* of *parents*."""
        at = np.searchsorted(self.parents, parents)
        start, width = self.start[at] - origin, self.width[at]
        return start + sub * width, start + (sub + 1) * width


@dataclass
class Grid:
    """How a column's values map to cell keys: the first-level bins and the zoomed cells.

    A key is ``k1 * B**2`` for a first-level cell, ``+ k2 * B`` for a cell split at the
    first zoom level and ``+ k3`` at the second: increasing with the value.
    """

    name: str
    origin: float
    bins: int
    width: float  # first-level cell width (0 when the column holds one value)
    clean: bool = True  # no NaN or infinity on either side
    zooms: list[Zoom] = field(default_factory=list)

    @classmethod
    def over(cls, name: str, low: float, high: float, values: int, clean: bool = True) -> Grid:
        bins = bins_for(values)
        return cls(name, low, bins, (high - low) / bins if high > low else 0.0, clean)

    def step(self, level: int) -> int:
        """Key units per sub-cell at zoom *level* (0 is the first zoom level)."""
        return self.bins if level == 0 else 1

    def parent(self, key: Any, level: int) -> Any:
        """The key of the cell that *key* (an array or an expression) was split from at *level*."""
        unit = self.bins * self.bins if level == 0 else self.bins
        return (key // unit) * unit

    def keyed(self, v: ir.Table) -> ir.Table:
        """``k, x`` for a table of present values ``x``: first-level bins, then each zoom as a join."""
        scale = 1.0 / self.width if self.width > 0 else 0.0
        v = v.select(k=_bin(v.x, self.origin, scale, self.bins - 1) * (self.bins * self.bins), x=v.x)
        for level, zoom in enumerate(self.zooms):
            z = zoom.table(level)
            # a new relation (view) for each level: Ibis would fold a join on a computed key into
            # the previous join's chain and refuse the predicate
            j = v.view().left_join(z, _.k == z[f"parent{level}"])
            parent = j[f"parent{level}"]
            raw = ((j.x - j[f"start{level}"]) * j[f"scale{level}"]).floor()
            sub = ibis.greatest(ibis.least(raw, j[f"top{level}"]), 0).cast("int64")
            v = j.select(k=parent.isnull().ifelse(j.k, parent + sub * self.step(level)), x=j.x)
        return v

    def first_cells(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nominal edges (relative to origin) of first-level cells."""
        b = keys // (self.bins * self.bins)
        return b * self.width, (b + 1) * self.width

    def split(self, cells: dc.Cells, parents: np.ndarray, bins: int) -> Zoom:
        """A new zoom level splitting the cells keyed *parents* into *bins* sub-cells each."""
        at = np.searchsorted(cells.key, parents)
        span = cells.hi[at] - cells.lo[at]
        zoom = Zoom(parents, self.origin + cells.lo[at], span / bins, np.full(parents.size, bins))
        self.zooms.append(zoom)
        return zoom


def _bin(x: ir.FloatingValue, start: float, scale: float, top: int) -> ir.IntegerValue:
    raw = ((x - ibis.literal(start, "float64")) * ibis.literal(scale, "float64")).floor()
    return ibis.greatest(ibis.least(raw, top), 0).cast("int64")


def _side(t: ir.Table, grid: Grid, within: tuple[float, float] | None = None) -> ir.Table:
    """``k, x`` of the present values of one side, optionally only those *within* a range.

    The range is a cheap prefilter; the caller still selects cells by key, which alone
    decides membership.
    """
    x, ok = finite(t, grid.name, grid.clean)
    if within is not None:
        ok = ok & x.between(*within)
    t = t.filter(ok)
    return grid.keyed(t.select(x=finite(t, grid.name, True)[0]))


def _enclosing(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float] | None:
    """One value range around cells with absolute nominal edges *lo*/*hi*, widened for rounding.

    A single range is a cheap prefilter (two comparisons; several ORed ranges cost more
    than computing every key). Membership is still decided by the key.
    """
    if lo.size == 0:
        return None
    low, high = float(np.min(lo)), float(np.max(hi))
    margin = 1e-9 * max(abs(low), abs(high), high - low, 1e-300)
    return low - margin, high + margin


def histogram_expr(ref: ir.Table, cur: ir.Table, grids: Sequence[tuple[int, Grid]]) -> ir.Table:
    """First-level cells of several columns in one query: ``col, k, ref, cur, ref_sum, cur_sum``.

    Both sides are counted in one grouping per column (sums of ``x - origin``), so the
    cells arrive merged: one row per non-empty cell.
    """
    parts = []
    for index, grid in grids:
        sides = (_side(t, grid).mutate(side=ibis.literal(s, "int8")) for s, t in ((0, ref), (1, cur)))
        u = ibis.union(*sides)
        shifted, is_ref = u.x - grid.origin, u.side == 0
        cells = u.group_by("k").aggregate(
            ref=u.count(where=is_ref),
            cur=u.count(where=~is_ref),
            ref_sum=shifted.sum(where=is_ref).fill_null(0.0),
            cur_sum=shifted.sum(where=~is_ref).fill_null(0.0),
        )
        parts.append(cells.mutate(col=ibis.literal(index, "int32")))
    return ibis.union(*parts)


def zoom_expr(ref: ir.Table, cur: ir.Table, zooms: Sequence[tuple[int, Grid]]) -> ir.Table:
    """Sub-cells of the cells split by each grid's newest zoom level, several columns in one query."""
    parts = []
    for index, grid in zooms:
        level = len(grid.zooms) - 1
        parents = ibis.memtable(pa.table({"p": pa.array(grid.zooms[-1].parents, pa.int64())}))
        for side, t in ((0, ref), (1, cur)):
            v = _side(t, grid)
            v = v.mutate(p=grid.parent(v.k, level)).semi_join(parents, "p")
            cells = v.group_by("k").aggregate(
                n=v.count(), s=(v.x - grid.origin).sum(), low=v.x.min(), high=v.x.max()
            )
            parts.append(cells.mutate(col=ibis.literal(index, "int32"), side=ibis.literal(side, "int8")))
    return ibis.union(*parts)


@dataclass(frozen=True)
class RefineTask:
    """One column's refinement: which cells, the column's present counts, and a prefilter range."""

    index: int
    grid: Grid
    plan: dc.Refinement
    n: int
    m: int

    @property
    def within(self) -> tuple[float, float] | None:
        return _enclosing(self.plan.lo, self.plan.hi)


def refine_expr(ref: ir.Table, cur: ir.Table, tasks: Sequence[RefineTask], partitioned: bool) -> ir.Table:
    """One ordered pass over the refined cells' values, for several columns in one query.

    Per distinct value x_j (in value order) the running counts give ``d_j = F - G`` just
    after it, and ``d_{j-1} = d_j - (ca_j/n - cb_j/m)`` just before it, so no ``lead`` or
    ``lag`` is needed: summation by parts turns a cell's ``∫|F - G|`` into
    ``|d_end| (hi - lo) + Σ_j (x_j - lo)(|d_{j-1}| - |d_j|)`` (the first term is added by
    :func:`paceline.analytics.drift_cells.finish`).

    The columns share one plan (their values are stacked with a ``col`` tag, the running
    counts restart per column), so the query is compiled once per batch, not per column.
    The result has, per column, one row with ``ks`` and ``w1`` (``k`` null), and the rows
    of the cells around the deciles (``k, x, ca, cb, a, b``, running counts over the column).
    """
    params = _refine_params(tasks, partitioned)
    leaves = [
        _side(t, task.grid, task.within).mutate(
            side=ibis.literal(s, "int64"), col=ibis.literal(task.index, "int32")
        )
        for task in tasks
        for s, t in ((0, ref), (1, cur))
    ]
    u = ibis.union(*leaves).semi_join(params, ["col", "k"])
    grouped = u.group_by(["col", "k", "x"]).aggregate(n=u.count(), cb=u.side.sum())
    rows = grouped.select("col", "k", "x", ca=grouped.n - grouped.cb, cb=grouped.cb)
    running = ibis.window(
        group_by=[rows.col, rows.k] if partitioned else [rows.col], order_by=[rows.x], rows=(None, 0)
    )
    rows = rows.mutate(a=rows.ca.sum().over(running), b=rows.cb.sum().over(running))
    j = rows.join(params, ["col", "k"])
    j = j.select("col", "k", "x", "ca", "cb", "lo", "n", "m", a=j.a + j.off_ref, b=j.b + j.off_cur)
    after = (j.a.cast("float64") / j.n - j.b.cast("float64") / j.m).abs()
    before = ((j.a - j.ca).cast("float64") / j.n - (j.b - j.cb).cast("float64") / j.m).abs()
    none_i, none_f = ibis.null("int64"), ibis.null("float64")
    totals = j.group_by("col").aggregate(ks=after.max(), w1=((j.x - j.lo) * (before - after)).sum())
    totals = totals.select(
        "col", k=none_i, x=none_f, ca=none_i, cb=none_i, a=none_i, b=none_i, ks=_.ks, w1=_.w1
    )
    # a plain filter keeps j one common table expression (a semi-join would make the engine
    # compute it twice); a key another column also wants is dropped by read_refined
    wanted = sorted({int(k) for task in tasks for k in task.plan.row_keys})
    cells = j.filter(j.k.isin(wanted))
    cells = cells.select("col", "k", "x", "ca", "cb", "a", "b", ks=none_f, w1=none_f)
    return totals.union(cells)


def _refine_params(tasks: Sequence[RefineTask], partitioned: bool) -> ir.Table:
    """Per refined cell: its column, key, lower edge, the count offsets, and the column's sizes."""

    def stacked(values: list[Any], dtype: pa.DataType) -> pa.Array:
        return pa.array(np.concatenate(values) if values else [], dtype)

    return ibis.memtable(
        pa.table(
            {
                "col": stacked([np.full(t.plan.keys.size, t.index) for t in tasks], pa.int32()),
                "k": stacked([t.plan.keys for t in tasks], pa.int64()),
                "lo": stacked([t.plan.lo for t in tasks], pa.float64()),
                "off_ref": stacked(
                    [t.plan.before_ref if partitioned else t.plan.adj_ref for t in tasks], pa.int64()
                ),
                "off_cur": stacked(
                    [t.plan.before_cur if partitioned else t.plan.adj_cur for t in tasks], pa.int64()
                ),
                "n": stacked([np.full(t.plan.keys.size, float(t.n)) for t in tasks], pa.float64()),
                "m": stacked([np.full(t.plan.keys.size, float(t.m)) for t in tasks], pa.float64()),
            }
        )
    )


def count_at_expr(ref: ir.Table, cur: ir.Table, asks: Sequence[tuple[int, Grid, float]]) -> ir.Table:
    """Each side's present values at or below an edge (for deciles whose cells were too many to return)."""
    parts = []
    for index, (col, grid, edge) in enumerate(asks):
        for side, t in ((0, ref), (1, cur)):
            x, ok = finite(t, grid.name, grid.clean)
            v = t.filter(ok & (x <= edge))
            parts.append(
                v.aggregate(n=v.count()).mutate(
                    ask=ibis.literal(index, "int32"),
                    col=ibis.literal(col, "int32"),
                    side=ibis.literal(side, "int8"),
                )
            )
    return ibis.union(*parts)


@dataclass
class NumericPlan:
    """Per column: its grid, counts, and the steps' results as they arrive."""

    name: str
    grid: Grid
    n: int
    m: int
    cells: dc.Cells | None = None
    screen: dc.Screen | None = None
    todo: dc.Refinement | None = None  # the cells to refine, once chosen (the cells are then freed)
    settled: dc.Settled | None = None
    stats: dc.NumericStats | None = None


def _columns(table: pa.Table) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _merge_sides(cols: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per-side cell rows of one column as one row per key: counts and sums of both sides."""
    keys = cols["k"][mask].astype(np.int64)
    side = cols["side"][mask]
    unique, where = np.unique(keys, return_inverse=True)
    out = {"key": unique}
    for name, s in (("ref", 0), ("cur", 1)):
        chosen = side == s
        count = np.zeros(unique.size, np.int64)
        total = np.zeros(unique.size)
        count[where[chosen]] = cols["n"][mask][chosen]
        total[where[chosen]] = cols["s"][mask][chosen]
        out[name], out[f"{name}_sum"] = count, total
    if "low" in cols:
        low, high = np.full(unique.size, np.inf), np.full(unique.size, -np.inf)
        np.minimum.at(low, where, cols["low"][mask].astype(np.float64))
        np.maximum.at(high, where, cols["high"][mask].astype(np.float64))
        out["point"] = np.where(low == high, low, np.nan)
    return out


def read_cells(table: pa.Table, plans: dict[int, NumericPlan]) -> None:
    """Attach first-level cells from a histogram result to each plan."""
    cols = _columns(table)
    for index, plan in plans.items():
        mask = cols["col"] == index
        key = cols["k"][mask].astype(np.int64)
        lo, hi = plan.grid.first_cells(key)
        sides = {name: cols[name][mask] for name in ("ref", "cur", "ref_sum", "cur_sum")}
        plan.cells, plan.screen = dc.Cells.from_arrays(key=key, lo=lo, hi=hi, **sides), None


def plan_heavy_zoom(plans: dict[int, NumericPlan]) -> list[tuple[int, Grid]]:
    """Split cells holding a large share of a column's values (outliers stretched its range)."""
    out = []
    for index, plan in plans.items():
        assert plan.cells is not None
        if len(plan.grid.zooms) >= ZOOM_LEVELS or plan.grid.width == 0:
            continue
        parents = plan.cells.heavy(HEAVY_SHARE, HEAVY_LIMIT, HEAVY_LEAST)
        if parents.size:
            plan.grid.split(plan.cells, parents, plan.grid.bins)
            out.append((index, plan.grid))
    return out


def plan_unsettled_zoom(plans: dict[int, NumericPlan]) -> list[tuple[int, Grid]]:
    """Split the unsettled cells of columns where they hold too many values to refine directly.

    Unsettled cells are few (they lie where F - G comes close to 0) but, with much data,
    each holds many values; split into a few dozen sub-cells each, most of them settle.
    """
    out = []
    for index, plan in plans.items():
        assert plan.screen is not None and plan.cells is not None
        cells = plan.cells
        open_cells = plan.screen.unsettled & (cells.total > 1)
        if len(plan.grid.zooms) >= ZOOM_LEVELS or int(cells.total[open_cells].sum()) <= REFINE_TARGET:
            continue
        parents = cells.key[open_cells]
        bins = int(2 ** np.clip(np.floor(np.log2(SUBCELLS / parents.size)), 1, 12))
        plan.grid.split(cells, parents, bins)
        out.append((index, plan.grid))
    return out


def read_zoom(table: pa.Table, zooms: list[tuple[int, Grid]], plans: dict[int, NumericPlan]) -> None:
    """Replace each split cell by its sub-cells (single-value sub-cells become exact points)."""
    cols = _columns(table)
    for index, grid in zooms:
        plan = plans[index]
        assert plan.cells is not None
        merged = _merge_sides(cols, cols["col"] == index)
        level = len(grid.zooms) - 1
        parent = grid.parent(merged["key"], level)
        sub = (merged["key"] - parent) // grid.step(level)
        lo, hi = grid.zooms[-1].edges(parent, sub, grid.origin)
        children = dc.Cells.from_arrays(lo=lo, hi=hi, **merged)
        plan.cells, plan.screen = plan.cells.replace_cells(grid.zooms[-1].parents, children), None


def read_refined(table: pa.Table, task: RefineTask) -> dc.Refined:
    """One column's part of the refinement result (a summary row with a null key, then cell rows)."""
    table = table.filter(pc.equal(table.column("col"), task.index))
    summary = table.column("k").is_null()
    head = table.filter(summary)
    cells = table.filter(pc.is_in(table.column("k"), pa.array(task.plan.row_keys, pa.int64())))

    def ints(name: str) -> np.ndarray:
        return cells.column(name).to_numpy().astype(np.int64)

    found = head.num_rows > 0  # a column with no refined cells has no summary row
    return dc.Refined(
        ks=float((found and head.column("ks")[0].as_py()) or 0.0),
        w1=float((found and head.column("w1")[0].as_py()) or 0.0),
        rows=dc.CellRows(
            key=ints("k"),
            x=cells.column("x").to_numpy().astype(np.float64),
            ca=ints("ca"),
            cb=ints("cb"),
            a=ints("a"),
            b=ints("b"),
        ),
    )
