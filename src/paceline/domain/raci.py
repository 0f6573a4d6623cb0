"""The stakeholder map: who is Responsible, Accountable, Consulted and Informed in each phase.

Phase 1 of the framework asks for a stakeholder map, and its playbook for "a
cross-functional team with clear roles". The default matrix below turns the framework's
role descriptions into letters per phase; a use case then names the people who hold
each role, and :func:`stakeholder_map` joins the two. The matrix is data so one rule
(:func:`validate_raci`: exactly one Accountable per phase, at least one Responsible) can
check the default and any firm's own variant alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from paceline.domain.roles import Role
from paceline.domain.usecases import Phase
from paceline.errors import ValidationError


class RACI(StrEnum):
    """The four letters (the value is the letter)."""

    RESPONSIBLE = "R"  # does the work
    ACCOUNTABLE = "A"  # answers for the outcome and signs off; exactly one per phase
    CONSULTED = "C"  # asked before decisions
    INFORMED = "I"  # told after decisions

    @property
    def word(self) -> str:
        return self.name.lower()


# The framework's seven roles; admin and auditor run Paceline itself, not the program.
PROGRAM_ROLES: tuple[Role, ...] = (
    Role.BUSINESS_OWNER,
    Role.PROGRAM_MANAGER,
    Role.DATA_ENGINEER,
    Role.ML_ENGINEER,
    Role.SECURITY,
    Role.PEOPLE,
    Role.REVIEWER,
)

_R, _A, _C, _I = RACI.RESPONSIBLE, RACI.ACCOUNTABLE, RACI.CONSULTED, RACI.INFORMED
_BO, _PM, _DE, _ML = Role.BUSINESS_OWNER, Role.PROGRAM_MANAGER, Role.DATA_ENGINEER, Role.ML_ENGINEER
_SEC, _PPL, _REV = Role.SECURITY, Role.PEOPLE, Role.REVIEWER

DEFAULT_RACI: dict[Phase, dict[Role, RACI]] = {
    # The business owner answers for which use cases are worth doing; the program manager
    # (CoE) runs the assessment; data, security and HR input feeds the readiness, risk and
    # adoption-feasibility scores.
    Phase.ASSESS: {_BO: _A, _PM: _R, _DE: _C, _ML: _I, _SEC: _C, _PPL: _C, _REV: _I},
    # The business owner set the success criteria and owns the verdict; the CoE orchestrates
    # the pilot, engineers build the datasets and the pilot model, end users validate outputs.
    Phase.PILOT: {_BO: _A, _PM: _R, _DE: _R, _ML: _R, _SEC: _C, _PPL: _C, _REV: _R},
    # The CoE standardises the platform choice; ML engineering and security assess the
    # vendors (APIs, data controls, explainability); the business owner weighs the cost model.
    Phase.SELECT: {_BO: _C, _PM: _A, _DE: _C, _ML: _R, _SEC: _R, _PPL: _I, _REV: _I},
    # People & HR drives training and change; the business owner answers for adoption in
    # their area; the CoE and the end users (champions) shape the curriculum.
    Phase.ENABLE: {_BO: _A, _PM: _C, _DE: _I, _ML: _I, _SEC: _I, _PPL: _R, _REV: _C},
    # ML engineering answers for the production deployment, monitoring and rollback; data
    # engineering builds the pipelines; security integrates access control and compliance.
    Phase.INTEGRATE: {_BO: _C, _PM: _C, _DE: _R, _ML: _A, _SEC: _R, _PPL: _I, _REV: _C},
    # The CoE owns governance, playbooks and ROI tracking; ML engineering runs the model
    # lifecycle (retraining, deprecation); security checks governance adherence.
    Phase.SCALE: {_BO: _C, _PM: _A, _DE: _C, _ML: _R, _SEC: _R, _PPL: _C, _REV: _C},
}


def _bad(phase: Phase, message: str, fix: str) -> ValidationError:
    name = f"raci.{phase.slug}"
    return ValidationError(f"{name}: {message}", field=name, value=int(phase), fix=fix)


def validate_raci(matrix: Mapping[Phase, Mapping[Role, RACI]]) -> Mapping[Phase, Mapping[Role, RACI]]:
    """Return *matrix* if every phase gives every program role a letter, with exactly one
    Accountable and at least one Responsible; else a :class:`ValidationError` naming the phase.

    One Accountable, because a decision two people answer for is answered for by nobody.
    """
    for phase in Phase:
        if phase not in matrix:
            raise _bad(phase, "the phase has no assignments", "give every phase a row")
        row = matrix[phase]
        missing = [r.value for r in PROGRAM_ROLES if r not in row]
        if missing:
            raise _bad(phase, f"no letter for {', '.join(missing)}", "give every program role R, A, C or I")
        extra = [str(r) for r in row if r not in PROGRAM_ROLES]
        if extra:
            raise _bad(phase, f"{', '.join(extra)} is not a program role", "use the seven program roles")
        accountable = [r.value for r, letter in row.items() if letter == RACI.ACCOUNTABLE]
        if len(accountable) != 1:
            held = ", ".join(accountable) or "nobody"
            raise _bad(phase, f"{len(accountable)} Accountable ({held})", "exactly one role is Accountable")
        if not any(letter == RACI.RESPONSIBLE for letter in row.values()):
            raise _bad(phase, "nobody is Responsible", "make at least one role Responsible")
    return matrix


Assignments = Mapping[Role, Sequence[str]] | Mapping[str, Sequence[str]]


def _people(assignments: Assignments | None) -> dict[Role, list[str]]:
    """Assignments keyed by role; unknown role names are refused, admin and auditor ignored."""
    out: dict[Role, list[str]] = {}
    items: list[tuple[str, Sequence[str]]] = list((assignments or {}).items())
    for key, names in items:
        try:
            role = Role(key)
        except ValueError:
            fix = f"use one of: {', '.join(r.value for r in PROGRAM_ROLES)}"
            raise ValidationError(f"unknown role {key!r}: {fix}", field="role", value=key, fix=fix) from None
        if role in PROGRAM_ROLES:
            out[role] = [n.strip() for n in names if n.strip()]
    return out


def stakeholder_map(
    assignments: Assignments | None = None,
    matrix: Mapping[Phase, Mapping[Role, RACI]] | None = None,
) -> list[dict[str, Any]]:
    """One row per phase and program role: the letter and the people holding the role.

    *assignments* names, for one use case, who holds each role (logins or names, as the
    caller keeps them). *matrix* defaults to :data:`DEFAULT_RACI`. A row whose letter is
    R or A and that names nobody is marked ``unstaffed``: someone must do or answer for
    that phase's work.
    """
    rows = validate_raci(matrix if matrix is not None else DEFAULT_RACI)
    people = _people(assignments)
    out: list[dict[str, Any]] = []
    for phase in Phase:
        for role in PROGRAM_ROLES:
            letter = rows[phase][role]
            named = people.get(role, [])
            out.append(
                {
                    "phase": int(phase),
                    "phase_name": phase.slug,
                    "phase_title": phase.title,
                    "role": role.value,
                    "raci": letter.value,
                    "raci_name": letter.word,
                    "people": list(named),
                    "unstaffed": letter in (RACI.RESPONSIBLE, RACI.ACCOUNTABLE) and not named,
                }
            )
    return out
