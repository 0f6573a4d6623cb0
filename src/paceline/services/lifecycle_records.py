"""Figures derived from the lifecycle records: deliverables that records prove, the technology
assessment with its cost, and the monitoring of the use case's production models (registry,
alert rules, incidents). (Governance adherence is the compliance & risk score of
:mod:`paceline.services.compliance`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from paceline.domain import portfolio, raci
from paceline.domain.alerts import RULE_FIELDS, AlertRule, Scope, rule_from_dict
from paceline.domain.evidence import (
    DeliverableState,
    IncidentState,
    ModelWatch,
    MonitoringEvidence,
    watches,
)
from paceline.domain.incidents import ACTIVE, Severity
from paceline.domain.model_registry import Stage
from paceline.domain.phases import DELIVERABLES, DeliverableStatus
from paceline.domain.techselect import TechOption, assess, parse_option
from paceline.domain.usecases import Phase, UseCase

if TYPE_CHECKING:
    from paceline.services.alerting import AlertRepository
    from paceline.services.gate_service import EnablementEvidence, WarehouseFacts
    from paceline.services.incidents import IncidentRepository
    from paceline.services.lifecycle import LifecycleRepository
    from paceline.services.model_registry import ModelRepository

DONE, MISSING = DeliverableStatus.DONE.value, DeliverableStatus.MISSING.value
SEVERE = frozenset({Severity.SEV1.value, Severity.SEV2.value})  # they block the gate while open
OPEN = frozenset(s.value for s in ACTIVE)  # open, investigating, mitigated: not resolved or closed
RETIRING = frozenset({Stage.DEPRECATED.value, Stage.RETIRED.value})
MAX_INCIDENTS = 100_000


OPTION_FIELDS = ("name", "kind", "scores", "notes", "cost")


def stored_option(doc: dict[str, Any]) -> TechOption:
    """An option as stored (with its selection and timestamp) back as a validated TechOption."""
    return parse_option({k: doc[k] for k in OPTION_FIELDS})


def assessed_options(repo: LifecycleRepository, uc: UseCase) -> list[dict[str, Any]]:
    """The use case's options, scored and ranked, each with its cost at the use case's volume."""
    stored = repo.tech_options(uc.key)
    if not stored:
        return []
    options = {doc["name"]: stored_option(doc) for doc in stored}
    selected = {doc["name"] for doc in stored if doc["selected"]}
    out = []
    for score in assess(options.values()):
        cost = options[score.name].cost.annual_cost(uc.value.volume_per_year)
        out.append({**score.to_dict(), "selected": score.name in selected, "cost": cost.to_dict()})
    return out


def tech_choices(repo: LifecycleRepository, uc: UseCase) -> list[dict[str, Any]]:
    """The assessment in the form a gate reads: name, score, selected, annual cost."""
    return [
        {"name": o["name"], "score": o["score"], "selected": o["selected"], "annual_cost": o["cost"]["total"]}
        for o in assessed_options(repo, uc)
    ]


def _staffed(stakeholders: dict[str, tuple[str, ...]]) -> bool:
    """Every role that is Responsible or Accountable in some phase has a named person."""
    rows = raci.stakeholder_map(stakeholders)
    return not any(row.get("unstaffed") for row in rows)


def _stored_rule(doc: dict[str, Any]) -> AlertRule:
    """A stored alert rule back as the domain's (as the alerting service reads it)."""
    return rule_from_dict(
        {k: v for k, v in doc.items() if k in RULE_FIELDS and k not in ("window", "cooldown")}
    )


def _of_use_case(rule: AlertRule, use_case: str, models: Sequence[str]) -> bool:
    """A rule scoped to the use case, to one of its models, or to everything (not another use case's)."""
    scope = rule.scope
    return scope.use_case == use_case or scope.model in models or scope == Scope()


