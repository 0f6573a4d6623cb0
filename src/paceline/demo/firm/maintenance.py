"""``predictive-maintenance``: AI4I 2020 sensor readings, failures and work orders (case C).

Each machine gives one reading per working day that follows the public AI4I
2020 generation rules (:class:`paceline.demo.params.AI4I`): product type, air and
process temperature as random walks, torque and a speed tied to it, tool wear
that grows per process until the tool is replaced or fails. A reading is a
machine failure exactly when one of the five AI4I modes fires, so the labels
can be checked from the features alone.

Failures become urgent work orders for a technician of the plant; technicians
also do routine work orders. On assisted days repair time is multiplied by
``1 - mttr_reduction`` and operator errors by ``1 - operator_error_reduction``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paceline.demo.firm.calendar import US_PER_HOUR, US_PER_MINUTE, US_PER_SECOND, Calendar
from paceline.demo.firm.org import MAINTENANCE, Org
from paceline.demo.firm.work import (
    PRIORITIES,
    Grid,
    Tasks,
    Work,
    activity,
    draw_priority,
    errors,
    expand,
    finish,
    human_tasks,
    lognormal,
    seasonality,
)
from paceline.demo.params import AI4I, FirmParams, Maintenance

TYPES = ("L", "M", "H")


@dataclass(frozen=True)
class Readings:
    """Sensor readings, one per machine and working day, with the AI4I failure modes."""

    machine: np.ndarray
    plant: np.ndarray
    day: np.ndarray
    at: np.ndarray  # UTC microseconds
    kind: np.ndarray  # index into TYPES
    air: np.ndarray  # K
    process: np.ndarray  # K
    rpm: np.ndarray
    torque: np.ndarray  # Nm
    wear: np.ndarray  # minutes
    twf: np.ndarray
    hdf: np.ndarray
    pwf: np.ndarray
    osf: np.ndarray
    rnf: np.ndarray

    @property
    def failure(self) -> np.ndarray:
        return self.twf | self.hdf | self.pwf | self.osf | self.rnf


def _walk(rows: int, days: int, mean: float, sd: float, rng: np.random.Generator) -> np.ndarray:
    """A random walk per row, normalised to *sd* around *mean* (as AI4I describes)."""
    path = np.cumsum(rng.standard_normal((rows, days)), axis=1)
    path -= path.mean(axis=1, keepdims=True)
    scale = path.std(axis=1, keepdims=True)
    return mean + sd * path / np.where(scale > 0, scale, 1.0)


def _tool_wear(
    kind: np.ndarray, torque: np.ndarray, a: AI4I, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Wear per reading and the tool-wear failures (TWF).

    A tool lasts until a wear limit drawn from AI4I's window, where it is replaced
    or fails; an overstrain failure also ends it, since the repair changes the tool.
    """
    machines, days = torque.shape
    wear, twf = np.zeros((machines, days)), np.zeros((machines, days), dtype=bool)
    limits = rng.uniform(*a.wear_window, size=(machines, days))
    fails = rng.random((machines, days)) < a.twf_failure_share
    for m in range(machines):
        step, strain = a.wear_per_process[kind[m]], a.overstrain_limits[kind[m]]
        current, tool = 0.0, 0
        for d in range(days):
            current += step
            wear[m, d] = current
            if current >= limits[m, tool]:
                twf[m, d] = fails[m, tool]
                current, tool = 0.0, tool + 1
            elif current * torque[m, d] > strain:
                current, tool = 0.0, tool + 1
    return wear, twf


def sensor_readings(cal: Calendar, m: Maintenance, rng: np.random.Generator) -> Readings:
    """Every machine's daily reading over the timeline, with its failure modes."""
    a = m.ai4i
    machines, days = m.plants * m.machines_per_plant, cal.n_days
    plant = np.repeat(np.arange(m.plants), m.machines_per_plant)
    kind = rng.choice(3, size=machines, p=np.asarray(a.type_shares))
    # Sensors report at AI4I's precision (0.1 K, 0.1 Nm, whole rpm); the rules read those values.
    air = np.round(_walk(m.plants, days, a.air_mean_k, a.air_sd_k, rng)[plant], 1)
    process = np.round(air + _walk(machines, days, a.process_offset_k, a.process_sd_k, rng), 1)
    torque = np.round(
        np.maximum(a.torque_mean_nm + a.torque_sd_nm * rng.standard_normal((machines, days)), 0.0), 1
    )
    noise = a.rpm_noise * rng.standard_normal((machines, days))
    rpm = np.round(np.maximum(a.rpm_mean + a.rpm_per_nm * (torque - a.torque_mean_nm) + noise, 1.0))
    wear, twf = _tool_wear(kind, torque, a, rng)
    power = torque * rpm * 2 * np.pi / 60
    limit = np.asarray(a.overstrain_limits)[kind][:, None]
    day = np.broadcast_to(np.arange(days), (machines, days))
    at = cal.day_us(day.ravel()) + 6 * US_PER_HOUR + rng.integers(0, 12 * 60, machines * days) * US_PER_MINUTE
    return Readings(
        machine=np.repeat(np.arange(machines), days),
        plant=np.repeat(plant, days),
        day=day.ravel(),
        at=at,
        kind=np.repeat(kind, days),
        air=air.ravel(),
        process=process.ravel(),
        rpm=rpm.ravel(),
        torque=torque.ravel(),
        wear=wear.ravel(),
        twf=twf.ravel(),
        hdf=((process - air < a.hdf_delta_k) & (rpm < a.hdf_rpm)).ravel(),
        pwf=((power < a.power_band_w[0]) | (power > a.power_band_w[1])).ravel(),
        osf=(wear * torque > limit).ravel(),
        rnf=rng.random(machines * days) < a.random_failure,
    )


