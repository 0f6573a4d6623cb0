"""The compliance & risk score (KPI 8) per use case and for the program, its trend and its tile.

The score is recomputed as of each day from dated records (evidence dates and expiries,
findings raised and closed, incidents opened and resolved, the phase a use case was in), so
the trend is what the records said on each day rather than a stored snapshot that could
drift. The risk register keeps only current ratings, so every point of the trend uses them
(docs/governance.md says so). The formula is in :mod:`paceline.domain.compliance_score`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from paceline.domain.compliance_score import (
    ControlFact,
    FindingFact,
    IncidentFact,
    RiskFact,
    Score,
    ScoreInputs,
    Thresholds,
    score,
)
from paceline.domain.controls import Control, ControlState, EvidenceItem, applicable, control_status
from paceline.domain.evidence import ComplianceEvidence
from paceline.domain.roles import Action
from paceline.domain.usecases import UseCase
from paceline.errors import PermissionDenied
from paceline.services.access import Principal
from paceline.services.dashboard import OverviewSource, Tile, register_tiles
from paceline.services.evidence import collect
from paceline.services.governance import GovernanceService, UseCaseProfile

TREND_WEEKS = 12
IncidentSource = Callable[[str | None], list[IncidentFact]]


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).date()


def phase_on(uc: UseCase, transitions: Sequence[dict[str, Any]], day: date) -> int:
    """The phase *uc* was in on *day*, from its gate history (the current phase without one)."""
    later = [t for t in transitions if (_day(t["decided_at"]) or date.min) > day]
    if later:
        return int(later[0]["from_phase"])
    return int(uc.phase)


def finding_facts(rows: Sequence[dict[str, Any]]) -> tuple[FindingFact, ...]:
    return tuple(
        FindingFact(
            r["id"],
            r["title"],
            r["severity"],
            _day(r["raised_on"]) or date.min,
            _day(r["due"]),
            _day(r["closed_on"]),
        )
        for r in rows
    )


@dataclass
class Scope:
    """One use case's material for scoring on any day."""

    use_case: UseCase
    evidence: list[EvidenceItem]
    transitions: list[dict[str, Any]]
    findings: tuple[FindingFact, ...]
    risks: tuple[RiskFact, ...]
    incidents: tuple[IncidentFact, ...] | None

    def controls_on(self, controls: Sequence[Control], day: date) -> tuple[ControlFact, ...]:
        p = UseCaseProfile.of(self.use_case)
        phase = phase_on(self.use_case, self.transitions, day)
        mine = applicable(controls, p.tier, p.categories, phase)
        return tuple(
            ControlFact(
                c.ref,
                c.title,
                control_status(c, self.evidence, self.use_case.key, day).state is ControlState.MET,
                self.use_case.key,
            )
            for c in mine
        )


class ComplianceService:
    """Scores for the use cases a principal may read, and for the program (global grants only)."""

    def __init__(
        self,
        governance: GovernanceService,
        thresholds: Thresholds | None = None,
        incidents: IncidentSource | None = None,
    ) -> None:
        self.gov, self.thresholds, self.incidents = governance, thresholds or Thresholds(), incidents

    def _scope(self, uc: UseCase) -> Scope:
        src = self.gov.sources
        risks = tuple(
            RiskFact(r["key"], r["title"], int(r["residual_score"]), r["status"])
            for r in src.lifecycle.risks(uc.key)
        )
        findings = finding_facts([f for f in self.gov.repo.findings(uc.key) if f["use_case"] == uc.key])
        incidents = tuple(self.incidents(uc.key)) if self.incidents else None
        return Scope(uc, collect(src, uc), src.lifecycle.transitions(uc.key), findings, risks, incidents)

    def _inputs(
        self, scopes: Sequence[Scope], controls: Sequence[Control], day: date, program: bool
    ) -> ScoreInputs:
        facts = tuple(f for s in scopes for f in s.controls_on(controls, day))
        findings = (
            finding_facts(self.gov.repo.findings())
            if program
            else tuple(f for s in scopes for f in s.findings)
        )
        incidents: tuple[IncidentFact, ...] | None = None
        if self.incidents is not None:
            incidents = (
                tuple(self.incidents(None))
                if program
                else tuple(i for s in scopes for i in s.incidents or ())
            )
        risks = tuple(
            replace(r, key=f"{s.use_case.key}/{r.key}") if program else r for s in scopes for r in s.risks
        )
        return ScoreInputs(day, facts, findings, incidents, risks)

    def score(
        self, by: Principal, use_case: str | None, today: date, trend_weeks: int = TREND_WEEKS
    ) -> dict[str, Any]:
        """The score on *today* with components, red reasons, fixes and the weekly trend."""
        scopes, program = self._scopes(by, use_case)
        controls = self.gov.controls(by)
        current = score(self._inputs(scopes, controls, today, program), self.thresholds)
        trend = [
            score(self._inputs(scopes, controls, d, program), self.thresholds, with_fixes=False)
            for d in trend_days(today, trend_weeks)
        ]
        return {
            "use_case": use_case,
            **current.to_dict(),
            "thresholds": {
                "red_below": self.thresholds.red_below,
                "amber_below": self.thresholds.amber_below,
            },
            "trend": [
                {"day": s.day.isoformat(), "value": _round(s.value), "status": s.status} for s in trend
            ],
        }

    def current(self, by: Principal, use_case: str | None, today: date) -> Score:
        """Only today's score of one use case (the phase-6 gate reads it), or of the program."""
        scopes, program = self._scopes(by, use_case)
        return score(self._inputs(scopes, self.gov.controls(by), today, program), self.thresholds)

    def _scopes(self, by: Principal, use_case: str | None) -> tuple[list[Scope], bool]:
        if use_case is not None:
            return [self._scope(self.gov.use_case(by, use_case))], False
        by.require(Action.READ)
        if not by.is_global:
            raise PermissionDenied(
                f"{by.login} may see the score of their own use cases only", fix="choose a use case"
            )
        return [self._scope(uc) for uc in self.gov.readable_use_cases(by)], True


