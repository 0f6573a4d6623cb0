"""The event study on simulated person-week panels with known trends and effects."""

from __future__ import annotations

import numpy as np
import pytest

from paceline.analytics.event_study import event_study
from paceline.analytics.result import Status


def panel(pre_slope: float, effect: float, seed: int = 1) -> tuple[np.ndarray, ...]:
    """200 people, weeks -8..5; treated people drift by *pre_slope* a week before the switch-on."""
    rng = np.random.default_rng(seed)
    people, weeks = np.arange(200), np.arange(-8, 6)
    person = np.repeat(people, weeks.size)
    week = np.tile(weeks, people.size)
    treated = (person % 2).astype(int)
    level = rng.normal(10, 2, people.size)[person]
    drift = treated * pre_slope * np.minimum(week, 0)
    y = level + 0.1 * week + drift + treated * effect * (week >= 0) + rng.normal(0, 1, person.size)
    return week, treated, y, person


def test_parallel_paths_pass_and_the_effect_is_recovered() -> None:
    study = event_study(*panel(0.0, -1.5))
    assert study.check.status is Status.PASS and study.pre_trend_p is not None and study.pre_trend_p > 0.05
    post = [e for e in study.effects if e.week >= 0]
    assert all(e.ci[0] <= -1.5 <= e.ci[1] for e in post)
    assert [e.week for e in study.effects] == [w for w in range(-8, 6) if w != -1]


def test_diverging_pre_trends_fail() -> None:
    study = event_study(*panel(0.3, -1.5))
    assert study.check.status is Status.FAIL and "not on parallel paths" in study.check.detail


@pytest.mark.parametrize("seed", range(5))
def test_the_pre_trend_test_is_not_too_eager(seed: int) -> None:
    study = event_study(*panel(0.0, 0.0, seed))
    assert study.check.status is not Status.FAIL


def test_too_little_data_is_a_warning_not_a_crash() -> None:
    week, treated, y, person = panel(0.0, 0.0)
    keep = week >= 0  # no reference week
    study = event_study(week[keep], treated[keep], y[keep], person[keep])
    assert study.check.status is Status.WARN and study.effects == ()


def test_the_steady_state_is_the_effect_once_learning_is_over() -> None:
    week, treated, y, person = panel(0.0, 0.0)
    ramp = treated * np.clip(week + 1, 0, 3) * -0.5  # the effect grows for 3 weeks, then stays at -1.5
    study = event_study(week, treated, y + ramp, person)
    steady = study.steady_state
    assert steady is not None and steady.week == 2  # the last four weeks: 2..5
    assert steady.ci[0] <= -1.5 <= steady.ci[1]
    first = next(e for e in study.effects if e.week == 0)
    assert first.estimate > steady.estimate  # the first week shows less than the steady state
