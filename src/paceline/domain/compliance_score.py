"""The compliance & risk score (the framework's KPI 8): one documented composite, 0-100.

Four components, each a share between 0 (worst) and 1 (best), weighted and averaged over
the components that have data (docs/governance.md states the formula):

* **controls** (weight 40): applicable controls with current evidence / applicable controls;
* **findings** (20): 1 - open audit findings' severity points / 20, where a finding counts
  low 0.5, medium 2, high 5, critical 10 points, doubled once past its due date;
* **incidents** (20): 1 - points / 20 over incidents opened in the last 90 days or still open:
  an open incident counts its severity points (doubled past the resolution target: critical
  1 day, high 3, medium 7, low 14), a resolved one a quarter of them (half if it was late);
* **risks** (20): 1 - the mean band weight of the risk register's open risks, by residual
  score: 15-25 counts 1, 10-14 0.5, 5-9 0.15, 1-4 0.

The status is red below ``red_below`` (70), amber below ``amber_below`` (85), else green; an
open critical finding, an open critical incident or an open risk with a residual of 15 or
more turns it red whatever the number. :func:`fixes` ranks what to fix first by how much the
score would gain, recomputing the score with each fix applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_POINTS = {"low": 0.5, "medium": 2.0, "high": 5.0, "critical": 10.0}
POINT_BUDGET = 20.0
INCIDENT_TARGET_DAYS = {"low": 14, "medium": 7, "high": 3, "critical": 1}
INCIDENT_WINDOW_DAYS = 90
WEIGHTS = {"controls": 40.0, "findings": 20.0, "incidents": 20.0, "risks": 20.0}
CRITICAL_RESIDUAL = 15


def risk_band_weight(residual: int) -> float:
    if residual >= CRITICAL_RESIDUAL:
        return 1.0
    if residual >= 10:
        return 0.5
    if residual >= 5:
        return 0.15
    return 0.0


@dataclass(frozen=True)
class ControlFact:
    ref: str
    title: str
    met: bool
    use_case: str | None = None


@dataclass(frozen=True)
class FindingFact:
    id: int
    title: str
    severity: str
    raised_on: date
    due: date | None = None
    closed_on: date | None = None

    def open_on(self, day: date) -> bool:
        return self.raised_on <= day and (self.closed_on is None or self.closed_on > day)

    def points(self, day: date) -> float:
        overdue = self.due is not None and day > self.due
        return SEVERITY_POINTS[self.severity] * (2 if overdue else 1)


@dataclass(frozen=True)
class IncidentFact:
    id: str
    title: str
    severity: str
    opened_on: date
    resolved_on: date | None = None

    def counted_on(self, day: date) -> bool:
        if self.opened_on > day:
            return False
        still_open = self.resolved_on is None or self.resolved_on > day
        return still_open or (day - self.opened_on).days <= INCIDENT_WINDOW_DAYS

    def points(self, day: date) -> float:
        target = timedelta(days=INCIDENT_TARGET_DAYS[self.severity])
        base = SEVERITY_POINTS[self.severity]
        if self.resolved_on is None or self.resolved_on > day:
            return base * (2 if day - self.opened_on > target else 1)
        late = self.resolved_on - self.opened_on > target
        return base * (0.5 if late else 0.25)


@dataclass(frozen=True)
class RiskFact:
    key: str
    title: str
    residual_score: int
    status: str = "open"

    @property
    def open(self) -> bool:
        return self.status != "closed"


@dataclass(frozen=True)
class ScoreInputs:
    """The dated facts of one scope (a use case, or the pooled program) as of one day.

    ``incidents=None`` means no incident source exists: that component is left out
    (and said so) rather than counted as perfect.
    """

    day: date
    controls: tuple[ControlFact, ...] = ()
    findings: tuple[FindingFact, ...] = ()
    incidents: tuple[IncidentFact, ...] | None = None
    risks: tuple[RiskFact, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    red_below: float = 70.0
    amber_below: float = 85.0


@dataclass(frozen=True)
class Component:
    key: str
    value: float | None  # 0..1, None without data
    weight: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "weight": self.weight, "detail": self.detail}


@dataclass(frozen=True)
class Score:
    day: date
    value: float | None
    status: str  # green | amber | red | none
    components: tuple[Component, ...]
    red_reasons: tuple[str, ...] = ()
    fixes: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "value": None if self.value is None else round(self.value, 1),
            "status": self.status,
            "components": [c.to_dict() for c in self.components],
            "red_reasons": list(self.red_reasons),
            "fixes": list(self.fixes),
        }


def _controls(inputs: ScoreInputs) -> Component:
    n = len(inputs.controls)
    if not n:
        return Component("controls", None, WEIGHTS["controls"], "no applicable controls")
    met = sum(c.met for c in inputs.controls)
    return Component("controls", met / n, WEIGHTS["controls"], f"{met} of {n} applicable controls met")


def _findings(inputs: ScoreInputs) -> Component:
    day = inputs.day
    open_ = [f for f in inputs.findings if f.open_on(day)]
    points = sum(f.points(day) for f in open_)
    by = {s: sum(f.severity == s for f in open_) for s in SEVERITIES}
    text = ", ".join(f"{by[s]} {s}" for s in reversed(SEVERITIES) if by[s]) or "none"
    value = max(0.0, 1 - points / POINT_BUDGET)
    return Component("findings", value, WEIGHTS["findings"], f"open audit findings: {text}")


def _incidents(inputs: ScoreInputs) -> Component:
    if inputs.incidents is None:
        return Component(
            "incidents", None, WEIGHTS["incidents"], "no incident records (monitoring not set up)"
        )
    day = inputs.day
    counted = [i for i in inputs.incidents if i.counted_on(day)]
    points = sum(i.points(day) for i in counted)
    still = sum(i.resolved_on is None or i.resolved_on > day for i in counted)
    text = f"{len(counted)} incident(s) in the last {INCIDENT_WINDOW_DAYS} days or open, {still} open"
    return Component("incidents", max(0.0, 1 - points / POINT_BUDGET), WEIGHTS["incidents"], text)


def _risks(inputs: ScoreInputs) -> Component:
    open_ = [r for r in inputs.risks if r.open]
    if not open_:
        return Component("risks", None, WEIGHTS["risks"], "no open risks in the register")
    weight = sum(risk_band_weight(r.residual_score) for r in open_) / len(open_)
    worst = max(r.residual_score for r in open_)
    return Component(
        "risks", 1 - weight, WEIGHTS["risks"], f"{len(open_)} open risk(s), worst residual {worst}"
    )


def _red_reasons(inputs: ScoreInputs) -> list[str]:
    day = inputs.day
    reasons = [
        f"open critical audit finding: {f.title}"
        for f in inputs.findings
        if f.open_on(day) and f.severity == "critical"
    ]
    reasons += [
        f"open critical incident: {i.title}"
        for i in inputs.incidents or ()
        if i.severity == "critical" and i.opened_on <= day and (i.resolved_on is None or i.resolved_on > day)
    ]
    reasons += [
        f"risk {r.title} has a residual score of {r.residual_score}"
        for r in inputs.risks
        if r.open and r.residual_score >= CRITICAL_RESIDUAL
    ]
    return reasons


def value_of(inputs: ScoreInputs) -> tuple[float | None, tuple[Component, ...]]:
    parts = (_controls(inputs), _findings(inputs), _incidents(inputs), _risks(inputs))
    have = [c for c in parts if c.value is not None]
    total = sum(c.weight for c in have)
    if not have or not any(c.key in ("controls", "risks") for c in have):
        return None, parts  # findings alone (often none) say nothing
    return 100 * sum(c.weight * (c.value or 0.0) for c in have) / total, parts


def status_of(value: float | None, reasons: Sequence[str], thresholds: Thresholds) -> str:
    if value is None:
        return "none"
    if reasons or value < thresholds.red_below:
        return "red"
    return "amber" if value < thresholds.amber_below else "green"


def score(inputs: ScoreInputs, thresholds: Thresholds | None = None, with_fixes: bool = True) -> Score:
    """The score of *inputs* with its components, red reasons and (optionally) the ranked fixes."""
    limits = thresholds or Thresholds()
    value, parts = value_of(inputs)
    reasons = tuple(_red_reasons(inputs))
    ranked = tuple(fixes(inputs)) if with_fixes and value is not None else ()
    return Score(inputs.day, value, status_of(value, reasons, limits), parts, reasons, ranked)


def _candidates(inputs: ScoreInputs) -> list[tuple[dict[str, Any], ScoreInputs]]:
    """Each single fix as (description, the inputs with it applied)."""
    day, out = inputs.day, []
    for i, c in enumerate(inputs.controls):
        if not c.met:
            fixed = (*inputs.controls[:i], replace(c, met=True), *inputs.controls[i + 1 :])
            what = f"add current evidence for {c.ref} ({c.title})"
            out.append(
                (
                    {"kind": "control", "ref": c.ref, "use_case": c.use_case, "action": what},
                    replace(inputs, controls=fixed),
                )
            )
    for f in inputs.findings:
        if f.open_on(day):
            rest = tuple(x if x is not f else replace(f, closed_on=day) for x in inputs.findings)
            what = f"close {f.severity} audit finding #{f.id} ({f.title})"
            out.append(
                ({"kind": "finding", "ref": str(f.id), "action": what}, replace(inputs, findings=rest))
            )
    for inc in inputs.incidents or ():
        if inc.opened_on <= day and (inc.resolved_on is None or inc.resolved_on > day):
            rest_i = tuple(
                x if x is not inc else replace(inc, resolved_on=day) for x in inputs.incidents or ()
            )
            what = f"resolve {inc.severity} incident {inc.id} ({inc.title})"
            out.append(
                ({"kind": "incident", "ref": inc.id, "action": what}, replace(inputs, incidents=rest_i))
            )
    for r in inputs.risks:
        if r.open and risk_band_weight(r.residual_score) > 0:
            rest_r = tuple(x if x is not r else replace(r, residual_score=4) for x in inputs.risks)
            what = f"mitigate risk {r.title} to a residual below 5 (now {r.residual_score})"
            out.append(({"kind": "risk", "ref": r.key, "action": what}, replace(inputs, risks=rest_r)))
    return out


def fixes(inputs: ScoreInputs, limit: int = 10) -> list[dict[str, Any]]:
    """What to fix first: single fixes ranked by score gain (then by clearing a red reason)."""
    base, _ = value_of(inputs)
    if base is None:
        return []
    reasons = len(_red_reasons(inputs))
    ranked = []
    for doc, fixed in _candidates(inputs):
        after, _ = value_of(fixed)
        gain = (after or 0.0) - base
        clears = reasons - len(_red_reasons(fixed))
        ranked.append({**doc, "gain": round(gain, 2), "clears_red": clears > 0})
    ranked.sort(key=lambda d: (-d["gain"], not d["clears_red"], d["action"]))
    return [d for d in ranked if d["gain"] > 0 or d["clears_red"]][:limit]
