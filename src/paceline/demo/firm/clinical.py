"""``clinical-documentation`` work: an AI scribe drafts visit notes, sites as DiD arms (case B).

Each task is the documentation of one encounter: ``opened_at`` is the end of the
visit, ``effort_seconds`` the documentation time. Treated sites switch the scribe
on at the pilot, control sites at scale-up. Documentation time follows a common
upward trend at every site (the parallel pre-trend a DiD relies on) and a fixed
site effect; on assisted encounters it is multiplied by
``1 + documentation_effect``, coding errors by ``1 - coding_error_reduction``,
and the note-quality grade rises by ``quality_lift_sd`` SDs.
"""

from __future__ import annotations

import numpy as np

from paceline.demo.firm.calendar import Calendar
from paceline.demo.firm.org import CLINICAL, Org
from paceline.demo.firm.work import (
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
from paceline.demo.params import FirmParams


def clinical_work(org: Org, cal: Calendar, params: FirmParams, rng: np.random.Generator) -> Work:
    """Every documented encounter of the timeline."""
    k = params.clinical
    persons = org.members(CLINICAL)
    grid = activity(org, persons, cal, params.adoption, params.workforce.attendance, rng)
    z, site = org.skill_z[persons], org.group[persons]
    site_effect = np.exp(k.site_spread * rng.standard_normal(int(site.max(initial=0)) + 1))
    season = seasonality(cal, params.workforce.seasonality)
    row, day = expand(grid, k.encounters_per_day * np.exp(0.1 * z)[:, None] * season[None, :], rng)
    assisted = grid.assisted[row, day]
    priority = draw_priority(k.priorities, row.size, rng)
    trend = np.exp(k.monthly_trend * cal.month[day])
    median = k.documentation_minutes * 60 * site_effect[site[row]] * np.exp(-0.15 * z[row]) * trend
    effort = lognormal(median, k.documentation_sigma, row.size, rng)
    effort *= np.asarray(k.priorities.effort)[priority] * np.exp(np.log1p(k.documentation_effect) * assisted)
    tasks = human_tasks(cal, persons[row], day, assisted, effort, priority, k.priorities, rng)
    tasks.error = errors(k.coding_error_rate * np.exp(-0.3 * z[row]), assisted, k.coding_error_reduction, rng)
    tasks.quality = quality(z[row], assisted, k.quality_lift_sd, rng)
    return Work(CLINICAL, tasks.take(tasks.time_order()), grid)
