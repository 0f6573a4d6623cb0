"""KPI 7 on the overview: per use case and production model, a weekly F1 tile and a drift tile.

The workspace holds eight weeks of a model's predictions (its inputs drift from week 6)
with labels for most of them; the tiles' weekly F1 must equal scikit-learn's macro F1 on
the same labeled rows of the production version, and the drift tile must carry the
engine's drifted share per window, with the first weeks against the latest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import f1_score

from paceline.analytics.drift import ColumnDrift, DriftReport, Kind
from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.services.access import Principal, operator
from paceline.services.dashboard import Tile
from paceline.services.model_registry import VersionIn
from paceline.services.model_tiles import (
    BASELINE_WEEKS,
    DASHBOARD_DRIFT_WINDOWS,
    drift_summary,
    drift_tile,
    model_tiles,
    performance_points,
    performance_tile,
)
from tests.services.test_drift_windows import MODEL, UC, predictions

OP = operator()
CARD = {
    "purpose": "Route claims to a queue",
    "intended_use": "A suggestion the adjuster accepts or corrects",
    "training_data": "Claims of 2025 with the adjusters' routing as labels",
    "evaluation": "Hold-out accuracy 0.86",
    "limitations": "Few commercial claims",
    "owners": ["claims-ml"],
}


def labels_for(frame: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """Labels for 80% of the predictions: right 85% of the time before the drift, 60% after."""
    rng = np.random.default_rng(seed)
    classes = np.array(["fast", "standard", "special"])
    rows = []
    for p in frame.itertuples():
        if rng.random() >= 0.8:
            continue
        late = p.predicted_at >= frame.predicted_at.min() + timedelta(days=35)
        right = rng.random() < (0.6 if late else 0.85)
        label = p.prediction if right else str(rng.choice(classes[classes != p.prediction]))
        rows.append(
            {
                "prediction_id": p.prediction_id,
                "label": label,
                "labeled_at": p.predicted_at + timedelta(days=1),
                "source": "audit",
            }
        )
    return pd.DataFrame(rows)


def seed_models(ws: Workspace, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The use case, the model (1.0 in production, 1.1 a candidate with a gap in its card),
    its predictions and labels in the warehouse."""
    frame = predictions()
    labels = labels_for(frame)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "predictions.parquet")
    pq.write_table(pa.Table.from_pandas(labels, preserve_index=False), folder / "labels.parquet")
    ws.ingest("predictions", folder / "predictions.parquet")
    ws.ingest("labels", folder / "labels.parquet")
    with ws.lifecycle(OP) as lc:
        lc.create(OP, {"key": UC, "title": "Claims triage", "owner": "ada"})
    with ws.models(OP) as registry:
        registry.register_model(OP, MODEL, UC, "Claims router")
        for version, card in (("1.0", CARD), ("1.1", {**CARD, "limitations": ""})):
            spec = VersionIn(
                version, f"models/{version}.joblib", "0f" * 32, {"ingest_ids": ["i-1"]}, {}, card=card
            )
            registry.register_version(OP, MODEL, spec)
        asked = registry.request_stage(OP, MODEL, "1.0", "production", "passed the pilot")
        registry.approve(Principal("pm", (Grant(Role.PROGRAM_MANAGER),)), asked["approval"]["id"])
    return frame, labels


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workspace, pd.DataFrame, pd.DataFrame]]:
    folder = tmp_path_factory.mktemp("model-tiles")
    ws = Workspace.init(folder / "ws")
    frame, labels = seed_models(ws, folder / "data")
    yield ws, frame, labels
    ws.close()


def _weekly_f1(frame: pd.DataFrame, labels: pd.DataFrame, version: str) -> list[tuple[str, float, int]]:
    joined = frame.merge(labels, on="prediction_id")
    joined = joined[joined.model_version == version]
    week = joined.predicted_at.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    out = []
    for start, rows in joined.groupby(week):
        f1 = f1_score(
            rows.label,
            rows.prediction,
            average="macro",
            labels=sorted(set(rows.label) | set(rows.prediction)),
        )
        out.append((start.date().isoformat(), float(f1), len(rows)))
    return out


def _kpi7(tiles: list[dict[str, Any]], use_case: str) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in tiles if t["framework_kpi"] == 7 and t["use_case"] == use_case}


