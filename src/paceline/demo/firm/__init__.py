"""The demo firm generator: pure, seeded, and shaped exactly like the canonical tables.

``generate_firm(params, seed)`` returns every canonical table of spec/events.md
as an Arrow table with raw person ids (``emp-0001``): the same input a real firm
would export from its HR, ticketing and model-serving systems. Nothing here
reads a file, a database or the clock, so one seed always gives byte-identical
tables, and the generator is safe to call from tests and benchmarks.

Example:
    >>> from paceline.demo.firm import generate_firm
    >>> from paceline.demo.params import FirmParams
    >>> firm = generate_firm(FirmParams.sized(people=60, months=3), seed=7)
    >>> sorted(firm.tables)[:3]
    ['assignments', 'costs', 'labels']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from paceline.demo.firm import tables
from paceline.demo.firm.calendar import Calendar, build_calendar
from paceline.demo.firm.claims import claims_work
from paceline.demo.firm.clinical import clinical_work
from paceline.demo.firm.costs import costs
from paceline.demo.firm.maintenance import Readings, maintenance_work, sensor_readings
from paceline.demo.firm.models import failure_risk, prediction_tables, router, scribe
from paceline.demo.firm.org import Org, build_org
from paceline.demo.firm.rng import stream
from paceline.demo.firm.surveys import survey_responses
from paceline.demo.firm.training import completion_days
from paceline.demo.firm.usage import usage_events
from paceline.demo.firm.work import Work
from paceline.demo.params import FirmParams

LOAD_ORDER = (
    "people",
    "assignments",
    "task_events",
    "usage_events",
    "survey_responses",
    "predictions",
    "labels",
    "costs",
)


@dataclass(frozen=True)
class Workload:
    """The firm before it becomes tables: people, calendar, work and sensor readings."""

    org: Org
    cal: Calendar
    works: tuple[Work, Work, Work]
    readings: Readings
    reading_task: np.ndarray  # work-order row of each failing reading, -1 otherwise
    trained_at: np.ndarray | None = None  # the day each person finished the learning path (NaT: never)


@dataclass(frozen=True)
class Firm:
    """Every canonical table of the demo firm, in load order, and what it was built from."""

    seed: int
    params: FirmParams
    tables: dict[str, pa.Table]

    @property
    def rows(self) -> dict[str, int]:
        return {name: t.num_rows for name, t in self.tables.items()}


def generate_workload(params: FirmParams, seed: int, part: tuple[int, ...] = ()) -> Workload:
    """People, their work in the three use cases, and the machines' sensor readings.

    *part* numbers an independent slice of a larger firm (``--scale`` generates
    one slice per chunk); the demo firm itself is the slice ``()``.
    """
    cal = build_calendar(params.timeline)
    org = build_org(params, cal, stream(seed, "org", *part))
    trained = completion_days(org, cal, params.training, stream(seed, "training", *part))
    claims = claims_work(org, cal, params, stream(seed, "claims", *part), trained)
    clinical = clinical_work(org, cal, params, stream(seed, "clinical", *part))
    readings = sensor_readings(cal, params.maintenance, stream(seed, "sensors", *part))
    maintenance, link = maintenance_work(org, cal, params, readings, stream(seed, "maintenance", *part))
    return Workload(org, cal, (claims, clinical, maintenance), readings, link, trained)


def generate_firm(params: FirmParams | None = None, seed: int = 0) -> Firm:
    """The demo firm for *params* (default: ``FirmParams()``) and *seed*."""
    params = params or FirmParams()
    w = generate_workload(params, seed)
    claims, clinical, _ = w.works
    predictions, labels = prediction_tables(
        [
            router(w.org, w.cal, claims, params, stream(seed, "router")),
            scribe(w.org, w.cal, clinical, params, stream(seed, "scribe")),
            failure_risk(w.cal, w.readings, w.reading_task, params, stream(seed, "failure-risk")),
        ]
    )
    built = {
        "people": tables.people(w.org),
        "assignments": tables.assignments(w.org),
        "task_events": tables.task_events(w.org, w.works),
        "usage_events": usage_events(w.org, w.cal, w.works, params, stream(seed, "usage")),
        "survey_responses": survey_responses(w.org, w.cal, w.works, params, stream(seed, "surveys")),
        "predictions": predictions,
        "labels": labels,
        "costs": costs(w.org, w.cal, w.works, params),
    }
    return Firm(seed, params, {name: built[name] for name in LOAD_ORDER})
