"""Return on investment over time, from measured KPI changes rather than the business case's hopes.

Phase 1 ranks use cases on *expected* value (:mod:`paceline.domain.usecases`).
Once a use case runs, the same value model is fed with what was *measured*: the
productivity uplift, the error rates before and after, and the adoption rate.
Benefits and costs are then lined up month by month into a cumulative ROI, and
the program's roll-up answers the framework's phase-6 question: is ROI still
growing?

Two conversions matter and are documented where they happen:

* a productivity uplift *u* (units per person-day up by *u*) saves
  ``1 - 1/(1 + u)`` of the time per task, not *u* (:func:`time_saved_share`);
* the error rates are measured over all the process's tasks, so they already
  reflect how many people use the tool; adoption scales the time value only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from paceline.domain.usecases import ValueInputs
from paceline.errors import ValidationError

QUARTER = 3  # months compared by the growth test


def _bad(name: str, value: Any, message: str, fix: str) -> ValidationError:
    return ValidationError(message, field=name, value=value, fix=fix)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, value, f"{name} {value!r} is not a number", "give a finite number")
    return float(value)


def _share(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    number = _number(name, value)
    if not 0 <= number <= 1:
        raise _bad(
            name, value, f"{name} {value!r} is not a share", "a share between 0 and 1 (0.25 means 25%)"
        )
    return number


def time_saved_share(productivity_uplift: float) -> float:
    """The share of time per task saved when output per person-day rises by *productivity_uplift*.

    Productivity is units per unit of time. If it rises by *u*, the same unit
    takes ``1 / (1 + u)`` of the time it took, so ``1 - 1/(1 + u)`` of the time is
    saved: a 25% uplift saves 20% of the time, not 25% (counting *u* itself would
    overstate the value, by more the larger the uplift). A fall (``u < 0``) gives
    a negative saving, which is a cost.
    """
    u = _number("productivity_uplift", productivity_uplift)
    if u <= -1:
        raise _bad(
            "productivity_uplift",
            productivity_uplift,
            "an uplift of -100% or less means no output at all",
            "give the uplift as a share above -1 (0.2 means 20% more output)",
        )
    return 1 - 1 / (1 + u)


@dataclass(frozen=True)
class Benefit:
    """The value a use case delivered over *months*, from measured KPIs, in the firm's currency."""

    months: float
    time_saved_share: float | None
    hours_saved: float
    time_value: float
    errors_avoided: float
    error_value: float
    total: float
    missing: tuple[str, ...]  # inputs that were not measured and so contributed 0

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["missing"] = list(self.missing)
        return doc


def measured_benefit(
    v: ValueInputs,
    productivity_uplift: float | None,
    error_rate_before: float | None,
    error_rate_after: float | None,
    adoption: float | None,
    months: float,
) -> Benefit:
    """Time value plus error value over *months*, from the measured changes.

    * time value = volume x months/12 x minutes/60 x cost per hour x time saved share x adoption.
      The uplift is measured on people using the tool, so adoption scales it to the process.
    * error value = volume x months/12 x (before - after) x error cost. The rates are measured
      over all tasks, users and non-users alike, so adoption is already in them and is not applied again.

    A measurement that is None contributes 0 and is named in ``missing``; a worse
    measurement (a productivity fall, more errors) gives a negative value.
    """
    span = _number("months", months)
    if span < 0:
        raise _bad(
            "months", months, f"months {months!r} is negative", "give the length of the period, 0 or more"
        )
    uplift = None if productivity_uplift is None else _number("productivity_uplift", productivity_uplift)
    before = _share("error_rate_before", error_rate_before)
    after = _share("error_rate_after", error_rate_after)
    used = _share("adoption", adoption)
    missing = tuple(
        name
        for name, value in (
            ("productivity_uplift", uplift),
            ("error_rate_before", before),
            ("error_rate_after", after),
            ("adoption", used),
        )
        if value is None
    )
    tasks = v.volume_per_year * span / 12
    saved = None if uplift is None else time_saved_share(uplift)
    hours = 0.0 if saved is None or used is None else tasks * v.minutes_per_task / 60 * saved * used
    avoided = 0.0 if before is None or after is None else tasks * (before - after)
    time_value = hours * v.cost_per_hour
    error_value = avoided * v.error_cost
    return Benefit(span, saved, hours, time_value, avoided, error_value, time_value + error_value, missing)


