"""The demo firm's calendar: working days, months and timestamps as integers.

Everything is derived from the timeline's start date, never from the clock, so a
seed always gives the same dates. Times are int64 microseconds since the Unix
epoch (UTC) until the very end, where they become Arrow timestamps: integer
arithmetic on arrays is what keeps a million-row generator fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from paceline.demo.params import Timeline

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
DAYS_PER_MONTH = 365.25 / 12
SHIFT_START_HOUR = 8  # UTC; work starts at 08:00 and new tasks start until 16:00
SHIFT_HOURS = 8


@dataclass(frozen=True)
class Calendar:
    """Working days (Mon-Fri) of the timeline, with each day's month index.

    ``month_starts`` has ``months + 1`` entries: the first calendar day of every
    month and of the month after the end, so month *m* is ``[starts[m], starts[m+1])``.
    """

    timeline: Timeline
    days: np.ndarray  # datetime64[D], working days only
    month: np.ndarray  # int64 month index per working day
    month_starts: np.ndarray  # datetime64[D]

    @property
    def n_days(self) -> int:
        return int(self.days.size)

    @property
    def start(self) -> np.datetime64:
        return self.month_starts[0]

    @property
    def end(self) -> np.datetime64:
        """The first calendar day after the timeline."""
        return self.month_starts[-1]

    def month_start(self, month: int) -> np.datetime64:
        return self.month_starts[min(month, self.timeline.months)]

    def first_day(self, month: int) -> int:
        """Index of the first working day of *month* (``n_days`` after the end)."""
        return int(np.searchsorted(self.days, self.month_start(month)))

    def day_index(self, dates: np.ndarray) -> np.ndarray:
        """Index of the first working day on or after each date (``n_days`` when none)."""
        return np.searchsorted(self.days, dates.astype("datetime64[D]"))

    def day_us(self, index: np.ndarray) -> np.ndarray:
        """Midnight UTC of working days *index*, in microseconds."""
        return self.days[index].astype("datetime64[us]").astype(np.int64)

    def month_of(self, dates: np.ndarray) -> np.ndarray:
        """Month index of datetime64 dates (negative before the start)."""
        months = dates.astype("datetime64[M]") - self.start.astype("datetime64[M]")
        return months.astype(np.int64)


def build_calendar(timeline: Timeline) -> Calendar:
    """The calendar of *timeline*: its months and their working days."""
    first = np.datetime64(timeline.start.replace(day=1), "M")
    month_starts = (first + np.arange(timeline.months + 1)).astype("datetime64[D]")
    all_days = np.arange(month_starts[0], month_starts[-1], dtype="datetime64[D]")
    days = all_days[np.is_busday(all_days)]
    month = (days.astype("datetime64[M]") - first).astype(np.int64)
    return Calendar(timeline, days, month, month_starts)


def as_date(value: np.datetime64) -> date:
    """A numpy day as a :class:`datetime.date`."""
    result: date = value.astype("datetime64[D]").item()
    return result
