"""Jinja filters that show KPI values in their unit."""

from __future__ import annotations

from typing import Any


def kpi_value(value: Any, unit: str) -> str:
    """``0.041`` share -> ``4.1%``; hours, scores and points with sensible precision."""
    if value is None:
        return "\u2013"  # an en dash for "no value"
    number = float(value)
    if unit == "share":
        return f"{number * 100:.1f}%"
    if unit == "hours":
        return f"{number:.2f} h"
    if unit == "minutes":
        return f"{number:.1f} min"
    if unit == "points":
        return f"{number:+.1f}"
    return f"{number:.3g}" if abs(number) < 1000 else f"{number:,.0f}"


def change(value: Any, kind: str | None) -> str:
    """A change as its kind says: ``+12.0%`` uplift, ``26.4% increase`` of errors, ``-3.1 pp``, ``+0.20``."""
    if value is None:
        return "\u2013"  # an en dash for "no value"
    number = float(value)
    if kind == "reduction_pct":
        return f"{abs(number):.1f}% {'reduction' if number >= 0 else 'increase'}"
    if kind == "uplift_pct":
        return f"{number:+.1f}%"
    if kind == "delta_pp":
        return f"{number:+.1f} pp"
    return f"{number:+.2f}"


def group(value: Any) -> str:
    """A group's name; rows without one (e.g. fully automated work has no team) show as (none)."""
    return "(none)" if value is None else str(value)


FILTERS = {"kpi_value": kpi_value, "change": change, "group": group}
