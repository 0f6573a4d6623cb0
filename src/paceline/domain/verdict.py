"""The pilot verdict: adopt, extend or stop, with a reason for every criterion.

The rules, decided before the data (the pilot record holds the criteria):

* **Primary KPIs** form an intersection-union test: the pilot succeeds only if
  *every* primary KPI improves significantly (its confidence interval of the
  relative change lies entirely on the good side of zero). No multiplicity
  correction is needed for that, and none is applied.
* **Guardrails** are non-inferiority tests: the interval's bad end must stay
  within the margin (e.g. errors may not rise by more than 5%).
* **Acceptance criteria** (employee satisfaction, adoption) must reach their minimum.
* **Design checks** (sample ratio, parallel pre-trends) must not fail.

``stop`` when a primary KPI got significantly worse or a guardrail is breached
for certain; ``adopt`` when everything above holds; ``extend`` otherwise (the
evidence is not conclusive yet).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from paceline.domain.kpis import KPIS, Direction


class Verdict(StrEnum):
    ADOPT = "adopt"
    EXTEND = "extend"
    STOP = "stop"


@dataclass(frozen=True)
class Estimate:
    """A KPI's estimated relative change (in %, treated vs control) with its interval."""

    kpi: str
    role: str  # primary, guardrail or secondary
    relative_pct: float | None
    ci_pct: tuple[float, float] | None
    p_value: float | None
    target_pct: float | None = None  # primary: the improvement aimed at; guardrail: the margin
    z: float | None = None  # estimate / se, for interim looks
    boundary: float | None = None  # the group-sequential z boundary of this look (None: final analysis)


@dataclass(frozen=True)
class Reason:
    criterion: str
    met: bool | None  # None: not conclusive
    text: str


@dataclass
class Decision:
    verdict: Verdict
    reasons: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "reasons": [asdict(r) for r in self.reasons]}


def _good(kpi: str, value: float) -> float:
    """*value* turned so that positive means better for *kpi*."""
    return value if KPIS[kpi].direction is Direction.HIGHER else -value


def _words(kpi: str, pct: float) -> str:
    if KPIS[kpi].direction is Direction.HIGHER:
        return f"{abs(pct):.1f}% {'higher' if pct >= 0 else 'lower'}"
    return f"{abs(pct):.1f}% {'lower' if pct <= 0 else 'higher'}"


def judge_primary(e: Estimate) -> Reason:
    name = f"primary: {e.kpi}"
    if e.relative_pct is None or e.ci_pct is None:
        return Reason(name, None, f"{e.kpi} could not be estimated")
    if e.boundary is not None and e.z is not None:
        return _interim(name, e, e.boundary, e.z)
    lo, hi = sorted((_good(e.kpi, e.ci_pct[0]), _good(e.kpi, e.ci_pct[1])))
    interval = f"{e.ci_pct[0]:+.1f}% to {e.ci_pct[1]:+.1f}%"
    target = f"; the aim was {e.target_pct:.0f}% better" if e.target_pct else ""
    if lo > 0:
        return Reason(
            name,
            True,
            f"{e.kpi} is {_words(e.kpi, e.relative_pct)} than control, a significant "
            f"improvement (95% interval {interval}){target}",
        )
    if hi < 0:
        return Reason(
            name,
            False,
            f"{e.kpi} got significantly worse: {_words(e.kpi, e.relative_pct)} (interval {interval})",
        )
    return Reason(
        name,
        None,
        f"{e.kpi} changed by {e.relative_pct:+.1f}% but the interval ({interval}) "
        f"includes no change: not yet conclusive{target}",
    )


def _interim(name: str, e: Estimate, boundary: float, z: float) -> Reason:
    """At an interim look only a crossing of the group-sequential boundary counts."""
    good = _good(e.kpi, z)
    where = f"z = {z:+.2f} against the boundary of ±{boundary:.2f} at this look"
    if good >= boundary:
        return Reason(
            name,
            True,
            f"{e.kpi} is {_words(e.kpi, e.relative_pct or 0)} than control and crossed "
            f"the interim boundary ({where})",
        )
    if good <= -boundary:
        return Reason(name, False, f"{e.kpi} got worse beyond the interim boundary ({where})")
    return Reason(
        name,
        None,
        f"{e.kpi} changed by {e.relative_pct:+.1f}% but has not crossed the interim "
        f"boundary ({where}): continue to the next look",
    )


def judge_guardrail(e: Estimate) -> Reason:
    name = f"guardrail: {e.kpi}"
    margin = e.target_pct or 0.0
    if e.relative_pct is None or e.ci_pct is None:
        return Reason(name, None, f"{e.kpi} could not be estimated")
    worst = min(_good(e.kpi, e.ci_pct[0]), _good(e.kpi, e.ci_pct[1]))
    best = max(_good(e.kpi, e.ci_pct[0]), _good(e.kpi, e.ci_pct[1]))
    if worst > -margin:
        plausible = f"at worst {-worst:.1f}% worse" if worst < 0 else f"even at worst {worst:.1f}% better"
        return Reason(name, True, f"{e.kpi} is not worse by more than {margin:.0f}% ({plausible})")
    if best < -margin:
        return Reason(
            name,
            False,
            f"{e.kpi} is worse by more than the {margin:.0f}% margin ({_words(e.kpi, e.relative_pct)})",
        )
    return Reason(
        name,
        None,
        f"{e.kpi} may be up to {-worst:.1f}% worse, beyond the {margin:.0f}% margin: "
        "not yet shown to be safe",
    )


def judge_acceptance(kpi: str, minimum: float, value: float | None) -> Reason:
    name = f"acceptance: {kpi}"
    if value is None:
        return Reason(name, None, f"no {kpi} figure for the treated cohort yet")
    met = value >= minimum
    return Reason(
        name,
        met,
        f"{kpi} of the treated cohort is {value:.3g}, "
        f"{'at or above' if met else 'below'} the minimum of {minimum:g}",
    )


def decide(estimates: list[Estimate], acceptance: list[Reason], checks: list[dict[str, str]]) -> Decision:
    """The verdict from the primary and guardrail estimates, acceptance reasons and design checks."""
    reasons = [judge_primary(e) for e in estimates if e.role == "primary"]
    reasons += [judge_guardrail(e) for e in estimates if e.role == "guardrail"]
    reasons += acceptance
    reasons += [
        Reason(f"check: {c['name']}", {"pass": True, "fail": False}.get(c["status"]), c["detail"])
        for c in checks
    ]
    primary = [r for r in reasons if r.criterion.startswith("primary")]
    guard = [r for r in reasons if r.criterion.startswith("guardrail")]
    if any(r.met is False for r in primary + guard):
        return Decision(Verdict.STOP, reasons)
    if primary and all(r.met is True for r in reasons):
        return Decision(Verdict.ADOPT, reasons)
    return Decision(Verdict.EXTEND, reasons)
