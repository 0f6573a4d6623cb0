"""Post-deployment 30/60/90-day reviews: the schedule and the comparison with targets."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.pilots import Design, PilotSpec, PrimaryKpi
from paceline.domain.reviews import (
    KpiActual,
    KpiTarget,
    Outcome,
    ReviewKind,
    ScheduledReview,
    compare,
    improvement_pct,
    is_overdue,
    review_outcome,
    schedule,
    targets_from_pilot,
)
from paceline.errors import ValidationError

TARGETS = [KpiTarget("productivity", 10), KpiTarget("error_rate", 20)]


def test_schedule_is_30_60_90_days_after_go_live() -> None:
    reviews = schedule(date(2026, 1, 15))
    assert [(r.kind, r.due) for r in reviews] == [
        (ReviewKind.DAY30, date(2026, 2, 14)),
        (ReviewKind.DAY60, date(2026, 3, 16)),
        (ReviewKind.DAY90, date(2026, 4, 15)),
    ]
    assert reviews[0].to_dict() == {"kind": "day30", "due": "2026-02-14"}


def test_a_review_is_overdue_the_day_after_it_is_due() -> None:
    review = ScheduledReview(ReviewKind.DAY30, date(2026, 2, 14))
    assert not is_overdue(review, date(2026, 2, 13))
    assert not is_overdue(review, date(2026, 2, 14))
    assert is_overdue(review, date(2026, 2, 15))


def test_improvement_is_signed_by_the_kpis_good_direction() -> None:
    assert improvement_pct("productivity", 10, 12) == pytest.approx(20)
    assert improvement_pct("productivity", 10, 9) == pytest.approx(-10)
    assert improvement_pct("error_rate", 0.10, 0.07) == pytest.approx(30)
    assert improvement_pct("handling_time", 20, 25) == pytest.approx(-25)
    assert improvement_pct("nps", -20, -10) == pytest.approx(50)
    assert improvement_pct("error_rate", 0, 0.1) is None
    assert improvement_pct("error_rate", None, 0.1) is None


def test_on_track_when_every_target_is_met() -> None:
    comparisons = compare(TARGETS, [KpiActual("productivity", 10, 11.5), KpiActual("error_rate", 0.10, 0.07)])
    assert [c.met for c in comparisons] == [True, True]
    assert comparisons[0].change_pct == pytest.approx(15)
    assert comparisons[0].sentence == (
        "Productivity rose from 10 to 11.5, 15.0% better than the baseline "
        "against a target of 10% better: target met."
    )
    assert comparisons[1].sentence.startswith("Error rate fell from 0.1 to 0.07, 30.0% better")
    result = review_outcome(comparisons)
    assert result.outcome is Outcome.ON_TRACK
    assert result.summary == "On track: Productivity and Error rate meet their target."
    assert result.to_dict()["outcome"] == "on_track"


def test_behind_when_a_measured_target_is_missed_even_if_another_is_missing() -> None:
    comparisons = compare(TARGETS, [KpiActual("productivity", 10, 10.5)])
    assert comparisons[0].met is False and "behind target" in comparisons[0].sentence
    assert comparisons[1].met is None and comparisons[1].baseline is None
    result = review_outcome(comparisons)
    assert result.outcome is Outcome.BEHIND
    assert result.behind == ("productivity",) and result.missing == ("error_rate",)
    assert result.summary == "Behind: Productivity is short of target (Error rate not measured yet)."


def test_a_worse_kpi_reads_as_worse() -> None:
    [c] = compare([KpiTarget("error_rate", 20)], [KpiActual("error_rate", 0.10, 0.12)])
    assert c.change_pct == pytest.approx(-20) and c.met is False
    assert c.sentence.startswith("Error rate rose from 0.1 to 0.12, 20.0% worse")


def test_missing_values_are_insufficient_data_and_named() -> None:
    comparisons = compare(TARGETS, [KpiActual("productivity", None, 11), KpiActual("error_rate", 0.1, 0.05)])
    assert comparisons[0].met is None
    assert comparisons[0].sentence == "Productivity: no baseline yet, so the 10% target cannot be judged."
    result = review_outcome(comparisons)
    assert result.outcome is Outcome.INSUFFICIENT_DATA
    assert result.missing == ("productivity",) and result.met == ("error_rate",)
    assert "Productivity cannot be judged yet" in result.summary
    [zero] = compare([KpiTarget("error_rate", 20)], [KpiActual("error_rate", 0.0, 0.0)])
    assert zero.met is None and "baseline is 0" in zero.sentence
    assert review_outcome([]).outcome is Outcome.INSUFFICIENT_DATA


def test_targets_come_from_the_pilots_primary_kpis() -> None:
    spec = PilotSpec(
        name="p",
        use_case="claims-triage",
        hypothesis="h",
        design=Design.RANDOMISED,
        treatment_cohorts=("pilot",),
        control_cohorts=("control",),
        start=date(2026, 1, 5),
        end=date(2026, 3, 2),
        primary=(PrimaryKpi("productivity", 10), PrimaryKpi("error_rate", 20)),
    )
    assert targets_from_pilot(spec) == TARGETS


@pytest.mark.parametrize(
    ("targets", "actuals", "field"),
    [
        ([KpiTarget("speed", 10)], [], "kpi"),
        (TARGETS, [KpiActual("speed", 1, 2)], "kpi"),
        ([KpiTarget("productivity", -5)], [], "target_effect_pct"),
        ([*TARGETS, KpiTarget("productivity", 5)], [], "kpi"),
        (TARGETS, [KpiActual("productivity", 1, 2), KpiActual("productivity", 1, 3)], "kpi"),
        (TARGETS, [KpiActual("productivity", float("nan"), 2)], "productivity.baseline"),
    ],
)
def test_bad_inputs_are_named(targets: list[KpiTarget], actuals: list[KpiActual], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        compare(targets, actuals)
    assert err.value.details["field"] == field


values = st.none() | st.floats(0.01, 1e6)


@given(values, values, st.floats(0, 100))
def test_met_matches_the_change_and_the_outcome_rule(
    baseline: float | None, current: float | None, target: float
) -> None:
    [c] = compare([KpiTarget("productivity", target)], [KpiActual("productivity", baseline, current)])
    if baseline is None or current is None:
        assert c.met is None and review_outcome([c]).outcome is Outcome.INSUFFICIENT_DATA
    else:
        assert c.change_pct is not None and c.met == (c.change_pct >= target)
        assert review_outcome([c]).outcome is (Outcome.ON_TRACK if c.met else Outcome.BEHIND)
