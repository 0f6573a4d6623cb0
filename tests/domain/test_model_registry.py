"""The registry's rules: stage moves, four eyes, one production version, cards, lineage, reminders."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paceline.domain import model_registry as reg
from paceline.domain.model_registry import Cause, ReminderKind, Schedule, Stage, VersionDates
from paceline.errors import ValidationError

SHA = "ab" * 32


def test_allowed_and_refused_moves() -> None:
    reg.check_move("1.0", Stage.CANDIDATE, Stage.CANARY)
    reg.check_move("1.0", Stage.DEPRECATED, Stage.PRODUCTION)  # a rollback, approved like a promotion
    with pytest.raises(ValidationError, match="cannot move to candidate") as info:
        reg.check_move("1.0", Stage.PRODUCTION, Stage.CANDIDATE)
    assert info.value.details["fix"] == "from production it can move to: deprecated"
    with pytest.raises(ValidationError) as final:
        reg.check_move("1.0", Stage.RETIRED, Stage.PRODUCTION)
    assert "retired is final" in final.value.details["fix"]


def test_only_serving_stages_need_an_approval() -> None:
    assert [s for s in Stage if reg.needs_approval(s)] == [Stage.CANARY, Stage.PRODUCTION]


def test_four_eyes_compares_people_not_channels() -> None:
    assert reg.approval_problem("user:alice", "user:bob") is None
    assert "four eyes" in (reg.approval_problem("user:alice", "cli:alice") or "")
    assert reg.login_of("cli:operator") == "operator"


def test_promotion_demotes_the_production_version() -> None:
    stages = {"1.0": Stage.DEPRECATED, "1.1": Stage.PRODUCTION, "2.0": Stage.CANARY}
    moves = reg.plan_moves(stages, "2.0", Stage.PRODUCTION, Cause.APPROVED)
    assert moves == [
        reg.Move("2.0", Stage.CANARY, Stage.PRODUCTION, Cause.APPROVED),
        reg.Move("1.1", Stage.PRODUCTION, Stage.DEPRECATED, Cause.SUPERSEDED),
    ]
    assert reg.plan_moves(stages, "2.0", Stage.CANDIDATE, Cause.DIRECT) == [
        reg.Move("2.0", Stage.CANARY, Stage.CANDIDATE, Cause.DIRECT)
    ]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(Stage))), max_size=40))
def test_never_two_production_versions(steps: list[tuple[int, Stage]]) -> None:
    stages = {f"v{i}": Stage.CANDIDATE for i in range(4)}
    for index, target in steps:
        version = f"v{index}"
        if target not in reg.ALLOWED_MOVES[stages[version]]:
            with pytest.raises(ValidationError):
                reg.plan_moves(stages, version, target, Cause.DIRECT)
            continue
        for move in reg.plan_moves(stages, version, target, Cause.DIRECT):
            assert stages[move.version] is move.from_stage
            stages[move.version] = move.to_stage
        assert sum(s is Stage.PRODUCTION for s in stages.values()) <= 1


def test_names_and_versions_are_checked() -> None:
    assert reg.check_name("claims-router") == "claims-router"
    assert reg.check_version("2.1.0+build.7") == "2.1.0+build.7"
    for bad in ("", "-x", "a b", "x" * 121):
        with pytest.raises(ValidationError) as info:
            reg.check_name(bad)
        assert info.value.details["field"] == "model"
    with pytest.raises(ValidationError, match="version"):
        reg.check_version("2.0/evil")
    assert reg.check_sha256(SHA.upper(), "artifact_hash") == SHA
    with pytest.raises(ValidationError, match="not a SHA-256"):
        reg.check_sha256("abc", "artifact_hash")


def test_card_fields_merge_and_report_gaps() -> None:
    card = reg.parse_card({"purpose": "  Route claims ", "owners": "claims-ml"})
    assert card.purpose == "Route claims" and card.owners == ("claims-ml",)
    assert reg.card_gaps(card) == ["intended_use", "training_data", "evaluation", "limitations"]
    full = reg.parse_card(
        {"intended_use": "u", "training_data": "t", "evaluation": "e", "limitations": "l"}, base=card
    )
    assert reg.card_gaps(full) == [] and full.purpose == "Route claims"
    assert full.to_dict()["owners"] == ["claims-ml"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"purpos": "typo"}, "card.purpos"),
        ({"purpose": 3}, "card.purpose"),
        ({"owners": [1, 2]}, "card.owners"),
        ({"limitations": "x" * 20_001}, "card.limitations"),
    ],
)
def test_bad_card_fields_are_named(doc: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        reg.parse_card(doc)
    assert info.value.details["field"] == field


def test_lineage_needs_a_source_and_valid_hashes() -> None:
    lineage = reg.parse_lineage(
        {"ingest_ids": ["ing-1"], "label_exports": [{"path": "labels.parquet", "sha256": SHA}]}
    )
    assert lineage.to_dict()["label_exports"] == [{"path": "labels.parquet", "sha256": SHA}]
    with pytest.raises(ValidationError, match="name the data"):
        reg.parse_lineage({"note": "trust me"})
    with pytest.raises(ValidationError) as info:
        reg.parse_lineage({"files": [{"path": "train.csv", "sha256": "nope"}]})
    assert info.value.details["field"] == "lineage.files[0].sha256"
    with pytest.raises(ValidationError, match="unknown lineage field"):
        reg.parse_lineage({"ingest_ids": ["x"], "dataset": "y"})


def test_metrics_must_be_finite_numbers() -> None:
    assert reg.parse_metrics({"f1": 0.9, "rows": 1200}) == {"f1": 0.9, "rows": 1200.0}
    for bad in ({"f1": "high"}, {"auc": float("nan")}, {"ok": True}):
        with pytest.raises(ValidationError):
            reg.parse_metrics(bad)


def test_schedule_bounds() -> None:
    assert Schedule(90, 7).every_days == 90
    with pytest.raises(ValidationError, match="out of range"):
        Schedule(0)
    with pytest.raises(ValidationError) as info:
        Schedule(10, 10)
    assert info.value.details["field"] == "remind_days_before"


def test_reminders_due_overdue_and_quiet() -> None:
    versions = [
        VersionDates("1.0", Stage.DEPRECATED, date(2025, 1, 1), retirement_date=date(2026, 3, 1)),
        VersionDates("1.1", Stage.PRODUCTION, date(2025, 6, 1), deprecation_date=date(2026, 3, 20)),
        VersionDates("2.0", Stage.CANDIDATE, date(2025, 12, 1)),
    ]
    schedule = Schedule(90, 14)  # the newest live training (2025-12-01) is due 2026-03-01
    found = reg.reminders("claims-router", versions, schedule, date(2026, 3, 15), ahead=7)
    assert [(r.kind, r.version, r.status, r.days) for r in found] == [
        (ReminderKind.RETIRE, "1.0", "overdue", -14),
        (ReminderKind.RETRAIN, "2.0", "overdue", -14),
        (ReminderKind.DEPRECATE, "1.1", "due", 5),
    ]
    assert "14 days overdue" in found[0].message
    assert reg.reminders("claims-router", versions, schedule, date(2026, 1, 1)) == []
    retired = [VersionDates("1.0", Stage.RETIRED, date(2025, 1, 1), retirement_date=date(2026, 3, 1))]
    assert reg.reminders("m", retired, schedule, date(2026, 6, 1)) == []


def test_production_version() -> None:
    assert reg.production_version([("1", Stage.DEPRECATED), ("2", Stage.PRODUCTION)]) == "2"
    assert reg.production_version([]) is None
