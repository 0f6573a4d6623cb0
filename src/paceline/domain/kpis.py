"""The framework's workforce KPIs, defined once as data.

A definition says what a KPI measures, in which unit, which way is better, whether
it leads or lags, which tables it reads, the formula in words, and how a change
against a baseline is expressed. The engine (``paceline.services.kpi``) turns the
``formula_key`` into an Ibis expression; the docs, the CLI and the dashboard read
everything else from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    HIGHER = "higher_is_better"
    LOWER = "lower_is_better"


class Indicator(StrEnum):
    """Leading indicators move first (adoption); lagging ones show results (errors, CSAT)."""

    LEADING = "leading"
    LAGGING = "lagging"


class Change(StrEnum):
    """How a change against a baseline is expressed."""

    UPLIFT_PCT = "uplift_pct"  # (current - baseline) / baseline * 100
    REDUCTION_PCT = "reduction_pct"  # (baseline - current) / baseline * 100
    DELTA = "delta"  # current - baseline, in the KPI's unit
    DELTA_PP = "delta_pp"  # percentage points, for shares


class Grain(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    TOTAL = "total"


class Stat(StrEnum):
    MEAN = "mean"
    MEDIAN = "median"
    P90 = "p90"


TASK_DIMS = ("use_case", "team", "ai_assisted", "automation", "priority", "cohort", "tenure_band")
USAGE_DIMS = ("use_case", "team", "cohort", "tenure_band")
SURVEY_DIMS = ("use_case", "segment", "team", "ai_assisted", "cohort", "tenure_band")
PEOPLE_DIMS = frozenset({"team", "cohort", "tenure_band"})
ALL_DIMS = tuple(dict.fromkeys(TASK_DIMS + USAGE_DIMS + SURVEY_DIMS))
TENURE_BANDS = ("<6m", "6-12m", "1-3y", "3y+")


@dataclass(frozen=True)
class TypicalRange:
    """The framework's typical result for the KPI's change, shown for context."""

    low: float
    high: float
    text: str


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI. ``people_based`` KPIs are suppressed for groups under ``min_group_size``.

    ``framework_kpi`` is the KPI's number in the framework (1-8); KPIs 7 and 8 come
    from the monitoring and governance capabilities through the dashboard registry.
    """

    name: str
    title: str
    description: str
    unit: str
    direction: Direction
    indicator: Indicator
    sources: tuple[str, ...]
    formula: str
    change: Change
    framework_kpi: int
    dims: tuple[str, ...]
    people_based: bool = True
    stats: tuple[Stat, ...] = (Stat.MEAN,)
    typical: TypicalRange | None = None
    formula_key: str = ""

    @property
    def key(self) -> str:
        return self.formula_key or self.name


def _task(
    name: str,
    title: str,
    description: str,
    unit: str,
    direction: Direction,
    formula: str,
    change: Change,
    framework_kpi: int,
    **kw: object,
) -> KpiDefinition:
    return KpiDefinition(
        name,
        title,
        description,
        unit,
        direction,
        kw.pop("indicator", Indicator.LAGGING),  # type: ignore[arg-type]
        ("task_events", "people", "assignments"),
        formula,
        change,
        framework_kpi,
        TASK_DIMS,
        **kw,  # type: ignore[arg-type]
    )


_BEHAVIOUR = "share of suggestion decisions (accepted + edited + rejected) that were {0}"

