"""DuckDB SQL that parses, defaults and checks one batch of a canonical table.

The query reads the raw batch (strings from CSV/JSON, native types from Parquet)
and returns the typed columns plus ``__check``: 0 for a good row, else the
1-based index of the first rule it broke in :attr:`BatchQuery.checks`. Checking
with ``TRY_CAST`` inside the engine keeps the per-row work out of Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from paceline.domain.tables import (
    BOOL_FALSE,
    BOOL_TRUE,
    SURVEY_SCALES,
    Column,
    Kind,
    Ordering,
    Table,
)
from paceline.storage.readers import ROW_COLUMN

SQL_TYPES = {
    Kind.STRING: "VARCHAR",
    Kind.ENUM: "VARCHAR",
    Kind.JSON: "VARCHAR",
    Kind.FLOAT: "DOUBLE",
    Kind.BOOL: "BOOLEAN",
    Kind.TIMESTAMP: "TIMESTAMPTZ",
    Kind.DATE: "DATE",
}
KIND_WORDS = {
    Kind.FLOAT: "is not a number",
    Kind.BOOL: "is not a boolean (true/false/1/0/yes/no)",
    Kind.TIMESTAMP: "is not an ISO 8601 timestamp",
    Kind.DATE: "is not a date (YYYY-MM-DD)",
    Kind.JSON: "is not a JSON object",
}
# An ISO time of day followed by Z or a numeric offset: the timestamp says its zone.
OFFSET_PATTERN = r"\d:\d\d(:\d\d(\.\d*)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)$"
ATTRIBUTES = "attributes"
# Surrounding spaces, tabs and line breaks are not part of a value.
BLANKS = "' ' || chr(9) || chr(10) || chr(13)"
NAIVE_COLUMN = "__naive"


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Check:
    """One row rule: the column it blames, the reason, and the SQL that is true when broken."""

    column: str | None
    reason: str
    sql: str


@dataclass(frozen=True)
class BatchQuery:
    sql: str
    checks: tuple[Check, ...]


def _is_text(t: pa.DataType | None) -> bool:
    return t is not None and (pa.types.is_string(t) or pa.types.is_large_string(t))


TEXT_KINDS = (Kind.STRING, Kind.ENUM, Kind.JSON)


def _text(raw: str, trim: bool) -> str:
    """The cell as text, NULL when empty (and, for text formats, surrounding blanks removed)."""
    value = f"CAST({raw} AS VARCHAR)"
    return f"NULLIF(TRIM({value}, {BLANKS}), '')" if trim else f"NULLIF({value}, '')"


def _parse(col: Column, src: pa.DataType | None, trim: bool) -> str:
    """SQL turning the raw column into its canonical type (NULL when it does not parse)."""
    if src is None:
        return f"CAST(NULL AS {SQL_TYPES[col.kind]})"
    raw = q(col.name)
    if not _is_text(src) and col.kind in (Kind.FLOAT, Kind.TIMESTAMP, Kind.DATE):
        return f"TRY_CAST({raw} AS {SQL_TYPES[col.kind]})"
    if not _is_text(src) and col.kind is Kind.BOOL and pa.types.is_boolean(src):
        return raw
    text = _text(raw, trim or col.kind not in TEXT_KINDS)
    match col.kind:
        case Kind.STRING | Kind.JSON:
            return text
        case Kind.ENUM:
            return f"LOWER({text})"
        case Kind.BOOL:
            yes = ", ".join(map(lit, BOOL_TRUE))
            no = ", ".join(map(lit, BOOL_FALSE))
            return f"CASE WHEN LOWER({text}) IN ({yes}) THEN TRUE WHEN LOWER({text}) IN ({no}) THEN FALSE END"
        case _:
            return f"TRY_CAST({text} AS {SQL_TYPES[col.kind]})"


def _present(col: Column, src: pa.DataType | None) -> str | None:
    """SQL true when the raw cell holds something (not null, not blank).

    ``None`` for text kinds, whose parsed value is already NULL exactly when the
    cell is blank; computing it once saves a string scan per column.
    """
    if col.kind in TEXT_KINDS:
        return None
    if src is None:
        return "FALSE"
    if _is_text(src):
        return f"{_text(q(col.name), True)} IS NOT NULL"
    return f"{q(col.name)} IS NOT NULL"


def _present_ref(col: Column) -> str:
    if col.kind in TEXT_KINDS:
        return f"(p.{q(col.name)} IS NOT NULL)"
    return f"p.{q('__present_' + col.name)}"


def _column_checks(col: Column) -> list[Check]:
    name = q(col.name)
    present = _present_ref(col)
    checks: list[Check] = []
    if col.required:
        checks.append(Check(col.name, f"{col.name} is required", f"NOT {present}"))
    if col.kind in KIND_WORDS:
        broken = f"{present} AND p.{name} IS NULL"
        if col.kind is Kind.FLOAT:
            broken = f"({broken}) OR (p.{name} IS NOT NULL AND NOT isfinite(p.{name}))"
        if col.kind is Kind.JSON:
            broken = f"p.{name} IS NOT NULL AND (NOT json_valid(p.{name}) OR json_type(p.{name}) <> 'OBJECT')"
        checks.append(Check(col.name, f"{col.name} {KIND_WORDS[col.kind]}", broken))
    if col.kind is Kind.ENUM:
        allowed = ", ".join(map(lit, col.choices))
        checks.append(
            Check(
                col.name,
                f"{col.name} not one of {'/'.join(col.choices)}",
                f"p.{name} IS NOT NULL AND p.{name} NOT IN ({allowed})",
            )
        )
    if col.minimum is not None or col.maximum is not None:
        lo = "-inf" if col.minimum is None else f"{col.minimum:g}"
        hi = "inf" if col.maximum is None else f"{col.maximum:g}"
        cond = []
        if col.minimum is not None:
            cond.append(f"p.{name} < {col.minimum!r}")
        if col.maximum is not None:
            cond.append(f"p.{name} > {col.maximum!r}")
        checks.append(Check(col.name, f"{col.name} outside {lo}..{hi}", " OR ".join(cond)))
    return checks


def _table_checks(table: Table) -> list[Check]:
    checks = [
        Check(None, f"{' or '.join(group)} is required", " AND ".join(f"p.{q(c)} IS NULL" for c in group))
        for group in table.one_of_required
    ]
    if table.name == "survey_responses":
        for survey, (lo, hi) in SURVEY_SCALES.items():
            checks.append(
                Check(
                    "score",
                    f"score outside {lo:g}..{hi:g} for {survey}",
                    f"p.survey = {lit(survey)} AND (p.score < {lo} OR p.score > {hi})",
                )
            )
        checks.append(
            Check(
                "score",
                "score of an nps response must be a whole number",
                "p.survey = 'nps' AND p.score <> floor(p.score)",
            )
        )
    return checks


def _ordering_checks(table: Table) -> list[Check]:
    out = []
    for rule in _ordered(table.orderings):
        later, earlier = _defaulted(table, rule.later), _defaulted(table, rule.earlier)
        out.append(Check(rule.later, rule.reason, f"{later} < {earlier}"))
    return out


def _ordered(rules: tuple[Ordering, ...]) -> list[Ordering]:
    """Add the end-to-end rule (``completed_at before opened_at``) first, when implied."""
    extra: list[Ordering] = []
    for a in rules:
        for b in rules:
            if a.later == b.earlier:
                extra.append(Ordering(a.earlier, b.later))
    return extra + list(rules)


def _defaulted(table: Table, name: str, source: str = "p") -> str:
    col = table.column(name)
    ref = f"{source}.{q(name)}"
    if col.default_from:
        return f"COALESCE({ref}, {_defaulted(table, col.default_from, source)})"
    if isinstance(col.default, str):
        return f"COALESCE({ref}, {lit(col.default)})"
    if isinstance(col.default, float):
        return f"COALESCE({ref}, {col.default!r})"
    return ref


def _derived(table: Table, col: Column, settings_currency: str) -> str:
    """The stored value of *col*, with its default applied."""
    if table.name == "task_events" and col.name == "effort_seconds":
        started = _defaulted(table, "started_at")
        return f"COALESCE(p.effort_seconds, (epoch_us(p.completed_at) - epoch_us({started})) / 1e6)"
    if table.name == "costs" and col.name == "currency":
        return f"COALESCE(UPPER(p.currency), {lit(settings_currency)})"
    return _defaulted(table, col.name)


def _naive(table: Table, schema: pa.Schema) -> str:
    """SQL true when some timestamp in the row carried no zone (read as UTC)."""
    parts = []
    for col in table.columns:
        if col.kind is not Kind.TIMESTAMP or col.name not in schema.names:
            continue
        src = schema.field(col.name).type
        if _is_text(src):
            parts.append(
                f"({_present(col, src)} AND NOT regexp_matches(TRIM({q(col.name)}, {BLANKS}), "
                f"{lit(OFFSET_PATTERN)}))"
            )
        elif pa.types.is_timestamp(src) and src.tz is None:
            parts.append(f"{q(col.name)} IS NOT NULL")
    return " OR ".join(parts) if parts else "FALSE"


def build_query(table: Table, schema: pa.Schema, source: str, currency: str, trim: bool = True) -> BatchQuery:
    """The query over the relation *source* with the raw *schema*.

    *trim* removes surrounding blanks from text cells (CSV and JSON Lines); typed
    Parquet strings are taken as stored, empty strings still counting as missing.
    """
    known = set(table.column_names)
    extras = [n for n in schema.names if n not in known and n != ROW_COLUMN]
    parsed = [
        f"{_parse(c, schema.field(c.name).type if c.name in schema.names else None, trim)} AS {q(c.name)}"
        for c in table.columns
    ]
    types = {c.name: (schema.field(c.name).type if c.name in schema.names else None) for c in table.columns}
    present = [
        f"({sql}) AS {q('__present_' + c.name)}"
        for c in table.columns
        if (sql := _present(c, types[c.name])) is not None
    ]
    checks: list[Check] = []
    for col in table.columns:
        checks.extend(_column_checks(col))
    checks.extend(_table_checks(table))
    checks.extend(_ordering_checks(table))
    case = " ".join(f"WHEN {c.sql} THEN {i}" for i, c in enumerate(checks, start=1))
    attrs = (
        "CAST(NULL AS VARCHAR)"
        if not extras
        else "CAST(json_object(" + ", ".join(f"{lit(e)}, {q(e)}" for e in extras) + ") AS VARCHAR)"
    )
    out_cols = [f"{_derived(table, c, currency)} AS {q(c.name)}" for c in table.columns]
    check_sql = f"CASE {case} ELSE 0 END" if checks else "0"
    sql = f"""
        WITH p AS (
            SELECT {ROW_COLUMN}, {", ".join(parsed + present)},
                   {attrs} AS {ATTRIBUTES}, ({_naive(table, schema)}) AS {NAIVE_COLUMN}
            FROM {source}
        )
        SELECT {ROW_COLUMN}, {", ".join(out_cols)}, {ATTRIBUTES}, {NAIVE_COLUMN},
               {check_sql} AS __check
        FROM p
    """
    return BatchQuery(sql, tuple(checks))
