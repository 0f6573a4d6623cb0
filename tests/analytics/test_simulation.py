"""A small simulation study (the full one is scripts/simulate_pilots.py, results in docs/pilots.md).

200 seeded pilots with 40 employees whose tasks are correlated (person effects, ICC 0.2,
unequal task counts). Tolerances are three binomial standard errors of a 200-draw rate,
so a correct method passes these (deterministic, seeded) checks with room to spare.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from paceline.analytics.pilot import Design, PilotSpec, evaluate_cells
from paceline.analytics.result import PilotResult
from paceline.analytics.sequential import group_sequential_bounds
from paceline.analytics.simulation import Scenario, simulate, to_cells

SIMS = 200
TOL = 3 * math.sqrt(0.05 * 0.95 / SIMS)  # 0.046


def _p(result: PilotResult) -> float:
    assert result.p_value is not None
    return result.p_value


def _covers(result: PilotResult, truth: float) -> bool:
    assert result.ci is not None
    return result.ci[0] <= truth <= result.ci[1]


@pytest.mark.parametrize("design", [Design.AB, Design.DID])
def test_coverage_of_clustered_intervals(design: Design) -> None:
    scenario = Scenario(effect=0.3, design=design)
    rng = np.random.default_rng(2026)
    spec = PilotSpec(design, "y")
    did = design is Design.DID
    covered = [
        _covers(evaluate_cells(to_cells(simulate(scenario, rng), did=did), spec), 0.3) for _ in range(SIMS)
    ]
    assert abs(np.mean(covered) - 0.95) <= TOL


def test_aa_false_positives_clustered_vs_naive_task_level() -> None:
    scenario = Scenario(effect=0.0)
    rng = np.random.default_rng(7)
    spec = PilotSpec(Design.AB, "y")
    clustered, naive = [], []
    for _ in range(SIMS):
        tasks = simulate(scenario, rng)
        clustered.append(_p(evaluate_cells(to_cells(tasks), spec)) < 0.05)
        naive.append(_p(evaluate_cells(to_cells(tasks, clustered=False), spec)) < 0.05)
    assert np.mean(clustered) <= 0.05 + TOL
    assert np.mean(naive) >= 0.25  # tasks treated as independent: far above 5%


def test_weekly_looks_under_sequential_bounds() -> None:
    scenario = Scenario(effect=0.0, weeks=4)
    bounds = group_sequential_bounds(scenario.weeks)
    rng = np.random.default_rng(11)
    spec = PilotSpec(Design.AB, "y")
    rejected = []
    for _ in range(SIMS):
        tasks = simulate(scenario, rng)
        p = [_p(evaluate_cells(to_cells(tasks, until_week=w), spec)) for w in range(scenario.weeks)]
        rejected.append(any(pk < nominal for pk, nominal in zip(p, bounds.nominal_p, strict=True)))
    assert np.mean(rejected) <= 0.05 + TOL
