"""Post-deployment reviews at 30, 60 and 90 days: is the use case delivering what the pilot promised?

The framework's change control ends with performance reviews 30, 60 and 90 days
after go-live. Each review puts the KPIs measured in production next to their
pre-AI baseline and the targets the pilot was adopted on (its primary KPIs), so
the question "is it still working at scale?" gets the same yardstick the pilot
was judged by. A KPI that cannot be measured yet is named as missing rather
than silently treated as a pass or a fail.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from paceline.domain.kpis import KPIS, Direction
from paceline.domain.pilots import PilotSpec
from paceline.errors import ValidationError


class ReviewKind(StrEnum):
    DAY30 = "day30"
    DAY60 = "day60"
    DAY90 = "day90"

    @property
    def days(self) -> int:
        return REVIEW_DAYS[self]


REVIEW_DAYS: dict[ReviewKind, int] = {ReviewKind.DAY30: 30, ReviewKind.DAY60: 60, ReviewKind.DAY90: 90}


class Outcome(StrEnum):
    ON_TRACK = "on_track"  # every target measured and met
    BEHIND = "behind"  # at least one measured target missed
    INSUFFICIENT_DATA = "insufficient_data"  # nothing missed, but something could not be measured


@dataclass(frozen=True)
class ScheduledReview:
    kind: ReviewKind
    due: date

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "due": self.due.isoformat()}


def schedule(go_live: date) -> list[ScheduledReview]:
    """The three reviews, due 30, 60 and 90 calendar days after *go_live*."""
    return [ScheduledReview(kind, go_live + timedelta(days=kind.days)) for kind in ReviewKind]


def is_overdue(review: ScheduledReview, today: date) -> bool:
    """Whether the review's due date has passed (it is due *on* its date, overdue the day after)."""
    return today > review.due


@dataclass(frozen=True)
class KpiTarget:
    """The improvement a KPI should show against its baseline, in %, in the KPI's good direction.

    ``productivity`` 10 means 10% more output per person-day; ``error_rate`` 20
    means 20% fewer errors (the same convention as a pilot's primary KPIs).
    """

    kpi: str
    target_effect_pct: float


@dataclass(frozen=True)
class KpiActual:
    """A KPI's pre-AI baseline and its current production value (None: not measured)."""

    kpi: str
    baseline: float | None
    current: float | None


@dataclass(frozen=True)
class KpiComparison:
    kpi: str
    baseline: float | None
    current: float | None
    change_pct: float | None  # improvement in the KPI's good direction, in %; negative = worse
    target_pct: float
    met: bool | None  # None: cannot be judged (a value is missing or the baseline is 0)
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReviewResult:
    outcome: Outcome
    summary: str
    met: tuple[str, ...]
    behind: tuple[str, ...]
    missing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "summary": self.summary,
            "met": list(self.met),
            "behind": list(self.behind),
            "missing": list(self.missing),
        }


def _bad(name: str, value: Any, message: str, fix: str) -> ValidationError:
    return ValidationError(message, field=name, value=value, fix=fix)


def _known(kpi: str) -> None:
    if kpi not in KPIS:
        raise _bad("kpi", kpi, f"unknown KPI {kpi!r}", f"use one of: {', '.join(KPIS)}")


def _finite(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, value, f"{name} {value!r} is not a number", "give a finite number or leave it empty")


def targets_from_pilot(spec: PilotSpec) -> list[KpiTarget]:
    """The pilot's primary KPIs as the review's targets: adopted on them, reviewed against them."""
    return [KpiTarget(p.kpi, p.target_effect_pct) for p in spec.primary]


def improvement_pct(kpi: str, baseline: float | None, current: float | None) -> float | None:
    """The relative change from baseline, signed so that positive is better for *kpi* (None if undefined)."""
    _known(kpi)
    if baseline is None or current is None or baseline == 0:
        return None
    change = (current - baseline) / abs(baseline) * 100
    return change if KPIS[kpi].direction is Direction.HIGHER else -change


