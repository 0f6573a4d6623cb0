"""Quantile effects with person-cluster bootstrap intervals, on simulated clustered durations."""

from __future__ import annotations

import numpy as np

from paceline.analytics.quantiles import arm, quantile_effect


def durations(people: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal durations with a person effect: tasks of one person are correlated."""
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(people), 40)
    level = rng.normal(0, 0.5, people)[person]
    return person, np.exp(3 + level + rng.normal(0, 0.4, person.size)) * shift


def test_the_median_ratio_is_recovered() -> None:
    pt, vt = durations(120, 0.8, 1)  # the treated arm is 20% faster
    pc, vc = durations(120, 1.0, 2)
    effect = quantile_effect(arm(pt, vt), arm(pc, vc))
    assert effect is not None and effect.relative_ci is not None
    assert effect.relative_ci[0] <= -0.2 <= effect.relative_ci[1]
    assert effect.ci[0] < 0 and effect.draws == 499


def test_difference_in_differences_of_medians() -> None:
    pt, vt = durations(100, 1.0, 3)
    pc, vc = durations(100, 1.0, 4)
    post_t, post_c = np.arange(pt.size) % 2 == 0, np.arange(pc.size) % 2 == 0
    vt = np.where(post_t, vt * 0.7, vt)  # only the treated arm's pilot tasks are 30% faster
    effect = quantile_effect(arm(pt, vt, post_t), arm(pc, vc, post_c))
    assert effect is not None and effect.relative_ci is not None
    assert effect.relative_ci[0] <= -0.3 <= effect.relative_ci[1]


def test_person_clustering_widens_the_interval() -> None:
    """Resampling people, not tasks: with strong person effects the interval is much wider."""
    pt, vt = durations(60, 1.0, 5)
    pc, vc = durations(60, 1.0, 6)
    by_person = quantile_effect(arm(pt, vt), arm(pc, vc))
    by_task = quantile_effect(arm(np.arange(pt.size), vt), arm(np.arange(pc.size), vc))
    assert by_person is not None and by_task is not None
    assert (by_person.ci[1] - by_person.ci[0]) > 2 * (by_task.ci[1] - by_task.ci[0])


def test_too_few_people() -> None:
    assert quantile_effect(arm(np.zeros(5, int), np.ones(5)), arm(np.arange(5), np.ones(5))) is None
