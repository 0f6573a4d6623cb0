"""Staggered rollouts: the not-yet-treated comparison recovers effects that grow with exposure."""

from __future__ import annotations

import numpy as np

from paceline.analytics.result import Status
from paceline.analytics.staggered import staggered_att


def rollout(effect_per_week: float, seed: int = 4) -> tuple[np.ndarray, ...]:
    """150 people in 3 waves starting at weeks 4, 8 and 12 of 16; the effect grows each week treated."""
    rng = np.random.default_rng(seed)
    people, weeks = np.arange(150), np.arange(16)
    wave_start = np.array([4, 8, 12])[people % 3]
    person = np.repeat(people, weeks.size)
    week = np.tile(weeks, people.size)
    exposure = np.maximum(week - wave_start[person] + 1, 0)
    y = (
        rng.normal(20, 3, people.size)[person]
        + 0.2 * week
        + effect_per_week * exposure
        + rng.normal(0, 1, person.size)
    )
    true = []  # the average effect over the (wave, week) cells the estimator can use
    for g in (4, 8):
        for t in range(g, 12):
            true.append(effect_per_week * (t - g + 1))
    return person, week, y, {int(p): float(wave_start[p]) for p in people}, float(np.mean(true))


def test_growing_effects_are_recovered() -> None:
    person, week, y, starts, _ = rollout(-0.25)
    result = staggered_att(person, week, y, starts)
    assert result.check.status is Status.PASS and result.ci is not None and result.estimate is not None
    # cells weighted by wave size: waves 1 and 2 over the weeks before wave 3 starts
    cells = [(g, t) for g in (4, 8) for t in range(g, 12)]
    true = float(np.mean([-0.25 * (t - g + 1) for g, t in cells]))
    assert result.ci[0] <= true <= result.ci[1]
    assert result.relative is not None and result.relative < 0


def test_no_effect_gives_an_interval_around_zero() -> None:
    person, week, y, starts, _ = rollout(0.0, seed=9)
    result = staggered_att(person, week, y, starts)
    assert result.ci is not None and result.ci[0] <= 0 <= result.ci[1]


def test_everyone_at_once_has_no_comparison() -> None:
    person, week, y, starts, _ = rollout(0.0)
    result = staggered_att(person, week, y, {p: 4.0 for p in starts})
    assert result.check.status is Status.FAIL and result.estimate is None
