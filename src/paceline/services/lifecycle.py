"""The use-case inventory and its lifecycle records, with the permission rules of each.

Business owners edit their own use cases (those they own, or hold a grant scoped to);
program managers and admins edit all; every framework role records the evidence of its
own work (a security reviewer signs the security review, HR enters training records);
auditors and everyone else read. Storage is reached through :class:`LifecycleRepository`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from paceline.domain import ai_act, portfolio
from paceline.domain.evidence import DeliverableState, Requirement, Signoff
from paceline.domain.phases import CHECKPOINTS_BY_KEY, DELIVERABLES_BY_KEY, DeliverableStatus, RequirementKind
from paceline.domain.risks import default_register
from paceline.domain.roles import Action, Role
from paceline.domain.usecases import Phase, UseCase, from_dict, validate
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal
from paceline.services.parsing import parse_choice


class LifecycleRepository(Protocol):
    def get_use_case(self, key: str) -> tuple[UseCase, dict[str, Any]] | None: ...
    def list_use_cases(self) -> list[UseCase]: ...
    def save_use_case(self, uc: UseCase, by: str) -> None: ...
    def set_go_live(self, key: str, day: date | None) -> None: ...
    def deliverables(self, key: str) -> dict[str, DeliverableState]: ...
    def save_deliverable(
        self, key: str, item: str, status: str, owner: str, link: str, note: str, by: str
    ) -> None: ...
    def signoffs(self, key: str) -> dict[str, Signoff]: ...
    def save_signoff(self, key: str, check: str, by: str, role: str, note: str) -> Signoff: ...
    def delete_signoff(self, key: str, check: str) -> bool: ...
    def stakeholders(self, key: str) -> dict[str, tuple[str, ...]]: ...
    def add_stakeholder(self, key: str, role: str, person: str) -> bool: ...
    def remove_stakeholder(self, key: str, role: str, person: str) -> bool: ...
    def add_transition(self, key: str, doc: dict[str, Any], by: str) -> dict[str, Any]: ...
    def transitions(self, key: str) -> list[dict[str, Any]]: ...
    def requirements(self, key: str) -> list[Requirement]: ...
    def save_requirement(self, key: str, req: Requirement) -> Requirement: ...
    def tech_options(self, key: str) -> list[dict[str, Any]]: ...
    def save_tech_option(self, key: str, doc: dict[str, Any]) -> None: ...
    def select_tech_option(self, key: str, name: str) -> bool: ...
    def reviews(self, key: str) -> list[dict[str, Any]]: ...
    def schedule_review(self, key: str, kind: str, due: date) -> None: ...
    def complete_review(self, key: str, kind: str, doc: dict[str, Any], by: str) -> bool: ...
    def risks(self, key: str) -> list[dict[str, Any]]: ...
    def save_risk(self, key: str, doc: dict[str, Any], residual_score: int) -> None: ...
    def has_training_record(self, record_id: str) -> bool: ...
    def add_training_record(self, doc: dict[str, Any]) -> None: ...
    def training_records(self, use_case: str | None = None) -> list[dict[str, Any]]: ...
    def add_ops_figure(self, key: str, doc: dict[str, Any], by: str) -> None: ...
    def ops_figures(self, key: str) -> list[dict[str, Any]]: ...


MANAGERS = frozenset({Role.ADMIN, Role.PROGRAM_MANAGER})


def signing_role(by: Principal, key: str, roles: Sequence[Role]) -> Role | None:
    """The role *by* signs a checkpoint of use case *key* with: one of *roles*, else admin, else None."""
    held = [g.role for g in by.grants if g.use_case in (None, key)]
    fitting = [r for r in held if r in roles] or [r for r in held if r is Role.ADMIN]
    return fitting[0] if fitting else None


@dataclass(frozen=True)
class UseCaseView:
    """A stored use case with its bookkeeping (who created it, when it went live)."""

    use_case: UseCase
    go_live: date | None
    created_by: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        tier = ai_act.classify(self.use_case.ai_act)
        return {
            **self.use_case.to_dict(),
            "go_live": self.go_live.isoformat() if self.go_live else None,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "ai_act_tier": tier.tier.value,
            "ai_act_rule": tier.rule,
        }


def _checked(uc: UseCase) -> UseCase:
    """Validate the record, its questionnaire keys included."""
    ai_act.validate_answers(uc.ai_act)
    return validate(uc, portfolio.READINESS_KEYS, portfolio.FEASIBILITY_KEYS)


class LifecycleService:
    """Reads and writes the lifecycle records; every write is permission-checked and audited."""

    def __init__(self, repo: LifecycleRepository) -> None:
        self.repo = repo

    # --- permissions -------------------------------------------------------------
    @staticmethod
    def may_edit(by: Principal, uc: UseCase) -> bool:
        """Managers edit every use case; a business owner the ones they own or hold a grant on."""
        if not by.can(Action.USECASE_MANAGE, uc.key):
            return False
        if any(g.role in MANAGERS and g.use_case in (None, uc.key) for g in by.grants):
            return True
        return uc.owner == by.login or any(g.use_case == uc.key for g in by.grants)

    def _require_edit(self, by: Principal, uc: UseCase) -> None:
        if not self.may_edit(by, uc):
            raise PermissionDenied(
                f"{by.login} may not edit use case {uc.key!r} (owned by {uc.owner})",
                action=Action.USECASE_MANAGE.value,
                fix="ask its business owner or a program manager",
            )

    # --- the inventory -------------------------------------------------------------
    def view(self, by: Principal, key: str) -> UseCaseView:
        found = self.repo.get_use_case(key)
        if found is None:
            raise NotFound(f"no use case {key!r}", fix="list them with 'paceline usecase list'")
        by.require(Action.READ, key)
        uc, meta = found
        return UseCaseView(uc, meta["go_live"], meta["created_by"], meta["updated_at"])

    def get(self, by: Principal, key: str) -> UseCase:
        return self.view(by, key).use_case

    def list(self, by: Principal) -> list[UseCase]:
        return [uc for uc in self.repo.list_use_cases() if by.can(Action.READ, uc.key)]

    def create(self, by: Principal, doc: dict[str, Any]) -> UseCase:
        """Add a use case to the inventory, with the default risk register and empty deliverables."""
        uc = _checked(from_dict(doc))
        by.require(Action.USECASE_MANAGE, uc.key)
        self._require_edit(by, uc)
        if uc.phase is not Phase.ASSESS:  # entering later skips gates: only for importing a running program
            by.require(Action.GATE_OVERRIDE)
        if self.repo.get_use_case(uc.key) is not None:
            raise Conflict(f"a use case {uc.key!r} exists already", fix="choose another key or edit it")
        self.repo.save_use_case(uc, by.actor)
        for risk in default_register(uc):
            self.repo.save_risk(uc.key, risk.to_dict(), risk.residual_score)
        return uc

    def update(self, by: Principal, key: str, changes: dict[str, Any]) -> UseCase:
        """Change fields of a use case; the phase moves only through gates (see GateService)."""
        current = self.get(by, key)
        self._require_edit(by, current)
        for fixed in ("key", "phase"):
            if fixed in changes and str(changes[fixed]) not in (
                str(getattr(current, fixed)),
                current.phase.slug,
            ):
                how = "the key names the records" if fixed == "key" else "move it through a gate"
                raise ValidationError(f"{fixed} cannot be changed here: {how}", field=fixed, fix=how)
        uc = _checked(
            from_dict({k: v for k, v in changes.items() if k not in ("key", "phase")}, base=current)
        )
        self.repo.save_use_case(uc, by.actor)
        return uc

    # --- stakeholders, deliverables, sign-offs --------------------------------------
    def assign(self, by: Principal, key: str, role: str, person: str) -> None:
        uc = self.get(by, key)
        self._require_edit(by, uc)
        parsed = parse_choice(Role, role, "role")
        if parsed in (Role.ADMIN, Role.AUDITOR):
            raise ValidationError("stakeholders take one of the framework's seven roles", field="role")
        if not person.strip():
            raise ValidationError("name the person", field="person", fix="a login or a name")
        self.repo.add_stakeholder(key, parsed.value, person.strip())

    def unassign(self, by: Principal, key: str, role: str, person: str) -> None:
        self._require_edit(by, self.get(by, key))
        if not self.repo.remove_stakeholder(key, role, person):
            raise NotFound(f"{person} is not a {role} of {key}")

    def set_deliverable(
        self, by: Principal, key: str, item: str, status: str, owner: str = "", link: str = "", note: str = ""
    ) -> None:
        """Record a document deliverable's status (record deliverables follow from the records)."""
        self.get(by, key)
        by.require(Action.LIFECYCLE_RECORD, key)
        spec = DELIVERABLES_BY_KEY.get(item)
        if spec is None:
            raise ValidationError(
                f"no deliverable {item!r}",
                field="deliverable",
                fix=f"use one of: {', '.join(DELIVERABLES_BY_KEY)}",
            )
        if spec.source == "record":
            raise ValidationError(
                f"{spec.title} is derived from Paceline's records, not set by hand",
                field="deliverable",
                fix="record the underlying data (see docs/lifecycle.md)",
            )
        state = parse_choice(DeliverableStatus, status, "status")
        if state is DeliverableStatus.DONE and not link.strip():
            raise ValidationError(
                "a done deliverable needs a link to the document", field="link", fix="add the document's URL"
            )
        self.repo.save_deliverable(key, item, state.value, owner or by.login, link.strip(), note, by.actor)

    def sign_off(self, by: Principal, key: str, check: str, note: str = "") -> Signoff:
        """Sign a change-control checkpoint; only its roles (or an admin) may."""
        self.get(by, key)
        point = CHECKPOINTS_BY_KEY.get(check)
        if point is None:
            raise ValidationError(
                f"no checkpoint {check!r}", field="check", fix=f"use one of: {', '.join(CHECKPOINTS_BY_KEY)}"
            )
        role = signing_role(by, key, point.roles)
        if role is None:
            need = " or ".join(r.value for r in point.roles)
            raise PermissionDenied(
                f"{by.login} may not sign off {point.title}: it needs {need}",
                action="gate.signoff",
                fix=f"ask someone with the {need} role",
            )
        return self.repo.save_signoff(key, check, by.actor, role.value, note.strip())

    def revoke_sign_off(self, by: Principal, key: str, check: str) -> None:
        self.get(by, key)
        by.require(Action.LIFECYCLE_RECORD, key)
        if not self.repo.delete_signoff(key, check):
            raise NotFound(f"{check} is not signed off for {key}")

    # --- architecture requirements and operations figures ----------------------------
    def record_requirement(
        self,
        by: Principal,
        key: str,
        kind: str,
        title: str,
        target: str,
        measured: str = "",
        met: bool = False,
        requirement_id: int = 0,
    ) -> Requirement:
        self.get(by, key)
        by.require(Action.LIFECYCLE_RECORD, key)
        parsed = parse_choice(RequirementKind, kind, "kind")
        if not title.strip() or not target.strip():
            raise ValidationError(
                "a requirement needs a title and a target", field="target", fix="e.g. p95 < 2 s"
            )
        if met and not measured.strip():
            raise ValidationError(
                "say what was measured or verified before marking it met",
                field="measured",
                fix="e.g. p95 1.4 s",
            )
        req = Requirement(
            requirement_id, parsed.value, title.strip(), target.strip(), measured.strip(), met, by.actor
        )
        return self.repo.save_requirement(key, req)

    def record_ops_figure(
        self, by: Principal, key: str, metric: str, value: float, start: date, end: date, source: str
    ) -> None:
        """An operations figure for a period, e.g. uptime 0.998 from the service monitor."""
        self.get(by, key)
        by.require(Action.LIFECYCLE_RECORD, key)
        if metric not in OPS_METRICS:
            raise ValidationError(
                f"no metric {metric!r}", field="metric", fix=f"use one of: {', '.join(OPS_METRICS)}"
            )
        if not 0 <= value <= 1:
            raise ValidationError(
                f"{metric} {value} is not a share", field="value", fix="e.g. 0.998 for 99.8%"
            )
        if end < start:
            raise ValidationError(
                "the period ends before it starts", field="period_end", fix="swap the dates"
            )
        doc = {"metric": metric, "value": value, "period_start": start, "period_end": end, "source": source}
        self.repo.add_ops_figure(key, doc, by.actor)

    def set_go_live(self, by: Principal, key: str, day: date) -> None:
        self._require_edit(by, self.get(by, key))
        self.repo.set_go_live(key, day)


OPS_METRICS = ("uptime",)
