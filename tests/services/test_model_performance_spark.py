"""Model performance on Spark: the same predictions and labels, the same report as on DuckDB.

Both engines read the same Parquet files (the warehouse's columns and types: ``features`` as
JSON text, timestamps in UTC), registered as ``predictions`` and ``labels``, and
:func:`warehouse_performance` runs its Ibis expressions on each."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paceline.services.model_performance import PerformanceQuery, parse_query, warehouse_performance
from paceline.services.model_periods import period_start
from tests.services.test_model_performance import UC, _history, _ts

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]

# The warehouse's columns (paceline.domain.tables: PREDICTIONS, LABELS) as the warehouse stores them.
PREDICTIONS = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("model", pa.string()),
        ("model_version", pa.string()),
        ("use_case", pa.string()),
        ("predicted_at", pa.timestamp("us", tz="UTC")),
        ("prediction", pa.string()),
        ("score", pa.float64()),
        ("task_id", pa.string()),
        ("features", pa.string()),  # JSON text
        ("latency_ms", pa.float64()),
    ]
)
LABELS = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("task_id", pa.string()),
        ("label", pa.string()),
        ("labeled_at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
        ("labeler", pa.string()),
    ]
)
QUEUES = np.array(["fast-track", "standard", "specialist"])
ROUTER_START = datetime(2025, 12, 1, tzinfo=UTC)  # from the evening of Nov 30 to March


def _binary_tables(frame: pd.DataFrame) -> tuple[pa.Table, pa.Table]:
    """The failure model of test_model_performance: labels by prediction or by task, 50 corrected."""
    n = len(frame)
    preds = pa.table(
        {
            "prediction_id": frame.prediction_id,
            "model": ["failure-risk"] * n,
            "model_version": frame.model_version,
            "use_case": [UC] * n,
            "predicted_at": _ts(list(frame.predicted_at)),
            "prediction": frame.prediction,
            "score": frame.score,
            "task_id": frame.task_id,
            "features": [json.dumps({"type": k}) for k in frame.kind],
            "latency_ms": [None] * n,
        },
        schema=PREDICTIONS,
    )
    labeled = frame[frame.labeled]
    wrong_first = labeled.head(50)
    m = len(labeled) + len(wrong_first)
    labels = pa.table(
        {
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
            "source": ["review"] * m,
            "labeler": ["someone"] * m,
        },
        schema=LABELS,
    )
    return preds, labels


def _features(region: str, shape: float) -> str | None:
    """JSON text with *region* (``"7"`` as a number, ``"null"`` as JSON null); some rows have no
    features or no region."""
    if shape < 0.05:
        return None
    if shape < 0.1:
        return "{}"
    value: Any = 7 if region == "7" else None if region == "null" else region
    return json.dumps({"region": value, "amount": round(shape * 900, 2)})


def _router(seed: int = 2, n: int = 3_000) -> pd.DataFrame:
    """A three-queue router from Nov 30 to March; times cluster around midnight UTC so that a period
    computed in any other zone would move rows across month ends; March has no labels yet."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(QUEUES, n)
    predicted = np.where(rng.random(n) < 0.7, truth, rng.choice(QUEUES, n))
    days = rng.integers(0, 120, n)
    minutes = rng.integers(-90, 90, n)  # within an hour and a half of midnight UTC
    at = [ROUTER_START + timedelta(days=int(d), minutes=int(m)) for d, m in zip(days, minutes, strict=True)]
    regions = rng.choice(["north", "south", "east", "west", "7", "null"], n)
    features = [_features(str(r), float(s)) for r, s in zip(regions, rng.random(n), strict=True)]
    score = np.round(rng.uniform(0.34, 1.0, n), 6)
    return pd.DataFrame(
        {
            "prediction_id": [f"c{i}" for i in range(n)],
            "task_id": [f"claim-{i}" for i in range(n)],
            "predicted_at": at,
            "prediction": predicted,
            "score": np.where(rng.random(n) < 0.03, np.nan, score),  # a few unscored
            "features": features,
            "truth": truth,
            "labeled": (rng.random(n) < 0.8) & (np.array([a.month != 3 for a in at])),
            "by_task": rng.random(n) < 0.25,
            "delay_hours": rng.integers(1, 96, n),
        }
    )


