"""The generic machinery that turns people and working days into finished tasks.

A use case supplies per-person rates and effects; this module draws who works
which day (``Grid``), whether the assistant is on that day, how many tasks each
person-day yields, and each task's times, priority, error and quality. The AI
switch is per person-day: on an assisted day every task of that person is
AI-assisted, which mirrors an assistant that is either open in the work tool or
not, and keeps the effect on output per person-day cleanly measurable.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from paceline.demo.firm.calendar import (
    SHIFT_HOURS,
    SHIFT_START_HOUR,
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_SECOND,
    Calendar,
)
from paceline.demo.firm.org import Org
from paceline.demo.params import Adoption, Priorities

PRIORITIES = ("urgent", "high", "normal", "low")
AUTOMATION = ("none", "partial", "full")
SYSTEM = -1  # person number of fully automated work


@dataclass(frozen=True)
class Grid:
    """Who works on which working day, and on which of those days the assistant is on."""

    persons: np.ndarray  # person numbers, one per row
    present: np.ndarray  # bool [persons, days]
    assisted: np.ndarray  # bool [persons, days]


@dataclass
class Tasks:
    """Finished tasks of one use case, as parallel arrays (times in UTC microseconds)."""

    person: np.ndarray  # person number, SYSTEM for full automation
    day: np.ndarray  # working-day index of the start
    opened: np.ndarray
    started: np.ndarray
    completed: np.ndarray
    effort: np.ndarray  # seconds
    assisted: np.ndarray
    automation: np.ndarray  # index into AUTOMATION
    priority: np.ndarray  # index into PRIORITIES
    error: np.ndarray
    quality: np.ndarray  # NaN when the use case has no quality score

    @property
    def size(self) -> int:
        return int(self.person.size)

    def take(self, index: np.ndarray) -> Tasks:
        return Tasks(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Tasks]) -> Tasks:
        return Tasks(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Tasks)})

    def time_order(self) -> np.ndarray:
        """The permutation that sorts by start time, then person: task ids then grow with time."""
        return np.lexsort((self.person, self.started))


@dataclass
class Work:
    """One use case's generated work: tasks in time order and the activity grid behind them."""

    use_case: str
    tasks: Tasks
    grid: Grid


def activity(
    org: Org,
    persons: np.ndarray,
    cal: Calendar,
    adoption: Adoption,
    attendance: float,
    rng: np.random.Generator,
) -> Grid:
    """Presence (hired and not absent) and assisted days of *persons* over the calendar."""
    days = cal.days[None, :]
    shape = (persons.size, cal.n_days)
    present = (days >= org.hire[persons, None]) & (rng.random(shape) < attendance)
    adopted = days >= org.adopt_at[persons, None]  # NaT compares False: never adopts
    assisted = present & adopted & (rng.random(shape) < adoption.use_intensity)
    return Grid(persons, present, assisted)


def seasonality(cal: Calendar, amplitude: float) -> np.ndarray:
    """A yearly cycle of work volume per working day, common to every team."""
    return 1 + amplitude * np.sin(2 * np.pi * (cal.month + cal.timeline.start.month) / 12)


def expand(grid: Grid, rate: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw a Poisson count per present person-day; return (grid row, day) per task."""
    counts = rng.poisson(rate) * grid.present
    cells = np.flatnonzero(counts)
    cell = np.repeat(cells, counts.ravel()[cells])
    return cell // grid.present.shape[1], cell % grid.present.shape[1]


def lognormal(median: float | np.ndarray, sigma: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(n))


def shift_starts(cal: Calendar, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Start times spread over the working shift of each day, to the second."""
    offset = rng.integers(0, SHIFT_HOURS * 3600, day.size) * US_PER_SECOND
    return cal.day_us(day) + SHIFT_START_HOUR * US_PER_HOUR + offset


def finish(started: np.ndarray, effort_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Completion: effort plus short interruptions (elapsed time >= active effort)."""
    pause = rng.exponential(0.05, effort_s.size) * effort_s
    return started + np.ceil(effort_s + pause).astype(np.int64) * US_PER_SECOND


def waits(priority: np.ndarray, tiers: Priorities, rng: np.random.Generator) -> np.ndarray:
    """Microseconds from trigger to start, exponential with the tier's mean."""
    mean = np.asarray(tiers.wait_minutes)[priority]
    return np.round(rng.exponential(1.0, priority.size) * mean * 60).astype(np.int64) * US_PER_SECOND


def draw_priority(tiers: Priorities, n: int, rng: np.random.Generator) -> np.ndarray:
    shares = np.asarray(tiers.shares, dtype=float)
    return rng.choice(len(PRIORITIES), size=n, p=shares / shares.sum()).astype(np.int8)


def errors(
    base: np.ndarray, assisted: np.ndarray, reduction: float | np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Defects: a per-task base probability, cut by *reduction* on assisted tasks."""
    p = base * np.where(assisted, 1 - reduction, 1.0)
    return rng.random(base.size) < p


def quality(
    skill_z: np.ndarray, assisted: np.ndarray, lift_sd: float, rng: np.random.Generator
) -> np.ndarray:
    """A 0..1 quality score: a logistic of a latent grade that AI shifts by *lift_sd* SDs."""
    latent = rng.standard_normal(skill_z.size) + 0.3 * skill_z + lift_sd * assisted
    return np.round(1 / (1 + np.exp(-(1.2 + 0.7 * latent))), 3)


def human_tasks(
    cal: Calendar,
    persons: np.ndarray,
    day: np.ndarray,
    assisted: np.ndarray,
    effort_s: np.ndarray,
    priority: np.ndarray,
    tiers: Priorities,
    rng: np.random.Generator,
) -> Tasks:
    """Tasks done by people in the shift: times from the day and effort; no error/quality yet."""
    started = shift_starts(cal, day, rng)
    effort_s = np.maximum(np.round(effort_s), 1.0)
    n = day.size
    return Tasks(
        person=persons,
        day=day,
        opened=started - waits(priority, tiers, rng),
        started=started,
        completed=finish(started, effort_s, rng),
        effort=effort_s,
        assisted=assisted,
        automation=np.where(assisted, 1, 0).astype(np.int8),
        priority=priority,
        error=np.zeros(n, dtype=bool),
        quality=np.full(n, np.nan),
    )


def minutes(value: float) -> int:
    """Microseconds in *value* minutes."""
    return round(value * US_PER_MINUTE)