def test_the_performance_tile_is_the_production_versions_weekly_f1(
    seeded: tuple[Workspace, pd.DataFrame, pd.DataFrame],
) -> None:
    ws, frame, labels = seeded
    tile = _kpi7(ws.overview(UC)["tiles"], UC)[f"model_f1:{MODEL}"]
    expected = _weekly_f1(frame, labels, "1.0")
    assert [p["week"] for p in tile["series"]] == [w for w, _, _ in expected]  # 6 weeks of 1.0
    assert [p["value"] for p in tile["series"]] == pytest.approx([f for _, f, _ in expected], abs=1e-12)
    half = min(BASELINE_WEEKS, len(expected) // 2)

    def weighted(part: list[tuple[str, float, int]]) -> float:
        return sum(f * n for _, f, n in part) / sum(n for _, _, n in part)

    assert tile["baseline"] == pytest.approx(weighted(expected[:half]), abs=1e-12)
    assert tile["current"] == pytest.approx(weighted(expected[-half:]), abs=1e-12)
    assert tile["latest"] == pytest.approx(expected[-1][1], abs=1e-12)
    assert tile["change"] < 0 and tile["improved"] is False  # labels worsen after the drift
    assert tile["direction"] == "higher_is_better" and tile["link"] == f"/models/{MODEL}"


def test_the_drift_tile_carries_the_engines_share_per_window(
    seeded: tuple[Workspace, pd.DataFrame, pd.DataFrame],
) -> None:
    ws, _, _ = seeded
    tile = _kpi7(ws.overview(UC)["tiles"], UC)[f"model_drift:{MODEL}"]
    reports = ws.drift_windows(MODEL, every="7d")
    shares = [r.drifted_share for r in reports]
    assert [p["week"] for p in tile["series"]] == ["2026-02-02", "2026-02-09", "2026-02-16", "2026-02-23"]
    assert [p["value"] for p in tile["series"]] == pytest.approx(shares)
    assert tile["baseline"] == pytest.approx(sum(shares[:2]) / 2)
    assert tile["current"] == pytest.approx(sum(shares[2:]) / 2)
    assert shares[-1] > shares[0] and tile["improved"] is False  # the inputs drift from week 6
    assert tile["direction"] == "lower_is_better" and "2026-01-05" in tile["typical"]


def test_tiles_follow_the_principals_use_cases(seeded: tuple[Workspace, pd.DataFrame, pd.DataFrame]) -> None:
    ws, _, _ = seeded
    other = Principal("olga", (Grant(Role.ML_ENGINEER, "clinical-documentation"),))
    assert _kpi7(ws.overview(who=other)["tiles"], UC) == {}
    assert ws.model_monitoring([UC], other) == {}
    program = [t for t in ws.overview()["tiles"] if t["framework_kpi"] == 7 and t["use_case"] is None]
    assert program == []  # model figures do not add up across models


def test_drift_is_cached_until_the_predictions_change(
    seeded: tuple[Workspace, pd.DataFrame, pd.DataFrame],
) -> None:
    ws, _, _ = seeded
    first = ws.model_drift(MODEL)
    assert first["reference"] == {"start": "2026-01-05", "end": "2026-02-02"}
    keys = [k.name for k in (ws.home / "cache" / "kpi").rglob("*") if k.is_file()]
    assert (
        ws.model_drift(MODEL) == first
        and [k.name for k in (ws.home / "cache" / "kpi").rglob("*") if k.is_file()] == keys
    )
    with pytest.raises(Exception, match="not a duration"):
        ws.model_drift(MODEL, every="0d")


def test_dashboards_show_the_latest_windows_only(
    seeded: tuple[Workspace, pd.DataFrame, pd.DataFrame],
) -> None:
    ws, _, _ = seeded
    every = ws.model_drift(MODEL, latest=None)["windows"]
    assert len(every) == 4
    assert ws.model_drift(MODEL, latest=2)["windows"] == every[-2:]
    assert ws.model_drift(MODEL)["windows"] == every[-DASHBOARD_DRIFT_WINDOWS:]


def test_warming_fills_the_model_figures_the_pages_read(
    seeded: tuple[Workspace, pd.DataFrame, pd.DataFrame],
) -> None:
    ws, _, _ = seeded
    ws.warm_caches()
    cached = {k.name for k in (ws.home / "cache" / "kpi").rglob("*") if k.is_file()}
    ws.model_drift(MODEL)
    ws.model_performance(MODEL, grain="week")
    ws.model_performance(MODEL, grain="total")
    ws.overview()
    assert {k.name for k in (ws.home / "cache" / "kpi").rglob("*") if k.is_file()} == cached


def test_a_model_without_predictions_after_its_reference_has_a_drift_note(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    try:
        frame = predictions()
        early = frame[frame.predicted_at < frame.predicted_at.min() + timedelta(days=10)]
        pq.write_table(pa.Table.from_pandas(early, preserve_index=False), tmp_path / "p.parquet")
        ws.ingest("predictions", tmp_path / "p.parquet")
        doc = ws.model_drift(MODEL)
        assert doc["windows"] == [] and "no predictions of" in doc["note"]
        tile = drift_tile(
            UC, {"model": MODEL, "title": "Claims router", "drift": None, "drift_note": doc["note"]}
        )
        assert tile.series == [] and tile.latest is None and tile.note == doc["note"]
    finally:
        ws.close()


# --- the tile arithmetic on small inputs -----------------------------------------------------------
def _report(rows: list[tuple[str, float | None, int]], task: str = "multiclass") -> dict[str, Any]:
    return {
        "task": task,
        "positive_label": None,
        "rows": [
            {
                "period_start": week,
                "segment": version,
                "realized": None if f1 is None else {"f1": f1, "n": n},
            }
            for week, f1, n, version in [(w, f, n, "1.0") for w, f, n in rows]
        ],
    }


def test_performance_points_keep_the_version_and_labeled_weeks() -> None:
    report = _report([("2026-01-05", 0.8, 10), ("2026-01-12", None, 0), ("2026-01-19", 0.6, 30)])
    report["rows"].append({"period_start": "2026-01-19", "segment": "1.1", "realized": {"f1": 0.1, "n": 5}})
    assert performance_points(report, "1.0") == [
        {"week": "2026-01-05", "value": 0.8, "weight": 10},
        {"week": "2026-01-19", "value": 0.6, "weight": 30},
    ]
    tile = performance_tile(UC, {"model": "m", "title": "M", "production": "1.0", "performance": report})
    assert (tile.baseline, tile.current, tile.latest) == (0.8, 0.6, 0.6)
    assert tile.change == pytest.approx(-0.2) and tile.improved is False and tile.framework_kpi == 7
    single = performance_tile(
        UC,
        {"model": "m", "title": "M", "production": "1.0", "performance": _report([("2026-01-05", 0.7, 4)])},
    )
    assert (
        single.baseline is None
        and single.current == 0.7
        and single.note == "one labeled week: no baseline yet"
    )
    empty = performance_tile(
        UC, {"model": "m", "title": "M", "production": "1.0", "performance": _report([])}
    )
    assert empty.series == [] and empty.note == "no labels for 1.0 yet: no realized F1"


def test_baseline_and_current_weigh_the_first_and_last_weeks() -> None:
    rows = [
        (f"2026-01-{d:02d}", v, n)
        for d, v, n in [(5, 0.9, 100), (12, 0.7, 300), (19, 0.5, 10), (26, 0.3, 10), (2, 0.2, 10)]
    ]
    rows[-1] = ("2026-02-02", 0.2, 10)
    tile = performance_tile(
        UC, {"model": "m", "title": "M", "production": "1.0", "performance": _report(rows)}
    )
    assert tile.baseline == pytest.approx((0.9 * 100 + 0.7 * 300) / 400)  # the first 2 of 5 weeks
    assert tile.current == pytest.approx((0.3 * 10 + 0.2 * 10) / 20)  # the last 2


def test_drift_summary_and_tile_from_reports() -> None:
    def report(start: str, drifted: int) -> DriftReport:
        columns = [
            ColumnDrift(
                f"c{i}", Kind.NUMERIC, 100, 100, 0, 0, psi=0.3 if i < drifted else 0.01, drifted=i < drifted
            )
            for i in range(4)
        ]
        window = {"start": f"{start}T00:00:00+00:00", "end": "2026-03-09T00:00:00+00:00"}
        return DriftReport(100, 100, columns, windows={"reference": window, "current": window})

    summary = drift_summary([report("2026-03-02", 1), report("2026-03-09", 3)])
    assert [w["drifted_share"] for w in summary["windows"]] == [0.25, 0.75]
    assert summary["windows"][1]["columns"][0] == {
        "column": "c0", "kind": "numeric", "psi": 0.3, "ks": None, "wasserstein": None,
        "chi2_p_value": None, "drifted": True, "method": "psi",
    }  # fmt: skip
    tile = drift_tile(UC, {"model": "m", "title": "M", "drift": summary, "drift_note": None})
    assert (tile.baseline, tile.current, tile.change, tile.improved) == (0.25, 0.75, 0.5, False)


def test_sources_without_models_add_no_tiles() -> None:
    class Plain:
        pass

    assert model_tiles(Plain(), [None, UC]) == []  # type: ignore[arg-type]

    class Models:
        def model_monitoring(self, use_cases: Any) -> dict[str, list[dict[str, Any]]]:
            raise AssertionError("the program scope alone asks for nothing")

    assert model_tiles(Models(), [None]) == []  # type: ignore[arg-type]
    assert isinstance(drift_tile(UC, {"model": "m", "title": "M", "drift": None, "drift_note": None}), Tile)
