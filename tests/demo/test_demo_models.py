"""The demo's models in the registry: the firm's earlier versions and the runtime's trained ones,
with lineage, cards, approvals on the firm's calendar, a canary and a retraining schedule."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.demo.firm import generate_firm
from paceline.demo.models import MODELS_DIR, register_demo_models
from paceline.demo.params import FirmParams
from paceline.demo.run import DATA_DIR, write_tables
from paceline.demo.runtime import read_tables
from paceline.demo.workflow_models import SPECS, Trained, demo_history, save, train_all
from paceline.services.access import operator

SEED = 7


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A small demo firm loaded through ingest, its use cases, and the runtime's models saved."""
    params = FirmParams.sized(people=60, months=3)
    ws = Workspace.init(tmp_path_factory.mktemp("demo-models") / "ws")
    for name, path in write_tables(generate_firm(params, SEED), ws.home / DATA_DIR).items():
        ws.ingest(name, path)
    with ws.lifecycle() as lc:
        for spec in SPECS.values():
            lc.create(
                operator(), {"key": spec.use_case, "title": spec.use_case, "owner": "demo-business-owner"}
            )
    trained = train_all(demo_history(read_tables(ws.home / DATA_DIR), params, SEED, weeks=4, cases=10), SEED)
    for model in trained.values():
        save(model, ws.home / MODELS_DIR)
    claims = trained["claims-triage"]
    save(Trained(claims.estimator, replace(claims.card, version="2.1.0")), ws.home / MODELS_DIR, "challenger")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def registered(ws: Workspace) -> list[dict[str, Any]]:
    return register_demo_models(ws)


def _show(ws: Workspace, model: str) -> dict[str, Any]:
    with ws.models(readonly=True) as registry:
        return registry.show(operator(), model)


def test_each_model_has_the_runtime_version_in_production(registered: list[dict[str, Any]]) -> None:
    by_model = {r["model"]: r for r in registered}
    assert set(by_model) == {"claims-router", "scribe-coder", "failure-risk"}
    assert {m: r["production"] for m, r in by_model.items()} == {s.model: s.version for s in SPECS.values()}
    assert by_model["claims-router"]["canary"] == ["2.1.0"]
    for r in registered:  # the firm's earlier versions: the last one deprecated, older ones retired
        earlier = [s for v, s in r["versions"].items() if v != r["production"] and v not in r["canary"]]
        assert earlier and earlier.count("deprecated") == 1 and set(earlier) <= {"deprecated", "retired"}


def test_versions_carry_lineage_cards_and_approvals(ws: Workspace, registered: list[dict[str, Any]]) -> None:
    doc = _show(ws, "claims-router")
    current = next(v for v in doc["versions"] if v["version"] == doc["production"])
    artifact = ws.home / MODELS_DIR / "claims-triage.joblib"
    assert current["artifact_hash"] == hashlib.sha256(artifact.read_bytes()).hexdigest()
    files = {f["path"]: f["sha256"] for f in current["lineage"]["files"]}
    labels = ws.home / DATA_DIR / "labels.parquet"
    assert files[f"{DATA_DIR}/labels.parquet"] == hashlib.sha256(Path(labels).read_bytes()).hexdigest()
    assert current["lineage"]["ingest_ids"] and current["metrics"]["holdout_accuracy"] > 0
    assert all(v["card_gaps"] == [] for v in doc["versions"])
    promotions = [h for h in doc["history"] if h["cause"] == "approved"]
    assert promotions and all(
        (h["requested_by"], h["approved_by"]) == ("user:demo-ml-engineer", "user:demo-business-owner")
        for h in promotions
    )
    changed = [h["changed_at"] for h in doc["history"]]
    assert changed == sorted(changed)  # recorded on the firm's calendar, in order
    assert doc["schedule"]["retrain_every_days"] == 90
    superseded = [h for h in doc["history"] if h["cause"] == "superseded"]
    assert superseded and superseded[-1]["to_stage"] == "deprecated"


def test_a_second_run_adds_nothing(ws: Workspace, registered: list[dict[str, Any]]) -> None:
    before = _show(ws, "scribe-coder")
    again = {r["model"]: r for r in register_demo_models(ws)}
    assert again["scribe-coder"]["versions"] == {v["version"]: v["stage"] for v in before["versions"]}
