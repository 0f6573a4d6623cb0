"""Model performance over a real workspace: predictions and labels ingested into the warehouse,
metrics computed in the engine checked against scikit-learn per period and segment, the
CBPE-style estimate where labels are missing, and the override rate from runtime reviews."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from paceline.bootstrap import Workspace
from paceline.domain.kpis import Grain
from paceline.domain.roles import Grant, Role
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.runtime.engine import Runtime
from paceline.runtime.registry import Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.services.access import Principal, operator
from paceline.services.model_periods import micros, period_date, period_key, period_start
from tests.runtime.flows import ExpenseCheck

UC = "predictive-maintenance"
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday: weeks 03-02, 03-09, 03-16
N = 6_000


def _ts(values: list[datetime]) -> pa.Array:
    return pa.array(values, pa.timestamp("us", tz="UTC"))


def _history(seed: int = 4) -> pd.DataFrame:
    """Three weeks of a slightly overconfident failure model; week 3 has no labels yet."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(0, 2, N)
    p_fail = 1 / (1 + np.exp(-logit))
    truth = np.where(rng.random(N) < 1 / (1 + np.exp(-(0.8 * logit - 0.2))), "failure", "ok")
    predicted = np.where(p_fail >= 0.5, "failure", "ok")
    hours = np.sort(rng.integers(0, 21 * 24, N))
    return pd.DataFrame(
        {
            "prediction_id": [f"pr-{i}" for i in range(N)],
            "task_id": [f"wo-{i}" for i in range(N)],
            "model_version": np.where(rng.random(N) < 0.4, "1.0", "1.1"),
            "kind": rng.choice(["L", "M", "H"], N),
            "predicted_at": [START + timedelta(hours=int(h)) for h in hours],
            "prediction": predicted,
            "score": np.round(np.where(predicted == "failure", p_fail, 1 - p_fail), 4),
            "p_fail": np.round(np.where(predicted == "failure", p_fail, 1 - p_fail), 4),
            "truth": truth,
            "labeled": (rng.random(N) < 0.75) & (hours < 14 * 24),
            "by_task": rng.random(N) < 0.2,  # these labels name the task, not the prediction
        }
    )


def _ingest(ws: Workspace, frame: pd.DataFrame, folder: Path) -> None:
    preds = pa.table(
        {
            "prediction_id": frame.prediction_id,
            "model": ["failure-risk"] * len(frame),
            "model_version": frame.model_version,
            "use_case": [UC] * len(frame),
            "predicted_at": _ts(list(frame.predicted_at)),
            "prediction": frame.prediction,
            "score": frame.score,
            "task_id": frame.task_id,
            "features": [json.dumps({"type": k}) for k in frame.kind],
        }
    )
    pq.write_table(preds, folder / "predictions.parquet")
    labeled = frame[frame.labeled]
    wrong_first = labeled.head(50)  # first labeled wrong by an early audit, then corrected: the latest wins
    rows = {
        "prediction_id": [
            None if t else p for p, t in zip(labeled.prediction_id, labeled.by_task, strict=True)
        ]
        + list(wrong_first.prediction_id),
        "task_id": list(labeled.task_id) + list(wrong_first.task_id),
        "label": list(labeled.truth) + ["ok" if t == "failure" else "failure" for t in wrong_first.truth],
        "labeled_at": _ts(
            [t + timedelta(hours=6) for t in labeled.predicted_at]
            + [t + timedelta(hours=1) for t in wrong_first.predicted_at]
        ),
        "source": ["review"] * (len(labeled) + len(wrong_first)),
        "labeler": ["someone"] * (len(labeled) + len(wrong_first)),
    }
    pq.write_table(pa.table(rows), folder / "labels.parquet")
    assert ws.ingest("predictions", folder / "predictions.parquet").loaded == len(frame)
    assert ws.ingest("labels", folder / "labels.parquet").quarantined == 0


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return _history()


@pytest.fixture
def ws(sqlite_workspace: Workspace, history: pd.DataFrame, tmp_path: Path) -> Iterator[Workspace]:
    _ingest(sqlite_workspace, history, tmp_path)
    with sqlite_workspace.lifecycle() as lc:
        lc.create(operator(), {"key": UC, "title": "Predictive maintenance", "owner": "bo"})
    with sqlite_workspace.models() as registry:
        registry.register_model(operator(), "failure-risk", UC, task="binary", positive_label="failure")
    yield sqlite_workspace


def _week(frame: pd.DataFrame, start: str) -> pd.DataFrame:
    begin = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return frame[(frame.predicted_at >= begin) & (frame.predicted_at < begin + timedelta(days=7))]


