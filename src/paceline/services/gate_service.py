"""Gates: gather a use case's evidence, run the policy, and move the use case (or refuse to).

The evidence comes from the lifecycle records (through the repository), from the
warehouse and the pilot engine (through :class:`WarehouseFacts`, which the workspace
implements with its cached KPI and pilot evaluations), from the enablement records and
from the model registry, alert rules and incidents (:class:`MonitoringRecords`). A
passing gate moves the use case; a blocked one raises :class:`GateBlocked` naming every
failing check, unless an admin or program manager overrides it with a written
justification. Both are recorded in the gate history and the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from paceline.domain import ai_act
from paceline.domain.evidence import (
    ComplianceEvidence,
    Evidence,
    MonitoringEvidence,
    OpsEvidence,
    PilotEvidence,
    ReviewState,
    RiskState,
    RoiEvidence,
    TechChoice,
    Thresholds,
    TrainingEvidence,
)
from paceline.domain.gates import GateDecision, GatePolicy, Move, Transition
from paceline.domain.pilots import PilotSpec
from paceline.domain.roles import Action
from paceline.domain.usecases import Phase, UseCase
from paceline.errors import PacelineError, PermissionDenied, ValidationError
from paceline.services.access import Principal
from paceline.services.lifecycle import LifecycleRepository, LifecycleService
from paceline.services.lifecycle_records import deliverable_states, tech_choices

ComplianceReader = Callable[[UseCase, date], ComplianceEvidence | None]

MIN_JUSTIFICATION = 20


class GateBlocked(PacelineError):
    """A gate's checks do not all pass (exit 1, like any failed check)."""

    code = "gate_blocked"
    http_status = 409
    exit_code = 1


class WarehouseFacts(Protocol):
    """Figures from the warehouse and the pilot engine, as the gates need them."""

    def pilot_specs(self, use_case: str) -> list[PilotSpec]: ...
    def pilot_verdicts(self, use_case: str) -> list[PilotEvidence]: ...
    def kpi_total(self, kpi: str, use_case: str, since: date | None, until: date | None) -> float | None: ...
    def recent_kpi(self, kpi: str, use_case: str, weeks: int = 4) -> float | None: ...
    def eligible_people(self, use_case: str) -> set[str]: ...
    def traceability(self, use_case: str, since: date) -> float | None: ...
    def ai_start(self, use_case: str) -> date | None: ...
    def before_ai(self, use_case: str) -> date | None: ...
    def roi(self, uc: UseCase) -> RoiEvidence | None: ...


class EnablementEvidence(Protocol):
    """Phase-4 figures from the enablement records (:mod:`paceline.services.enablement`)."""

    def training_evidence(self, use_case: str, eligible: set[str]) -> TrainingEvidence | None: ...
    def proven_deliverables(self, use_case: str) -> dict[str, bool]: ...


class MonitoringRecords(Protocol):
    """Phase-5/6 evidence from the model registry, the alert rules and the incidents
    (:class:`paceline.services.lifecycle_records.RegistryMonitoring`)."""

    def monitoring_evidence(self, use_case: str) -> MonitoringEvidence: ...


def training_evidence(
    repo: LifecycleRepository, facts: WarehouseFacts, key: str, enablement: EnablementEvidence | None = None
) -> TrainingEvidence | None:
    """Training of the people eligible for the use case: from the learning paths and records when
    the enablement records are wired in, else from the plain learning records."""
    eligible = facts.eligible_people(key)
    if not eligible:
        return None
    if enablement is not None:
        return enablement.training_evidence(key, eligible)
    records = [r for r in repo.training_records(key) if r["person_id"] in eligible]
    enrolled = {r["person_id"] for r in records}
    completed = {r["person_id"] for r in records if r["completed_on"]}
    assessed = [r for r in records if r["score"] is not None and r["pass_mark"] is not None]
    best: dict[str, bool] = {}
    for r in assessed:
        best[r["person_id"]] = best.get(r["person_id"], False) or r["score"] >= r["pass_mark"]
    return TrainingEvidence(len(eligible), len(enrolled), len(completed), len(best), sum(best.values()))


