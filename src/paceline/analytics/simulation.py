"""Simulated pilots with person-clustered tasks: for coverage studies and simulation-based power.

A scenario draws employees with their own level (a person effect), a varying number of
tasks each (negative binomial, so some people do many more than others), spread over
weeks, and an outcome per task. Randomised (``ab``) scenarios assign half the people
to the treatment; ``did`` scenarios compare a treated cohort that starts at a different
level with a control cohort, before and after a start date, with a common time trend.
``skewed=True`` draws durations as ``exp(normal)``, heavy-tailed like ticket times.

The true effect is known, so a study can count how often the intervals cover it
(scripts/simulate_pilots.py) and a planner can simulate power for a proposed design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from paceline.analytics.pilot import Design, PilotCells


@dataclass(frozen=True)
class Scenario:
    """The data-generating process of one kind of pilot."""

    persons: int = 40
    tasks_per_person: float = 30.0
    size_shape: float = 2.0  # negative-binomial shape of tasks per person: smaller is more unequal
    person_sd: float = 0.5
    person_period_sd: float = 0.0  # did: a person's own shift between pre and post
    task_sd: float = 1.0
    effect: float = 0.0  # on the outcome scale (on the log scale when skewed)
    design: Design = Design.AB
    cohort_gap: float = 0.5  # did: the treated cohort's level before the pilot
    trend: float = 0.3  # did: change from pre to post in both cohorts
    weeks: int = 4
    skewed: bool = False
    mean_level: float = 1.0

    def true_effect(self, log_scale: bool = False) -> float:
        """The estimand: the mean difference on the scale that is analysed."""
        if not self.skewed or log_scale:
            return self.effect
        if self.design is Design.DID:
            raise ValueError("multiplicative trends break additive parallel trends: analyse logs")
        base = math.exp(self.mean_level + (self.person_sd**2 + self.task_sd**2) / 2)
        return base * math.expm1(self.effect)


@dataclass(frozen=True, eq=False)
class Tasks:
    """Task rows of one simulated pilot."""

    person: np.ndarray
    treated: np.ndarray
    post: np.ndarray
    week: np.ndarray
    y: np.ndarray


def simulate(s: Scenario, rng: np.random.Generator) -> Tasks:
    """One pilot's task rows under scenario ``s``."""
    p = rng.permutation(s.persons) < s.persons // 2  # exactly half the people treated
    mean = s.tasks_per_person - 1
    sizes = 1 + rng.negative_binomial(s.size_shape, s.size_shape / (s.size_shape + mean), s.persons)
    person = np.repeat(np.arange(s.persons), sizes)
    treated = p[person]
    person_level = rng.normal(0.0, s.person_sd, s.persons)[person]
    week = rng.integers(0, s.weeks, person.size)
    if s.design is Design.DID:
        post = week >= s.weeks // 2
        level = s.mean_level + s.cohort_gap * treated + s.trend * post + s.effect * (treated & post)
        level = level + rng.normal(0.0, s.person_period_sd, (s.persons, 2))[person, post.astype(int)]
    else:
        post = np.zeros(person.size, dtype=bool)
        level = s.mean_level + s.effect * treated
    z = level + person_level + rng.normal(0.0, s.task_sd, person.size)
    return Tasks(person, treated, post, week, np.exp(z) if s.skewed else z)


def to_cells(
    tasks: Tasks, clustered: bool = True, until_week: int | None = None, log: bool = False, did: bool = False
) -> PilotCells:
    """Per-cell moments, as the engine would return them (cells per person when clustered)."""
    keep = np.ones(tasks.y.size, dtype=bool) if until_week is None else tasks.week <= until_week
    y = np.log(tasks.y[keep]) if log else tasks.y[keep]
    treated, post = tasks.treated[keep], tasks.post[keep]
    group = tasks.person[keep] if clustered else treated.astype(np.int64)
    key = (group * 2 + post) if did else group
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    n = np.bincount(inv)
    mean = np.bincount(inv, weights=y) / n
    m2 = np.bincount(inv, weights=(y - mean[inv]) ** 2)
    unit = np.unique(group[first], return_inverse=True)[1] if clustered else None
    return PilotCells(treated[first], n, mean, m2, post[first] if did else None, unit)
