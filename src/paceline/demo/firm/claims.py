"""``claims-triage`` work: adjusters pre-fill and route claims, randomised pilot (case A).

Effects (all from :class:`paceline.demo.params.Claims`), on an adjuster's
assisted days only:

* claims per day x ``exp(gain_i)``, where ``gain_i`` falls with skill from about
  +0.30 log for the least skilled to about 0 for the most (mean ``throughput_gain``);
* handling time x ``exp(effect_i)`` with the same skill gradient (mean ``handling_time_effect``);
* misroutes x ``(1 - misroute_reduction)``;
* the complex-claims team is the negative control: slower by ``negative_control_slowdown``;
* once an adjuster finishes the learning path, the first two effects grow by the
  training factor (:mod:`paceline.demo.firm.training`).

After scale-up a share of simple claims closes with no human touch (``system``).
"""

from __future__ import annotations

import numpy as np

from paceline.demo.firm.calendar import US_PER_SECOND, Calendar
from paceline.demo.firm.org import CLAIMS, Org
from paceline.demo.firm.training import effect_scale
from paceline.demo.firm.work import (
    PRIORITIES,
    SYSTEM,
    Tasks,
    Work,
    activity,
    draw_priority,
    errors,
    expand,
    human_tasks,
    lognormal,
    quality,
    seasonality,
)
from paceline.demo.params import Claims, FirmParams

COMPLEX_RATE = 0.5  # complex claims: half as many per day ...
COMPLEX_EFFORT = 2.0  # ... each taking twice as long (assumption)
SYSTEM_SECONDS = 20.0  # median machine time of an automated claim (assumption)
SYSTEM_QUEUE_SECONDS = 120.0  # mean wait before the automation picks a claim up


def skill_shape(pct: np.ndarray, curvature: float) -> np.ndarray:
    """Relative gain at skill percentile *pct*: ``(k+1)(1-p)^k``, which averages 1 over people."""
    return (curvature + 1) * (1 - pct) ** curvature


def person_effects(org: Org, persons: np.ndarray, c: Claims) -> tuple[np.ndarray, np.ndarray]:
    """Per adjuster: log gain in claims per assisted day, and log effect on handling time."""
    shape = skill_shape(org.skill_pct[persons], c.gain_curvature)
    neg = org.negative_control[persons]
    slow = np.log1p(c.negative_control_slowdown)
    gain = np.where(neg, -slow, c.throughput_gain * shape)
    effect = np.where(neg, slow, np.log1p(c.handling_time_effect) * shape)
    return gain, effect


def claims_work(
    org: Org,
    cal: Calendar,
    params: FirmParams,
    rng: np.random.Generator,
    trained_at: np.ndarray | None = None,
) -> Work:
    """All claims of the timeline, done by adjusters and (after scale-up) by the automation.

    *trained_at* (one day per person, NaT when never) switches on the training effect.
    """
    c = params.claims
    persons = org.members(CLAIMS)
    grid = activity(org, persons, cal, params.adoption, params.workforce.attendance, rng)
    z, neg = org.skill_z[persons], org.negative_control[persons]
    gain, effect = person_effects(org, persons, c)
    base = c.tasks_per_day * np.exp(0.2 * z) * np.where(neg, COMPLEX_RATE, 1.0)
    season = seasonality(cal, params.workforce.seasonality)
    scale = effect_scale(org, persons, cal, params.training, trained_at)
    rate = base[:, None] * season[None, :] * np.exp(gain[:, None] * scale * grid.assisted)
    row, day = expand(grid, rate, rng)
    assisted = grid.assisted[row, day]
    priority = draw_priority(c.priorities, row.size, rng)
    median = c.handling_minutes * 60 * np.where(neg[row], COMPLEX_EFFORT, 1.0) * np.exp(-0.15 * z[row])
    effort = lognormal(median, c.handling_sigma, row.size, rng)
    effort *= np.asarray(c.priorities.effort)[priority] * np.exp(effect[row] * scale[row, day] * assisted)
    tasks = human_tasks(cal, persons[row], day, assisted, effort, priority, c.priorities, rng)
    reduction = np.where(neg[row], 0.0, c.misroute_reduction)
    tasks.error = errors(c.misroute_rate * np.exp(-0.3 * z[row]), assisted, reduction, rng)
    tasks.quality = quality(z[row], assisted, c.quality_lift_sd, rng)
    automated = automated_claims(cal, c, day, rng)
    every = Tasks.concat([tasks, automated])
    return Work(CLAIMS, every.take(every.time_order()), grid)


def automated_claims(cal: Calendar, c: Claims, human_day: np.ndarray, rng: np.random.Generator) -> Tasks:
    """Fully automated claims from scale-up on: ``full_automation_share`` of each day's claims."""
    per_day = np.bincount(human_day, minlength=cal.n_days).astype(float)
    lam = per_day * c.full_automation_share / (1 - c.full_automation_share)
    lam[: cal.first_day(cal.timeline.scale_up)] = 0.0
    day = np.repeat(np.arange(cal.n_days), rng.poisson(lam))
    n = day.size
    opened = cal.day_us(day) + rng.integers(0, 24 * 3600, n) * US_PER_SECOND
    started = opened + np.round(rng.exponential(SYSTEM_QUEUE_SECONDS, n)).astype(np.int64) * US_PER_SECOND
    effort = np.maximum(np.round(lognormal(SYSTEM_SECONDS, 0.3, n, rng)), 1.0)
    return Tasks(
        person=np.full(n, SYSTEM),
        day=day,
        opened=opened,
        started=started,
        completed=started + (effort * US_PER_SECOND).astype(np.int64),
        effort=effort,
        assisted=np.ones(n, dtype=bool),
        automation=np.full(n, 2, dtype=np.int8),
        priority=np.full(n, PRIORITIES.index("low"), dtype=np.int8),
        error=rng.random(n) < c.system_error_rate,
        quality=np.full(n, np.nan),
    )