@dataclass(frozen=True)
class RoiPoint:
    """One month of a use case's ROI. ``net`` is the month's; the cumulative fields run from the start.

    ``roi`` is ``(cumulative benefit - cumulative cost) / cumulative cost`` as a
    ratio (0.5 = 50% return), None while nothing has been spent.
    """

    period_start: date
    benefit: float
    cost: float
    cumulative_benefit: float
    cumulative_cost: float
    roi: float | None
    net: float
    cumulative_net: float

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["period_start"] = self.period_start.isoformat()
        return doc


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    """The first day of the month *n* months after *month*'s."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def spread_annual(amount_per_year: float, start: date, months: int) -> list[tuple[date, float]]:
    """An annual amount (e.g. a :class:`~paceline.domain.techselect.CostBreakdown` total) as equal months."""
    amount = _number("amount_per_year", amount_per_year)
    if months < 0:
        raise _bad("months", months, f"months {months!r} is negative", "give a number of months, 0 or more")
    first = month_start(start)
    return [(add_months(first, i), amount / 12) for i in range(months)]


def _by_month(entries: Iterable[tuple[date, float]], name: str, allow_negative: bool) -> dict[date, float]:
    totals: dict[date, float] = defaultdict(float)
    for day, amount in entries:
        if not isinstance(day, date):
            raise _bad(name, day, f"{name}: {day!r} is not a date", "give (date, amount) pairs")
        number = _number(name, amount)
        if number < 0 and not allow_negative:
            raise _bad(name, amount, f"{name}: {amount!r} in {day:%Y-%m} is negative", "costs are 0 or more")
        totals[month_start(day)] += number
    return totals


def _months(first: date, last: date) -> list[date]:
    span = (last.year - first.year) * 12 + last.month - first.month
    return [add_months(first, i) for i in range(span + 1)]


def roi_series(
    benefits_by_month: Sequence[tuple[date, float]], costs_by_month: Sequence[tuple[date, float]]
) -> list[RoiPoint]:
    """Benefits and costs lined up by calendar month, with running totals and ROI.

    Dates are reduced to their month; several entries in a month add up. A month
    present on one side only counts 0 on the other, and months with no entry
    between the first and the last are filled with zeros so the series has no
    gaps. Benefits may be negative (a measured loss); costs may not.
    """
    benefits = _by_month(benefits_by_month, "benefits_by_month", allow_negative=True)
    costs = _by_month(costs_by_month, "costs_by_month", allow_negative=False)
    seen = set(benefits) | set(costs)
    if not seen:
        return []
    points: list[RoiPoint] = []
    cum_benefit = cum_cost = 0.0
    for month in _months(min(seen), max(seen)):
        benefit, cost = benefits.get(month, 0.0), costs.get(month, 0.0)
        cum_benefit += benefit
        cum_cost += cost
        roi = (cum_benefit - cum_cost) / cum_cost if cum_cost > 0 else None
        net = benefit - cost
        points.append(RoiPoint(month, benefit, cost, cum_benefit, cum_cost, roi, net, cum_benefit - cum_cost))
    return points


def _totals(points: Iterable[RoiPoint]) -> dict[str, Any]:
    points = list(points)
    benefit = sum(p.benefit for p in points)
    cost = sum(p.cost for p in points)
    return {
        "benefit": benefit,
        "cost": cost,
        "net": benefit - cost,
        "roi": (benefit - cost) / cost if cost > 0 else None,
        "first_month": min(p.period_start for p in points).isoformat() if points else None,
        "last_month": max(p.period_start for p in points).isoformat() if points else None,
    }


def _program_nets(series: Mapping[str, Sequence[RoiPoint]]) -> list[float]:
    """The program's net benefit per month, gaps filled with 0, oldest first."""
    nets: dict[date, float] = defaultdict(float)
    for points in series.values():
        for p in points:
            nets[month_start(p.period_start)] += p.net
    if not nets:
        return []
    return [nets.get(m, 0.0) for m in _months(min(nets), max(nets))]


def program_rollup(series_by_use_case: Mapping[str, Sequence[RoiPoint]]) -> dict[str, Any]:
    """Totals per use case and for the program, and whether the program's ROI is still growing.

    Growth compares the net benefit of the program's last three months with the
    three months before them (rolling quarters, so a calendar quarter that has
    only just begun is never compared with a full one). It needs six months; with
    fewer, ``growing`` is False and the sentence says why.
    """
    per_use_case = {key: _totals(points) for key, points in sorted(series_by_use_case.items())}
    program = _totals(p for points in series_by_use_case.values() for p in points)
    nets = _program_nets(series_by_use_case)
    last = previous = None
    if len(nets) >= 2 * QUARTER:
        last, previous = sum(nets[-QUARTER:]), sum(nets[-2 * QUARTER : -QUARTER])
    growing = last is not None and previous is not None and last > previous
    return {
        "use_cases": per_use_case,
        "program": program,
        "last_quarter_net": last,
        "previous_quarter_net": previous,
        "growing": growing,
        "sentence": _rollup_sentence(program, len(nets), last, previous),
    }


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _rollup_sentence(program: dict[str, Any], months: int, last: float | None, previous: float | None) -> str:
    if months == 0:
        return "No benefits or costs recorded yet."
    roi = program["roi"]
    head = (
        f"Over {months} month(s) the program returned {_money(program['benefit'])} for "
        f"{_money(program['cost'])} spent (net {_money(program['net'])}"
        + (f", ROI {roi * 100:.0f}%)" if roi is not None else ", nothing spent yet)")
    )
    if last is None or previous is None:
        return f"{head}; growth needs six months of data, {months} so far."
    if last > previous:
        return (
            f"{head}; net benefit in the last three months ({_money(last)}) is above the three before "
            f"({_money(previous)}): ROI is growing."
        )
    return (
        f"{head}; net benefit in the last three months ({_money(last)}) is not above the three before "
        f"({_money(previous)}): ROI is not growing."
    )