def _technicians(
    org: Org, persons: np.ndarray, present: np.ndarray, failed: Readings, rng: np.random.Generator
) -> np.ndarray:
    """For each failure, a row of *persons*: a technician of the plant at work that day if any.

    Falls back to anyone of the plant, then anyone in maintenance (tiny test firms).
    """
    plant = org.group[persons]
    chosen = np.empty(failed.day.size, dtype=np.int64)
    for i, (p, d) in enumerate(zip(failed.plant, failed.day, strict=True)):
        pool = np.flatnonzero((plant == p) & present[:, d])
        if pool.size == 0:
            pool = np.flatnonzero(plant == p)
        if pool.size == 0:
            pool = np.arange(persons.size)
        chosen[i] = pool[rng.integers(0, pool.size)]
    return chosen


def maintenance_work(
    org: Org, cal: Calendar, params: FirmParams, readings: Readings, rng: np.random.Generator
) -> tuple[Work, np.ndarray]:
    """Routine and failure work orders, and the work-order row of each reading (-1 if none)."""
    m = params.maintenance
    persons = org.members(MAINTENANCE)
    grid = activity(org, persons, cal, params.adoption, params.workforce.attendance, rng)
    z = org.skill_z[persons]
    season = seasonality(cal, params.workforce.seasonality)
    row, day = expand(grid, m.work_orders_per_day * np.exp(0.1 * z)[:, None] * season[None, :], rng)
    assisted = grid.assisted[row, day]
    priority = draw_priority(m.priorities, row.size, rng)
    effort = lognormal(m.routine_minutes * 60 * np.exp(-0.1 * z[row]), m.repair_sigma, row.size, rng)
    effort *= np.asarray(m.priorities.effort)[priority] * np.exp(np.log1p(-m.mttr_reduction) * assisted)
    routine = human_tasks(cal, persons[row], day, assisted, effort, priority, m.priorities, rng)
    failing = np.flatnonzero(readings.failure)
    failed = Readings(**{k: getattr(readings, k)[failing] for k in Readings.__dataclass_fields__})
    tech = _technicians(org, persons, grid.present, failed, rng)
    every = Tasks.concat([routine, _repairs(cal, m, persons, grid, tech, failed, rng)])
    every.automation[:] = 0  # guidance, not automation: a technician does every job
    err_base = m.operator_error_rate * np.exp(-0.3 * org.skill_z[every.person])
    every.error = errors(err_base, every.assisted, m.operator_error_reduction, rng)
    order = every.time_order()
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    link = np.full(readings.day.size, -1, dtype=np.int64)
    link[failing] = position[routine.size + np.arange(failing.size)]
    return Work(MAINTENANCE, every.take(order), grid), link


def _repairs(
    cal: Calendar,
    m: Maintenance,
    persons: np.ndarray,
    grid: Grid,
    tech: np.ndarray,
    failed: Readings,
    rng: np.random.Generator,
) -> Tasks:
    """Urgent work orders: opened at the failure, started after a response wait, then repaired."""
    n = failed.day.size
    assisted = grid.assisted[tech, failed.day]
    wait_median = m.response_minutes * np.exp(-0.5 * m.response_sigma**2)
    wait = np.round(lognormal(wait_median * 60, m.response_sigma, n, rng)).astype(np.int64) * US_PER_SECOND
    effort = lognormal(m.repair_minutes * 60, m.repair_sigma, n, rng)
    effort = np.maximum(np.round(effort * np.exp(np.log1p(-m.mttr_reduction) * assisted)), 1.0)
    started = failed.at + wait
    return Tasks(
        person=persons[tech],
        day=failed.day,
        opened=failed.at,
        started=started,
        completed=finish(started, effort, rng),
        effort=effort,
        assisted=assisted,
        automation=np.zeros(n, dtype=np.int8),
        priority=np.full(n, PRIORITIES.index("urgent"), dtype=np.int8),
        error=np.zeros(n, dtype=bool),
        quality=np.full(n, np.nan),
    )