def _sentence(
    kpi: str, baseline: float | None, current: float | None, change: float | None, target: float
) -> str:
    title = KPIS[kpi].title
    if baseline is None or current is None:
        gaps = [n for n, v in (("baseline", baseline), ("current value", current)) if v is None]
        return f"{title}: no {' or '.join(gaps)} yet, so the {target:g}% target cannot be judged."
    if change is None:
        return f"{title}: the baseline is 0, so a relative change (target {target:g}%) is not defined."
    higher = KPIS[kpi].direction is Direction.HIGHER
    rose = (change >= 0) == higher
    verdict = "target met" if change >= target else "behind target"
    return (
        f"{title} {'rose' if rose else 'fell'} from {baseline:g} to {current:g}, "
        f"{abs(change):.1f}% {'better' if change >= 0 else 'worse'} than the baseline "
        f"against a target of {target:g}% better: {verdict}."
    )


def compare(targets: Iterable[KpiTarget], actuals: Iterable[KpiActual]) -> list[KpiComparison]:
    """One comparison per target, in the targets' order; a KPI with no actual counts as unmeasured."""
    by_kpi: dict[str, KpiActual] = {}
    for actual in actuals:
        _known(actual.kpi)
        _finite(f"{actual.kpi}.baseline", actual.baseline)
        _finite(f"{actual.kpi}.current", actual.current)
        if actual.kpi in by_kpi:
            raise _bad("kpi", actual.kpi, f"{actual.kpi} is given twice", "give one actual per KPI")
        by_kpi[actual.kpi] = actual
    out: list[KpiComparison] = []
    for target in targets:
        _known(target.kpi)
        if any(c.kpi == target.kpi for c in out):
            raise _bad("kpi", target.kpi, f"{target.kpi} has two targets", "give one target per KPI")
        t = target.target_effect_pct
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            raise _bad(
                "target_effect_pct",
                t,
                f"the target of {target.kpi} is not usable",
                "a % improvement, 0 or more",
            )
        actual = by_kpi.get(target.kpi, KpiActual(target.kpi, None, None))
        change = improvement_pct(target.kpi, actual.baseline, actual.current)
        met = None if change is None else change >= t
        sentence = _sentence(target.kpi, actual.baseline, actual.current, change, t)
        out.append(KpiComparison(target.kpi, actual.baseline, actual.current, change, t, met, sentence))
    return out


def review_outcome(comparisons: Sequence[KpiComparison]) -> ReviewResult:
    """``behind`` if any measured target is missed; else ``insufficient_data`` if any is unmeasured.

    A known miss outranks a gap: the review can already say the use case is behind
    even while another KPI is still missing. With no targets at all there is
    nothing to judge, which is insufficient data too.
    """
    met = tuple(c.kpi for c in comparisons if c.met is True)
    behind = tuple(c.kpi for c in comparisons if c.met is False)
    missing = tuple(c.kpi for c in comparisons if c.met is None)
    if behind:
        outcome = Outcome.BEHIND
        summary = f"Behind: {_names(behind)} {'is' if len(behind) == 1 else 'are'} short of target"
    elif missing or not comparisons:
        outcome = Outcome.INSUFFICIENT_DATA
        summary = (
            f"Not enough data: {_names(missing)} cannot be judged yet"
            if missing
            else "Not enough data: the review has no KPI targets"
        )
    else:
        outcome = Outcome.ON_TRACK
        summary = f"On track: {_names(met)} {'meets its' if len(met) == 1 else 'meet their'} target"
    extras = []
    if behind and met:
        extras.append(f"{_names(met)} on target")
    if behind and missing:
        extras.append(f"{_names(missing)} not measured yet")
    summary += f" ({'; '.join(extras)})." if extras else "."
    return ReviewResult(outcome, summary, met, behind, missing)


def _names(kpis: Sequence[str]) -> str:
    titles = [KPIS[k].title for k in kpis]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