def _router_tables(frame: pd.DataFrame) -> tuple[pa.Table, pa.Table]:
    n = len(frame)
    preds = pa.table(
        {
            "prediction_id": frame.prediction_id,
            "model": ["router"] * n,
            "model_version": ["2"] * n,
            "use_case": ["claims"] * n,
            "predicted_at": _ts(list(frame.predicted_at)),
            "prediction": frame.prediction,
            "score": pa.array(frame.score, pa.float64(), from_pandas=True),
            "task_id": frame.task_id,
            "features": frame.features,
            "latency_ms": np.full(n, 120.0),
        },
        schema=PREDICTIONS,
    )
    labeled = frame[frame.labeled]
    audited = labeled.iloc[::10]  # an audit corrects every tenth later: the latest label wins
    at = [t + timedelta(hours=int(h)) for t, h in zip(labeled.predicted_at, labeled.delay_hours, strict=True)]
    labels = pa.table(
        {
            "prediction_id": [
                None if t else p for p, t in zip(labeled.prediction_id, labeled.by_task, strict=True)
            ]
            + list(audited.prediction_id),
            "task_id": list(labeled.task_id) + [None] * len(audited),
            "label": list(labeled.truth) + list(audited.prediction),
            "labeled_at": _ts(at + [t + timedelta(days=20) for t in audited.predicted_at]),
            "source": ["review"] * len(labeled) + ["audit"] * len(audited),
            "labeler": [None] * (len(labeled) + len(audited)),
        },
        schema=LABELS,
    )
    return preds, labels


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    """One local[2] SparkSession for the module (UTC session time zone, no UI)."""
    pytest.importorskip("pyspark", reason="install the spark extra: pip install '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("paceline-performance-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def router() -> pd.DataFrame:
    return _router()


@pytest.fixture(scope="module")
def engines(
    spark_session: Any, tmp_path_factory: pytest.TempPathFactory, router: pd.DataFrame
) -> Iterator[dict[str, Any]]:
    """DuckDB and Spark, each with ``predictions`` and ``labels`` read from the same Parquet files."""
    import ibis

    folder = tmp_path_factory.mktemp("performance-spark")
    parts = [_binary_tables(_history()), _router_tables(router)]
    for name, index in (("predictions", 0), ("labels", 1)):
        pq.write_table(pa.concat_tables([p[index] for p in parts]), folder / f"{name}.parquet")
    cons = {"duck": ibis.duckdb.connect(), "spark": ibis.pyspark.connect(spark_session)}
    for con in cons.values():
        for name in ("predictions", "labels"):
            con.read_parquet(str(folder / f"{name}.parquet"), table_name=name)
    yield cons
    cons["duck"].disconnect()


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two reports differ: counts exactly, floats to 1e-9 relative, dicts in any key order."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())} on one side only"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} against {len(b)} items"]
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        same = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
        return [] if same else [f"{path}: {a!r} against {b!r}"]
    if type(a) is not type(b) or a != b:  # a count must not turn into a float on one engine
        return [f"{path}: {a!r} ({type(a).__name__}) against {b!r} ({type(b).__name__})"]
    return []


CASES = {
    "binary-weekly-by-version": parse_query(
        "failure-risk", task="binary", positive="failure", grain="week", segment="model_version"
    ),
    "multiclass-monthly-by-feature": parse_query("router", grain="month", segment="features.region"),
}


@pytest.mark.parametrize("q", CASES.values(), ids=CASES.keys())
def test_spark_and_duckdb_give_the_same_report(
    engines: dict[str, Any], q: PerformanceQuery, router: pd.DataFrame
) -> None:
    duck = warehouse_performance(engines["duck"], q)
    spark = warehouse_performance(engines["spark"], q)
    assert _differences(duck, spark) == []
    assert duck["rows"] and all(r["realized"] for r in duck["rows"][:2])
    if q.model == "router":  # the periods and segments themselves, from Python's calendar
        region = [json.loads(f).get("region") if isinstance(f, str) else None for f in router.features]
        keys = pd.Series(  # a number is segmented by its text, a JSON null or no key is "(none)"
            [
                f"{period_start(t.date(), q.grain)}|{'(none)' if r is None else r}"
                for t, r in zip(router.predicted_at, region, strict=True)
            ]
        )
        expected = keys.value_counts().sort_index().to_dict()
        assert {f"{r['period_start']}|{r['segment']}": r["n"] for r in duck["rows"]} == expected
        assert [r["realized"] is None for r in duck["rows"]].count(True) == 6  # March: no labels yet