KPIS: dict[str, KpiDefinition] = {
    k.name: k
    for k in (
        _task(
            "productivity",
            "Productivity",
            "Output per person-day: how much work each person completes on a day they work.",
            "units per person-day",
            Direction.HIGHER,
            "sum(units) / distinct (person_id, UTC date of completed_at); "
            "person 'system' not in the denominator",
            Change.UPLIFT_PCT,
            1,
            typical=TypicalRange(10, 40, "10-40% uplift in knowledge-work pilots"),
        ),
        _task(
            "productivity_quality_adjusted",
            "Quality-adjusted productivity",
            "Output per person-day, each unit weighted by its quality score (tasks without one count 1).",
            "quality units per person-day",
            Direction.HIGHER,
            "sum(units * coalesce(quality, 1)) / distinct (person_id, UTC date of completed_at)",
            Change.UPLIFT_PCT,
            1,
            typical=TypicalRange(10, 40, "10-40% uplift in knowledge-work pilots"),
        ),
        _task(
            "error_rate",
            "Error rate",
            "Share of tasks where a defect, misroute or wrong decision was found.",
            "share",
            Direction.LOWER,
            "count(error = true) / count(error is not null)",
            Change.REDUCTION_PCT,
            2,
            typical=TypicalRange(20, 60, "20-60% reduction, depending on task complexity and data"),
        ),
        _task(
            "resolution_time",
            "Time to resolution",
            "Hours from the trigger (opened_at) to resolution (completed_at).",
            "hours",
            Direction.LOWER,
            "completed_at - opened_at in hours: mean, median or p90",
            Change.REDUCTION_PCT,
            3,
            stats=(Stat.MEAN, Stat.MEDIAN, Stat.P90),
        ),
        _task(
            "handling_time",
            "Handling time",
            "Minutes of active work per task (effort_seconds): the human time AI assistance should save.",
            "minutes",
            Direction.LOWER,
            "effort_seconds / 60 (completed_at - started_at when no effort was given): mean, median or p90",
            Change.REDUCTION_PCT,
            3,
            stats=(Stat.MEAN, Stat.MEDIAN, Stat.P90),
        ),
        _task(
            "automation_rate",
            "Automation rate",
            "Share of tasks fully or partially automated.",
            "share",
            Direction.HIGHER,
            "count(automation in (partial, full)) / count(*)",
            Change.DELTA_PP,
            5,
        ),
        _task(
            "automation_full_rate",
            "Full automation rate",
            "Share of tasks completed with no human touch.",
            "share",
            Direction.HIGHER,
            "count(automation = full) / count(*)",
            Change.DELTA_PP,
            5,
        ),
        _task(
            "automation_partial_rate",
            "Partial automation rate",
            "Share of tasks where AI did part of the work and a person the rest.",
            "share",
            Direction.HIGHER,
            "count(automation = partial) / count(*)",
            Change.DELTA_PP,
            5,
        ),
        KpiDefinition(
            "adoption_rate",
            "Adoption rate",
            "Share of the people assigned to a use case who used its AI tool in the period.",
            "share",
            Direction.HIGHER,
            Indicator.LEADING,
            ("usage_events", "assignments", "people"),
            "people with an assignment active in the period and >= 1 usage event in it / "
            "people with an assignment active at any time in the period",
            Change.DELTA_PP,
            4,
            USAGE_DIMS,
            typical=TypicalRange(60, 80, "60-80% active adoption within 6-12 months"),
        ),
        *(
            KpiDefinition(
                f"suggestions_{verb}_share",
                f"Suggestions {verb}",
                f"Behavioural adoption: the {_BEHAVIOUR.format(verb)}.",
                "share",
                Direction.HIGHER if verb == "accepted" else Direction.LOWER,
                Indicator.LEADING,
                ("usage_events", "assignments", "people"),
                f"count(action = suggestion_{verb}) / count(action in suggestion_accepted, "
                "suggestion_edited, suggestion_rejected)",
                Change.DELTA_PP,
                4,
                USAGE_DIMS,
                formula_key="suggestions_share",
            )
            for verb in ("accepted", "edited", "rejected")
        ),
        KpiDefinition(
            "csat",
            "Customer satisfaction",
            "Mean customer satisfaction score (1-5).",
            "score (1-5)",
            Direction.HIGHER,
            Indicator.LAGGING,
            ("survey_responses", "task_events", "people", "assignments"),
            "mean(score) of csat responses",
            Change.DELTA,
            6,
            SURVEY_DIMS,
            people_based=False,
        ),
        KpiDefinition(
            "nps",
            "Net Promoter Score",
            "Promoters (9-10) minus detractors (0-6), in points from -100 to 100.",
            "points",
            Direction.HIGHER,
            Indicator.LAGGING,
            ("survey_responses", "task_events", "people", "assignments"),
            "100 * (share of scores 9-10 - share of scores 0-6) among nps responses",
            Change.DELTA,
            6,
            SURVEY_DIMS,
            people_based=False,
        ),
        KpiDefinition(
            "esat",
            "Employee satisfaction with AI",
            "Mean score (1-5) of employees' satisfaction with the AI tool.",
            "score (1-5)",
            Direction.HIGHER,
            Indicator.LEADING,
            ("survey_responses", "people", "assignments"),
            "mean(score) of esat responses",
            Change.DELTA,
            4,
            SURVEY_DIMS,
        ),
    )
}


def change_value(change: Change, baseline: float | None, current: float | None) -> float | None:
    """The change from *baseline* to *current* as the KPI expresses it (None if undefined)."""
    if baseline is None or current is None:
        return None
    if change is Change.DELTA:
        return current - baseline
    if change is Change.DELTA_PP:
        return (current - baseline) * 100
    if baseline == 0:
        return None
    if change is Change.UPLIFT_PCT:
        return (current - baseline) / abs(baseline) * 100
    return (baseline - current) / abs(baseline) * 100


def tenure_band(days: int | None) -> str | None:
    """The tenure band for *days* since hire (months of 30.4375 days)."""
    if days is None or days < 0:
        return None
    months = days / 30.4375
    if months < 6:
        return "<6m"
    if months < 12:
        return "6-12m"
    if months < 36:
        return "1-3y"
    return "3y+"
