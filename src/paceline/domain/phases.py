"""What each phase delivers, and the change-control checkpoints that need a person's sign-off.

Deliverables are records or documents with an owner and a status. Some are satisfied by
Paceline's own records (a pilot plan exists, the value model has inputs, a vendor was
assessed, the production models are watched by alert rules); the rest are documents a
person marks done with a link. Checkpoints are the framework's change-control steps; each
names the role whose member must sign it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from paceline.domain.roles import Role
from paceline.domain.usecases import Phase


class DeliverableStatus(StrEnum):
    MISSING = "missing"
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    DONE = "done"


@dataclass(frozen=True)
class Deliverable:
    """A phase's deliverable: ``source`` says whether a record proves it or a person marks it."""

    key: str
    phase: Phase
    title: str
    owner_role: Role
    source: str = "document"  # "document": marked done by a person; "record": derived from Paceline's records


DELIVERABLES: tuple[Deliverable, ...] = (
    Deliverable("process_inventory", Phase.ASSESS, "Process inventory", Role.PROGRAM_MANAGER, "record"),
    Deliverable("value_model", Phase.ASSESS, "Value-at-stake model", Role.BUSINESS_OWNER, "record"),
    Deliverable("stakeholder_map", Phase.ASSESS, "Stakeholder map", Role.PROGRAM_MANAGER, "record"),
    Deliverable("data_readiness", Phase.ASSESS, "Data readiness score", Role.DATA_ENGINEER, "record"),
    Deliverable(
        "pilot_plan", Phase.PILOT, "Pilot plan with hypothesis and metrics", Role.PROGRAM_MANAGER, "record"
    ),
    Deliverable("pilot_datasets", Phase.PILOT, "Pilot datasets", Role.DATA_ENGINEER),
    Deliverable(
        "acceptance_criteria", Phase.PILOT, "User-acceptance criteria", Role.BUSINESS_OWNER, "record"
    ),
    Deliverable("solution_architecture", Phase.SELECT, "Solution architecture", Role.ML_ENGINEER),
    Deliverable("vendor_assessment", Phase.SELECT, "Vendor assessment", Role.PROGRAM_MANAGER, "record"),
    Deliverable("cost_model", Phase.SELECT, "Cost model", Role.PROGRAM_MANAGER, "record"),
    # proven by the enablement records: a role's learning path, its competency targets,
    # a team goal with its incentive, a champion (paceline.services.enablement)
    Deliverable("curriculum", Phase.ENABLE, "Role-based curriculum", Role.PEOPLE, "record"),
    Deliverable("competency_matrix", Phase.ENABLE, "Competency matrix", Role.PEOPLE, "record"),
    Deliverable("incentives", Phase.ENABLE, "Incentives tied to adoption goals", Role.PEOPLE, "record"),
    Deliverable("champions_network", Phase.ENABLE, "Pilot champions network", Role.PEOPLE, "record"),
    Deliverable("api_integrations", Phase.INTEGRATE, "API integrations", Role.ML_ENGINEER),
    Deliverable("data_pipelines", Phase.INTEGRATE, "Data pipelines", Role.DATA_ENGINEER),
    # proven by the model registry, the alert rules and the incidents
    # (paceline.services.lifecycle_records.RegistryMonitoring): every production model is
    # watched by an alert rule; a rule or incident names its runbook_url; every production model
    # is retrained on a schedule and has been through a deprecation
    Deliverable(
        "monitoring_dashboards", Phase.INTEGRATE, "Monitoring dashboards", Role.ML_ENGINEER, "record"
    ),
    Deliverable("runbooks", Phase.INTEGRATE, "Runbooks", Role.ML_ENGINEER, "record"),
    Deliverable("governance_policy", Phase.SCALE, "Governance policy", Role.PROGRAM_MANAGER),
    Deliverable("lifecycle_processes", Phase.SCALE, "Model lifecycle processes", Role.ML_ENGINEER, "record"),
    Deliverable("roi_tracking", Phase.SCALE, "ROI tracking", Role.PROGRAM_MANAGER, "record"),
    Deliverable("center_of_excellence", Phase.SCALE, "Center of excellence", Role.PROGRAM_MANAGER),
)

DELIVERABLES_BY_KEY = {d.key: d for d in DELIVERABLES}


class Stage(StrEnum):
    """When a checkpoint applies, in the framework's change-control terms."""

    PRE_DEPLOYMENT = "pre-deployment"
    DEPLOYMENT = "deployment"
    POST_DEPLOYMENT = "post-deployment"
    APPROVAL = "approval"


@dataclass(frozen=True)
class Checkpoint:
    """A check a person signs off; ``roles`` may sign (an admin always may)."""

    key: str
    title: str
    stage: Stage
    roles: tuple[Role, ...]
    before: Phase  # the phase the use case may not enter until this is signed off


CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint(
        "business_case_approved",
        "Business case approved",
        Stage.APPROVAL,
        (Role.BUSINESS_OWNER,),
        Phase.PILOT,
    ),
    Checkpoint("security_review", "Security review", Stage.PRE_DEPLOYMENT, (Role.SECURITY,), Phase.INTEGRATE),
    Checkpoint(
        "privacy_assessment",
        "Data privacy assessment",
        Stage.PRE_DEPLOYMENT,
        (Role.SECURITY, Role.PEOPLE),
        Phase.INTEGRATE,
    ),
    Checkpoint(
        "explainability_check",
        "Model explainability check",
        Stage.PRE_DEPLOYMENT,
        (Role.ML_ENGINEER,),
        Phase.INTEGRATE,
    ),
    Checkpoint(
        "canary_release", "Canary release planned", Stage.DEPLOYMENT, (Role.ML_ENGINEER,), Phase.INTEGRATE
    ),
    Checkpoint(
        "feature_flags", "Feature flags in place", Stage.DEPLOYMENT, (Role.ML_ENGINEER,), Phase.INTEGRATE
    ),
    Checkpoint(
        "rollback_criteria",
        "Rollback criteria defined",
        Stage.DEPLOYMENT,
        (Role.ML_ENGINEER,),
        Phase.INTEGRATE,
    ),
    Checkpoint(
        "incident_retrospectives",
        "Incident retrospectives held",
        Stage.POST_DEPLOYMENT,
        (Role.ML_ENGINEER, Role.SECURITY, Role.PROGRAM_MANAGER),
        Phase.SCALE,
    ),
    Checkpoint(
        "architecture_approved",
        "Architecture approved",
        Stage.APPROVAL,
        (Role.SECURITY, Role.ML_ENGINEER),
        Phase.ENABLE,
    ),
)

CHECKPOINTS_BY_KEY = {c.key: c for c in CHECKPOINTS}


class RequirementKind(StrEnum):
    """The phase-3 success criteria: the architecture meets these requirements."""

    LATENCY = "latency"
    SECURITY = "security"
    INTEROPERABILITY = "interoperability"


def deliverables_for(phase: Phase) -> tuple[Deliverable, ...]:
    return tuple(d for d in DELIVERABLES if d.phase is phase)


def checkpoints_before(phase: Phase) -> tuple[Checkpoint, ...]:
    return tuple(c for c in CHECKPOINTS if c.before is phase)