def ops_evidence(
    repo: LifecycleRepository, facts: WarehouseFacts, key: str, go_live: date | None
) -> OpsEvidence:
    """Uptime from the recorded figures; error rate and traceability from the warehouse."""
    figures = [f for f in repo.ops_figures(key) if f["metric"] == "uptime"]
    if go_live is not None:
        figures = [f for f in figures if date.fromisoformat(f["period_end"]) >= go_live]
    uptime, source = None, ""
    if figures:
        days = [
            (date.fromisoformat(f["period_end"]) - date.fromisoformat(f["period_start"])).days + 1
            for f in figures
        ]
        uptime = sum(f["value"] * d for f, d in zip(figures, days, strict=True)) / sum(days)
        source = f"{len(figures)} uptime figure(s) from {figures[-1]['source']}"
    if go_live is None:
        return OpsEvidence(uptime, source)
    start = facts.before_ai(key)
    return OpsEvidence(
        uptime=uptime,
        uptime_source=source,
        error_rate=facts.kpi_total("error_rate", key, go_live, None),
        baseline_error_rate=facts.kpi_total("error_rate", key, None, start) if start else None,
        error_source="error_rate KPI since go-live vs before the AI start",
        traceability=facts.traceability(key, go_live),
        traceability_source="AI-assisted tasks with a prediction record",
    )


def gather(
    repo: LifecycleRepository,
    facts: WarehouseFacts,
    uc: UseCase,
    go_live: date | None,
    today: date,
    thresholds: Thresholds,
    compliance: ComplianceReader | None = None,
    enablement: EnablementEvidence | None = None,
    monitoring: MonitoringRecords | None = None,
) -> Evidence:
    """The evidence snapshot for *uc*; warehouse figures are computed only where a gate needs them.

    The monitoring records are read once from phase 5 on: the ``monitored`` check and the
    monitoring deliverables judge the same snapshot.
    """
    key = uc.key
    tier = ai_act.classify(uc.ai_act)
    later = uc.phase >= Phase.ENABLE
    watched = monitoring.monitoring_evidence(key) if monitoring and uc.phase >= Phase.INTEGRATE else None
    reviews = tuple(
        ReviewState(r["kind"], date.fromisoformat(r["due"]), r["completed_at"] is not None, r["outcome"])
        for r in repo.reviews(key)
    )
    risks = tuple(
        RiskState(r["key"], r["title"], r["status"], int(r["residual_score"])) for r in repo.risks(key)
    )
    signoffs = repo.signoffs(key)
    return Evidence(
        use_case=uc,
        today=today,
        ai_act_tier=tier.tier.value,
        ai_act_rule=tier.rule,
        deliverables=deliverable_states(repo, facts, uc, enablement, watched),
        signoffs=signoffs,
        stakeholders=repo.stakeholders(key),
        pilots=tuple(facts.pilot_verdicts(key)) if uc.phase >= Phase.PILOT else (),
        requirements=tuple(repo.requirements(key)),
        tech=tuple(TechChoice(**t) for t in tech_choices(repo, uc)),
        training=training_evidence(repo, facts, key, enablement) if later else None,
        adoption=facts.recent_kpi("adoption_rate", key, 4) if later else None,
        ops=ops_evidence(repo, facts, key, go_live) if uc.phase >= Phase.INTEGRATE else OpsEvidence(),
        go_live=go_live,
        reviews=reviews,
        esat=facts.kpi_total("esat", key, go_live, None) if go_live and uc.phase >= Phase.INTEGRATE else None,
        risks=risks,
        compliance=compliance(uc, today) if compliance and uc.phase is Phase.SCALE else None,
        roi=facts.roi(uc) if uc.phase is Phase.SCALE else None,
        monitoring=watched,
        thresholds=thresholds,
    )


