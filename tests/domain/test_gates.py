"""Gate rules on hand-built evidence: each rule's pass, fail and pending with its reason; the
policy runs only the rules of a transition; decisions summarise and list what blocks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from paceline.domain.alerts import rule_from_dict
from paceline.domain.evidence import (
    ComplianceEvidence,
    DeliverableState,
    Evidence,
    IncidentState,
    ModelWatch,
    MonitoringEvidence,
    OpsEvidence,
    PilotEvidence,
    Requirement,
    ReviewState,
    RiskState,
    RoiEvidence,
    Signoff,
    TechChoice,
    Thresholds,
    TrainingEvidence,
    watches,
)
from paceline.domain.gates import (
    AcceptableErrorRate,
    AssessmentsPassed,
    BusinessCaseComplete,
    CheckpointSigned,
    CheckResult,
    CheckStatus,
    ComplianceNotRed,
    DeliverablesDone,
    DemonstratedUse,
    GateDecision,
    GatePolicy,
    GateRule,
    ModelsMonitored,
    Move,
    NotProhibited,
    PilotAdopted,
    RequirementsMet,
    ReviewsHeld,
    RisksUnderControl,
    StableUptime,
    SustainedRoi,
    TechnologySelected,
    Traceable,
    TrainingCompleted,
    Transition,
    UserSatisfaction,
    default_rules,
)
from paceline.domain.phases import CHECKPOINTS, CHECKPOINTS_BY_KEY, deliverables_for
from paceline.domain.usecases import Phase, UseCase, ValueInputs

P, F, N = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.PENDING
TODAY = date(2025, 6, 1)
UC = UseCase("claims-triage", "Claims triage", "bo")


def ev(**kw: Any) -> Evidence:
    base: dict[str, Any] = {
        "use_case": UC,
        "today": TODAY,
        "ai_act_tier": "minimal",
        "ai_act_rule": "no listed practice",
    }
    return Evidence(**{**base, **kw})


def check(rule: GateRule, **kw: Any) -> CheckResult:
    res = rule.check(ev(**kw))
    assert res.rule == rule.key and res.evidence, "every result names its rule and links its evidence"
    return res


# --- phase 1 -------------------------------------------------------------------------
def test_not_prohibited() -> None:
    assert check(NotProhibited()).status is P
    res = check(NotProhibited(), ai_act_tier="prohibited", ai_act_rule="social scoring")
    assert res.status is F and "social scoring" in res.reason


def test_business_case() -> None:
    res = check(BusinessCaseComplete())
    assert res.status is N
    assert "value model" in res.reason and "readiness" in res.reason and "feasibility" in res.reason
    complete = replace(
        UC,
        value=ValueInputs(volume_per_year=100, minutes_per_task=5, cost_per_hour=40),
        readiness={"data_available": 3},
        feasibility={"users_involved": 2},
    )
    assert check(BusinessCaseComplete(), use_case=complete).status is P
    partial = replace(complete, feasibility={})
    res = check(BusinessCaseComplete(), use_case=partial)
    assert res.status is N and res.reason == "the adoption feasibility questionnaire is unanswered"


# --- phase 2 -------------------------------------------------------------------------
def test_pilot_verdict() -> None:
    rule = PilotAdopted()
    res = check(rule)
    assert res.status is N and "no pilot" in res.reason
    res = check(rule, pilots=(PilotEvidence("p1", None, error="no data yet"),))
    assert res.status is N and "p1: no data yet" in res.reason
    res = check(rule, pilots=(PilotEvidence("p1", "iterate", ("primary KPI not significant",)),))
    assert res.status is F and "iterate" in res.reason and "primary KPI not significant" in res.reason
    res = check(rule, pilots=(PilotEvidence("p1", "stop"), PilotEvidence("p2", "adopt")))
    assert res.status is P and "p2" in res.reason
    assert {link.href for link in res.evidence} == {"/pilots/p1", "/pilots/p2"}


# --- phase 3 -------------------------------------------------------------------------
def _req(kind: str, met: bool = True, i: int = 1) -> Requirement:
    return Requirement(i, kind, f"{kind} req", "target", "measured" if met else "", met)


def test_architecture_requirements() -> None:
    rule = RequirementsMet()
    res = check(rule)
    assert res.status is N and "latency, security, interoperability" in res.reason
    res = check(rule, requirements=(_req("latency"), _req("security")))
    assert res.status is N and res.reason.endswith("interoperability")
    all_met = (_req("latency"), _req("security"), _req("interoperability"))
    assert check(rule, requirements=all_met).status is P
    res = check(rule, requirements=(*all_met[:2], _req("interoperability", met=False)))
    assert res.status is F and "interoperability" in res.reason
    # an unmet requirement fails even while others are missing
    assert check(rule, requirements=(_req("latency", met=False),)).status is F


def test_technology_selected() -> None:
    rule = TechnologySelected()
    res = check(rule, tech=(TechChoice("acme", 70, False),))
    assert res.status is N and "1 option(s) assessed, none selected" in res.reason
    res = check(rule, tech=(TechChoice("acme", 70, False), TechChoice("globex", 81.4, True, 12345.0)))
    assert res.status is P and "globex" in res.reason and "12,345" in res.reason


# --- phase 4 -------------------------------------------------------------------------
def test_training_completion_threshold() -> None:
    rule = TrainingCompleted()
    assert check(rule).status is N
    assert check(rule, training=TrainingEvidence(0, 0, 0, 0, 0)).status is N
    res = check(rule, training=TrainingEvidence(10, 10, 8, 0, 0))
    assert res.status is P and "80.0%" in res.reason and "8 of 10" in res.reason  # at the mark passes
    res = check(rule, training=TrainingEvidence(10, 10, 7, 0, 0))
    assert res.status is F and "70.0%" in res.reason
    lower = Thresholds(training_completion=0.7)
    assert check(rule, training=TrainingEvidence(10, 10, 7, 0, 0), thresholds=lower).status is P


def test_assessment_pass_rate() -> None:
    rule = AssessmentsPassed()
    res = check(rule, training=TrainingEvidence(10, 10, 10, 0, 0))
    assert res.status is N and "no assessment results" in res.reason
    res = check(rule, training=TrainingEvidence(10, 10, 10, 5, 4))
    assert res.status is P and "4 of 5 assessed" in res.reason
    assert check(rule, training=TrainingEvidence(10, 10, 10, 5, 3)).status is F


def test_demonstrated_use() -> None:
    rule = DemonstratedUse()
    assert check(rule).status is N
    assert check(rule, adoption=0.6).status is P
    res = check(rule, adoption=0.59)
    assert res.status is F and "59.0%" in res.reason and "60.0%" in res.reason
    assert check(rule, adoption=0.59, thresholds=Thresholds(demonstrated_use=0.5)).status is P


# --- phase 5 -------------------------------------------------------------------------
def test_uptime() -> None:
    rule = StableUptime()
    assert check(rule).status is N
    assert check(rule, ops=OpsEvidence(uptime=0.995, uptime_source="monitor")).status is P
    res = check(rule, ops=OpsEvidence(uptime=0.99))
    assert res.status is F and "99.0%" in res.reason


def test_error_rate_against_the_baseline() -> None:
    rule = AcceptableErrorRate()
    assert check(rule, ops=OpsEvidence(error_rate=0.05)).status is N  # no baseline to compare
    assert check(rule, ops=OpsEvidence(baseline_error_rate=0.05)).status is N
    assert check(rule, ops=OpsEvidence(error_rate=0.054, baseline_error_rate=0.05)).status is P
    res = check(rule, ops=OpsEvidence(error_rate=0.056, baseline_error_rate=0.05))
    assert res.status is F and "at most 5.5%" in res.reason
    strict = Thresholds(error_rate_margin=0.0)
    assert (
        check(rule, ops=OpsEvidence(error_rate=0.051, baseline_error_rate=0.05), thresholds=strict).status
        is F
    )


def test_traceability() -> None:
    rule = Traceable()
    assert check(rule).status is N
    assert check(rule, ops=OpsEvidence(traceability=0.99)).status is P
    assert check(rule, ops=OpsEvidence(traceability=0.98)).status is F


def test_reviews_held() -> None:
    rule = ReviewsHeld()
    golive = date(2025, 1, 1)
    assert check(rule).status is N
    due = [ReviewState(k, date(2025, m, 1), False) for k, m in (("day30", 2), ("day60", 3), ("day90", 4))]
    res = check(rule, go_live=golive, reviews=tuple(due))
    assert res.status is F and "day30" in res.reason and "day90" in res.reason  # all overdue by June
    res = check(rule, go_live=golive, reviews=tuple(due), today=date(2025, 1, 15))
    assert res.status is N and res.reason == "next: day30 due 2025-02-01"
    res = check(rule, go_live=golive, reviews=tuple(due), today=date(2025, 2, 1))
    assert res.status is N  # due today is not overdue yet
    done = tuple(replace(r, completed=True, outcome="on_track") for r in due)
    assert check(rule, go_live=golive, reviews=done).status is P
    behind = (*done[:2], replace(done[2], outcome="behind"))
    res = check(rule, go_live=golive, reviews=behind)
    assert res.status is P and "day90" in res.reason and "behind" in res.reason


def test_user_satisfaction() -> None:
    rule = UserSatisfaction()
    assert check(rule).status is N
    assert check(rule, esat=3.5).status is P
    res = check(rule, esat=3.2)
    assert res.status is F and "3.20" in res.reason and "3.50" in res.reason


# --- phases 5 and 6: model monitoring ---------------------------------------------------
ROUTER = ModelWatch("claims-router", "2.0.0", ("drift-share", "f1-low"), 90, ("1.2.0",))


def test_monitored_is_pending_until_a_model_serves_in_production() -> None:
    rule = ModelsMonitored()
    for monitoring in (None, MonitoringEvidence()):
        res = check(rule, monitoring=monitoring)
        assert res.status is N
        assert "register the model and promote a version to production" in res.reason
        assert [link.href for link in res.evidence] == ["/models"]


def test_monitored_passes_when_every_production_model_is_watched_and_no_severe_incident_is_open() -> None:
    res = check(ModelsMonitored(), monitoring=MonitoringEvidence((ROUTER,)))
    assert res.status is P
    assert res.reason == (
        "production models watched: claims-router 2.0.0 by drift-share, f1-low; no open sev1/sev2 incident"
    )
    assert [link.href for link in res.evidence] == ["/models/claims-router", "/alerts"]


def test_monitored_fails_naming_the_model_no_rule_watches() -> None:
    scribe = ModelWatch("scribe-coder", "3.0.0")
    res = check(ModelsMonitored(), monitoring=MonitoringEvidence((ROUTER, scribe)))
    assert res.status is F
    assert "no enabled alert rule on drift or performance watches scribe-coder (version 3.0.0" in res.reason
    assert "claims-router" not in res.reason and "paceline alert rule add --defaults" in res.reason
    assert {link.href for link in res.evidence} >= {"/models/scribe-coder", "/alerts"}


def test_monitored_fails_naming_the_open_severe_incident() -> None:
    sev2 = IncidentState(12, "F1 fell to 0.52", "sev2", "investigating")
    res = check(ModelsMonitored(), monitoring=MonitoringEvidence((ROUTER,), (sev2,)))
    assert res.status is F
    assert res.reason == (
        "open sev1/sev2 incident(s): incident 12 sev2 investigating: F1 fell to 0.52 (resolve them first)"
    )
    assert "/incidents/12" in {link.href for link in res.evidence}
    both = MonitoringEvidence((ModelWatch("scribe-coder", "3.0.0"),), (sev2,))
    res = check(ModelsMonitored(), monitoring=both)
    assert res.status is F and "scribe-coder" in res.reason and "incident 12" in res.reason


def _rule(**doc: Any) -> Any:
    return rule_from_dict({"name": "r", "signal": "drift_share", "above": 0.3, **doc})


def test_a_rule_watches_a_model_on_a_model_signal_in_its_scope() -> None:
    assert watches(_rule(), "claims-triage", "claims-router")  # everything
    assert watches(_rule(use_case="claims-triage"), "claims-triage", "claims-router")
    assert watches(
        _rule(model="claims-router", signal="performance:f1", below=0.7, above=None),
        "claims-triage",
        "claims-router",
    )
    assert watches(_rule(signal="column_drift:amount"), "claims-triage", "claims-router")
    assert not watches(_rule(use_case="clinical-documentation"), "claims-triage", "claims-router")
    assert not watches(_rule(model="scribe-coder"), "claims-triage", "claims-router")
    assert not watches(_rule(workflow="claims-intake"), "claims-triage", "claims-router")
    assert not watches(_rule(enabled=False), "claims-triage", "claims-router")
    runtime = _rule(signal="latency_p95_ms", above=2000)  # the runtime's health, not the model's quality
    assert not watches(runtime, "claims-triage", "claims-router")


def test_monitoring_deliverables_from_the_evidence() -> None:
    assert not MonitoringEvidence().dashboards and not MonitoringEvidence().lifecycle_processes
    assert MonitoringEvidence((ROUTER,)).dashboards
    unwatched = MonitoringEvidence((ROUTER, ModelWatch("scribe-coder", "3.0.0", (), 90, ("2.4.0",))))
    assert not unwatched.dashboards and unwatched.lifecycle_processes
    assert MonitoringEvidence((ROUTER,)).lifecycle_processes
    assert not MonitoringEvidence((replace(ROUTER, retrain_every_days=None),)).lifecycle_processes
    assert not MonitoringEvidence((replace(ROUTER, retirements=()),)).lifecycle_processes


# --- phases 4 and 6: risks; phase 6: governance and ROI -------------------------------
def test_risks_under_control() -> None:
    rule = RisksUnderControl()
    res = check(rule)
    assert res.status is N and "empty" in res.reason
    ok = (RiskState("r1", "Bias", "open", 14), RiskState("r2", "Leak", "closed", 25))
    assert check(rule, risks=ok).status is P  # a closed risk does not block
    res = check(rule, risks=(*ok, RiskState("r3", "Drift", "mitigating", 15)))
    assert res.status is F and "Drift (residual 15)" in res.reason


def test_governance_adherence_is_the_compliance_score_not_red() -> None:
    rule = ComplianceNotRed()
    assert check(rule).status is N
    assert check(rule, compliance=ComplianceEvidence(None, "none")).status is N
    res = check(rule, compliance=ComplianceEvidence(71.2, "amber"))
    assert res.status is P and "71.2 (amber)" in res.reason
    red = ComplianceEvidence(82.0, "red", ("open critical audit finding: Logs deleted",), "close finding #3")
    res = check(rule, compliance=red)
    assert res.status is F and "Logs deleted" in res.reason and "fix first: close finding #3" in res.reason
    assert "below the red threshold" in check(rule, compliance=ComplianceEvidence(55.0, "red")).reason


def test_sustained_roi() -> None:
    rule = SustainedRoi()
    assert check(rule).status is N
    assert check(rule, roi=RoiEvidence(None, None)).status is N
    assert check(rule, roi=RoiEvidence(0.4, True, "ROI is growing")).status is P
    res = check(rule, roi=RoiEvidence(0.4, False))
    assert res.status is F and "not growing" in res.reason
    assert check(rule, roi=RoiEvidence(-0.1, True)).status is F
    assert check(rule, roi=RoiEvidence(0.4, True), thresholds=Thresholds(min_roi=0.5)).status is F


# --- records and sign-offs -------------------------------------------------------------
def test_deliverables_done() -> None:
    rule = DeliverablesDone(Phase.PILOT)
    res = check(rule)
    assert res.status is N and "Pilot datasets (missing)" in res.reason
    states = {d.key: DeliverableState(d.key, "done") for d in deliverables_for(Phase.PILOT)}
    assert check(rule, deliverables=states).status is P
    states["pilot_datasets"] = DeliverableState("pilot_datasets", "in_review")
    res = check(rule, deliverables=states)
    assert res.status is N and res.reason == "not done yet: Pilot datasets (in_review)"


def test_checkpoint_signed() -> None:
    rule = CheckpointSigned(CHECKPOINTS_BY_KEY["privacy_assessment"])
    res = check(rule)
    assert res.status is N and "security or people" in res.reason
    assert res.roles == ("security", "people") and res.kind == "sign-off"
    signed = {"privacy_assessment": Signoff("privacy_assessment", "user:sec", "security", "2025-05-02T10:00")}
    res = check(rule, signoffs=signed)
    assert res.status is P and "user:sec (security) on 2025-05-02" in res.reason


# --- the policy ----------------------------------------------------------------------
def _keys(phase: Phase) -> set[str]:
    return {r.key for r in GatePolicy().applicable(Transition.advance(phase))}


def test_policy_runs_only_the_rules_of_the_transition() -> None:
    assert _keys(Phase.ASSESS) == {
        "ai_act_not_prohibited",
        "business_case",
        "deliverables_phase_1",
        "business_case_approved",
    }
    assert _keys(Phase.PILOT) == {"pilot_verdict", "deliverables_phase_2"}
    assert _keys(Phase.SELECT) == {
        "architecture_requirements",
        "technology_selected",
        "deliverables_phase_3",
        "architecture_approved",
    }
    assert _keys(Phase.ENABLE) == {
        "training_completion",
        "assessment_pass",
        "demonstrated_use",
        "risks_under_control",
        "deliverables_phase_4",
        "security_review",
        "privacy_assessment",
        "explainability_check",
        "canary_release",
        "feature_flags",
        "rollback_criteria",
    }
    assert _keys(Phase.INTEGRATE) == {
        "uptime",
        "error_rate",
        "traceability",
        "post_deployment_reviews",
        "user_satisfaction",
        "monitored",
        "deliverables_phase_5",
        "incident_retrospectives",
    }


def test_phase_6_recertifies() -> None:
    t = Transition.advance(Phase.SCALE)
    assert t.move is Move.RECERTIFY and t.source is t.target is Phase.SCALE
    assert t.label == "phase 6 recertification"
    assert _keys(Phase.SCALE) == {
        "monitored",
        "risks_under_control",
        "compliance_score",
        "sustained_roi",
        "deliverables_phase_6",
    }
    # governance and ROI guard only the recertification, and a return runs no rule
    plain = {r.key for r in GatePolicy().applicable(Transition(Move.ADVANCE, Phase.SCALE, Phase.SCALE))}
    assert plain.isdisjoint({"compliance_score", "sustained_roi"})
    assert not GatePolicy().applicable(Transition(Move.RETURN, Phase.INTEGRATE, Phase.ENABLE))


def test_every_checkpoint_guards_the_gate_into_its_phase() -> None:
    for c in CHECKPOINTS:
        assert c.key in _keys(Phase(c.before - 1))


def test_policy_keeps_the_rule_order() -> None:
    policy = GatePolicy()
    decision = policy.evaluate(Transition.advance(Phase.ASSESS), ev())
    order = [r.key for r in default_rules()]
    keys = [r.rule for r in decision.results]
    assert keys == sorted(keys, key=order.index)


def test_a_blocked_decision_lists_what_blocks() -> None:
    decision = GatePolicy().evaluate(
        Transition.advance(Phase.ASSESS), ev(ai_act_tier="prohibited", ai_act_rule="social scoring")
    )
    assert not decision.passed
    assert decision.summary() == "phase 1 → 2 blocked: 1 failed, 3 pending of 4 checks"
    assert {r.rule for r in decision.blocking} == {
        "ai_act_not_prohibited",
        "business_case",
        "deliverables_phase_1",
        "business_case_approved",
    }
    doc = decision.to_dict()
    assert doc["passed"] is False and (doc["from_phase"], doc["to_phase"]) == (1, 2)
    assert doc["blocking"] == [r.rule for r in decision.blocking]
    assert doc["move"] == "advance" and len(doc["checks"]) == 4
    assert all(c["status"] in ("fail", "pending") for c in doc["checks"])


def test_a_passing_decision() -> None:
    uc = replace(
        UC,
        value=ValueInputs(volume_per_year=100, minutes_per_task=5, cost_per_hour=40),
        readiness={"data_available": 3},
        feasibility={"users_involved": 2},
    )
    done = {d.key: DeliverableState(d.key, "done") for d in deliverables_for(Phase.ASSESS)}
    signed = {
        "business_case_approved": Signoff("business_case_approved", "user:bo", "business-owner", "2025")
    }
    decision = GatePolicy().evaluate(
        Transition.advance(Phase.ASSESS), ev(use_case=uc, deliverables=done, signoffs=signed)
    )
    assert decision.passed and decision.blocking == ()
    assert decision.summary() == "phase 1 → 2: all 4 checks pass"
    assert decision.to_dict()["blocking"] == []


def test_an_empty_decision_passes() -> None:
    decision = GateDecision(Transition(Move.RETURN, Phase.PILOT, Phase.ASSESS), ())
    assert decision.passed and decision.to_dict()["checks"] == []


@pytest.mark.parametrize("phase", list(Phase))
def test_every_gate_has_a_deliverables_check(phase: Phase) -> None:
    assert f"deliverables_phase_{int(phase)}" in _keys(phase)
