"""Drift over the warehouse's ``predictions``: a reference window against current windows.

For one model, every scalar key of the ``features`` JSON objects becomes a column
(numeric when every value in the reference window reads as a number, else
categorical), next to ``prediction`` (categorical: the model's output) and
``score`` (numeric: its confidence). Each current window is compared with the
reference window by :func:`paceline.services.drift.compare_tables`, so the JSON is
unpacked and every statistic computed inside the engine (DuckDB or Spark).

Windows are half-open UTC intervals ``[start, end)``. A value of another type than
its feature's kind (a word where numbers are expected) counts as missing.

Example:
    >>> reports = drift_over_windows(con, "claims-router",                 # doctest: +SKIP
    ...     reference=Window.days(date(2026, 1, 1), date(2026, 1, 28)),
    ...     current=rolling_windows(datetime(2026, 1, 29, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC),
    ...                             timedelta(days=7)))
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from paceline.analytics.drift import DriftPolicy, DriftReport, Kind
from paceline.errors import NotFound, ValidationError
from paceline.services.drift import EngineOptions, compare_tables
from paceline.services.parsing import parse_date

PREDICTION, SCORE = "prediction", "score"
DEFAULT_REFERENCE_DAYS = 28
MAX_FEATURES = 500
DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    @classmethod
    def days(cls, first: date, last: date) -> Window:
        """The whole days *first* to *last*, both included (UTC)."""
        return cls(_midnight(first), _midnight(last) + timedelta(days=1))

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def parse_every(text: str) -> timedelta:
    """``7d``, ``1w``, ``12h`` as a duration (ValidationError naming the value otherwise)."""
    match = DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            f"--current-every {text!r} is not a duration", field="current_every", fix="use e.g. 7d, 1w or 24h"
        )
    amount, unit = int(match.group(1)), match.group(2)
    return {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]


def rolling_windows(start: datetime, end: datetime, every: timedelta) -> list[Window]:
    """Consecutive windows of length *every* from *start*; the last one ends at *end*."""
    out, at = [], start
    while at < end:
        out.append(Window(at, min(at + every, end)))
        at += every
    return out


# --- JSON features through engine builtins (Ibis runs its own JSON ops as Python UDFs on Spark) -----


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duck_text(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB: the value at *path* as text."""


@ibis.udf.scalar.builtin(name="json_keys")
def _duck_keys(doc: str) -> list[str]:  # type: ignore[empty-body]
    """DuckDB: the object's keys."""


