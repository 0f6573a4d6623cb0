"""The model registry API: register, card, stage request and approval (four eyes), schedule,
reminders, retraining and performance; every bad input answers in the one error shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.web.web_helpers import TestClient, token_for

UC = "claims-triage"
USERS = {  # login: (role, scope)
    "ml": ("ml-engineer", UC),
    "ml-other": ("ml-engineer", "clinical-documentation"),
    "bo": ("business-owner", UC),
    "sec": ("security", None),
    "rev": ("reviewer", UC),
}
SHA = "e3" * 32
CARD = {
    "purpose": "Route claims",
    "intended_use": "A suggestion the adjuster confirms",
    "training_data": "Claims 2025",
    "evaluation": "Hold-out accuracy 0.86",
    "limitations": "Few commercial claims",
    "owners": ["claims-ml"],
}
VERSION = {
    "version": "1.0",
    "artifact_uri": "s3://models/claims-router/1.0.joblib",
    "artifact_hash": SHA,
    "lineage": {"ingest_ids": ["ing-1"], "label_exports": [{"path": "labels.parquet", "sha256": SHA}]},
    "metrics": {"accuracy": 0.86},
    "trained_at": "2026-01-10T00:00:00Z",
    "card": CARD,
}
M = "/api/v1/models/claims-router"


def _predictions(ws: Workspace, folder: Path) -> None:
    rng = np.random.default_rng(1)
    n = 300
    queues = np.array(["fast-track", "standard", "siu"])
    truth = rng.choice(queues, n)
    at = pa.array(
        [datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=int(h)) for h in rng.integers(0, 300, n)],
        pa.timestamp("us", tz="UTC"),
    )
    ids = [f"p{i}" for i in range(n)]
    predicted = np.where(rng.random(n) < 0.7, truth, rng.choice(queues, n))
    pq.write_table(
        pa.table(
            {
                "prediction_id": ids,
                "model": ["claims-router"] * n,
                "model_version": ["1.0"] * n,
                "use_case": [UC] * n,
                "predicted_at": at,
                "prediction": predicted,
                "score": rng.uniform(0.5, 1, n),
            }
        ),
        folder / "p.parquet",
    )
    pq.write_table(
        pa.table({"prediction_id": ids, "label": truth, "labeled_at": at, "source": ["audit"] * n}),
        folder / "l.parquet",
    )
    ws.ingest("predictions", folder / "p.parquet")
    ws.ingest("labels", folder / "l.parquet")


@pytest.fixture
def api(client: TestClient, ws: Workspace, tmp_path: Path) -> Any:
    with ws.access() as access:
        for login, (role, scope) in USERS.items():
            access.add_user(operator(), login, role, scope)
    with ws.lifecycle() as lc:
        lc.create(operator(), {"key": UC, "title": "Claims triage", "owner": "bo"})
    _predictions(ws, tmp_path)
    tokens = {login: token_for(ws, login) for login in USERS}

    class As:
        def __init__(self, login: str) -> None:
            self.headers = {"Authorization": f"Bearer {tokens[login]}"}

        def get(self, path: str, **params: Any) -> Any:
            return client.get(path, params=params, headers=self.headers)

        def post(self, path: str, body: Any = None) -> Any:
            return client.post(path, json=body, headers=self.headers)

        def put(self, path: str, body: Any) -> Any:
            return client.put(path, json=body, headers=self.headers)

        def patch(self, path: str, body: Any) -> Any:
            return client.patch(path, json=body, headers=self.headers)

    return As


def error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    if code is not None:
        assert body["error"]["code"] == code
    return dict(body["error"])


def _registered(api: Any) -> None:
    assert api("ml").post("/api/v1/models", {"name": "claims-router", "use_case": UC}).status_code == 201
    assert api("ml").post(M + "/versions", VERSION).status_code == 201


def test_register_promote_approve_and_read(api: Any) -> None:
    _registered(api)
    asked = api("ml").post(
        M + "/versions/1.0/stage", {"to": "production", "reason": "first release to adjusters"}
    )
    assert asked.status_code == 200 and asked.json()["status"] == "pending"
    request_id = asked.json()["approval"]["id"]
    error(api("ml").post(f"{M}/requests/{request_id}/approve", {}), 403, "forbidden")  # no model.approve
    error(api("rev").post(f"{M}/requests/{request_id}/approve", {}), 403)
    done = api("bo").post(f"{M}/requests/{request_id}/approve", {"note": "evaluation reviewed"})
    assert done.status_code == 200 and done.json()["moves"][0]["to"] == "production"
    shown = api("rev").get(M).json()
    assert shown["production"] == "1.0" and shown["versions"][0]["card_gaps"] == []
    assert shown["history"][-1]["approved_by"] == "user:bo"
    assert [m["name"] for m in api("rev").get("/api/v1/models").json()["models"]] == ["claims-router"]
    assert api("ml-other").get("/api/v1/models").json()["models"] == []
    error(api("ml-other").get(M), 403)


def test_card_schedule_dates_reminders_and_retraining(api: Any) -> None:
    _registered(api)
    card = api("ml").patch(M + "/versions/1.0/card", {"limitations": "Few commercial or marine claims"})
    assert card.status_code == 200 and card.json()["revision"] == 2
    assert (
        api("ml").put(M + "/schedule", {"every_days": 30, "remind_days_before": 3}).json()["every_days"] == 30
    )
    dates = api("ml").put(M + "/versions/1.0/dates", {"deprecation_date": "2026-02-15"})
    assert dates.json()["deprecation_date"] == "2026-02-15"
    found = api("rev").get("/api/v1/model-reminders", today="2026-02-12").json()["reminders"]
    assert [(r["kind"], r["status"]) for r in found] == [("retrain", "overdue"), ("deprecate", "due")]
    retrain = api("ml").post(
        M + "/retraining-requests", {"reason": "override rate doubled", "incident_id": 12}
    )
    assert retrain.status_code == 201 and retrain.json()["incident_id"] == 12


def test_performance(api: Any) -> None:
    _registered(api)
    doc = api("rev").get(M + "/performance", grain="week", segment="model_version").json()
    assert doc["task"] == "multiclass" and doc["rows"][0]["segment"] == "1.0"
    assert doc["rows"][0]["realized"]["confusion"]["labels"] == ["fast-track", "siu", "standard"]
    assert doc["rows"][0]["estimated"]["estimated"] is True
    error(api("ml-other").get(M + "/performance"), 403)
    assert "never per person" in error(api("rev").get(M + "/performance", segment="reviewer"), 422)["message"]
    error(api("rev").get(M + "/performance", grain="hourly"), 422, "validation_error")
    error(api("rev").get(M + "/performance", bins=1), 422)


def test_bad_input_and_clashes(api: Any) -> None:
    _registered(api)
    error(api("ml").post("/api/v1/models", {"name": "claims-router", "use_case": UC}), 409, "conflict")
    error(api("ml").post("/api/v1/models", {"name": "x", "use_case": UC, "colour": "red"}), 422)
    error(api("ml-other").post(M + "/versions", {**VERSION, "version": "2.0"}), 403)
    bad_hash = error(
        api("ml").post(M + "/versions", {**VERSION, "version": "2.0", "artifact_hash": "xyz"}), 422
    )
    assert bad_hash["details"]["field"] == "artifact_hash"
    bad_card = error(api("ml").patch(M + "/versions/1.0/card", {"purpos": "typo"}), 422)
    assert bad_card["details"]["field"] == "card.purpos"
    error(api("ml").post(M + "/versions/1.0/stage", {"to": "staging", "reason": "not a stage"}), 422)
    error(api("ml").post(M + "/versions/9.9/stage", {"to": "retired", "reason": "no such version"}), 404)
    error(api("bo").post("/api/v1/models/other/requests/1/approve", {}), 404)
    asked = api("ml").post(M + "/versions/1.0/stage", {"to": "canary", "reason": "five percent of claims"})
    request_id = asked.json()["approval"]["id"]
    error(api("ml").post(M + "/versions/1.0/stage", {"to": "production", "reason": "straight on"}), 409)
    assert error(api("bo").post(f"{M}/requests/{request_id}/reject", {}), 422)["details"]["field"] == "note"
    assert (
        api("bo").post(f"{M}/requests/{request_id}/reject", {"note": "wait for Q3"}).json()["status"]
        == "rejected"
    )
    error(api("bo").post(f"{M}/requests/{request_id}/approve", {}), 409)
    error(api("ml").put(M + "/schedule", {"every_days": 0}), 422)
    error(api("ml").post(M + "/retraining-requests", {"reason": "x", "incident_id": 0}), 422)
    error(api("rev").get("/api/v1/models/nope"), 404, "not_found")
