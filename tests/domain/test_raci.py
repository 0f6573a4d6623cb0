"""The stakeholder map: one Accountable per phase, the people joined to their roles."""

from __future__ import annotations

import pytest

from paceline.domain.raci import DEFAULT_RACI, PROGRAM_ROLES, RACI, stakeholder_map, validate_raci
from paceline.domain.roles import Role
from paceline.domain.usecases import Phase
from paceline.errors import ValidationError


def test_the_default_has_one_accountable_and_a_responsible_per_phase() -> None:
    assert validate_raci(DEFAULT_RACI) is DEFAULT_RACI
    for phase in Phase:
        letters = list(DEFAULT_RACI[phase].values())
        assert letters.count(RACI.ACCOUNTABLE) == 1, phase
        assert RACI.RESPONSIBLE in letters, phase
        assert set(DEFAULT_RACI[phase]) == set(PROGRAM_ROLES)
    assert Role.ADMIN not in PROGRAM_ROLES and Role.AUDITOR not in PROGRAM_ROLES


def test_the_framework_s_role_descriptions() -> None:
    assess = DEFAULT_RACI[Phase.ASSESS]
    assert (
        assess[Role.BUSINESS_OWNER] is RACI.ACCOUNTABLE and assess[Role.PROGRAM_MANAGER] is RACI.RESPONSIBLE
    )
    assert DEFAULT_RACI[Phase.ENABLE][Role.PEOPLE] is RACI.RESPONSIBLE  # HR drives training
    assert (
        DEFAULT_RACI[Phase.INTEGRATE][Role.ML_ENGINEER] is RACI.ACCOUNTABLE
    )  # deploys, monitors, rolls back


def test_bad_matrices_are_refused_naming_the_phase() -> None:
    two = {p: dict(row) for p, row in DEFAULT_RACI.items()}
    two[Phase.PILOT][Role.PROGRAM_MANAGER] = RACI.ACCOUNTABLE
    with pytest.raises(ValidationError, match=r"raci\.pilot: 2 Accountable"):
        validate_raci(two)
    none = {p: dict(row) for p, row in DEFAULT_RACI.items()}
    none[Phase.SCALE][Role.PROGRAM_MANAGER] = RACI.CONSULTED
    with pytest.raises(ValidationError, match=r"raci\.scale: 0 Accountable \(nobody\)"):
        validate_raci(none)
    idle = {p: dict(row) for p, row in DEFAULT_RACI.items()}
    idle[Phase.ENABLE][Role.PEOPLE] = RACI.INFORMED
    with pytest.raises(ValidationError, match="nobody is Responsible"):
        validate_raci(idle)
    missing = {p: row for p, row in DEFAULT_RACI.items() if p is not Phase.SCALE}
    with pytest.raises(ValidationError, match=r"raci\.scale"):
        validate_raci(missing)


def test_stakeholder_map_joins_people_to_roles() -> None:
    rows = stakeholder_map({Role.BUSINESS_OWNER: ["alice"], "people": ["hr-bob", " "], Role.ADMIN: ["root"]})
    assert len(rows) == len(Phase) * len(PROGRAM_ROLES)
    first = rows[0]
    assert first == {
        "phase": 1,
        "phase_name": "assess",
        "phase_title": "Assess needs and map opportunities",
        "role": "business-owner",
        "raci": "A",
        "raci_name": "accountable",
        "people": ["alice"],
        "unstaffed": False,
    }
    enable_people = next(r for r in rows if r["phase"] == 4 and r["role"] == "people")
    assert enable_people["people"] == ["hr-bob"] and enable_people["raci"] == "R"
    assert {r["role"] for r in rows} == {r.value for r in PROGRAM_ROLES}  # admin ignored
    unstaffed = {(r["phase"], r["role"]) for r in rows if r["unstaffed"]}
    assert (1, "program-manager") in unstaffed and (1, "business-owner") not in unstaffed
    assert all(not r["people"] for r in stakeholder_map(None))


def test_unknown_role_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="hr"):
        stakeholder_map({"hr": ["bob"]})
