"""The label store: decided reviews as rows, the three exports, retraining selection, agreement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from paceline.errors import NotFound, ValidationError
from paceline.runtime.engine import Runtime
from paceline.runtime.labels import COLUMNS, LabelStore, label_row, select_for_training
from paceline.runtime.registry import REGISTRY, Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.storage.runtime_models import CaseRow, ReviewTaskRow
from tests.runtime.flows import ExpenseCheck

QUERY = {"decision": "query"}


@pytest.fixture
def rt(workspace: Workspace) -> Iterator[Runtime]:
    registry = Registry()
    registry.register(ExpenseCheck)
    yield Runtime(workspace.store, registry)


def drain(rt: Runtime) -> None:
    Worker(rt, "test", 1).run(until_idle=True)


def decided_store(rt: Runtime) -> tuple[LabelStore, dict[str, int]]:
    """Five cases to review: accepted, edited, overridden, rejected, and one left open."""
    for name, amount, category in [
        ("acc", 10, "gifts"),
        ("edit", 20, "gifts"),
        ("big", 5000, "travel"),
        ("rej", 30, "gifts"),
        ("open", 40, "gifts"),
    ]:
        rt.start("expense-check", name, {"amount": amount, "category": category}, "cli:op")
    rt.start("expense-check", "auto", {"amount": 50, "category": "travel"}, "cli:op")  # no review
    drain(rt)
    queue = ReviewQueue(rt)
    ids = {i["shown"]["external_id"]: i["id"] for i in queue.items()}
    queue.decide(ids["acc"], "ann", "accept", time_spent_ms=30_000)
    queue.decide(ids["edit"], "ann", "edit", {"decision": "approve"}, "wrong_field", "it is fine", 90_000)
    queue.decide(ids["big"], "bob", "override", QUERY, "policy", "over the limit", 120_000)
    queue.decide(ids["rej"], "bob", "reject", reason_code="duplicate", time_spent_ms=5_000)
    drain(rt)
    return LabelStore(rt.store), ids


def test_every_decided_review_is_a_row_with_what_was_shown(rt: Runtime) -> None:
    store, _ = decided_store(rt)
    rows = {r["external_id"]: r for r in store.rows()}
    assert set(rows) == {"acc", "edit", "big", "rej"}  # the open item and the automatic case are not labels
    edit = rows["edit"]
    assert edit["decision"] == "edit" and edit["reason_code"] == "wrong_field" and edit["reviewer"] == "ann"
    assert edit["suggestion"] == QUERY and edit["final_output"] == {"decision": "approve"}
    assert edit["patch"] == [{"op": "replace", "path": "/decision", "value": "approve"}]
    assert edit["model"] == "expense-rules" and edit["model_version"] == "1"
    assert edit["confidence"] == 0.6 and edit["confidence_band"] == "low" and not edit["human_only"]
    assert edit["shown"]["payload"] == {"amount": 20.0, "category": "gifts", "description": ""}
    assert (
        edit["time_spent_ms"] == 90_000 and edit["workflow"] == "expense-check" and edit["kind"] == "review"
    )
    assert edit["decided_at"] >= edit["created_at"]
    assert rows["big"]["shown"]["rule_hits"][0]["rule"] == "amount_limit"
    assert rows["acc"]["patch"] == [] and rows["rej"]["final_output"] is None and rows["rej"]["patch"] is None
    assert [r["review_id"] for r in store.rows(kind="qa")] == []
    assert store.rows(workflow="other") == []


def test_jsonl_and_parquet_exports_hold_the_same_rows(rt: Runtime, tmp_path: Path) -> None:
    store, _ = decided_store(rt)
    assert store.export("jsonl", tmp_path / "labels.jsonl") == 4
    lines = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert [x["external_id"] for x in lines] == ["acc", "edit", "big", "rej"]
    assert store.export_parquet(tmp_path / "out" / "labels.parquet") == 4
    table = pq.read_table(tmp_path / "out" / "labels.parquet")
    assert table.column_names == [name for name, _ in COLUMNS]
    assert str(table.schema.field("decided_at").type) == "timestamp[us, tz=UTC]"
    parquet = {r["external_id"]: r for r in table.to_pylist()}
    assert json.loads(parquet["big"]["final_output"]) == QUERY
    assert json.loads(parquet["big"]["patch"]) == lines[2]["patch"]
    assert parquet["rej"]["final_output"] is None and parquet["acc"]["time_spent_ms"] == 30_000
    with pytest.raises(ValidationError, match="format"):
        store.export("csv", tmp_path / "x.csv")


def test_label_studio_tasks_carry_the_prediction_and_each_annotation(rt: Runtime, tmp_path: Path) -> None:
    store, ids = decided_store(rt)
    second = store.request_second_reviews([ids["big"]])
    ReviewQueue(rt).decide(second[0], "cy", "accept", time_spent_ms=10_000)
    assert store.export_label_studio(tmp_path / "ls.json") == 4  # one task per case
    tasks = {t["data"]["external_id"]: t for t in json.loads((tmp_path / "ls.json").read_text())}
    big = tasks["big"]
    assert big["data"]["amount"] == 5000.0 and big["data"]["workflow"] == "expense-check"
    assert big["data"]["rule_hits"] == ["amount_limit: amount 5000.0 is over the 1000 limit"]
    (prediction,) = big["predictions"]
    assert prediction["model_version"] == "expense-rules@1" and prediction["score"] == 0.95
    assert prediction["result"] == [
        {"from_name": "decision", "to_name": "case", "type": "choices", "value": {"choices": ["approve"]}}
    ]
    first, again = big["annotations"]
    assert first["completed_by"] == "bob" and first["lead_time"] == 120.0
    assert first["result"][0]["value"] == {"choices": ["query"]}
    assert again["completed_by"] == "cy" and again["result"][0]["value"] == {"choices": ["approve"]}
    reviews = big["meta"]["paceline"]["reviews"]
    assert [(r["kind"], r["decision"], r["reason_code"]) for r in reviews] == [
        ("review", "override", "policy"),
        ("qa", "accept", None),
    ]
    assert tasks["rej"]["annotations"][0]["result"] == []  # a rejection labels nothing


def test_training_selection_keeps_corrections_and_a_seeded_sample_of_accepts() -> None:
    rows = [{"review_id": i, "decision": "accept", "final_output": {"x": 1}} for i in range(100)]
    rows += [
        {"review_id": 100 + i, "decision": d, "final_output": {"x": 2}} for i, d in enumerate(["edit"] * 7)
    ]
    rows += [{"review_id": 200, "decision": "override", "final_output": {"x": 3}}]
    rows += [{"review_id": 201, "decision": "reject", "final_output": None}]
    chosen = select_for_training(rows, accept_share=0.25, seed=3)
    corrections = [r for r in chosen if r["selected_as"] == "correction"]
    accepts = [r for r in chosen if r["selected_as"] == "accept_sample"]
    assert len(corrections) == 8 and len(accepts) == 25
    assert all(r["weight"] == 1.0 for r in corrections) and all(r["weight"] == 4.0 for r in accepts)
    assert [r["review_id"] for r in chosen] == sorted(r["review_id"] for r in chosen)
    again = select_for_training(list(reversed(rows)), accept_share=0.25, seed=3)
    assert [r["review_id"] for r in again] == [r["review_id"] for r in chosen]  # order-free, seeded
    other = select_for_training(rows, accept_share=0.25, seed=4)
    assert {r["review_id"] for r in other} != {r["review_id"] for r in chosen}
    assert select_for_training(rows, accept_share=0.0) == corrections
    with pytest.raises(ValidationError):
        select_for_training(rows, accept_share=1.5)


def test_second_reviews_are_blind_and_feed_agreement(rt: Runtime) -> None:
    for i in range(12):
        rt.start("expense-check", f"q{i}", {"amount": 10 + i, "category": "gifts"}, "cli:op")
    drain(rt)
    queue = ReviewQueue(rt)
    firsts = []
    for n, item in enumerate(queue.items()):
        output = {"decision": "approve"} if n % 3 == 0 else None  # ann corrects every third one
        queue.decide(
            item["id"], "ann", "edit" if output else "accept", output, "wrong_field" if output else None
        )
        firsts.append(item["id"])
    store = LabelStore(rt.store)
    second = store.request_second_reviews(firsts)
    shown = queue.get(second[0])
    assert shown["kind"] == "qa" and shown["status"] == "open" and shown["decision"] is None
    assert shown["shown"] == queue.get(firsts[0])["shown"] and shown["queue"] == "finance"
    for n, review_id in enumerate(second):  # bob agrees with ann except on two
        output = {"decision": "approve"} if (n % 3 == 0) != (n in (1, 2)) else None
        queue.decide(
            review_id, "bob", "edit" if output else "accept", output, "wrong_field" if output else None
        )
    drain(rt)
    (report,) = store.agreement(min_pair_items=5)
    assert report["workflow"] == "expense-check" and report["field"] == "decision"
    assert report["items"] == 12 and report["multi_rated_items"] == 12 and report["human_ratings"] == 24
    assert report["human_percent_agreement"] == pytest.approx(10 / 12, abs=1e-4)
    assert report["pairs"][0]["raters"] == ["ann", "bob"] and report["pairs"][0]["items"] == 12
    assert report["model_vs_human"]["items"] == 24
    # the model suggests "query" for gifts: ann agrees on 8 of 12, bob on 6
    assert report["model_vs_human"]["percent_agreement"] == pytest.approx(14 / 24, abs=1e-4)
    assert {p["raters"][1] for p in report["model_vs_rater"]} == {"ann", "bob"}
    rt.start("expense-check", "q-open", {"amount": 99, "category": "gifts"}, "cli:op")
    drain(rt)
    with pytest.raises(ValidationError, match="not decided"):
        store.request_second_reviews([queue.items()[0]["id"]])
    with pytest.raises(NotFound):
        store.request_second_reviews([99_999])


def test_the_model_suggestion_comes_from_the_journal_on_the_human_only_path() -> None:
    case = CaseRow(id="c1", workflow="w", workflow_version="1", external_id="e1", variant="baseline")
    hidden: dict[str, Any] = {
        "suggestion": {"output": {"decision": None}, "confidence": 0.0, "confidence_band": "hidden"},
        "human_only": True,
        "payload": {},
        "rule_hits": [],
        "external_id": "e1",
        "model": {"model": "m", "version": "2"},
    }
    review = ReviewTaskRow(id=1, kind="review", queue="q", shown=hidden, decision="override")
    infer = {
        "suggestion": {"output": {"decision": "approve"}, "confidence": 0.97, "confidence_band": "high"},
        "call": {"model": "m", "version": "2"},
    }
    row = label_row(review, case, infer)
    assert row["human_only"] and row["suggestion"] == {"decision": "approve"} and row["confidence"] == 0.97
    assert row["shown"]["suggestion"]["confidence_band"] == "hidden"


@pytest.fixture
def cli_home(sqlite_workspace: Workspace) -> Iterator[Path]:
    REGISTRY.register(ExpenseCheck)
    rt = Runtime(sqlite_workspace.store, REGISTRY)
    decided_store(rt)
    yield sqlite_workspace.home
    REGISTRY._workflows.pop(ExpenseCheck.name, None)


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PACELINE_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_exports_and_reports_agreement(cli_home: Path, tmp_path: Path) -> None:
    for fmt, name in [("jsonl", "l.jsonl"), ("parquet", "l.parquet"), ("label-studio", "l.json")]:
        code, out, _ = run(cli_home, "labels", "export", "--format", fmt, "--output", str(tmp_path / name))
        assert code == 0 and "Wrote 4 " in out and (tmp_path / name).exists()
    code, out, _ = run(
        cli_home,
        "labels",
        "export",
        "--for-training",
        "--accept-share",
        "1",
        "--output",
        str(tmp_path / "t.jsonl"),
    )
    assert code == 0 and "2 corrections and 1 sampled accepts" in out
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 3
    code, _, err = run(
        cli_home, "labels", "export", "--for-training", "--format", "label-studio", "--output", "x.json"
    )
    assert code == 2 and "Label Studio" in err
    code, out, _ = run(cli_home, "labels", "agreement", "--format", "json")
    (report,) = json.loads(out)
    assert report["workflow"] == "expense-check" and report["multi_rated_items"] == 0
    assert report["model_vs_human"]["items"] == 3
    code, out, _ = run(cli_home, "labels", "agreement")
    assert code == 0 and "expense-check" in out and "model agrees" in out
