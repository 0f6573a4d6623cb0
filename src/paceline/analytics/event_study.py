"""Event study for difference-in-differences pilots: the effect week by week, and pre-trends.

With one observation per person and week, relative week ``r`` (0 = the first pilot
week) and the reference week ``r = -1``:

    y = a + b * treated + sum_r g_r * week_r + sum_{r != -1} d_r * treated * week_r

``d_r`` for ``r < -1`` are the *leads*: if the arms were on parallel paths before the
switch-on they are zero, which a cluster-robust (by person) joint Wald test checks.
``d_r`` for ``r >= 0`` show how the effect builds up (learning) or fades (novelty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, t

from paceline.analytics.ols import CellData, CovType, SingularDesign, covariance, fit
from paceline.analytics.result import Check, Status

REFERENCE = -1


@dataclass(frozen=True)
class WeekEffect:
    week: int
    estimate: float
    ci: tuple[float, float]


STEADY_WEEKS = 4


@dataclass(frozen=True)
class EventStudy:
    effects: tuple[WeekEffect, ...]
    pre_trend_p: float | None
    check: Check
    steady_state: WeekEffect | None = None  # the average effect of the last STEADY_WEEKS pilot weeks


def event_study(
    weeks: np.ndarray, treated: np.ndarray, values: np.ndarray, person: np.ndarray, alpha: float = 0.05
) -> EventStudy:
    """Week-by-week effects and the pre-trend check (see the module docstring).

    *weeks* are relative week numbers, *treated* 0/1, *person* integer codes 0..G-1.
    """
    keep = np.isfinite(values)
    weeks, treated, values, person = weeks[keep], treated[keep], values[keep], person[keep]
    levels = sorted(set(weeks.tolist()) - {REFERENCE})
    if REFERENCE not in set(weeks.tolist()) or len(np.unique(person)) < 3:
        return EventStudy(
            (), None, Check("pre_trends", Status.WARN, "too few weeks or people for an event study")
        )
    columns = [np.ones_like(values), treated.astype(float)]
    columns += [(weeks == r).astype(float) for r in levels]
    columns += [((weeks == r) & (treated == 1)).astype(float) for r in levels]
    z = np.column_stack(columns)
    codes = np.unique(person, return_inverse=True)[1]
    data = CellData(z, np.ones(len(values)), values.astype(float), np.zeros(len(values)), codes)
    try:
        result = fit(data)
    except SingularDesign:
        return EventStudy(
            (), None, Check("pre_trends", Status.WARN, "weeks without both arms: no event study")
        )
    cov = covariance(result, CovType.CR1)
    first = 2 + len(levels)
    crit = t.ppf(1 - alpha / 2, data.n_clusters - 1)
    effects = tuple(
        WeekEffect(
            r,
            float(result.beta[first + i]),
            (
                float(result.beta[first + i] - crit * np.sqrt(cov[first + i, first + i])),
                float(result.beta[first + i] + crit * np.sqrt(cov[first + i, first + i])),
            ),
        )
        for i, r in enumerate(levels)
    )
    leads = [first + i for i, r in enumerate(levels) if r < REFERENCE]
    post = [(r, first + i) for i, r in enumerate(levels) if r >= 0]
    steady = _steady_state(result.beta, cov, post[-STEADY_WEEKS:], crit)
    return EventStudy(
        effects, *_pre_trends(result.beta[leads], cov[np.ix_(leads, leads)]), steady_state=steady
    )


def _steady_state(
    beta: np.ndarray, cov: np.ndarray, last: list[tuple[int, int]], crit: float
) -> WeekEffect | None:
    """The mean effect over the last pilot weeks (week, coefficient index): once learning has played out.

    The returned week is the first of the weeks averaged.
    """
    if not last:
        return None
    c = np.zeros(beta.size)
    c[[index for _, index in last]] = 1 / len(last)
    estimate, se = float(c @ beta), float(np.sqrt(c @ cov @ c))
    return WeekEffect(last[0][0], estimate, (estimate - crit * se, estimate + crit * se))


def _pre_trends(leads: np.ndarray, cov: np.ndarray) -> tuple[float | None, Check]:
    if leads.size == 0:
        return None, Check("pre_trends", Status.WARN, "no baseline weeks before the reference week to test")
    stat = float(leads @ np.linalg.pinv(cov) @ leads)
    p = float(chi2.sf(stat, leads.size))
    detail = f"joint test of {leads.size} pre-period leads: chi2 = {stat:.2f}, p = {p:.3g}"
    if p < 0.01:
        return p, Check("pre_trends", Status.FAIL, detail + "; the arms were not on parallel paths")
    if p < 0.05:
        return p, Check("pre_trends", Status.WARN, detail + "; the paths may not have been parallel")
    return p, Check("pre_trends", Status.PASS, detail + "; no sign of different pre-trends")