class RegistryMonitoring:
    """The monitoring evidence of a use case (phases 5 and 6), read from the model registry, the
    alert rules and the incidents; the gate and the deliverables judge the same snapshot.

    Every rule counts, whoever may read it: a rule for everything watches this use case's models
    too. Incidents count when they name the use case or one of its models.
    """

    def __init__(
        self, models: ModelRepository, alerts: AlertRepository, incidents: IncidentRepository
    ) -> None:
        self.models, self.alerts, self.incidents = models, alerts, incidents

    def monitoring_evidence(self, use_case: str) -> MonitoringEvidence:
        names = [m["name"] for m in self.models.list_models() if m["use_case"] == use_case]
        rules = [_stored_rule(doc) for doc in self.alerts.rules()]
        incidents = [
            doc
            for doc in self.incidents.list_incidents(limit=MAX_INCIDENTS)
            if doc["use_case"] == use_case or doc["model"] in names
        ]
        watched = (self._watch(use_case, name, rules) for name in names)
        mine = [r for r in rules if _of_use_case(r, use_case, names)]
        runbooks = [doc["runbook_url"] for doc in incidents if doc["runbook_url"]]
        runbooks += [r.runbook_url for r in mine if r.runbook_url]
        return MonitoringEvidence(
            models=tuple(w for w in watched if w is not None),
            open_incidents=tuple(
                IncidentState(doc["id"], doc["title"], doc["severity"], doc["status"])
                for doc in sorted(incidents, key=lambda d: d["id"])
                if doc["severity"] in SEVERE and doc["status"] in OPEN
            ),
            runbooks=tuple(dict.fromkeys(runbooks)),
        )

    def _watch(self, use_case: str, model: str, rules: Sequence[AlertRule]) -> ModelWatch | None:
        """The model's production version with its rules, schedule and deprecations (None: none serves)."""
        versions = self.models.versions(model)
        production = next((v["version"] for v in versions if v["stage"] == Stage.PRODUCTION.value), None)
        if production is None:
            return None
        schedule = self.models.schedule(model)
        return ModelWatch(
            name=model,
            version=production,
            rules=tuple(r.name for r in rules if watches(r, use_case, model)),
            retrain_every_days=schedule["retrain_every_days"] if schedule else None,
            retirements=tuple(
                v["version"] for v in versions if v["stage"] in RETIRING or v["deprecation_date"]
            ),
        )


def _record_states(
    repo: LifecycleRepository,
    facts: WarehouseFacts,
    uc: UseCase,
    enablement: EnablementEvidence | None = None,
    monitoring: MonitoringEvidence | None = None,
) -> dict[str, bool]:
    """Whether each record-proven deliverable is proven (computed only for phases reached)."""
    v = uc.value
    states = {
        "process_inventory": bool(uc.business_process and uc.department and uc.people_affected > 0),
        "value_model": v.volume_per_year > 0 and v.minutes_per_task > 0 and v.cost_per_hour > 0,
        "stakeholder_map": _staffed(repo.stakeholders(uc.key)),
        "data_readiness": set(uc.readiness) >= portfolio.READINESS_KEYS,
    }
    if uc.phase >= Phase.PILOT:
        specs = facts.pilot_specs(uc.key)
        states["pilot_plan"] = any(s.hypothesis and s.primary for s in specs)
        states["acceptance_criteria"] = any(s.acceptance for s in specs)
    if uc.phase >= Phase.SELECT:
        options = repo.tech_options(uc.key)
        states["vendor_assessment"] = bool(options)
        states["cost_model"] = any(o["selected"] and any(o["cost"].values()) for o in options)
    if uc.phase >= Phase.ENABLE and enablement is not None:
        states.update(enablement.proven_deliverables(uc.key))
    if uc.phase >= Phase.INTEGRATE and monitoring is not None:
        states["monitoring_dashboards"] = monitoring.dashboards
        states["runbooks"] = bool(monitoring.runbooks)
    if uc.phase is Phase.SCALE:
        roi = facts.roi(uc)
        states["roi_tracking"] = roi is not None and roi.cumulative_roi is not None
        states["lifecycle_processes"] = monitoring is not None and monitoring.lifecycle_processes
    return states


def deliverable_states(
    repo: LifecycleRepository,
    facts: WarehouseFacts,
    uc: UseCase,
    enablement: EnablementEvidence | None = None,
    monitoring: MonitoringEvidence | None = None,
) -> dict[str, DeliverableState]:
    """Every deliverable's state: documents as recorded, records as the data proves them.

    Phase 4's deliverables are proven by the enablement records (*enablement*), the
    monitoring deliverables of phases 5 and 6 by the registry, alert rules and incidents
    (*monitoring*, the snapshot the gate also judges); a workspace always wires both in,
    and without them those deliverables count as missing.
    """
    stored = repo.deliverables(uc.key)
    proven = _record_states(repo, facts, uc, enablement, monitoring)
    out = {}
    for d in DELIVERABLES:
        if d.source == "record":
            out[d.key] = DeliverableState(d.key, DONE if proven.get(d.key) else MISSING, d.owner_role.value)
        else:
            out[d.key] = stored.get(d.key, DeliverableState(d.key, MISSING, d.owner_role.value))
    return out
