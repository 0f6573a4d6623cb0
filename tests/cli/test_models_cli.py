"""``paceline model ...`` and the ``monitor performance`` command on a real workspace."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from paceline.services.access import operator

UC = "predictive-maintenance"
CARD = {
    "purpose": "Flag machines likely to fail within a shift",
    "intended_use": "A technician checks flagged machines first",
    "training_data": "Sensor readings 2025 with the maintenance log as labels",
    "evaluation": "Hold-out F1 0.71",
    "limitations": "One plant; new machine types unseen",
    "owners": ["maintenance-ml"],
}


def _data(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 400
    p = rng.random(n)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    at = pa.array(
        [start + timedelta(hours=int(h)) for h in rng.integers(0, 14 * 24, n)], pa.timestamp("us", tz="UTC")
    )
    ids = [f"p{i}" for i in range(n)]
    preds = pa.table(
        {
            "prediction_id": ids,
            "model": ["failure-risk"] * n,
            "model_version": ["1.0"] * n,
            "use_case": [UC] * n,
            "predicted_at": at,
            "prediction": np.where(p >= 0.5, "failure", "ok"),
            "score": np.maximum(p, 1 - p),
        }
    )
    labels = pa.table(
        {
            "prediction_id": ids,
            "label": np.where(rng.random(n) < p, "failure", "ok"),
            "labeled_at": at,
            "source": ["audit"] * n,
        }
    )
    pq.write_table(preds, folder / "predictions.parquet")
    pq.write_table(labels, folder / "labels.parquet")
    return folder / "predictions.parquet", folder / "labels.parquet"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models-cli")
    ws = Workspace.init(folder / "ws")
    preds, labels = _data(folder)
    ws.ingest("predictions", preds)
    ws.ingest("labels", labels)
    with ws.lifecycle() as lc:
        lc.create(operator(), {"key": UC, "title": "Predictive maintenance", "owner": "bo"})
    ws.close()
    (folder / "card.json").write_text(json.dumps(CARD), encoding="utf-8")
    (folder / "model.joblib").write_bytes(b"not really a model, but bytes to hash")
    return folder / "ws"


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PACELINE_HOME": str(home), "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def run_json(home: Path, *args: str, code: int = 0) -> Any:
    got, out, err = run(home, *args, "--format", "json")
    assert got == code, err
    return json.loads(out)


def test_register_promote_approve_and_show(home: Path) -> None:
    folder = home.parent
    code, out, err = run(
        home,
        "model",
        "register",
        "failure-risk",
        "--use-case",
        UC,
        "--task",
        "binary",
        "--positive",
        "failure",
    )
    assert code == 0 and "registered model failure-risk (binary)" in out, err
    doc = run_json(
        home,
        "model",
        "register",
        "failure-risk",
        "1.0",
        "--artifact",
        str(folder / "model.joblib"),
        "--data-file",
        str(folder / "predictions.parquet"),
        "--label-export",
        str(folder / "labels.parquet"),
        "--metric",
        "f1=0.71",
        "--card",
        str(folder / "card.json"),
        "--as",
        "alice",
    )
    assert doc["stage"] == "candidate" and doc["metrics"] == {"f1": 0.71}
    assert doc["artifact_hash"] == hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest()
    assert (
        doc["lineage"]["label_exports"][0]["sha256"]
        == hashlib.sha256((folder / "labels.parquet").read_bytes()).hexdigest()
    )
    asked = run_json(
        home,
        "model",
        "promote",
        "failure-risk",
        "1.0",
        "--to",
        "production",
        "--reason",
        "first release",
        "--as",
        "alice",
    )
    request = asked["approval"]["id"]
    code, _, err = run(home, "model", "approve", str(request), "--as", "alice")
    assert code == 2 and "four eyes" in err and "Fix:" in err
    code, out, _ = run(home, "model", "approve", str(request), "--as", "bob")
    assert code == 0 and "candidate → production (approved)" in out
    shown = run_json(home, "model", "show", "failure-risk")
    assert shown["production"] == "1.0" and shown["history"][-1]["approved_by"] == "cli:bob"
    code, out, _ = run(home, "model", "list")
    assert code == 0 and "failure-risk" in out and "1 production" in out
    code, out, _ = run(home, "model", "show", "failure-risk")
    assert code == 0 and "Stage history" in out and "first release" in out


def test_cards_schedules_reminders_and_retraining(home: Path) -> None:
    code, out, _ = run(home, "model", "register", "vibration", "--use-case", UC)
    assert code == 0
    run_json(
        home,
        "model",
        "register",
        "vibration",
        "0.1",
        "--artifact",
        "s3://m/v.joblib",
        "--artifact-hash",
        "c" * 64,
        "--ingest-id",
        "ing-7",
    )
    card = run_json(
        home,
        "model",
        "card",
        "vibration",
        "0.1",
        "--set",
        "purpose=Spot bearing wear",
        "--set",
        'owners=["ml"]',
    )
    assert card["revision"] == 2 and card["gaps"] == [
        "intended_use",
        "training_data",
        "evaluation",
        "limitations",
    ]
    code, _, err = run(
        home, "model", "promote", "vibration", "0.1", "--to", "canary", "--reason", "try it on one line"
    )
    assert code == 2 and "lacks intended_use" in err
    assert run_json(home, "model", "schedule", "vibration", "--every", "30")["every_days"] == 30
    planned = run_json(
        home, "model", "deprecate", "vibration", "0.1", "--reason", "planned", "--on", "2099-01-01"
    )
    assert planned["deprecation_date"] == "2099-01-01"
    reminders = run_json(home, "model", "reminders", "--model", "vibration", "--today", "2099-01-01", code=1)
    assert {r["kind"] for r in reminders["reminders"]} == {"retrain", "deprecate"}
    retrain = run_json(
        home, "model", "retrain", "vibration", "--reason", "drift on vibration rms", "--incident", "3"
    )
    assert retrain["incident_id"] == 3 and retrain["status"] == "open"
    code, out, _ = run(home, "model", "retire", "vibration", "0.1", "--reason", "never used")
    assert code == 0 and "candidate → retired" in out


def test_bad_input_exits_2_with_a_fix(home: Path) -> None:
    code, _, err = run(home, "model", "register", "x1", "1.0", "--artifact", "s3://nowhere/m.joblib")
    assert code == 2 and "--artifact-hash" in err
    code, _, err = run(home, "model", "register", "x2")
    assert code == 2 and "--use-case" in err
    code, _, err = run(home, "model", "register", "x3", "--use-case", UC, "--task", "ternary")
    assert code == 2 and "task 'ternary' is not one of" in err
    code, _, err = run(home, "model", "show", "nope")
    assert code == 2 and "no model 'nope'" in err
    code, _, err = run(
        home,
        "model",
        "register",
        "failure-risk",
        "9",
        "--artifact",
        "s3://m",
        "--artifact-hash",
        "d" * 64,
        "--metric",
        "f1",
    )
    assert code == 2 and "NAME=NUMBER" in err


def test_monitor_performance(home: Path) -> None:
    code, out, err = run(
        home, "monitor", "performance", "--model", "failure-risk", "--by", "week", "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert [r["period_start"] for r in doc["rows"]] == ["2026-03-02", "2026-03-09"]
    assert all(r["estimated"]["estimated"] is True for r in doc["rows"])
    code, out, _ = run(home, "monitor", "performance", "--model", "failure-risk", "--by", "total")
    assert code == 0 and "est. accuracy" in out and "no concept drift" in out
    code, _, err = run(home, "monitor", "performance", "--model", "failure-risk", "--segment", "labeler")
    assert code == 2 and "never per person" in err