@ibis.udf.scalar.builtin(name="get_json_object")
def _spark_text(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark: the value at *path* as text."""


@ibis.udf.scalar.builtin(name="json_object_keys")
def _spark_keys(doc: str) -> list[str]:  # type: ignore[empty-body]
    """Spark: the object's keys."""


def _is_duckdb(t: ir.Table) -> bool:
    return bool(t.get_backend().name == "duckdb")


def json_text(t: ir.Table, key: str) -> ir.StringValue:
    """The text of the feature *key* (numbers as written, strings without quotes, null if absent)."""
    if _is_duckdb(t):
        return _duck_text(t.features, '$."' + key.replace('"', '\\"') + '"')
    return _spark_text(t.features, "$['" + key.replace("'", "\\'") + "']")


def _json_keys(t: ir.Table) -> ir.ArrayValue:
    return _duck_keys(t.features) if _is_duckdb(t) else _spark_keys(t.features)


# --- the windows ------------------------------------------------------------------------


def predictions_of(con: Any, model: str, window: Window, version: str | None = None) -> ir.Table:
    p = con.table("predictions")
    keep = (p.model == model) & (p.predicted_at >= window.start) & (p.predicted_at < window.end)
    if version is not None:
        keep = keep & (p.model_version == version)
    return p.filter(keep)


def prediction_span(con: Any, model: str, version: str | None = None) -> tuple[datetime, datetime]:
    """First and last ``predicted_at`` of the model (NotFound when it has no predictions)."""
    p = con.table("predictions")
    keep = p.model == model
    if version is not None:
        keep = keep & (p.model_version == version)
    row = p.filter(keep).aggregate(first=p.predicted_at.min(), last=p.predicted_at.max()).to_pyarrow()
    first, last = row.column("first")[0].as_py(), row.column("last")[0].as_py()
    if first is None:
        what = f"model {model!r}" + (f" version {version!r}" if version else "")
        raise NotFound(f"no predictions of {what}", fix="check the name with the predictions you ingested")
    return _utc(first), _utc(last)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def feature_kinds(reference: ir.Table) -> tuple[dict[str, Kind], dict[str, str]]:
    """Each scalar feature key of the reference window and its kind; nested keys are skipped."""
    keys = reference.filter(reference.features.notnull()).select(k=_json_keys(reference))
    keys = keys.select(k=keys.k.unnest()).distinct().order_by("k")
    names = [k for k in keys.to_pyarrow().column("k").to_pylist() if k is not None]
    if len(names) > MAX_FEATURES:
        raise ValidationError(
            f"the features hold {len(names):,} different keys: too many to monitor",
            field="features",
            fix=f"name the features to compare (at most {MAX_FEATURES})",
        )
    if not names:
        return {}, {}
    aggs: dict[str, ir.Value] = {}
    for i, name in enumerate(names):
        text = json_text(reference, name)
        aggs[f"t{i}"] = text.count()
        aggs[f"n{i}"] = text.try_cast("float64").count()
        aggs[f"o{i}"] = (text.startswith("{") | text.startswith("[")).cast("int64").sum()
    row = reference.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    kinds: dict[str, Kind] = {}
    skipped: dict[str, str] = {}
    for i, name in enumerate(names):
        if int(row[f"o{i}"] or 0) > 0:
            skipped[name] = "nested JSON objects or arrays are not compared"
        else:
            kinds[name] = Kind.NUMERIC if row[f"n{i}"] == row[f"t{i}"] else Kind.CATEGORICAL
    return kinds, skipped


def column_names(features: dict[str, Kind]) -> dict[str, str]:
    """Output column name of each feature: its key, prefixed ``features.`` if it clashes."""
    return {f: (f"features.{f}" if f in (PREDICTION, SCORE) else f) for f in features}


def window_table(t: ir.Table, features: dict[str, Kind]) -> ir.Table:
    """One row per prediction: each feature as a typed column, then ``prediction`` and ``score``."""
    names = column_names(features)
    cols: dict[str, ir.Value] = {}
    for key, kind in features.items():
        text = json_text(t, key)
        cols[names[key]] = text.try_cast("float64") if kind is Kind.NUMERIC else text
    cols[PREDICTION] = t.prediction
    cols[SCORE] = t.score.cast("float64")
    return t.select(**cols)


def as_window(value: Window | tuple[datetime, datetime]) -> Window:
    """A :class:`Window` from itself or a ``(start, end)`` pair of datetimes (naive ones are UTC)."""
    if isinstance(value, Window):
        return value
    start, end = (_utc(v) for v in value)
    if end <= start:
        raise ValidationError(
            f"window {start.isoformat()} to {end.isoformat()} is empty",
            field="window",
            fix="end after the start",
        )
    return Window(start, end)


def drift_over_windows(
    con: Any,
    model: str,
    reference: Window | tuple[datetime, datetime],
    current: Sequence[Window | tuple[datetime, datetime]],
    policy: DriftPolicy | None = None,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    version: str | None = None,
    options: EngineOptions | None = None,
) -> list[DriftReport]:
    """One :class:`DriftReport` per current window that holds predictions (empty windows are left out).

    Windows are :class:`Window` objects or ``(start, end)`` datetimes, ``[start, end)``.
    *features* limits the compared feature keys (default: every scalar key seen in the
    reference window); *categorical* forces numeric-looking features to categories.
    This is the entry for other monitors (alerting, the model page).
    """
    base, windows = as_window(reference), [as_window(w) for w in current]
    ref_rows = predictions_of(con, model, base, version)
    _require_rows(ref_rows, model, base)
    kinds, skipped = _chosen_features(feature_kinds(ref_rows), model, features, categorical)
    forced = [column_names(kinds).get(name, name) for name in categorical]
    # Each window's features are unpacked once, into an engine-side table: the statistics then
    # query plain columns instead of repeating the JSON extraction in every expression.
    with materialized(con, window_table(ref_rows, kinds)) as ref_table:
        reports = []
        for window in windows:
            with materialized(
                con, window_table(predictions_of(con, model, window, version), kinds)
            ) as cur_table:
                if _is_empty(cur_table):
                    continue
                report = compare_tables(
                    ref_table,
                    cur_table,
                    categorical=forced,
                    policy=policy,
                    options=options,
                    windows={"reference": base.to_dict(), "current": window.to_dict()},
                )
            reports.append(_with_skipped(report, skipped))
    return reports


@contextmanager
def materialized(con: Any, expr: ir.Table) -> Iterator[ir.Table]:
    """*expr* computed once into an engine-side temporary table (dropped afterwards).

    A window's features are unpacked from JSON once instead of in every query. (Ibis's own
    ``cache()`` cannot drop its table with the sqlglot installed here, hence plain SQL.)
    """
    name = f"paceline_drift_{uuid.uuid4().hex}"
    sql = con.compile(expr)
    duck = con.name == "duckdb"
    con.raw_sql(f'CREATE TEMP TABLE "{name}" AS {sql}' if duck else f"CACHE TABLE `{name}` AS {sql}")
    try:
        yield con.table(name)
    finally:
        if duck:
            con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        else:
            con.raw_sql(f"UNCACHE TABLE IF EXISTS `{name}`")
            con.raw_sql(f"DROP VIEW IF EXISTS `{name}`")


def _chosen_features(
    found: tuple[dict[str, Kind], dict[str, str]],
    model: str,
    features: Sequence[str] | None,
    categorical: Sequence[str],
) -> tuple[dict[str, Kind], dict[str, str]]:
    """The features to compare (all scalar ones by default) and those left out, checking the names."""
    kinds, skipped = found
    if features is not None:
        missing = [f for f in features if f not in kinds]
        if missing:
            raise ValidationError(
                f"feature {missing[0]!r} does not appear in the reference window of {model!r}",
                field="features",
                fix=f"choose among: {', '.join(kinds) or '(no scalar features)'}",
            )
        kinds, skipped = {f: kinds[f] for f in features}, {}
    for name in categorical:
        if name not in kinds and name not in (PREDICTION, SCORE):
            raise ValidationError(
                f"--categorical names {name!r}, which is not a feature of {model!r}",
                field="categorical",
                fix=f"choose among: {', '.join(kinds)}",
            )
    return kinds, skipped


def _is_empty(t: ir.Table) -> bool:
    return int(t.limit(1).count().to_pyarrow().as_py()) == 0


def _require_rows(t: ir.Table, model: str, window: Window) -> None:
    if _is_empty(t):
        raise ValidationError(
            f"model {model!r} has no predictions in the reference window "
            f"{window.start.isoformat()} to {window.end.isoformat()}",
            field="reference",
            fix="choose a reference window with predictions (--reference-start/--reference-end)",
        )


def _with_skipped(report: DriftReport, skipped: dict[str, str]) -> DriftReport:
    if not skipped:
        return report
    from dataclasses import replace

    return replace(report, skipped={**report.skipped, **skipped})


def default_windows(
    con: Any,
    model: str,
    version: str | None = None,
    reference: Window | None = None,
    every: timedelta = timedelta(days=7),
    current: Window | None = None,
    latest: int | None = None,
) -> tuple[Window, list[Window]]:
    """The reference (default: the model's first 28 days) and the current windows.

    With *current* given, that one window; otherwise rolling windows of *every* from
    the reference's end to the last prediction, only the *latest* ones when given
    (a dashboard needs recent weeks, not every week since go-live).
    """
    first, last = prediction_span(con, model, version)
    if reference is None:
        start = _midnight(first.date())
        reference = Window(start, start + timedelta(days=DEFAULT_REFERENCE_DAYS))
    if current is not None:
        return reference, [current]
    end = _midnight(last.date()) + timedelta(days=1)
    windows = rolling_windows(reference.end, end, every)
    if not windows:
        raise ValidationError(
            f"no predictions of {model!r} after the reference window (last one: {last.isoformat()})",
            field="current",
            fix="end the reference earlier (--reference-end) or give --current-start/--current-end",
        )
    return reference, windows[-latest:] if latest else windows


def model_use_cases(con: Any, model: str) -> list[str]:
    """The use cases a model's predictions belong to (for permission checks)."""
    p = con.table("predictions")
    rows = p.filter(p.model == model).select("use_case").distinct().to_pyarrow()
    return sorted(v for v in rows.column("use_case").to_pylist() if v is not None)


@dataclass(frozen=True)
class WindowRequest:
    """The windows a user asked for: days (UTC, both ends included) and a rolling step."""

    reference: tuple[date | str, date | str] | None = None
    current: tuple[date | str, date | str] | None = None
    every: str | timedelta = "7d"
    latest: int | None = None  # only the most recent rolling windows

    def resolve(self, con: Any, model: str, version: str | None) -> tuple[Window, list[Window]]:
        reference = _days(self.reference, "reference")
        current = _days(self.current, "current")
        every = self.every if isinstance(self.every, timedelta) else parse_every(self.every)
        if self.latest is not None and self.latest < 1:
            raise ValidationError(
                f"latest {self.latest} asks for no window",
                field="latest",
                fix="give a number of windows of at least 1 (or leave it out for all of them)",
            )
        return default_windows(con, model, version, reference, every, current, self.latest)


def _days(pair: tuple[date | str, date | str] | None, name: str) -> Window | None:
    if pair is None:
        return None
    first, last = (
        parse_date(v, f"{name}_{edge}") if isinstance(v, str) else v
        for v, edge in zip(pair, ("start", "end"), strict=True)
    )
    if last < first:
        raise ValidationError(
            f"the {name} window ends ({last}) before it starts ({first})",
            field=f"{name}_end",
            fix=f"give --{name}-end on or after --{name}-start",
        )
    return Window.days(first, last)


def monitor_drift(
    con: Any,
    model: str,
    request: WindowRequest | None = None,
    policy: DriftPolicy | None = None,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    version: str | None = None,
) -> list[DriftReport]:
    """``paceline monitor drift --model``: resolve the windows, then :func:`drift_over_windows`."""
    reference, current = (request or WindowRequest()).resolve(con, model, version)
    return drift_over_windows(
        con, model, reference, current, policy, features=features, categorical=categorical, version=version
    )
