"""The model registry through the workspace, on SQLite and PostgreSQL: registration, approvals
with four eyes, one production version with its recorded demotion, cards, schedules and
reminders, retraining requests, permissions and the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator
from paceline.services.model_registry import VersionIn

UC = "claims-triage"
ENG = Principal("eng", (Grant(Role.ML_ENGINEER, UC),))
OTHER_ENG = Principal("eng2", (Grant(Role.ML_ENGINEER, "clinical-documentation"),))
BO = Principal("bo", (Grant(Role.BUSINESS_OWNER, UC),))
SEC = Principal("sec", (Grant(Role.SECURITY),))
READER = Principal("rev", (Grant(Role.REVIEWER, UC),))
SHA = "0f" * 32
CARD = {
    "purpose": "Route claims to a queue",
    "intended_use": "A suggestion the adjuster accepts or corrects",
    "training_data": "Claims 2025 with the adjusters' routing",
    "evaluation": "Hold-out accuracy 0.86",
    "limitations": "Few commercial claims",
    "owners": ["claims-ml"],
}


def _version(version: str, card: dict[str, Any] | None = None, **extra: Any) -> VersionIn:
    lineage = {"ingest_ids": ["ing-1"], "label_exports": [{"path": "labels.parquet", "sha256": SHA}]}
    return VersionIn(
        version,
        f"models/claims-router-{version}.joblib",
        SHA,
        lineage,
        {"accuracy": 0.86},
        trained_at=datetime(2026, 1, 10, tzinfo=UTC),
        card=card,
        **extra,
    )


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    with workspace.lifecycle() as lc:
        lc.create(operator(), {"key": UC, "title": "Claims triage", "owner": "bo"})
    with workspace.models(ENG) as registry:
        registry.register_model(ENG, "claims-router", UC, "Claims router")
        registry.register_version(ENG, "claims-router", _version("1.0", CARD))
    return workspace


def _promote(ws: Workspace, version: str, to: str, approver: Principal = BO) -> dict[str, Any]:
    with ws.models(ENG) as registry:
        asked = registry.request_stage(ENG, "claims-router", version, to, "canary was clean for two weeks")
    assert asked["status"] == "pending"
    with ws.models(approver) as registry:
        return registry.approve(approver, asked["approval"]["id"], "looked at the evaluation")


def _show(ws: Workspace, who: Principal = READER) -> dict[str, Any]:
    with ws.models(readonly=True) as registry:
        return registry.show(who, "claims-router", date(2026, 2, 1))


def test_promotion_needs_another_persons_approval(ws: Workspace) -> None:
    with ws.models(ENG) as registry:
        asked = registry.request_stage(ENG, "claims-router", "1.0", "production", "first production model")
    request_id = asked["approval"]["id"]
    for who in (ENG, READER):  # the requester may not approve; a reader holds no model.approve
        with pytest.raises(PermissionDenied), ws.models(who) as registry:
            registry.approve(who, request_id)
    with ws.models(BO) as registry:
        done = registry.approve(BO, request_id, "ok")
    assert done["moves"] == [{"version": "1.0", "from": "candidate", "to": "production", "cause": "approved"}]
    doc = _show(ws)
    assert doc["production"] == "1.0"
    last = doc["history"][-1]
    assert (last["requested_by"], last["approved_by"], last["approval_id"]) == (
        "user:eng",
        "user:bo",
        request_id,
    )
    with pytest.raises(Conflict, match="approved already"), ws.models(SEC) as registry:
        registry.approve(SEC, request_id)


def test_a_new_production_version_demotes_the_old_one_on_record(ws: Workspace) -> None:
    _promote(ws, "1.0", "production")
    with ws.models(ENG) as registry:
        registry.register_version(ENG, "claims-router", _version("1.1"))  # inherits 1.0's card
    _promote(ws, "1.1", "canary", approver=SEC)
    result = _promote(ws, "1.1", "production")
    assert [(m["version"], m["to"], m["cause"]) for m in result["moves"]] == [
        ("1.1", "production", "approved"),
        ("1.0", "deprecated", "superseded"),
    ]
    doc = _show(ws)
    assert {v["version"]: v["stage"] for v in doc["versions"]} == {"1.0": "deprecated", "1.1": "production"}
    demotion = doc["history"][-1]
    assert demotion["version"] == "1.0" and demotion["reason"] == "superseded by 1.1 in production"
    with ws.models(ENG) as registry:
        registry.retire(ENG, "claims-router", "1.0", "replaced by 1.1 for a month")
    assert _show(ws)["versions"][0]["stage"] == "retired"


def test_an_incomplete_card_blocks_serving_stages(ws: Workspace) -> None:
    with ws.models(ENG) as registry:
        registry.register_model(ENG, "claims-router-lite", UC)
        registry.register_version(ENG, "claims-router-lite", _version("0.1"))
        with pytest.raises(ValidationError, match="lacks purpose") as info:
            registry.request_stage(ENG, "claims-router-lite", "0.1", "canary", "try it on 5% of claims")
        assert info.value.details["field"] == "card"
        updated = registry.update_card(ENG, "claims-router-lite", "0.1", {"purpose": "Route claims"})
        assert updated["revision"] == 2 and "intended_use" in updated["gaps"]


def test_pending_requests_are_unique_and_go_stale(ws: Workspace) -> None:
    with ws.models(ENG) as registry:
        first = registry.request_stage(ENG, "claims-router", "1.0", "canary", "five percent of claims")
        with pytest.raises(Conflict, match="pending"):
            registry.request_stage(ENG, "claims-router", "1.0", "production", "straight to production")
        registry.retire(ENG, "claims-router", "1.0", "the line of business closed")
    with pytest.raises(Conflict, match="moved to retired"), ws.models(BO) as registry:
        registry.approve(BO, first["approval"]["id"])
    with ws.models(BO) as registry:
        rejected = registry.reject(BO, first["approval"]["id"], "retired meanwhile")
    assert rejected["status"] == "rejected"


def test_permissions_follow_the_models_use_case(ws: Workspace) -> None:
    with pytest.raises(PermissionDenied), ws.models(OTHER_ENG) as registry:
        registry.register_version(OTHER_ENG, "claims-router", _version("9.9"))
    with pytest.raises(PermissionDenied), ws.models(READER) as registry:
        registry.update_card(READER, "claims-router", "1.0", {"purpose": "x"})
    with ws.models(readonly=True) as registry:
        assert [m["name"] for m in registry.list(READER)] == ["claims-router"]
        assert registry.list(OTHER_ENG) == []
        with pytest.raises(PermissionDenied):
            registry.show(OTHER_ENG, "claims-router")


def test_bad_input_names_the_field(ws: Workspace) -> None:
    with ws.models(ENG) as registry:
        with pytest.raises(NotFound, match="no use case"):
            registry.register_model(operator(), "ghost", "not-in-inventory")
        with pytest.raises(Conflict, match="exists already"):
            registry.register_model(ENG, "claims-router", UC)
        with pytest.raises(ValidationError, match="positive class"):
            registry.register_model(ENG, "fraud", UC, task="binary")
        with pytest.raises(Conflict, match="registered already"):
            registry.register_version(ENG, "claims-router", _version("1.0"))
        with pytest.raises(ValidationError) as info:
            registry.register_version(ENG, "claims-router", VersionIn("2.0", "m.joblib", SHA, {}, {}))
        assert info.value.details["field"] == "lineage"
        with pytest.raises(ValidationError) as info:
            registry.register_version(
                ENG, "claims-router", VersionIn("2.0", "m.joblib", "md5:1", {"ingest_ids": ["i"]}, {})
            )
        assert info.value.details["field"] == "artifact_hash"
        with pytest.raises(ValidationError, match="not one of"):
            registry.request_stage(ENG, "claims-router", "1.0", "staging", "no such stage here")
        with pytest.raises(ValidationError, match="say why"):
            registry.request_stage(ENG, "claims-router", "1.0", "retired", "")
        with pytest.raises(NotFound, match="no version"):
            registry.request_stage(ENG, "claims-router", "7.0", "retired", "no such version")


def test_schedule_dates_reminders_and_retraining(ws: Workspace) -> None:
    with ws.models(ENG) as registry:
        registry.set_schedule(ENG, "claims-router", 30, 5)
        registry.set_dates(ENG, "claims-router", "1.0", deprecation=date(2026, 2, 20))
        with pytest.raises(ValidationError, match="before deprecation"):
            registry.set_dates(ENG, "claims-router", "1.0", retirement=date(2026, 2, 1))
        request = registry.request_retraining(
            ENG, "claims-router", "drift on claim amount", "1.0", incident_id=7
        )
    assert (request["status"], request["incident_id"]) == ("open", 7)
    with ws.models(readonly=True) as registry:
        found = registry.reminders(READER, date(2026, 2, 15))
    assert [(r["kind"], r["status"], r["due"]) for r in found] == [
        ("retrain", "overdue", "2026-02-09"),
        ("deprecate", "due", "2026-02-20"),
    ]
    with ws.models(ENG) as registry:
        registry.register_version(ENG, "claims-router", _version("1.1"))
    assert _show(ws)["retraining_requests"][0]["status"] == "done"


def test_every_change_is_in_the_audit_chain(ws: Workspace) -> None:
    _promote(ws, "1.0", "production")
    entities = {e["entity"] for e in ws.audit_entries(limit=200)}
    assert {"models", "model_versions", "model_stage_changes", "model_approvals", "model_cards"} <= entities
    assert ws.verify_audit().ok