def _check_against_sklearn(row: dict[str, Any], rows: pd.DataFrame) -> None:
    labeled = rows[rows.labeled]
    y = (labeled.truth == "failure").astype(int)
    yhat = (labeled.prediction == "failure").astype(int)
    real = row["realized"]
    assert row["n"] == len(rows) and row["n_labeled"] == len(labeled)
    assert real["accuracy"] == pytest.approx(accuracy_score(labeled.truth, labeled.prediction), abs=1e-12)
    assert real["precision"] == pytest.approx(precision_score(y, yhat), abs=1e-12)
    assert real["recall"] == pytest.approx(recall_score(y, yhat), abs=1e-12)
    assert real["f1"] == pytest.approx(f1_score(y, yhat), abs=1e-12)
    p_fail = np.where(labeled.prediction == "failure", labeled.score, 1 - labeled.score)
    assert real["auc"] == pytest.approx(roc_auc_score(y, p_fail), abs=1e-12)
    assert real["auc_binned"] == pytest.approx(roc_auc_score(y, p_fail), abs=2e-3)
    assert real["brier"] == pytest.approx(brier_score_loss(y, p_fail), abs=1e-12)
    assert real["log_loss"] == pytest.approx(log_loss(y, p_fail), abs=1e-10)


def test_weekly_metrics_match_scikit_learn(ws: Workspace, history: pd.DataFrame) -> None:
    doc = ws.model_performance("failure-risk", grain="week")
    assert doc["task"] == "binary" and doc["calibration_target"] == "P(label = failure)"
    assert [r["period_start"] for r in doc["rows"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    for row in doc["rows"][:2]:
        rows = _week(history, row["period_start"])
        _check_against_sklearn(row, rows)
        assert row["label_coverage"] == pytest.approx(rows.labeled.mean())
        corrected = history[history.labeled].prediction_id.head(50)  # their first label came after 1 hour
        first_label = np.where(rows.prediction_id.isin(corrected), 1.0, 6.0)
        assert row["label_delay_hours_mean"] == pytest.approx(first_label[rows.labeled].mean())
        assert row["estimated"]["estimated"] is True
    unlabeled = doc["rows"][2]
    assert unlabeled["realized"] is None and unlabeled["n_labeled"] == 0
    truth = _week(history, "2026-03-16")
    realized = accuracy_score(truth.truth, truth.prediction)  # what the labels will show when they arrive
    est = unlabeled["estimated"]
    assert est["accuracy"] == pytest.approx(realized, abs=4 * est["accuracy_se"])
    assert "no concept drift" in est["assumption"]


def test_segments_by_version_and_by_feature(ws: Workspace, history: pd.DataFrame) -> None:
    by_version = ws.model_performance("failure-risk", grain="total", segment="model_version")
    assert [r["segment"] for r in by_version["rows"]] == ["1.0", "1.1"]
    for row in by_version["rows"]:
        _check_against_sklearn(row, history[history.model_version == row["segment"]])
    by_type = ws.model_performance("failure-risk", grain="total", segment="features.type", since="2026-03-09")
    assert sorted(r["segment"] for r in by_type["rows"]) == ["H", "L", "M"]
    late = history[history.predicted_at >= datetime(2026, 3, 9, tzinfo=UTC)]
    for row in by_type["rows"]:
        _check_against_sklearn(row, late[late.kind == row["segment"]])


def test_calibration_bins_cover_the_labeled_rows(ws: Workspace, history: pd.DataFrame) -> None:
    doc = ws.model_performance("failure-risk", grain="total", bins=5, exact_auc=False)
    cal = doc["rows"][0]["realized"]["calibration"]
    assert cal["bins"] == 5 and sum(p["n"] for p in cal["reliability"]) == history.labeled.sum()
    assert 0 < cal["ece"] < 0.2 and doc["rows"][0]["realized"]["auc"] is None
    labeled = history[history.labeled]
    p_fail = np.where(labeled.prediction == "failure", labeled.score, 1 - labeled.score)
    top = p_fail >= 0.8
    last = cal["reliability"][-1]
    assert last["observed"] == pytest.approx((labeled.truth[top] == "failure").mean())


def test_multiclass_models_get_macro_scores_and_a_confusion_matrix(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    rng = np.random.default_rng(2)
    queues = np.array(["fast-track", "standard", "specialist"])
    truth = rng.choice(queues, 900)
    predicted = np.where(rng.random(900) < 0.7, truth, rng.choice(queues, 900))
    at = [START + timedelta(minutes=int(m)) for m in rng.integers(0, 7 * 24 * 60, 900)]
    ids = [f"c{i}" for i in range(900)]
    pq.write_table(
        pa.table(
            {
                "prediction_id": ids,
                "model": ["router"] * 900,
                "model_version": ["2"] * 900,
                "use_case": ["claims"] * 900,
                "predicted_at": _ts(at),
                "prediction": predicted,
                "score": rng.uniform(0.4, 1.0, 900),
            }
        ),
        tmp_path / "p.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "prediction_id": ids,
                "label": truth,
                "labeled_at": _ts([a + timedelta(days=1) for a in at]),
                "source": ["audit"] * 900,
            }
        ),
        tmp_path / "l.parquet",
    )
    sqlite_workspace.ingest("predictions", tmp_path / "p.parquet")
    sqlite_workspace.ingest("labels", tmp_path / "l.parquet")
    doc = sqlite_workspace.model_performance("router", grain="total")  # unregistered: read by its use case
    assert doc["registered"] is False and doc["task"] == "multiclass"
    real = doc["rows"][0]["realized"]
    assert real["average"] == "macro" and real["auc"] is None
    assert real["f1"] == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-12)
    assert real["confusion"]["labels"] == sorted(queues)
    assert np.array(real["confusion"]["matrix"]).sum() == 900


