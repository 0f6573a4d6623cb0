"""Figures derived from the lifecycle records: deliverables that records prove and the technology
assessment with its cost. (Governance adherence is the compliance & risk score of
:mod:`paceline.services.compliance`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paceline.domain import portfolio, raci
from paceline.domain.evidence import DeliverableState
from paceline.domain.phases import DELIVERABLES, DeliverableStatus
from paceline.domain.techselect import TechOption, assess, parse_option
from paceline.domain.usecases import Phase, UseCase

if TYPE_CHECKING:
    from paceline.services.gate_service import EnablementEvidence, WarehouseFacts
    from paceline.services.lifecycle import LifecycleRepository

DONE, MISSING = DeliverableStatus.DONE.value, DeliverableStatus.MISSING.value


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


def _record_states(
    repo: LifecycleRepository,
    facts: WarehouseFacts,
    uc: UseCase,
    enablement: EnablementEvidence | None = None,
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
    if uc.phase is Phase.SCALE:
        roi = facts.roi(uc)
        states["roi_tracking"] = roi is not None and roi.cumulative_roi is not None
    return states


def deliverable_states(
    repo: LifecycleRepository,
    facts: WarehouseFacts,
    uc: UseCase,
    enablement: EnablementEvidence | None = None,
) -> dict[str, DeliverableState]:
    """Every deliverable's state: documents as recorded, records as the data proves them.

    Phase 4's deliverables are proven by the enablement records (*enablement*, which a
    workspace always wires in; without it they count as missing).
    """
    stored = repo.deliverables(uc.key)
    proven = _record_states(repo, facts, uc, enablement)
    out = {}
    for d in DELIVERABLES:
        if d.source == "record":
            out[d.key] = DeliverableState(d.key, DONE if proven.get(d.key) else MISSING, d.owner_role.value)
        else:
            out[d.key] = stored.get(d.key, DeliverableState(d.key, MISSING, d.owner_role.value))
    return out
