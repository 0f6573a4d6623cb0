"""Pilot records on SQLite and PostgreSQL: created by the right roles, audited, listed by scope."""

from __future__ import annotations

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal
from paceline.services.pilots import spec_from_dict
from tests.domain.test_pilots import GOOD

OWNER = Principal("bo", (Grant(Role.BUSINESS_OWNER, "claims-triage"),))
PM = Principal("pm", (Grant(Role.PROGRAM_MANAGER),))


def test_create_read_list_and_audit(workspace: Workspace) -> None:
    with workspace.pilots(OWNER) as pilots:
        created = pilots.create(OWNER, GOOD)
    assert created.status == "planned" and created.created_by == "user:bo"
    with workspace.pilots(readonly=True) as pilots:
        assert pilots.get(PM, "claims-pilot").spec == GOOD
        assert [p.spec.name for p in pilots.list(PM)] == ["claims-pilot"]
        other = Principal("bo2", (Grant(Role.BUSINESS_OWNER, "clinical-documentation"),))
        assert pilots.list(other) == []
        with pytest.raises(PermissionDenied):
            pilots.get(other, "claims-pilot")
    entries = workspace.audit_entries()
    assert entries[0]["entity"] == "pilots" and entries[0]["actor"] == "user:bo"
    assert workspace.verify_audit().ok


def test_who_may_create(workspace: Workspace) -> None:
    for who in (
        Principal("rita", (Grant(Role.REVIEWER),)),
        Principal("bo2", (Grant(Role.BUSINESS_OWNER, "clinical-documentation"),)),
    ):
        with pytest.raises(PermissionDenied), workspace.pilots(who) as pilots:
            pilots.create(who, GOOD)
    with workspace.pilots(PM) as pilots:
        pilots.create(PM, GOOD)
    with pytest.raises(Conflict), workspace.pilots(PM) as pilots:
        pilots.create(PM, GOOD)
    with pytest.raises(NotFound), workspace.pilots(readonly=True) as pilots:
        pilots.get(PM, "nope")


def test_spec_from_json_names_missing_and_bad_fields() -> None:
    doc = GOOD.to_dict()
    assert spec_from_dict(doc) == GOOD
    missing = {k: v for k, v in doc.items() if k != "use_case"}
    with pytest.raises(ValidationError, match="use_case is required"):
        spec_from_dict(missing)
    with pytest.raises(ValidationError, match="start '2026-02-30' is not a date"):
        spec_from_dict({**doc, "start": "2026-02-30"})
    with pytest.raises(ValidationError, match="design 'ab' is not one of"):
        spec_from_dict({**doc, "design": "ab"})