def test_bad_requests_and_permissions(ws: Workspace) -> None:
    outsider = Principal("eng2", (Grant(Role.ML_ENGINEER, "claims-triage"),))
    with pytest.raises(PermissionDenied):
        ws.model_performance("failure-risk", who=outsider)
    with pytest.raises(ValidationError, match="never per person") as info:
        ws.model_performance("failure-risk", segment="labeler")
    assert info.value.details["field"] == "segment"
    with pytest.raises(ValidationError, match="grain"):
        ws.model_performance("failure-risk", grain="fortnight")
    with pytest.raises(ValidationError, match="not a date"):
        ws.model_performance("failure-risk", since="last week")
    with pytest.raises(ValidationError, match="before since"):
        ws.model_performance("failure-risk", since="2026-03-10", until="2026-03-01")
    with pytest.raises(NotFound, match="no predictions"):
        ws.model_performance("no-such-model")


def test_override_rate_from_the_review_queue(workspace: Workspace) -> None:
    """Runs on SQLite and PostgreSQL: the reviews are read by the JSON of what was shown."""
    registry = Registry()
    registry.register(ExpenseCheck)
    rt = Runtime(workspace.store, registry)
    for i in range(6):
        rt.start("expense-check", f"x{i}", {"amount": 20, "category": "gifts"}, "cli:op")  # low confidence
    Worker(rt, "t", 10).run(until_idle=True)
    queue = ReviewQueue(rt)
    decisions = ["accept", "accept", "edit", "override", "reject", "escalate"]
    for item, decision in zip(sorted(queue.items(), key=lambda i: i["id"]), decisions, strict=True):
        output = {"decision": "approve"} if decision in ("edit", "override") else None
        queue.decide(item["id"], "ann", decision, output, None if decision == "accept" else "policy")
    with workspace.lifecycle() as lc:
        lc.create(operator(), {"key": "claims-triage", "title": "Claims", "owner": "bo"})
    with workspace.models() as models:
        models.register_model(operator(), "expense-rules", "claims-triage")
    doc = workspace.model_performance("expense-rules", grain="total", segment="model_version")
    (rate,) = doc["override_rate"]
    # the escalated item went back to the queue: no decision yet
    assert rate["decisions"] == {"accept": 2, "edit": 1, "override": 1, "reject": 1}
    assert (rate["judged"], rate["overridden"], rate["model_version"]) == (5, 3, "1")
    assert rate["override_rate"] == pytest.approx(0.6)
    assert doc["rows"] == []  # the cases are not exported to the warehouse yet
    today = date.today().isoformat()
    weekly = workspace.model_performance("expense-rules", grain="day", since=today, until=today)
    assert weekly["override_rate"][0]["period_start"] == today


@pytest.mark.parametrize("grain", [Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER])
def test_period_keys_follow_the_calendar(grain: Grain) -> None:
    """Periods come from integer arithmetic on epoch microseconds, checked against Python's calendar."""
    edges = [datetime(1970, 1, 1), datetime(2000, 2, 29, 23), datetime(2100, 2, 28), datetime(2100, 3, 1)]
    times = [t.replace(tzinfo=UTC) for t in edges] + [
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC) + timedelta(days=37 * i, hours=i) for i in range(300)
    ]
    con = ibis.duckdb.connect()
    table = ibis.memtable(pa.table({"ts": _ts(times)}))
    keys = con.to_pyarrow(table.select(k=period_key(micros(con, table.ts), grain))).column("k").to_pylist()
    assert [period_date(k, grain) for k in keys] == [period_start(t.date(), grain) for t in times]
