"""The demo's three workflows: models trained on the firm, payloads, rule checks, cases end to end."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from paceline.bootstrap import Workspace
from paceline.demo.firm import generate_firm
from paceline.demo.firm.calendar import build_calendar
from paceline.demo.firm.maintenance import sensor_readings
from paceline.demo.firm.rng import stream
from paceline.demo.params import FirmParams
from paceline.demo.runtime import run_recent_months
from paceline.demo.workflow_models import (
    EVERY,
    FAILURE_MODES,
    SPECS,
    WEEKS,
    History,
    Trained,
    demo_history,
    failure_mode,
    load_model,
    matrix,
    model_path,
    save,
    train_all,
    training_tables,
)
from paceline.demo.workflows import WORKFLOWS, ClaimsTriage, PredictiveMaintenance
from paceline.errors import UsageError
from paceline.runtime.engine import Runtime
from paceline.runtime.labels import LabelStore
from paceline.runtime.registry import Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker

SEED = 7


@pytest.fixture(scope="session")
def history() -> dict[str, History]:
    tables, params = training_tables(SEED)
    return demo_history(tables, params, SEED, weeks=2, cases=30)


@pytest.fixture(scope="session")
def trained(history: dict[str, History]) -> dict[str, Trained]:
    return train_all(history, SEED)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, trained: dict[str, Trained]) -> Path:
    folder = tmp_path_factory.mktemp("models")
    for model in trained.values():
        save(model, folder)
    return folder


@pytest.fixture
def rt(sqlite_workspace: Workspace, models_dir: Path) -> Iterator[Runtime]:
    registry = Registry()
    for cls in WORKFLOWS:
        registry.register(cls(models_dir))
    yield Runtime(sqlite_workspace.store, registry)


def drain(rt: Runtime) -> None:
    Worker(rt, "test", 1, batch=20).run(until_idle=True)


def run_one(rt: Runtime, workflow: str, payload: dict[str, Any], external_id: str = "x-1") -> dict[str, Any]:
    case, created = rt.start(workflow, external_id, payload, "cli:op")
    assert created
    drain(rt)
    return rt.case(case["id"])


def journal(rt: Runtime, case_id: str, step: str) -> dict[str, Any]:
    from paceline.storage.case_repo import CaseRepository

    with rt.store.read() as session:
        return dict(CaseRepository(session).journal(case_id)[step].output)


# --- models ------------------------------------------------------------------------------------
def test_models_train_deterministically_and_usefully(
    history: dict[str, History], trained: dict[str, Trained]
) -> None:
    again = train_all(history, SEED)
    for name, model in trained.items():
        spec, h = SPECS[name], history[name]
        x = matrix(spec, h.payloads, model.card.features)
        assert np.array_equal(model.estimator.predict_proba(x), again[name].estimator.predict_proba(x))
        assert model.card == again[name].card
        assert model.card.holdout_accuracy > 0.9  # the firm's rules are learnable
        assert set(model.card.classes) <= set(spec.classes)
        assert model.card.trained_until and model.card.rows == int(len(h.labels) * 0.8)
    assert {m.card.model for m in trained.values()} == {"claims-router", "scribe-coder", "failure-risk"}


def test_history_is_split_in_time_and_bounded(history: dict[str, History]) -> None:
    for name, h in history.items():
        assert 0 < len(h.cases) <= 30 and len(h.payloads) == len(h.labels) and h.reviewers
        assert all(c.at.isoformat() > h.until for c in h.cases)  # cases come after the training cut-off
        assert len({c.external_id for c in h.cases}) == len(h.cases)
        assert all(c.truth in SPECS[name].classes for c in h.cases)
    failures = [c for c in history["predictive-maintenance"].cases if c.truth != "none"]
    assert 0 < len(failures) <= 15  # failures are over-sampled to at most half of the cases
    assert set(FAILURE_MODES) >= {c.truth for c in failures}
    claims = history["claims-triage"].cases
    assert all(c.reviewer is None or c.reviewer.startswith("emp-") for c in claims)


def test_the_recent_quarter_is_a_share_of_every_week() -> None:
    tables, params = training_tables(SEED)
    history = demo_history(tables, params, SEED)  # the last WEEKS weeks, one in EVERY[workflow]
    week = timedelta(weeks=1)
    for name in ("claims-triage", "clinical-documentation"):
        scored = tables["predictions"].filter(pc.equal(tables["predictions"]["model"], SPECS[name].model))
        times = scored["predicted_at"].to_pylist()
        cutoff = max(times) - WEEKS * week
        recent = sum(t >= cutoff for t in times)
        cases = history[name].cases
        assert len(cases) == -(-recent // EVERY[name])  # one in n, rounded up
        assert {int((c.at - cutoff) / week) for c in cases} == set(range(WEEKS))  # every week has cases
    readings = sensor_readings(build_calendar(params.timeline), params.maintenance, stream(SEED, "sensors"))
    modes = failure_mode(readings)
    recent = readings.at >= readings.at.max() - WEEKS * 7 * 86_400_000_000
    failing, quiet = int((recent & (modes > 0)).sum()), int((recent & (modes == 0)).sum())
    cases = history["predictive-maintenance"].cases
    assert sum(c.truth != "none" for c in cases) == failing > 0  # every failing reading
    assert sum(c.truth == "none" for c in cases) == -(-quiet // EVERY["predictive-maintenance"])
    # a failing reading is the alert of the firm's urgent work order; a quiet one has no task in the files
    orders = [c.record for c in cases if c.truth != "none"]
    assert None not in orders and len(set(orders)) == len(orders)
    assert {c.record for c in cases if c.truth == "none"} == {None}
    task_ids = set(
        tables["task_events"]
        .filter(pc.equal(tables["task_events"]["priority"], "urgent"))["task_id"]
        .to_pylist()
    )
    assert set(orders) <= task_ids
    claims = history["claims-triage"].cases
    assert all(c.record == c.external_id for c in claims)  # a claim replays its task in the files
    assert demo_history(tables, params, SEED, cases=0)["claims-triage"].cases == []  # training only


def test_models_are_saved_with_a_card_and_loaded_for_serving(models_dir: Path) -> None:
    card = json.loads(model_path(models_dir, "claims-triage").with_suffix(".json").read_text())
    assert card["model"] == "claims-router" and card["version"] == "2.0.0" and card["seed"] == SEED
    model = load_model("claims-triage", models_dir)
    call = model.predict(ClaimsTriage().extract(_ctx(ClaimsTriage.example_payload)), "c-1")
    assert call.prediction["queue"] in SPECS["claims-triage"].classes and 0 < call.confidence <= 1
    assert call.attributes["gen_ai.provider.name"] == "scikit-learn"
    with pytest.raises(UsageError, match="variant 'canary'"):
        load_model("claims-triage", models_dir, "canary")
    fallback = load_model("claims-triage", models_dir / "nowhere")  # trained in memory, the same seed
    assert fallback.version == "2.0.0" and fallback.features == model.features


def _ctx(payload: dict[str, Any]) -> Any:
    from paceline.domain.workflow import CaseContext

    return CaseContext("c-1", "x-1", payload)


# --- workflows ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", WORKFLOWS)
def test_each_example_payload_validates_and_the_workflow_describes_itself(cls: type) -> None:
    wf = cls()
    clean = wf.payload_model.model_validate(wf.example_payload).model_dump(mode="json")
    doc = json.loads(json.dumps(wf.describe()))
    assert doc["name"] == wf.name == wf.use_case and doc["example_payload"] == wf.example_payload
    assert set(clean) == set(doc["payload_schema"]["properties"])
    assert set(wf.extract(_ctx(clean))) >= set(SPECS[wf.name].features)


@pytest.mark.parametrize("cls", WORKFLOWS)
def test_a_case_of_each_workflow_runs_end_to_end(rt: Runtime, cls: type) -> None:
    wf = cls()
    case = run_one(rt, wf.name, wf.example_payload)
    if case["status"] == "awaiting_review":
        (item,) = ReviewQueue(rt).items()
        assert item["queue"] == wf.queue and item["shown"]["suggestion"]["rationale"]
        ReviewQueue(rt).decide(item["id"], "emp-0001", "accept", time_spent_ms=40_000)
        drain(rt)
        case = rt.case(case["id"])
    assert case["status"] == "completed" and len(case["steps"]) == 8
    act = journal(rt, case["id"], "act")
    assert act["body"] and act["action_key"]
    suggestion = journal(rt, case["id"], "infer")["suggestion"]
    assert set(suggestion["output"]) == {SPECS[wf.name].label}


def test_claims_rule_checks_force_review(rt: Runtime) -> None:
    base = dict(ClaimsTriage.example_payload)
    big = run_one(rt, "claims-triage", base | {"amount": 40_000.0}, "big")
    missing = run_one(rt, "claims-triage", base | {"policy_number": None, "incident_date": None}, "gap")
    plain = run_one(rt, "claims-triage", base, "plain")
    assert big["status"] == missing["status"] == "awaiting_review"
    hits = {i["shown"]["external_id"]: i["shown"]["rule_hits"] for i in ReviewQueue(rt).items()}
    assert [h["rule"] for h in hits["big"]] == ["amount_limit"]
    assert "40,000.00 is over the 15,000 limit" in hits["big"][0]["message"]
    assert [h["rule"] for h in hits["gap"]] == ["missing_fields"]
    assert "policy_number, incident_date" in hits["gap"][0]["message"]
    assert plain["status"] == "completed"  # confident, no rule: automatic
    assert journal(rt, plain["id"], "rules")["hits"] == []


def test_every_clinical_note_is_reviewed_by_a_clinician(rt: Runtime) -> None:
    case = run_one(
        rt,
        "clinical-documentation",
        {"specialty": "cardiology", "visit_type": "new", "transcript_minutes": 2.0},
    )
    assert case["status"] == "awaiting_review"
    (item,) = ReviewQueue(rt).items()
    assert item["queue"] == "clinicians" and "short_transcript" in {
        h["rule"] for h in item["shown"]["rule_hits"]
    }


def test_maintenance_failures_worn_tools_and_odd_sensors_go_to_a_technician(rt: Runtime) -> None:
    quiet = dict(PredictiveMaintenance.example_payload)
    heat = quiet | {"process_temperature_k": 307.0, "air_temperature_k": 300.0, "rotational_speed_rpm": 1300}
    worn = quiet | {"tool_wear_min": 215}
    odd = quiet | {"air_temperature_k": 350.0, "process_temperature_k": 360.0}
    cases = {
        k: run_one(rt, "predictive-maintenance", p, k)
        for k, p in [("quiet", quiet), ("heat", heat), ("worn", worn), ("odd", odd)]
    }
    assert cases["quiet"]["status"] == "completed"
    assert journal(rt, cases["quiet"]["id"], "act")["body"]["work_order"] is False
    rules = {
        i["shown"]["external_id"]: {h["rule"] for h in i["shown"]["rule_hits"]}
        for i in ReviewQueue(rt).items()
    }
    assert "failure_predicted" in rules["heat"]
    item = next(i for i in ReviewQueue(rt).items() if i["shown"]["external_id"] == "heat")
    assert item["shown"]["suggestion"]["output"] == {"failure_mode": "heat_dissipation"}
    assert "cooling" in item["shown"]["suggestion"]["rationale"][0]
    assert "tool_wear_window" in rules["worn"]
    assert "sensor_range" in rules["odd"]


# --- the demo's recent months through the runtime -------------------------------------------------
def test_the_firms_recent_months_run_through_the_runtime(sqlite_workspace: Workspace) -> None:
    params = FirmParams.sized(people=120, months=6)
    firm = generate_firm(params, SEED)
    summary = run_recent_months(sqlite_workspace, SEED, params, tables=firm.tables, cases=24, leave_open=2)
    assert {m["model"] for m in summary["models"]} == {"claims-router", "scribe-coder", "failure-risk"}
    assert all(m["holdout_accuracy"] > 0.9 and m["case_accuracy"] > 0.8 for m in summary["models"])
    for name in SPECS:
        states = summary["cases"][name]
        assert sum(states.values()) == 24 and states.get("failed", 0) == 0
        assert states.get("awaiting_review", 0) <= 2
        assert model_path(sqlite_workspace.home / "models", name).exists()
    waiting = sum(s.get("awaiting_review", 0) for s in summary["cases"].values())
    assert waiting <= summary["open_reviews"] <= 2 * len(SPECS)  # the newest items stay open (QA ones too)
    assert summary["decisions"]["clinical-documentation"]["accept"] >= 10  # every note reviewed
    rows = LabelStore(sqlite_workspace.store).rows()
    assert {r["reviewer"] for r in rows} <= set(firm.tables["people"].column("person_id").to_pylist())
    assert all(r["decision"] == "accept" or r["reason_code"] for r in rows)
    assert all(
        r["final_output"] is None or set(r["final_output"]) == {SPECS[r["workflow"]].label} for r in rows
    )
    # a replayed task's two suggestion events (shown, decided) share the firm's one id: stored once
    assert summary["events_exported"] > sum(summary["events"].values()) > 0
    tables = sqlite_workspace.table_counts()
    assert {t: n for t, n in tables.items() if n} == summary["events"]  # tasks, predictions, labels, usage
    first, last = (
        sqlite_workspace.warehouse_connection()
        .raw_sql("SELECT min(opened_at), max(completed_at) FROM task_events")
        .fetchone()
    )
    cases = [c for h in demo_history(firm.tables, params, SEED, cases=24).values() for c in h.cases]
    assert min(c.at for c in cases) <= first and last < max(c.at for c in cases) + timedelta(hours=1)
    counts = (
        sqlite_workspace.warehouse_connection()
        .raw_sql("SELECT use_case, count(*) FROM task_events GROUP BY 1 ORDER BY 1")
        .fetchall()
    )
    assert dict(counts) == {
        name: sum(summary["cases"][name].values()) - summary["cases"][name].get("awaiting_review", 0)
        for name in SPECS
    }


def test_replayed_work_is_counted_once_when_the_firms_files_are_loaded(tmp_path: Path) -> None:
    """The firm's files already hold the claims and encounters the runtime replays: after the
    export their tasks and suggestion events are stored once; the runtime adds its model's
    predictions and the labels, and a triage task per maintenance case (no task in the files)."""
    from paceline.demo.run import DATA_DIR, write_tables

    params = FirmParams.sized(people=120, months=6)
    ws = Workspace.init(tmp_path / "ws")
    try:
        for name, path in write_tables(generate_firm(params, SEED), ws.home / DATA_DIR).items():
            ws.ingest(name, path)
        con = ws.warehouse_connection()

        def per_use_case(table: str) -> dict[str, int]:
            return dict(con.raw_sql(f"SELECT use_case, count(*) FROM {table} GROUP BY 1").fetchall())

        def usage_of(tasks: list[str]) -> dict[str, int]:
            listed = ", ".join(f"'{t}'" for t in tasks)
            sql = f"SELECT task_id, count(*) FROM usage_events WHERE task_id IN ({listed}) GROUP BY 1"
            return dict(ws.warehouse_connection().raw_sql(sql).fetchall())

        before, tasks = ws.table_counts(), per_use_case("task_events")
        summary = run_recent_months(ws, SEED, params, cases=24, leave_open=2)  # reads the demo's files
        con = ws.warehouse_connection()
        added = {t: n - before[t] for t, n in ws.table_counts().items() if n != before[t]}
        assert added == summary["events"] and summary["events_exported"] > sum(added.values())
        done = {n: c.get("completed", 0) for n, c in summary["cases"].items()}
        maintenance = "predictive-maintenance"
        on_record = summary["events_on_firm_record"]["task_events"]
        assert added["task_events"] + on_record == sum(done.values())  # each completed case once
        assert per_use_case("task_events") == tasks | {maintenance: tasks[maintenance] + added["task_events"]}
        replayed = [
            c["external_id"]
            for c in Runtime(ws.store, Registry()).cases(limit=10_000)
            if c["workflow"] != maintenance
        ]
        recorded = usage_of(replayed)  # after the export: the firm's suggestion event of each task, once
        firm = pq.read_table(ws.home / DATA_DIR / "usage_events.parquet", columns=["task_id"])
        in_files = Counter(t for t in firm["task_id"].to_pylist() if t in set(replayed))
        assert {t: n for t, n in recorded.items() if t in in_files} == dict(in_files)
        assert added["predictions"] == sum(done.values())  # the runtime model's output, rt-<case id>
        twice = con.raw_sql(
            "SELECT count(*) FROM (SELECT task_id FROM task_events GROUP BY task_id HAVING count(*) > 1)"
        ).fetchone()
        assert twice == (0,)
    finally:
        ws.close()
