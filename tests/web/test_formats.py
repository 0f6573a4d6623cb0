"""How KPI values and changes read on the pages."""

from __future__ import annotations

import pytest

from paceline.web.formats import change, group, kpi_value


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.041, "share", "4.1%"),
        (5.5, "hours", "5.50 h"),
        (12.0, "points", "+12.0"),
        (None, "share", "\u2013"),
        (3.78123, "units per person-day", "3.78"),
        (12345.0, "score", "12,345"),
    ],
)
def test_values_in_their_unit(value: float | None, unit: str, text: str) -> None:
    assert kpi_value(value, unit) == text


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (26.4, "reduction_pct", "26.4% reduction"),
        (-26.4, "reduction_pct", "26.4% increase"),
        (14.0, "uplift_pct", "+14.0%"),
        (-3.14, "delta_pp", "-3.1 pp"),
        (0.2, "delta", "+0.20"),
    ],
)
def test_changes_in_words(value: float, kind: str, text: str) -> None:
    assert change(value, kind) == text


def test_missing_groups() -> None:
    assert group(None) == "(none)" and group(True) == "True"
