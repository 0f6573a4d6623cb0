"""Periods of the performance report by integer arithmetic on epoch microseconds.

Time-zone-aware truncation (``DATE_TRUNC`` on a ``TIMESTAMPTZ``) runs through ICU in DuckDB
and is slow (8.0 s for ``DATE_TRUNC('day')`` against 0.3 s for ``epoch_us`` over 10M
timestamps, measured while writing this on the 2-core development machine); periods here are
whole UTC days, so they are computed from epoch microseconds with integer arithmetic, the
same on every engine, and turned into dates in Python. :func:`period_start` is the same
rule for values already in Python (the review decisions).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from paceline.domain.kpis import Grain

US_PER_DAY = 86_400_000_000
MICROS_SIGNATURE = ((dt.Timestamp(timezone="UTC"),), dt.int64)


@ibis.udf.scalar.builtin(name="epoch_us", signature=MICROS_SIGNATURE)
def _epoch_us(ts: Any) -> Any:
    """DuckDB's microseconds since 1970-01-01 UTC."""


@ibis.udf.scalar.builtin(name="unix_micros", signature=MICROS_SIGNATURE)
def _unix_micros(ts: Any) -> Any:
    """Spark's microseconds since 1970-01-01 UTC."""


def micros(con: Any, ts: ir.TimestampValue) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 UTC (no time-zone arithmetic on any engine)."""
    return _unix_micros(ts) if getattr(con, "name", "") == "pyspark" else _epoch_us(ts)


def _civil(days: ir.IntegerValue) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    """(year, month) of a day number (days since 1970-01-01): H. Hinnant's civil_from_days."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = ibis.ifelse(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + ibis.ifelse(month <= 2, 1, 0)
    return year, month


def period_key(micros: ir.IntegerValue, grain: Grain) -> ir.IntegerValue:
    """An integer naming the period: the day number of its first day (day, week from Monday),
    ``year * 12 + month - 1`` (month) or ``year * 4 + quarter - 1`` (quarter); 0 for total."""
    days = micros // US_PER_DAY
    if grain is Grain.TOTAL:
        return ibis.literal(0, "int64")  # one period (not null: it is a join key)
    if grain is Grain.DAY:
        return days
    if grain is Grain.WEEK:
        return days - (days + 3) % 7  # 1970-01-01 was a Thursday
    year, month = _civil(days)
    if grain is Grain.MONTH:
        return year * 12 + month - 1
    return year * 4 + (month - 1) // 3


def period_date(key: int | None, grain: Grain) -> date | None:
    """The first day of the period that :func:`period_key` named *key*."""
    if key is None or grain is Grain.TOTAL:
        return None
    if grain in (Grain.DAY, Grain.WEEK):
        return date(1970, 1, 1) + timedelta(days=key)
    if grain is Grain.MONTH:
        return date(key // 12, key % 12 + 1, 1)
    return date(key // 4, 3 * (key % 4) + 1, 1)


def period_start(day: date, grain: Grain) -> date | None:
    """The first day of the period *day* falls in (weeks start on Monday), as the engine truncates."""
    if grain is Grain.TOTAL:
        return None
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    if grain is Grain.MONTH:
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
