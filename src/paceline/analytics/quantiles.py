"""Quantile effects on durations, with intervals that respect the person as the cluster.

A median of task durations is a property of the pooled tasks, but tasks of one person
are correlated, so the interval resamples *people* (with all their tasks), never tasks.
Randomised pilots compare the arms' quantiles in the pilot; difference-in-differences
pilots compare the change of each arm's quantile from baseline to pilot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DRAWS = 499


@dataclass(frozen=True)
class QuantileEffect:
    estimate: float
    ci: tuple[float, float]
    se: float
    relative: float | None  # estimate / the control's (counterfactual) quantile
    relative_ci: tuple[float, float] | None
    draws: int


def _groups(codes: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    """Each person's values (one sort, no per-person scan)."""
    order = np.argsort(codes, kind="stable")
    codes, values = codes[order], values[order]
    people, starts = np.unique(codes, return_index=True)
    return dict(zip(people.tolist(), np.split(values, starts[1:]), strict=True))


def _quantile(groups: list[np.ndarray], pick: np.ndarray, q: float) -> float:
    return float(np.quantile(np.concatenate([groups[i] for i in pick]), q))


@dataclass(frozen=True)
class Arm:
    """One arm's durations per person, in the pilot (``post``) and, for DiD, the baseline (``pre``)."""

    post: list[np.ndarray]
    pre: list[np.ndarray] | None = None


def arm(codes: np.ndarray, values: np.ndarray, phase_post: np.ndarray | None = None) -> Arm:
    """Group an arm's task durations by person (and phase, when given)."""
    if phase_post is None:
        return Arm(list(_groups(codes, values).values()))
    post, pre = (
        _groups(codes[phase_post], values[phase_post]),
        _groups(codes[~phase_post], values[~phase_post]),
    )
    both = sorted(set(post) & set(pre))  # people seen in both phases
    return Arm([post[p] for p in both], [pre[p] for p in both])


def _effect(t: Arm, c: Arm, pt: np.ndarray, pc: np.ndarray, q: float) -> tuple[float, float]:
    """The effect and the control's (counterfactual) quantile for one resample of people."""
    qt, qc = _quantile(t.post, pt, q), _quantile(c.post, pc, q)
    if t.pre is None or c.pre is None:
        return qt - qc, qc
    change_c = qc - _quantile(c.pre, pc, q)
    counterfactual = _quantile(t.pre, pt, q) + change_c
    return qt - counterfactual, counterfactual


def quantile_effect(
    treated: Arm, control: Arm, q: float = 0.5, alpha: float = 0.05, seed: int = 20260401
) -> QuantileEffect | None:
    """The quantile effect with a percentile interval from resampling people within each arm."""
    if len(treated.post) < 2 or len(control.post) < 2:
        return None
    all_t, all_c = np.arange(len(treated.post)), np.arange(len(control.post))
    estimate, base = _effect(treated, control, all_t, all_c, q)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(DRAWS):
        pt = rng.integers(0, all_t.size, all_t.size)
        pc = rng.integers(0, all_c.size, all_c.size)
        effect, b = _effect(treated, control, pt, pc, q)
        samples.append((effect, effect / b if b else np.nan))
    draws = np.array(samples)
    lo, hi = np.quantile(draws[:, 0], [alpha / 2, 1 - alpha / 2])
    rel = draws[:, 1][np.isfinite(draws[:, 1])]
    rel_ci = (
        (float(np.quantile(rel, alpha / 2)), float(np.quantile(rel, 1 - alpha / 2))) if rel.size else None
    )
    return QuantileEffect(
        float(estimate),
        (float(lo), float(hi)),
        float(draws[:, 0].std(ddof=1)),
        float(estimate / base) if base else None,
        rel_ci,
        DRAWS,
    )