def compliance_evidence(service: ComplianceService, by: Principal, key: str, day: date) -> ComplianceEvidence:
    """The score as the phase-6 gate reads it: value, status, red reasons and the first fix."""
    s = service.current(by, key, day)
    top = s.fixes[0]["action"] if s.fixes else ""
    return ComplianceEvidence(_round(s.value), s.status, s.red_reasons, top)


INCIDENT_SEVERITY = {"sev1": "critical", "sev2": "high", "sev3": "medium", "sev4": "low"}


def incident_facts(rows: Sequence[dict[str, Any]]) -> list[IncidentFact]:
    """Incident records as score facts (sev1 critical ... sev4 low; opened and resolved days)."""
    out = []
    for r in rows:
        opened = _day(r.get("opened_at"))
        if opened is None:
            continue
        severity = INCIDENT_SEVERITY.get(str(r.get("severity")), "medium")
        out.append(
            IncidentFact(str(r["id"]), str(r.get("title", "")), severity, opened, _day(r.get("resolved_at")))
        )
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def trend_days(today: date, weeks: int) -> list[date]:
    """*weeks* + 1 days a week apart, ending on *today* (oldest first)."""
    return [today - timedelta(weeks=w) for w in range(weeks, -1, -1)]


# --- the KPI-dashboard tile ------------------------------------------------------------------
@runtime_checkable
class ComplianceSource(Protocol):
    """An overview source that can also score compliance (the workspace's scoped source)."""

    def compliance_scores(self, scopes: Sequence[str | None]) -> dict[str | None, dict[str, Any]]: ...


def score_tile(scope: str | None, doc: dict[str, Any]) -> Tile:
    trend = doc["trend"]
    first = next((p["value"] for p in trend if p["value"] is not None), None)
    value = doc["value"]
    change = None if first is None or value is None else round(value - first, 1)
    reasons = "; ".join(doc["red_reasons"])
    note = f"status {doc['status']}" + (f": {reasons}" if reasons else "")
    limits = doc["thresholds"]
    return Tile(
        key="compliance_score",
        title="Compliance & risk score",
        unit="score",
        direction="higher_is_better",
        indicator="lagging",
        framework_kpi=8,
        use_case=scope,
        series=[{"week": p["day"], "value": p["value"], "suppressed": False} for p in trend],
        latest=value,
        baseline=first,
        current=value,
        change=change,
        change_kind="delta",
        improved=None if change in (None, 0) else bool(change and change > 0),
        typical=f"red below {limits['red_below']:g}, green from {limits['amber_below']:g}",
        note=note,
        link="/compliance" + (f"?use_case={scope}" if scope else ""),
    )


def compliance_tiles(source: OverviewSource, scopes: Sequence[str | None]) -> list[Tile]:
    """KPI 8 for each scope the source can score (use cases missing from the inventory have none)."""
    if not isinstance(source, ComplianceSource):
        return []
    docs = source.compliance_scores(scopes)
    return [score_tile(scope, docs[scope]) for scope in scopes if scope in docs]


register_tiles("compliance", compliance_tiles)