class GateService:
    """Evaluate and pass gates for the use cases a principal may see."""

    def __init__(
        self,
        repo: LifecycleRepository,
        facts: WarehouseFacts,
        thresholds: Thresholds | None = None,
        policy: GatePolicy | None = None,
        compliance: ComplianceReader | None = None,
        enablement: EnablementEvidence | None = None,
        monitoring: MonitoringRecords | None = None,
    ) -> None:
        self.repo, self.facts, self.compliance = repo, facts, compliance
        self.enablement, self.monitoring = enablement, monitoring
        self.records = LifecycleService(repo)
        self.thresholds = thresholds or Thresholds()
        self.policy = policy or GatePolicy()

    def evidence(self, by: Principal, key: str, today: date | None = None) -> Evidence:
        view = self.records.view(by, key)
        return gather(
            self.repo,
            self.facts,
            view.use_case,
            view.go_live,
            today or date.today(),
            self.thresholds,
            self.compliance,
            self.enablement,
            self.monitoring,
        )

    def evaluate(self, by: Principal, key: str, today: date | None = None) -> GateDecision:
        """The checks of the use case's next gate (phase 6: its recertification), as they stand."""
        ev = self.evidence(by, key, today)
        return self.policy.evaluate(Transition.advance(ev.use_case.phase), ev)

    def advance(
        self, by: Principal, key: str, justification: str | None = None, today: date | None = None
    ) -> dict[str, Any]:
        """Pass the gate; with a *justification*, an admin or program manager may override a blocked one."""
        uc = self._movable(by, key)
        decision = self.evaluate(by, key, today)
        overridden = False
        if not decision.passed:
            if justification is None:
                raise GateBlocked(
                    decision.summary(),
                    gate=decision.to_dict(),
                    fix="complete the failing checks, or override with a written justification",
                )
            by.require(Action.GATE_OVERRIDE)
            if len(justification.strip()) < MIN_JUSTIFICATION:
                raise ValidationError(
                    f"an override needs a justification of at least {MIN_JUSTIFICATION} characters",
                    field="justification",
                    fix="say why the use case may move on although checks fail, and who accepts the risk",
                )
            overridden = True
        return self._record(by, uc, decision, overridden, (justification or "").strip())

    def send_back(self, by: Principal, key: str, justification: str) -> dict[str, Any]:
        """Return the use case to the previous phase (e.g. a failed review): needs a justification."""
        uc = self._movable(by, key)
        if uc.phase is Phase.ASSESS:
            raise ValidationError("phase 1 has no previous phase", field="phase")
        if len(justification.strip()) < MIN_JUSTIFICATION:
            raise ValidationError(
                f"sending a use case back needs a justification of at least {MIN_JUSTIFICATION} characters",
                field="justification",
            )
        decision = GateDecision(Transition(Move.RETURN, uc.phase, Phase(uc.phase - 1)), ())
        return self._record(by, uc, decision, False, justification.strip())

    def _movable(self, by: Principal, key: str) -> UseCase:
        """The use case, if *by* may move it: managers any, a business owner their own."""
        uc = self.records.get(by, key)
        by.require(Action.GATE_ADVANCE, key)
        if not self.records.may_edit(by, uc):
            raise PermissionDenied(
                f"{by.login} may not move use case {key!r} (owned by {uc.owner})",
                action=Action.GATE_ADVANCE.value,
                fix="ask its business owner or a program manager",
            )
        return uc

    def _record(
        self, by: Principal, uc: UseCase, decision: GateDecision, overridden: bool, justification: str
    ) -> dict[str, Any]:
        t = decision.transition
        doc = {
            "move": t.move.value,
            "from_phase": int(t.source),
            "to_phase": int(t.target),
            "passed": decision.passed,
            "overridden": overridden,
            "justification": justification,
            "checks": [r.to_dict() for r in decision.results],
        }
        if t.target is not uc.phase:
            self.repo.save_use_case(uc.with_changes(phase=t.target), by.actor)
        return self.repo.add_transition(uc.key, doc, by.actor)

    def history(self, by: Principal, key: str) -> list[dict[str, Any]]:
        self.records.get(by, key)
        return self.repo.transitions(key)
