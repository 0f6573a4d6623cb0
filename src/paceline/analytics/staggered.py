"""Staggered rollouts: Callaway and Sant'Anna's group-time effects with not-yet-treated controls.

Naive two-way fixed effects compare late adopters with early ones *after* the early
ones were treated, which biases the estimate when effects differ by wave or grow over
time. Instead, for each wave ``g`` (first treated week) and each week ``t >= g``:

    ATT(g, t) = mean over wave g of [y(t) - y(g-1)]  -  mean over not-yet-treated of [y(t) - y(g-1)]

where the not-yet-treated are people whose wave starts after ``t``. The overall effect
averages ATT(g, t) weighted by the wave's size; intervals come from a bootstrap that
resamples people (a person is the cluster: they appear in several comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paceline.analytics.result import Check, Status

DRAWS = 499


@dataclass(frozen=True)
class StaggeredResult:
    estimate: float | None
    se: float | None
    ci: tuple[float, float] | None
    relative: float | None  # estimate / the treated waves' mean in the week before they start
    relative_ci: tuple[float, float] | None
    cells: int  # (wave, week) comparisons used
    check: Check


def _panel(person: np.ndarray, week: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """People x weeks matrix of values (NaN where missing), with the sorted ids of both axes."""
    people, p_idx = np.unique(person, return_inverse=True)
    weeks, w_idx = np.unique(week, return_inverse=True)
    matrix = np.full((people.size, weeks.size), np.nan)
    matrix[p_idx, w_idx] = y
    return matrix, people, weeks


def _att(
    matrix: np.ndarray, start: np.ndarray, weeks: np.ndarray, weight: np.ndarray
) -> tuple[float, float, int]:
    """Overall ATT, the treated baseline mean (for the relative effect), and the cells used."""
    total = base = used = 0.0
    col = {int(w): i for i, w in enumerate(weeks)}
    for g in np.unique(start[np.isfinite(start)]):
        g = int(g)
        if g - 1 not in col:
            continue
        ref = matrix[:, col[g - 1]]
        cohort = (start == g) & (weight > 0)
        for t in (w for w in weeks if w >= g):
            later = (~np.isfinite(start) | (start > t)) & (weight > 0)
            diff = matrix[:, col[int(t)]] - ref
            ok_t, ok_c = cohort & np.isfinite(diff), later & np.isfinite(diff)
            if ok_t.sum() == 0 or ok_c.sum() == 0:
                continue
            w_t = weight[ok_t]
            att = np.average(diff[ok_t], weights=w_t) - np.average(diff[ok_c], weights=weight[ok_c])
            total += att * w_t.sum()
            base += np.average(ref[ok_t], weights=w_t) * w_t.sum()
            used += w_t.sum()
    if used == 0:
        return np.nan, np.nan, 0
    return total / used, base / used, int(used > 0)


def staggered_att(
    person: np.ndarray,
    week: np.ndarray,
    y: np.ndarray,
    start_week: dict[int, float],
    alpha: float = 0.05,
    seed: int = 20260301,
) -> StaggeredResult:
    """The overall effect of a staggered rollout.

    ``start_week`` maps a person code to the first week they were treated (others never are).
    """
    matrix, people, weeks = _panel(person, week, y)
    start = np.array([start_week.get(int(p), np.inf) for p in people], dtype=float)
    ones = np.ones(people.size)
    est, base, used = _att(matrix, start, weeks, ones)
    if not used or not np.isfinite(est):
        check = Check(
            "not_yet_treated", Status.FAIL, "no wave has a week before its start and people not yet treated"
        )
        return StaggeredResult(None, None, None, None, None, 0, check)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(DRAWS):
        counts = np.bincount(rng.integers(0, people.size, people.size), minlength=people.size).astype(float)
        value, b, _ = _att(matrix, start, weeks, counts)
        if np.isfinite(value) and b:
            draws.append((value, value / b))
    sample = np.array(draws)
    lo, hi = np.quantile(sample[:, 0], [alpha / 2, 1 - alpha / 2])
    rlo, rhi = np.quantile(sample[:, 1], [alpha / 2, 1 - alpha / 2])
    check = Check(
        "not_yet_treated",
        Status.PASS,
        f"{len(np.unique(start[np.isfinite(start)]))} waves compared with people not yet switched on; "
        f"{len(draws)} bootstrap draws over people",
    )
    return StaggeredResult(
        float(est),
        float(sample[:, 0].std(ddof=1)),
        (float(lo), float(hi)),
        float(est / base) if base else None,
        (float(rlo), float(rhi)),
        used,
        check,
    )
