"""The program view over the lifecycle records: portfolio ranking, technology assessment, risks,
go-live with its 30/60/90-day reviews, ROI, and everything a use-case page shows.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date, timedelta
from typing import Any

from paceline.domain import ai_act, portfolio, raci
from paceline.domain.evidence import Thresholds
from paceline.domain.gates import Transition
from paceline.domain.phases import CHECKPOINTS, DELIVERABLES
from paceline.domain.reviews import KpiActual, KpiTarget, ReviewKind, compare, review_outcome, schedule
from paceline.domain.risks import Risk, RiskCategory, RiskStatus, register_summary, validate_risk
from paceline.domain.roi import program_rollup
from paceline.domain.roles import Action
from paceline.domain.techselect import apply_cost, assess, parse_option
from paceline.errors import NotFound, ValidationError
from paceline.services.access import Principal
from paceline.services.gate_service import GateService
from paceline.services.lifecycle import LifecycleRepository, LifecycleService
from paceline.services.lifecycle_records import assessed_options, stored_option
from paceline.services.parsing import parse_choice
from paceline.services.program_facts import ProgramFacts
from paceline.services.training import training_summary


def parse_risk(doc: dict[str, Any], base: Risk | None = None) -> Risk:
    """A risk from its JSON form (over *base* when editing), validated field by field."""
    names = {f.name for f in fields(Risk)}
    derived = {"inherent_score", "residual_score", "inherent_level", "residual_level"}
    unknown = sorted(set(doc) - names - derived)
    if unknown:
        raise ValidationError(
            f"unknown risk field {unknown[0]!r}", field=unknown[0], fix=f"use: {', '.join(names)}"
        )
    merged = {**(base.to_dict() if base else {}), **{k: v for k, v in doc.items() if k in names}}
    missing = [n for n in ("key", "title") if not merged.get(n)]
    if missing:
        raise ValidationError(
            f"{missing[0]} is required", field=missing[0], fix="see docs/roi.md (risk register)"
        )
    try:
        risk = Risk(
            key=str(merged["key"]),
            title=str(merged["title"]),
            category=parse_choice(RiskCategory, merged.get("category", "other"), "category"),
            description=str(merged.get("description", "")),
            mitigation=str(merged.get("mitigation", "")),
            owner=str(merged.get("owner", "")),
            status=parse_choice(RiskStatus, merged.get("status", "open"), "status"),
            inherent_likelihood=int(merged.get("inherent_likelihood", 3)),
            inherent_impact=int(merged.get("inherent_impact", 3)),
            residual_likelihood=int(merged.get("residual_likelihood", 3)),
            residual_impact=int(merged.get("residual_impact", 3)),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"a rating is not a whole number 1..5: {exc}", fix="rate 1..5") from None
    return validate_risk(risk)


class ProgramService:
    """Everything above single records: ranking, assessments, reviews, ROI and the use-case page."""

    def __init__(
        self, repo: LifecycleRepository, facts: ProgramFacts, thresholds: Thresholds | None = None
    ) -> None:
        self.repo, self.facts = repo, facts
        self.records = LifecycleService(repo)
        self.gates = GateService(repo, facts, thresholds)

    # --- portfolio ----------------------------------------------------------------
    def portfolio(self, by: Principal) -> list[dict[str, Any]]:
        """The prioritised list: business case (value, ROI, risk, feasibility, tier) per use case."""
        cases = self.records.list(by)
        ranked = portfolio.rank(cases)
        by_key = {uc.key: uc for uc in cases}
        out = []
        for case in ranked:
            uc = by_key[case.use_case]
            tier = ai_act.classify(uc.ai_act)
            out.append(
                {**case.to_dict(), "owner": uc.owner, "status": uc.status.value, "ai_act_rule": tier.rule}
            )
        return out

    # --- technology selection ---------------------------------------------------------
    def save_option(self, by: Principal, key: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
        uc = self.records.get(by, key)
        by.require(Action.LIFECYCLE_RECORD, key)
        option = parse_option(doc)
        assess([option])  # validates every score and the cost model, naming the bad field
        self.repo.save_tech_option(key, option.to_dict())
        return assessed_options(self.repo, uc)

    def select_option(self, by: Principal, key: str, name: str) -> dict[str, Any]:
        """Choose an option; its annual cost becomes the use case's running cost (ROI, value)."""
        uc = self.records.get(by, key)
        if not self.records.may_edit(by, uc):
            by.require(Action.GATE_OVERRIDE)
        stored = {doc["name"]: doc for doc in self.repo.tech_options(key)}
        if name not in stored:
            raise NotFound(
                f"no option {name!r} for {key}", fix=f"assessed: {', '.join(stored) or 'none yet'}"
            )
        self.repo.select_tech_option(key, name)
        updated = replace(uc, value=apply_cost(uc.value, stored_option(stored[name])))
        self.repo.save_use_case(updated, by.actor)
        return updated.to_dict()

    def options(self, by: Principal, key: str) -> list[dict[str, Any]]:
        return assessed_options(self.repo, self.records.get(by, key))

    # --- risks ------------------------------------------------------------------------
    def risks(self, by: Principal, key: str) -> dict[str, Any]:
        self.records.get(by, key)
        risks = [parse_risk(doc) for doc in self.repo.risks(key)]
        return {"risks": [r.to_dict() for r in risks], "summary": register_summary(risks)}

    def save_risk(self, by: Principal, key: str, doc: dict[str, Any]) -> dict[str, Any]:
        self.records.get(by, key)
        by.require(Action.LIFECYCLE_RECORD, key)
        existing = {d["key"]: d for d in self.repo.risks(key)}
        base = parse_risk(existing[doc["key"]]) if doc.get("key") in existing else None
        risk = parse_risk(doc, base)
        self.repo.save_risk(key, risk.to_dict(), risk.residual_score)
        return risk.to_dict()

    # --- go-live and reviews -------------------------------------------------------------
    def go_live(self, by: Principal, key: str, day: date) -> list[dict[str, Any]]:
        """Record the go-live date and schedule the 30/60/90-day reviews."""
        self.records.set_go_live(by, key, day)
        for review in schedule(day):
            self.repo.schedule_review(key, review.kind.value, review.due)
        return self.repo.reviews(key)

    def _targets(self, by: Principal, key: str) -> list[KpiTarget]:
        specs = self.facts.pilot_specs(key)
        return [KpiTarget(p.kpi, p.target_effect_pct) for p in specs[0].primary] if specs else []

    def review_figures(self, by: Principal, key: str, kind: str) -> list[dict[str, Any]]:
        """Actual KPIs against the pilot's targets: before the AI start vs from go-live to the due date."""
        view = self.records.view(by, key)
        parsed = parse_choice(ReviewKind, kind, "kind")
        if view.go_live is None:
            raise ValidationError(
                "the use case has no go-live date yet", field="go_live", fix="record it first"
            )
        start = self.facts.before_ai(key)
        until = view.go_live + timedelta(days=parsed.days)
        actuals = [
            KpiActual(
                t.kpi,
                self.facts.kpi_total(t.kpi, key, None, start) if start else None,
                self.facts.kpi_total(t.kpi, key, view.go_live, until),
            )
            for t in self._targets(by, key)
        ]
        return [c.to_dict() for c in compare(self._targets(by, key), actuals)]

    def complete_review(self, by: Principal, key: str, kind: str, actions: str = "") -> dict[str, Any]:
        self.records.get(by, key)
        by.require(Action.LIFECYCLE_RECORD, key)
        figures = self.review_figures(by, key, kind)
        targets = self._targets(by, key)
        actuals = [KpiActual(f["kpi"], f["baseline"], f["current"]) for f in figures]
        result = review_outcome(compare(targets, actuals))
        doc = {
            "outcome": str(result.outcome),
            "summary": result.summary,
            "actions": actions,
            "comparisons": figures,
        }
        if not self.repo.complete_review(key, kind, doc, by.actor):
            raise NotFound(f"no {kind} review is scheduled for {key}", fix="record the go-live date first")
        return doc

    # --- ROI --------------------------------------------------------------------------
    def roi(self, by: Principal, key: str) -> dict[str, Any]:
        uc = self.records.get(by, key)
        points = self.facts.roi_points(uc)
        rollup = program_rollup({key: points}) if points else None
        return {
            "points": [p.to_dict() for p in points],
            "totals": rollup["use_cases"][key] if rollup else None,
            "growing": rollup["growing"] if rollup else None,
            "sentence": rollup["sentence"] if rollup else "no AI start date or costs in the warehouse yet",
        }

    def program_roi(self, by: Principal) -> dict[str, Any]:
        """The CoE's roll-up: ROI per use case and for the program, and whether it is growing."""
        series = {uc.key: self.facts.roi_points(uc) for uc in self.records.list(by)}
        return program_rollup({k: v for k, v in series.items() if v})

    # --- the use-case page ------------------------------------------------------------
    def page(self, by: Principal, key: str, today: date | None = None) -> dict[str, Any]:
        """Everything the use-case page and the playbook show, in one document."""
        view = self.records.view(by, key)
        uc = view.use_case
        evidence = self.gates.evidence(by, key, today)
        decision = self.gates.policy.evaluate(Transition.advance(uc.phase), evidence)
        tier = ai_act.classify(uc.ai_act)
        return {
            "use_case": view.to_dict(),
            "business_case": {
                **portfolio.business_case(uc).to_dict(),
                "rank": next((c["rank"] for c in self.portfolio(by) if c["use_case"] == key), None),
            },
            "ai_act": tier.to_dict(),
            "gate": decision.to_dict(),
            "history": self.repo.transitions(key),
            "deliverables": [
                {
                    **vars(evidence.deliverables[d.key]),
                    "title": d.title,
                    "phase": int(d.phase),
                    "source": d.source,
                }
                for d in DELIVERABLES
            ],
            "checkpoints": [
                {
                    "key": c.key,
                    "title": c.title,
                    "stage": c.stage.value,
                    "roles": [r.value for r in c.roles],
                    "before": int(c.before),
                    "signoff": vars(evidence.signoffs[c.key]) if c.key in evidence.signoffs else None,
                }
                for c in CHECKPOINTS
            ],
            "stakeholders": raci.stakeholder_map(evidence.stakeholders),
            "requirements": [vars(r) for r in evidence.requirements],
            "options": assessed_options(self.repo, uc),
            "risks": self.risks(by, key),
            "reviews": self.repo.reviews(key),
            "training": training_summary(self.repo.training_records(key)),
            "ops_figures": self.repo.ops_figures(key),
            "pilots": [vars(p) for p in evidence.pilots],
        }
