"""ROI over time: measured benefit, the monthly series and the program roll-up."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.roi import (
    RoiPoint,
    add_months,
    measured_benefit,
    program_rollup,
    roi_series,
    spread_annual,
    time_saved_share,
)
from paceline.domain.usecases import ValueInputs
from paceline.errors import ValidationError

# The worked example of docs/roi.md.
V = ValueInputs(volume_per_year=100_000, minutes_per_task=12, cost_per_hour=50, error_cost=40)


def test_time_saved_share_is_same_units_in_less_time() -> None:
    assert time_saved_share(0.25) == pytest.approx(0.2)
    assert time_saved_share(1.0) == pytest.approx(0.5)
    assert time_saved_share(0) == 0
    assert time_saved_share(-0.2) == pytest.approx(-0.25)
    with pytest.raises(ValidationError) as err:
        time_saved_share(-1)
    assert err.value.details["field"] == "productivity_uplift"


def test_measured_benefit_worked_example() -> None:
    b = measured_benefit(V, 0.25, 0.08, 0.05, 0.6, 12)
    assert b.time_saved_share == pytest.approx(0.2)
    assert b.hours_saved == pytest.approx(2_400)
    assert b.time_value == pytest.approx(120_000)
    assert b.errors_avoided == pytest.approx(3_000)
    assert b.error_value == pytest.approx(120_000)
    assert b.total == pytest.approx(240_000)
    assert b.missing == ()
    half = measured_benefit(V, 0.25, 0.08, 0.05, 0.6, 6)
    assert half.total == pytest.approx(120_000)
    assert b.to_dict()["missing"] == []


def test_adoption_scales_time_but_not_errors() -> None:
    full = measured_benefit(V, 0.25, 0.08, 0.05, 1.0, 12)
    assert full.time_value == pytest.approx(200_000)
    assert full.error_value == pytest.approx(120_000)


def test_missing_measurements_contribute_zero_and_are_named() -> None:
    b = measured_benefit(V, 0.25, None, 0.05, None, 12)
    assert b.missing == ("error_rate_before", "adoption")
    assert b.total == 0 and b.time_saved_share == pytest.approx(0.2)
    only_errors = measured_benefit(V, None, 0.08, 0.05, None, 12)
    assert only_errors.total == pytest.approx(120_000)
    assert only_errors.missing == ("productivity_uplift", "adoption")


def test_worse_measurements_are_negative_benefit() -> None:
    b = measured_benefit(V, -0.2, 0.05, 0.08, 1.0, 12)
    assert b.time_value < 0 and b.error_value == pytest.approx(-120_000)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0.25, 0.08, 0.05, 0.6, -1), "months"),
        ((0.25, 1.5, 0.05, 0.6, 12), "error_rate_before"),
        ((0.25, 0.08, -0.1, 0.6, 12), "error_rate_after"),
        ((0.25, 0.08, 0.05, 1.2, 12), "adoption"),
        ((-1.5, 0.08, 0.05, 0.6, 12), "productivity_uplift"),
        ((float("inf"), 0.08, 0.05, 0.6, 12), "productivity_uplift"),
    ],
)
def test_bad_measurements_are_named(args: tuple[float, ...], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        measured_benefit(V, *args)
    assert err.value.details["field"] == field


def test_roi_series_worked_example() -> None:
    benefits = [(date(2026, 2, 10), 6_000), (date(2026, 3, 1), 12_000), (date(2026, 4, 30), 15_000)]
    costs = [(date(2026, 1, 1), 20_000), *[(date(2026, m, 1), 1_000) for m in (1, 2, 3, 4)]]
    series = roi_series(benefits, costs)
    assert [p.period_start for p in series] == [date(2026, m, 1) for m in (1, 2, 3, 4)]
    assert [p.cost for p in series] == [21_000, 1_000, 1_000, 1_000]
    assert [p.cumulative_benefit for p in series] == [0, 6_000, 18_000, 33_000]
    assert [p.cumulative_cost for p in series] == [21_000, 22_000, 23_000, 24_000]
    assert [p.net for p in series] == [-21_000, 5_000, 11_000, 14_000]
    assert [round(p.roi, 4) for p in series if p.roi is not None] == [-1.0, -0.7273, -0.2174, 0.375]
    assert series[-1].cumulative_net == 9_000
    assert series[-1].to_dict()["period_start"] == "2026-04-01"


def test_gaps_are_filled_and_roi_is_none_before_any_cost() -> None:
    series = roi_series([(date(2025, 11, 5), 100), (date(2026, 2, 5), 100)], [])
    assert [p.period_start for p in series] == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert [p.benefit for p in series] == [100, 0, 0, 100]
    assert all(p.roi is None for p in series)
    assert roi_series([], []) == []


def test_bad_series_inputs_are_named() -> None:
    with pytest.raises(ValidationError) as err:
        roi_series([], [(date(2026, 1, 1), -5)])
    assert err.value.details["field"] == "costs_by_month"
    with pytest.raises(ValidationError) as err:
        roi_series([("2026-01", 5)], [])
    assert err.value.details["field"] == "benefits_by_month"
    with pytest.raises(ValidationError) as err:
        roi_series([(date(2026, 1, 1), float("nan"))], [])
    assert err.value.details["field"] == "benefits_by_month"


def test_spread_annual_and_add_months() -> None:
    months = spread_annual(14_650, date(2026, 11, 20), 3)
    assert [m for m, _ in months] == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
    assert sum(a for _, a in months) == pytest.approx(14_650 / 4)
    assert add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)


def _monthly(start: date, nets: list[float]) -> list[RoiPoint]:
    return roi_series(
        [(add_months(start, i), n + 1_000) for i, n in enumerate(nets)],
        [(add_months(start, i), 1_000) for i in range(len(nets))],
    )


def test_program_rollup_totals_and_growth() -> None:
    a = _monthly(date(2026, 1, 1), [0, 1_000, 2_000, 3_000, 4_000, 5_000])
    b = _monthly(date(2026, 3, 1), [500, 500, 500, 500])
    rollup = program_rollup({"claims-triage": a, "notes": b})
    assert rollup["use_cases"]["claims-triage"]["net"] == pytest.approx(15_000)
    assert rollup["use_cases"]["claims-triage"]["cost"] == pytest.approx(6_000)
    assert rollup["use_cases"]["notes"]["roi"] == pytest.approx(0.5)
    assert rollup["program"]["net"] == pytest.approx(17_000)
    assert rollup["program"]["cost"] == pytest.approx(10_000)
    assert rollup["program"]["roi"] == pytest.approx(1.7)
    assert (
        rollup["program"]["first_month"] == "2026-01-01" and rollup["program"]["last_month"] == "2026-06-01"
    )
    # last three months: 3000+4000+5000 + 3 x 500; the three before: 0+1000+2000 + 500
    assert rollup["last_quarter_net"] == pytest.approx(13_500)
    assert rollup["previous_quarter_net"] == pytest.approx(3_500)
    assert rollup["growing"] is True
    assert rollup["sentence"].endswith("ROI is growing.")


def test_program_rollup_not_growing_and_too_short() -> None:
    falling = program_rollup({"x": _monthly(date(2026, 1, 1), [5, 5, 5, 1, 1, 1])})
    assert falling["growing"] is False and falling["sentence"].endswith("ROI is not growing.")
    short = program_rollup({"x": _monthly(date(2026, 1, 1), [5, 6, 7])})
    assert short["growing"] is False and short["last_quarter_net"] is None
    assert "needs six months" in short["sentence"]
    empty = program_rollup({})
    assert empty["growing"] is False and empty["program"]["roi"] is None
    assert empty["sentence"] == "No benefits or costs recorded yet."


amounts = st.floats(0, 1e7, allow_nan=False)
entries = st.lists(st.tuples(st.dates(date(2020, 1, 1), date(2030, 12, 31)), amounts), max_size=25)


@given(entries, entries)
def test_cumulative_sums_are_monotone_and_complete(
    benefits: list[tuple[date, float]], costs: list[tuple[date, float]]
) -> None:
    series = roi_series(benefits, costs)
    for a, b in itertools.pairwise(series):
        assert b.period_start == add_months(a.period_start, 1)
        assert b.cumulative_benefit >= a.cumulative_benefit
        assert b.cumulative_cost >= a.cumulative_cost
    if series:
        assert series[-1].cumulative_benefit == pytest.approx(sum(x for _, x in benefits))
        assert series[-1].cumulative_cost == pytest.approx(sum(x for _, x in costs))


@given(st.floats(0, 5), st.floats(0, 1), st.floats(0, 1), st.floats(0, 24))
def test_benefit_is_linear_in_months_and_saving_below_one(
    u: float, adoption: float, rate: float, months: float
) -> None:
    b = measured_benefit(V, u, rate, rate / 2, adoption, months)
    assert 0 <= (b.time_saved_share or 0) < 1
    assert b.total >= 0
    one = measured_benefit(V, u, rate, rate / 2, adoption, 1)
    assert b.total == pytest.approx(one.total * months, rel=1e-9, abs=1e-6)


def test_docs_state_the_worked_examples() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "roi.md").read_text(encoding="utf-8")
    b = measured_benefit(V, 0.25, 0.08, 0.05, 0.6, 12)
    assert f"the benefit is **{b.total:,.0f}**" in text
    assert f"= {b.hours_saved:,.0f}, worth {b.time_value:,.0f}" in text
    series = roi_series(
        [(date(2026, 2, 1), 6_000), (date(2026, 3, 1), 12_000), (date(2026, 4, 1), 15_000)],
        [(date(2026, 1, 1), 21_000), *[(date(2026, m, 1), 1_000) for m in (2, 3, 4)]],
    )
    for p in series:
        assert p.roi is not None
        pct = f"{p.roi * 100:+.1f}".removesuffix(".0").replace("-", "\u2212")
        row = f"| {p.cumulative_benefit:,.0f} | {p.cumulative_cost:,.0f} | {pct}% |"
        assert row in text, row
