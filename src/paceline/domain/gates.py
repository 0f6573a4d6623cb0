"""Phase gates: an ordered policy of small rules, each with one check on the evidence.

Modelled on Prefect's orchestration rules: a rule declares which transitions it
applies to and checks one thing. The policy runs every rule that applies and the
gate opens only when all of them pass; a blocked gate lists exactly the checks that
failed (a figure below its mark) or are pending (no data yet, not signed off, not
due), each with its reason and a link to the evidence. Overrides are decided by the
lifecycle service (role and written justification); the rules never see them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from paceline.domain.enablement import PathTrainingEvidence
from paceline.domain.evidence import Evidence, Link
from paceline.domain.phases import (
    CHECKPOINTS,
    Checkpoint,
    DeliverableStatus,
    RequirementKind,
    deliverables_for,
)
from paceline.domain.usecases import Phase


class Move(StrEnum):
    ADVANCE = "advance"  # to the next phase, through the gate
    RETURN = "return"  # back to the previous phase (a justification, no checks)
    RECERTIFY = "recertify"  # phase 6's recurring check of its success criteria


@dataclass(frozen=True)
class Transition:
    move: Move
    source: Phase
    target: Phase

    @classmethod
    def advance(cls, phase: Phase) -> Transition:
        if phase is Phase.SCALE:
            return cls(Move.RECERTIFY, phase, phase)
        return cls(Move.ADVANCE, phase, Phase(phase + 1))

    @property
    def label(self) -> str:
        if self.move is Move.RECERTIFY:
            return f"phase {int(self.source)} recertification"
        return f"phase {int(self.source)} → {int(self.target)}"


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # measured and below the mark
    PENDING = "pending"  # no evidence yet: not recorded, not signed off, not due


@dataclass(frozen=True)
class CheckResult:
    rule: str
    title: str
    kind: str  # "automated" | "sign-off" | "record"
    status: CheckStatus
    reason: str
    evidence: tuple[Link, ...] = ()
    roles: tuple[str, ...] = ()  # who may sign off (sign-off checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "kind": self.kind,
            "status": self.status.value,
            "reason": self.reason,
            "evidence": [{"label": e.label, "href": e.href} for e in self.evidence],
            "roles": list(self.roles),
        }


def _pct(share: float) -> str:
    return f"{share:.1%}"


class GateRule(ABC):
    """One check; ``applies`` says for which transitions."""

    key: str = ""
    title: str = ""
    kind: str = "automated"
    phases: frozenset[Phase] = frozenset()  # the source phases of the moves it guards
    moves: frozenset[Move] = frozenset({Move.ADVANCE})

    def applies(self, transition: Transition) -> bool:
        return transition.move in self.moves and transition.source in self.phases

    def result(
        self, status: CheckStatus, reason: str, *links: Link, roles: tuple[str, ...] = ()
    ) -> CheckResult:
        return CheckResult(self.key, self.title, self.kind, status, reason, links, roles)

    @abstractmethod
    def check(self, ev: Evidence) -> CheckResult: ...


def _uc_link(ev: Evidence, anchor: str, label: str) -> Link:
    return Link(label, f"/use-cases/{ev.use_case.key}#{anchor}")


class DeliverablesDone(GateRule):
    """Every deliverable of the phase is done (records exist, documents marked done)."""

    kind = "record"

    def __init__(self, phase: Phase) -> None:
        self.phase = phase
        self.key = f"deliverables_phase_{int(phase)}"
        self.title = f"Phase {int(phase)} deliverables complete"
        self.phases = frozenset({phase})
        self.moves = frozenset({Move.ADVANCE, Move.RECERTIFY})

    def check(self, ev: Evidence) -> CheckResult:
        missing = []
        for d in deliverables_for(self.phase):
            state = ev.deliverables.get(d.key)
            if state is None or state.status != DeliverableStatus.DONE:
                missing.append(f"{d.title} ({state.status if state else DeliverableStatus.MISSING})")
        link = _uc_link(ev, f"phase-{int(self.phase)}", "deliverables")
        if missing:
            return self.result(CheckStatus.PENDING, "not done yet: " + "; ".join(missing), link)
        return self.result(
            CheckStatus.PASS, f"all {len(deliverables_for(self.phase))} deliverables are done", link
        )


class CheckpointSigned(GateRule):
    """A change-control checkpoint signed off by someone holding one of its roles."""

    kind = "sign-off"

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.key = checkpoint.key
        self.title = f"{checkpoint.title} ({checkpoint.stage.value})"
        self.phases = frozenset({Phase(checkpoint.before - 1)})

    def check(self, ev: Evidence) -> CheckResult:
        roles = tuple(r.value for r in self.checkpoint.roles)
        link = _uc_link(ev, "checkpoints", "sign-offs")
        signed = ev.signoffs.get(self.key)
        if signed is None:
            who = " or ".join(roles)
            return self.result(
                CheckStatus.PENDING, f"not signed off yet; needs a sign-off by {who}", link, roles=roles
            )
        note = f": {signed.note}" if signed.note else ""
        return self.result(
            CheckStatus.PASS,
            f"signed off by {signed.by} ({signed.role}) on {signed.at[:10]}{note}",
            link,
            roles=roles,
        )


class NotProhibited(GateRule):
    key, title, phases = (
        "ai_act_not_prohibited",
        "EU AI Act: not a prohibited practice",
        frozenset({Phase.ASSESS}),
    )

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "ai-act", "risk tier")
        if ev.ai_act_tier == "prohibited":
            return self.result(
                CheckStatus.FAIL, f"prohibited practice ({ev.ai_act_rule}): it may not be piloted", link
            )
        return self.result(CheckStatus.PASS, f"risk tier {ev.ai_act_tier} ({ev.ai_act_rule})", link)


class BusinessCaseComplete(GateRule):
    key, title, phases = (
        "business_case",
        "Business case: value, readiness and feasibility assessed",
        frozenset({Phase.ASSESS}),
    )

    def check(self, ev: Evidence) -> CheckResult:
        uc, gaps = ev.use_case, []
        v = uc.value
        if not (v.volume_per_year > 0 and v.minutes_per_task > 0 and v.cost_per_hour > 0):
            gaps.append("the value model needs volume, minutes per task and cost per hour")
        if not uc.readiness:
            gaps.append("the data readiness questionnaire is unanswered")
        if not uc.feasibility:
            gaps.append("the adoption feasibility questionnaire is unanswered")
        link = _uc_link(ev, "business-case", "business case")
        if gaps:
            return self.result(CheckStatus.PENDING, "; ".join(gaps), link)
        return self.result(CheckStatus.PASS, "value model, data readiness and feasibility are recorded", link)


class PilotAdopted(GateRule):
    key, title, phases = "pilot_verdict", "Pilot verdict: adopt", frozenset({Phase.PILOT})

    def check(self, ev: Evidence) -> CheckResult:
        links = tuple(Link(f"pilot {p.name}", f"/pilots/{p.name}") for p in ev.pilots)
        if not ev.pilots:
            return self.result(
                CheckStatus.PENDING,
                "no pilot is recorded for this use case",
                _uc_link(ev, "pilots", "pilots"),
            )
        adopted = [p for p in ev.pilots if p.verdict == "adopt"]
        if adopted:
            p = adopted[0]
            return self.result(
                CheckStatus.PASS,
                f"pilot {p.name}: adopt — the primary KPIs improved significantly "
                "and the acceptance criteria are met",
                *links,
            )
        judged = [p for p in ev.pilots if p.verdict is not None]
        if not judged:
            why = "; ".join(f"{p.name}: {p.error or 'not judged yet'}" for p in ev.pilots)
            return self.result(CheckStatus.PENDING, why, *links)
        why = "; ".join(f"{p.name}: {p.verdict} — {(p.reasons or ('',))[0]}" for p in judged)
        return self.result(CheckStatus.FAIL, f"no pilot was judged adopt ({why})", *links)


class RequirementsMet(GateRule):
    key, title, phases = (
        "architecture_requirements",
        "Architecture meets latency, security, interoperability",
        frozenset({Phase.SELECT}),
    )

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "requirements", "requirements")
        missing = [k.value for k in RequirementKind if not any(r.kind == k.value for r in ev.requirements)]
        unmet = [
            f"{r.kind}: {r.title} (target {r.target}, measured {r.measured or '—'})"
            for r in ev.requirements
            if not r.met
        ]
        if unmet:
            return self.result(CheckStatus.FAIL, "not met: " + "; ".join(unmet), link)
        if missing:
            return self.result(
                CheckStatus.PENDING, "no requirement recorded for: " + ", ".join(missing), link
            )
        return self.result(CheckStatus.PASS, f"all {len(ev.requirements)} requirements recorded as met", link)


class TechnologySelected(GateRule):
    key, title, phases = "technology_selected", "A technology option is selected", frozenset({Phase.SELECT})

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "technology", "assessment")
        chosen = [t for t in ev.tech if t.selected]
        if not chosen:
            n = len(ev.tech)
            return self.result(CheckStatus.PENDING, f"{n} option(s) assessed, none selected", link)
        t = chosen[0]
        cost = f", annual cost {t.annual_cost:,.0f}" if t.annual_cost is not None else ""
        return self.result(CheckStatus.PASS, f"{t.name} selected (score {t.score:.0f}/100{cost})", link)


def _at_least(
    rule: GateRule, value: float | None, mark: float, what: str, none: str, link: Link
) -> CheckResult:
    if value is None:
        return rule.result(CheckStatus.PENDING, none, link)
    status = CheckStatus.PASS if value >= mark else CheckStatus.FAIL
    return rule.result(status, f"{what} {_pct(value)} (needs at least {_pct(mark)})", link)


class TrainingCompleted(GateRule):
    key, title, phases = "training_completion", "Training completion rate", frozenset({Phase.ENABLE})

    def check(self, ev: Evidence) -> CheckResult:
        t, link = ev.training, _uc_link(ev, "training", "training records")
        rate = t.completion_rate if t else None
        detail = f" ({t.completed} of {t.eligible} eligible people)" if t and t.eligible else ""
        none = "no eligible people or no training records yet"
        res = _at_least(self, rate, ev.thresholds.training_completion, "completion", none, link)
        return self.result(res.status, res.reason + detail, link) if rate is not None else res


class AssessmentsPassed(GateRule):
    key, title, phases = "assessment_pass", "Skill assessment pass rate", frozenset({Phase.ENABLE})

    def check(self, ev: Evidence) -> CheckResult:
        t, link = ev.training, _uc_link(ev, "training", "training records")
        rate = t.pass_rate if t else None
        res = _at_least(
            self, rate, ev.thresholds.assessment_pass, "pass rate", "no assessment results yet", link
        )
        if rate is not None and t is not None:
            return self.result(res.status, f"{res.reason} ({t.passed} of {t.assessed} assessed)", link)
        return res


class DemonstratedUse(GateRule):
    """Trained people use the AI in their work: the share of those who finished their learning path
    and decided on AI suggestions in the last 4 weeks of data (from the enablement records); without
    learning paths, the adoption rate of everyone eligible."""

    key, title, phases = (
        "demonstrated_use",
        "Demonstrated use in workflows",
        frozenset({Phase.ENABLE}),
    )

    def check(self, ev: Evidence) -> CheckResult:
        t = ev.training
        if isinstance(t, PathTrainingEvidence) and t.demonstrated_rate is not None:
            link = Link("training to outcomes", f"/enablement/outcomes?use_case={ev.use_case.key}")
            res = _at_least(
                self,
                t.demonstrated_rate,
                ev.thresholds.demonstrated_use,
                "trained people deciding on AI suggestions in the last 4 weeks of data:",
                "",
                link,
            )
            return self.result(res.status, f"{res.reason} ({t.demonstrated} of {t.completed} trained)", link)
        link = Link("adoption rate", f"/kpis/adoption_rate?use_case={ev.use_case.key}")
        none = "no usage events or eligible people in the warehouse yet"
        return _at_least(
            self,
            ev.adoption,
            ev.thresholds.demonstrated_use,
            "adoption over the last 4 weeks of data",
            none,
            link,
        )


class StableUptime(GateRule):
    key, title, phases = "uptime", "Stable uptime", frozenset({Phase.INTEGRATE})

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "operations", ev.ops.uptime_source or "operations figures")
        none = "no uptime figure recorded since go-live"
        return _at_least(self, ev.ops.uptime, ev.thresholds.uptime, "uptime", none, link)


class AcceptableErrorRate(GateRule):
    key, title, phases = "error_rate", "Acceptable error rate", frozenset({Phase.INTEGRATE})

    def check(self, ev: Evidence) -> CheckResult:
        ops, link = ev.ops, Link("error rate", f"/kpis/error_rate?use_case={ev.use_case.key}")
        if ops.error_rate is None or ops.baseline_error_rate is None:
            return self.result(
                CheckStatus.PENDING, "no error rate since go-live and before AI to compare", link
            )
        limit = ops.baseline_error_rate * (1 + ev.thresholds.error_rate_margin)
        status = CheckStatus.PASS if ops.error_rate <= limit else CheckStatus.FAIL
        reason = (
            f"error rate {_pct(ops.error_rate)} since go-live against "
            f"{_pct(ops.baseline_error_rate)} before AI "
            f"(at most {_pct(limit)})"
        )
        return self.result(status, reason, link)


class Traceable(GateRule):
    key, title, phases = "traceability", "Traceability of AI outputs", frozenset({Phase.INTEGRATE})

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "operations", ev.ops.traceability_source or "traceability")
        none = "no AI-assisted tasks or predictions since go-live to trace"
        return _at_least(
            self,
            ev.ops.traceability,
            ev.thresholds.traceability,
            "AI-assisted tasks traced to a model output",
            none,
            link,
        )


class ReviewsHeld(GateRule):
    key, title, phases = "post_deployment_reviews", "30/60/90-day reviews held", frozenset({Phase.INTEGRATE})

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "reviews", "reviews")
        if ev.go_live is None or not ev.reviews:
            return self.result(CheckStatus.PENDING, "no go-live date yet, so no reviews are scheduled", link)
        open_ = [r for r in ev.reviews if not r.completed]
        if not open_:
            behind = [r.kind for r in ev.reviews if r.outcome == "behind"]
            extra = f" ({', '.join(behind)} found the use case behind its targets)" if behind else ""
            return self.result(CheckStatus.PASS, f"all {len(ev.reviews)} reviews are recorded{extra}", link)
        overdue = [r for r in open_ if r.due < ev.today]
        if overdue:
            names = ", ".join(f"{r.kind} (due {r.due})" for r in overdue)
            return self.result(CheckStatus.FAIL, f"overdue: {names}", link)
        return self.result(CheckStatus.PENDING, f"next: {open_[0].kind} due {open_[0].due}", link)


class UserSatisfaction(GateRule):
    key, title, phases = "user_satisfaction", "User satisfaction survey", frozenset({Phase.INTEGRATE})

    def check(self, ev: Evidence) -> CheckResult:
        link = Link("employee satisfaction", f"/kpis/esat?use_case={ev.use_case.key}")
        if ev.esat is None:
            return self.result(CheckStatus.PENDING, "no employee satisfaction responses since go-live", link)
        mark = ev.thresholds.esat
        status = CheckStatus.PASS if ev.esat >= mark else CheckStatus.FAIL
        return self.result(status, f"employee satisfaction {ev.esat:.2f} (needs at least {mark:.2f})", link)


class ModelsMonitored(GateRule):
    """The phase-5 objective "embed AI with monitoring and incident management", from the records:
    every production model of the use case is watched by an alert rule on its drift or performance,
    and no sev1/sev2 incident of the use case or its models is still open. Phase 6 scales what
    phase 5 put in production, so its recertification checks this again."""

    key, title = "monitored", "Production models monitored"
    phases = frozenset({Phase.INTEGRATE, Phase.SCALE})
    moves = frozenset({Move.ADVANCE, Move.RECERTIFY})

    def check(self, ev: Evidence) -> CheckResult:
        m = ev.monitoring
        if m is None or not m.models:
            return self.result(
                CheckStatus.PENDING,
                "no model of this use case has a version in production: "
                "register the model and promote a version to production",
                Link("models", "/models"),
            )
        links = [Link(f"model {w.name}", f"/models/{w.name}") for w in m.models]
        links.append(Link("alert rules", "/alerts"))
        links += [Link(f"incident {i.id}", f"/incidents/{i.id}") for i in m.open_incidents]
        gaps = []
        if m.unwatched:
            names = ", ".join(f"{w.name} (version {w.version} in production)" for w in m.unwatched)
            gaps.append(
                f"no enabled alert rule on drift or performance watches {names}: add one scoped to "
                "the model, the use case or everything (e.g. paceline alert rule add --defaults)"
            )
        if m.open_incidents:
            open_ = "; ".join(f"incident {i.id} {i.severity} {i.status}: {i.title}" for i in m.open_incidents)
            gaps.append(f"open sev1/sev2 incident(s): {open_} (resolve them first)")
        if gaps:
            return self.result(CheckStatus.FAIL, "; ".join(gaps), *links)
        watched = "; ".join(f"{w.name} {w.version} by {', '.join(w.rules)}" for w in m.models)
        return self.result(
            CheckStatus.PASS, f"production models watched: {watched}; no open sev1/sev2 incident", *links
        )


class RisksUnderControl(GateRule):
    key, title = "risks_under_control", "No open critical risk"
    phases = frozenset({Phase.ENABLE, Phase.SCALE})
    moves = frozenset({Move.ADVANCE, Move.RECERTIFY})

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "risks", "risk register")
        if not ev.risks:
            return self.result(CheckStatus.PENDING, "the risk register is empty", link)
        critical = [r for r in ev.risks if r.status in ("open", "mitigating") and r.residual_score >= 15]
        if critical:
            names = "; ".join(f"{r.title} (residual {r.residual_score})" for r in critical)
            return self.result(CheckStatus.FAIL, f"critical residual risk: {names}", link)
        return self.result(CheckStatus.PASS, f"{len(ev.risks)} risks, none critical after mitigation", link)


class ComplianceNotRed(GateRule):
    """Governance adherence: the compliance & risk score (KPI 8) is not red."""

    key, title = "compliance_score", "Compliance & risk score not red"
    phases, moves = frozenset({Phase.SCALE}), frozenset({Move.RECERTIFY})

    def check(self, ev: Evidence) -> CheckResult:
        link = Link("compliance score", f"/compliance?use_case={ev.use_case.key}")
        c = ev.compliance
        if c is None or c.score is None:
            return self.result(CheckStatus.PENDING, "no applicable controls or risks to score yet", link)
        text = f"score {c.score:.1f} ({c.status})"
        if c.status != "red":
            return self.result(CheckStatus.PASS, text, link)
        why = "; ".join(c.red_reasons) or "below the red threshold"
        fix = f"; fix first: {c.top_fix}" if c.top_fix else ""
        return self.result(CheckStatus.FAIL, f"{text}: {why}{fix}", link)


class SustainedRoi(GateRule):
    key, title = "sustained_roi", "ROI positive and growing"
    phases, moves = frozenset({Phase.SCALE}), frozenset({Move.RECERTIFY})

    def check(self, ev: Evidence) -> CheckResult:
        link = _uc_link(ev, "roi", "ROI")
        roi = ev.roi
        if roi is None or roi.cumulative_roi is None:
            return self.result(CheckStatus.PENDING, "no measured benefits and costs yet", link)
        ok = roi.cumulative_roi >= ev.thresholds.min_roi and roi.growing is True
        trend = roi.sentence or ("growing" if roi.growing else "not growing")
        text = f"cumulative ROI {_pct(roi.cumulative_roi)}; {trend}"
        return self.result(CheckStatus.PASS if ok else CheckStatus.FAIL, text, link)


def default_rules() -> list[GateRule]:
    """The standard policy, in the order a user reads the checklist."""
    rules: list[GateRule] = [
        NotProhibited(),
        BusinessCaseComplete(),
        PilotAdopted(),
        RequirementsMet(),
        TechnologySelected(),
        TrainingCompleted(),
        AssessmentsPassed(),
        DemonstratedUse(),
        StableUptime(),
        AcceptableErrorRate(),
        Traceable(),
        ReviewsHeld(),
        UserSatisfaction(),
        ModelsMonitored(),
        RisksUnderControl(),
        ComplianceNotRed(),
        SustainedRoi(),
    ]
    rules += [DeliverablesDone(p) for p in Phase]
    rules += [CheckpointSigned(c) for c in CHECKPOINTS]
    return rules


@dataclass(frozen=True)
class GateDecision:
    transition: Transition
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.status is CheckStatus.PASS for r in self.results)

    @property
    def blocking(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status is not CheckStatus.PASS)

    def summary(self) -> str:
        if self.passed:
            return f"{self.transition.label}: all {len(self.results)} checks pass"
        fails = [r for r in self.blocking if r.status is CheckStatus.FAIL]
        pend = [r for r in self.blocking if r.status is CheckStatus.PENDING]
        total = len(self.results)
        return f"{self.transition.label} blocked: {len(fails)} failed, {len(pend)} pending of {total} checks"

    def to_dict(self) -> dict[str, Any]:
        return {
            "move": self.transition.move.value,
            "from_phase": int(self.transition.source),
            "to_phase": int(self.transition.target),
            "passed": self.passed,
            "summary": self.summary(),
            "checks": [r.to_dict() for r in self.results],
            "blocking": [r.rule for r in self.blocking],
        }


@dataclass
class GatePolicy:
    """An ordered list of rules; :meth:`evaluate` runs those that apply to a transition."""

    rules: Sequence[GateRule] = field(default_factory=default_rules)

    def applicable(self, transition: Transition) -> list[GateRule]:
        return [r for r in self.rules if r.applies(transition)]

    def evaluate(self, transition: Transition, evidence: Evidence) -> GateDecision:
        return GateDecision(transition, tuple(rule.check(evidence) for rule in self.applicable(transition)))
