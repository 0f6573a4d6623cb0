"""Roles, actions and the permission matrix.

The matrix is data so that one test can walk every role x action pair, and so the
CLI, the API and the web share a single decision (:func:`allowed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The framework's seven roles plus ``admin`` and ``auditor``."""

    BUSINESS_OWNER = "business-owner"
    PROGRAM_MANAGER = "program-manager"
    DATA_ENGINEER = "data-engineer"
    ML_ENGINEER = "ml-engineer"
    SECURITY = "security"
    PEOPLE = "people"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Action(StrEnum):
    """Protected actions. ``scoped`` actions may be granted for one use case only."""

    READ = "workspace.read"
    INGEST = "data.ingest"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_EXPORT = "audit.export"  # send the audit log to a SIEM, download it (a read)
    AUDIT_CHECKPOINT = "audit.checkpoint"  # sign the chain head with the workspace's key
    USER_READ = "user.read"
    USER_MANAGE = "user.manage"
    TOKEN_CREATE_OWN = "token.create_own"
    TOKEN_CREATE_ANY = "token.create_any"
    PILOT_MANAGE = "pilot.manage"
    USECASE_MANAGE = "usecase.manage"  # edit the inventory entry (business owners: their own)
    GATE_ADVANCE = "gate.advance"  # move a use case through a gate whose checks pass
    GATE_OVERRIDE = "gate.override"  # move it although checks fail, with a written justification
    LIFECYCLE_RECORD = "lifecycle.record"  # deliverables, requirements, options, risks, reviews, figures
    TRAINING_RECORD = "training.record"  # enter or import learning records
    LEARNING_READ = "learning.read_individual"  # see another person's learning records (people/HR)
    CASE_START = "case.start"  # start a case of a runtime workflow (API, CLI)
    REVIEW_DECIDE = "review.decide"  # claim and decide human-review items of a workflow's use case
    MODEL_REGISTER = "model.register"  # register models and versions, cards, lineage, schedules
    MODEL_APPROVE = "model.approve"  # approve a version's move to canary or production
    MONITOR_MANAGE = "monitor.manage"  # drift references, thresholds and alert rules
    INCIDENT_MANAGE = "incident.manage"  # acknowledge alerts; open, update and resolve incidents
    GOVERNANCE_MANAGE = "governance.manage"  # frameworks, controls, findings, management reviews, retention
    EVIDENCE_UPLOAD = "evidence.upload"  # upload evidence documents for a use case


SCOPED_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.READ,
        Action.PILOT_MANAGE,
        Action.USECASE_MANAGE,
        Action.GATE_ADVANCE,
        Action.LIFECYCLE_RECORD,
        Action.REVIEW_DECIDE,  # the scope is the workflow's use case
        Action.MODEL_REGISTER,  # the scope is the model's use case
        Action.MODEL_APPROVE,
        Action.MONITOR_MANAGE,
        Action.INCIDENT_MANAGE,
        Action.EVIDENCE_UPLOAD,  # the scope is the document's use case
    }
)

_EVERYONE = frozenset({Action.READ, Action.TOKEN_CREATE_OWN})
_OWNERS = frozenset(
    {Action.PILOT_MANAGE, Action.USECASE_MANAGE, Action.GATE_ADVANCE, Action.LIFECYCLE_RECORD}
)

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.PROGRAM_MANAGER: _EVERYONE
    | _OWNERS
    | {
        Action.USER_READ,
        Action.GATE_OVERRIDE,
        Action.TRAINING_RECORD,
        Action.CASE_START,
        Action.MODEL_APPROVE,
        Action.MONITOR_MANAGE,
        Action.INCIDENT_MANAGE,
        Action.GOVERNANCE_MANAGE,
        Action.EVIDENCE_UPLOAD,
    },
    Role.BUSINESS_OWNER: _EVERYONE
    | _OWNERS
    | {Action.MODEL_APPROVE, Action.INCIDENT_MANAGE, Action.EVIDENCE_UPLOAD},
    Role.DATA_ENGINEER: _EVERYONE
    | {
        Action.INGEST,
        Action.LIFECYCLE_RECORD,
        Action.CASE_START,
        Action.MONITOR_MANAGE,
        Action.INCIDENT_MANAGE,
        Action.EVIDENCE_UPLOAD,
    },
    Role.ML_ENGINEER: _EVERYONE
    | {
        Action.INGEST,
        Action.LIFECYCLE_RECORD,
        Action.CASE_START,
        Action.MODEL_REGISTER,
        Action.MONITOR_MANAGE,
        Action.INCIDENT_MANAGE,
        Action.EVIDENCE_UPLOAD,
    },
    Role.SECURITY: _EVERYONE
    | {
        Action.AUDIT_READ,
        Action.AUDIT_VERIFY,
        Action.AUDIT_EXPORT,
        Action.AUDIT_CHECKPOINT,
        Action.USER_READ,
        Action.LIFECYCLE_RECORD,
        Action.MODEL_APPROVE,
        Action.INCIDENT_MANAGE,
        Action.GOVERNANCE_MANAGE,
        Action.EVIDENCE_UPLOAD,
    },
    Role.PEOPLE: _EVERYONE
    | {Action.LIFECYCLE_RECORD, Action.TRAINING_RECORD, Action.LEARNING_READ, Action.EVIDENCE_UPLOAD},
    Role.REVIEWER: _EVERYONE | {Action.REVIEW_DECIDE},
    Role.AUDITOR: _EVERYONE
    | {Action.AUDIT_READ, Action.AUDIT_VERIFY, Action.AUDIT_EXPORT, Action.USER_READ},
}


@dataclass(frozen=True)
class Grant:
    """A role held by a user, for every use case (``use_case=None``) or for one."""

    role: Role
    use_case: str | None = None


def parse_role(value: str) -> Role:
    """The role named *value*, or a ``ValueError`` that lists the valid names."""
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}; use one of: {names}") from None


def allowed(grants: Iterable[Grant], action: Action, use_case: str | None = None) -> bool:
    """Whether any grant permits *action* (on *use_case*, when the action is scoped).

    A grant scoped to a use case counts only for scoped actions, on that use case or
    on program-wide pages (``use_case=None``, which then show only what the grant
    covers); unscoped actions (managing users, the audit log) need a global grant.
    """
    for grant in grants:
        if action not in ROLE_ACTIONS[grant.role]:
            continue
        if grant.use_case is None:
            return True
        if action in SCOPED_ACTIONS and use_case in (None, grant.use_case):
            return True
    return False
