"""Model performance per day over a large prediction log: Paceline vs scikit-learn on numpy arrays.

Usage: python benchmarks/model_performance.py [--rows 10000000] [--runs 3]

A binary model's predictions (30 days, two versions) and labels (70% arrived; the model is
miscalibrated, true P = sigmoid(0.7 logit - 0.3)) are generated once as Parquet and ingested
into a benchmark workspace (not timed). Each arm then computes, per day, accuracy, precision,
recall, F1, exact ROC AUC, Brier score, log loss and the expected calibration error (10
equal-width bins), in a fresh process:

* ``paceline``: :func:`paceline.services.model_performance.warehouse_performance` (the join of
  predictions and labels, the aggregation and both AUCs inside DuckDB; plus binned AUC,
  reliability bins, label coverage and delay, and the CBPE estimate), without the result cache;
* ``paceline, binned AUC only``: the same without the exact AUC's per-score pass;
* ``pandas + scikit-learn``: the two Parquet files loaded with pandas, joined, and
  ``sklearn.metrics`` run per day on numpy arrays (loading is timed separately).

Both arms' per-day figures are compared (largest absolute difference printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from common import DATA, median, run_measured

DAYS = 30
START = "2026-03-01T00:00:00+00:00"

PACELINE = """
import json, time
from paceline.bootstrap import Workspace
from paceline.services.model_performance import parse_query, warehouse_performance
con = Workspace.open({home!r}).warehouse.connect()
q = parse_query("failure-risk", task="binary", positive="failure", grain="day", exact_auc={exact})
__result["base_mib"] = __rss()
t0 = time.perf_counter()
doc = warehouse_performance(con, q)
__result["seconds"] = time.perf_counter() - t0
days = {{r["period_start"]: r["realized"] for r in doc["rows"]}}
keep = ("accuracy", "precision", "recall", "f1", "auc", "brier", "log_loss")
out = {{d: {{k: r[k] for k in keep}} | {{"ece": r["calibration"]["ece"]}} for d, r in days.items()}}
open({out!r}, "w").write(json.dumps(out))
__result["rows"] = len(doc["rows"])
"""

SKLEARN = """
import json, time
import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, brier_score_loss, f1_score, log_loss, precision_score,
                             recall_score, roc_auc_score)
__result["base_mib"] = __rss()
t0 = time.perf_counter()
p = pd.read_parquet({preds!r}, columns=["prediction_id", "predicted_at", "prediction", "score"])
l = pd.read_parquet({labels!r}, columns=["prediction_id", "label"])
__result["load_seconds"] = time.perf_counter() - t0
t1 = time.perf_counter()
d = p.merge(l, on="prediction_id", how="inner")
d["day"] = d.predicted_at.dt.strftime("%Y-%m-%d")
out = {{}}
for day, g in d.groupby("day"):
    y = (g.label.to_numpy() == "failure").astype(int)
    yhat = (g.prediction.to_numpy() == "failure").astype(int)
    s = g.score.to_numpy()
    q = np.where(yhat == 1, s, 1 - s)
    b = np.minimum(np.floor(q * 10), 9).astype(int)
    n = np.bincount(b, minlength=10)
    gap = np.abs(np.bincount(b, q, 10) - np.bincount(b, y, 10))
    out[day] = {{"accuracy": accuracy_score(y, yhat), "precision": precision_score(y, yhat),
                "recall": recall_score(y, yhat), "f1": f1_score(y, yhat), "auc": roc_auc_score(y, q),
                "brier": brier_score_loss(y, q), "log_loss": log_loss(y, q), "ece": gap.sum() / n.sum()}}
__result["metrics_seconds"] = time.perf_counter() - t1
__result["seconds"] = time.perf_counter() - t0
open({out!r}, "w").write(json.dumps(out))
__result["rows"] = len(out)
"""


def generate(rows: int) -> tuple[Path, Path]:
    """Predictions and labels Parquet files of *rows* predictions (seeded; written once)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    preds, labels = DATA / f"predictions_{rows}.parquet", DATA / f"labels_{rows}.parquet"
    if preds.exists() and labels.exists():
        return preds, labels
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    start = np.datetime64(START[:19], "us")
    chunk = 1_000_000
    schema_p = pa.schema(
        [
            ("prediction_id", pa.string()),
            ("model", pa.string()),
            ("model_version", pa.string()),
            ("use_case", pa.string()),
            ("predicted_at", pa.timestamp("us", tz="UTC")),
            ("prediction", pa.string()),
            ("score", pa.float64()),
        ]
    )
    schema_l = pa.schema(
        [
            ("prediction_id", pa.string()),
            ("label", pa.string()),
            ("labeled_at", pa.timestamp("us", tz="UTC")),
            ("source", pa.string()),
        ]
    )
    with (
        pq.ParquetWriter(preds, schema_p, compression="zstd") as wp,
        pq.ParquetWriter(labels, schema_l, compression="zstd") as wl,
    ):
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            ids = np.char.add("p-", np.arange(lo, lo + n).astype(str))
            logit = rng.normal(0, 2, n)
            p_fail = 1 / (1 + np.exp(-logit))
            predicted = np.where(p_fail >= 0.5, "failure", "ok")
            at = start + rng.integers(0, DAYS * 86_400_000_000, n).astype("timedelta64[us]")
            truth = np.where(rng.random(n) < 1 / (1 + np.exp(-(0.7 * logit - 0.3))), "failure", "ok")
            wp.write_table(
                pa.table(
                    {
                        "prediction_id": ids,
                        "model": np.full(n, "failure-risk"),
                        "model_version": np.where(rng.random(n) < 0.5, "1.0", "1.1"),
                        "use_case": np.full(n, "predictive-maintenance"),
                        "predicted_at": pa.array(at, pa.timestamp("us", tz="UTC")),
                        "prediction": predicted,
                        "score": np.round(np.where(predicted == "failure", p_fail, 1 - p_fail), 6),
                    },
                    schema=schema_p,
                )
            )
            keep = rng.random(n) < 0.7
            wl.write_table(
                pa.table(
                    {
                        "prediction_id": ids[keep],
                        "label": truth[keep],
                        "labeled_at": pa.array(
                            at[keep] + np.timedelta64(3_600_000_000, "us"), pa.timestamp("us", tz="UTC")
                        ),
                        "source": np.full(int(keep.sum()), "downstream"),
                    },
                    schema=schema_l,
                )
            )
    return preds, labels


def prepare(rows: int, preds: Path, labels: Path) -> Path:
    """A workspace with the predictions and labels ingested and the model registered."""
    home = DATA / f"perf-ws-{rows}"
    if (home / "secret.key").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    from paceline.bootstrap import Workspace
    from paceline.services.access import operator

    ws = Workspace.init(home)
    ws.ingest("predictions", preds)
    ws.ingest("labels", labels)
    with ws.lifecycle() as lc:
        lc.create(
            operator(), {"key": "predictive-maintenance", "title": "Predictive maintenance", "owner": "bo"}
        )
    with ws.models() as registry:
        registry.register_model(
            operator(), "failure-risk", "predictive-maintenance", task="binary", positive_label="failure"
        )
    ws.close()
    return home


def largest_difference(a: Path, b: Path) -> tuple[float, str]:
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    worst, where = 0.0, ""
    for day in sorted(set(left) | set(right)):
        for key, value in right[day].items():
            diff = abs(left[day][key] - value)
            if diff > worst:
                worst, where = diff, f"{key} on {day}"
    return worst, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    preds, labels = generate(args.rows)
    home = prepare(args.rows, preds, labels)
    outs = {name: DATA / f"perf-{name}.json" for name in ("paceline", "binned", "sklearn")}
    arms = {
        "paceline": PACELINE.format(home=str(home), exact=True, out=str(outs["paceline"])),
        "paceline, binned AUC only": PACELINE.format(home=str(home), exact=False, out=str(outs["binned"])),
        "pandas + scikit-learn": SKLEARN.format(
            preds=str(preds), labels=str(labels), out=str(outs["sklearn"])
        ),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
    for _ in range(args.runs):
        for name, code in arms.items():
            results[name].append(run_measured(code))
    print(
        f"performance per day ({DAYS} days) over {args.rows:,} predictions with 70% labeled, "
        f"median of {args.runs} runs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':28} {'seconds':>8} {'peak MiB':>9} {'added MiB':>10}")
    for name, runs in results.items():
        figures = [median(runs, "seconds"), median(runs, "peak_mib"), median(runs, "added_mib")]
        print(f"{name:28} {figures[0]:8.2f} {figures[1]:9.0f} {figures[2]:10.0f}")
    sk = results["pandas + scikit-learn"]
    print(
        f"  scikit-learn: loading with pandas {median(sk, 'load_seconds'):.2f} s, "
        f"join and metrics {median(sk, 'metrics_seconds'):.2f} s"
    )
    worst, where = largest_difference(outs["paceline"], outs["sklearn"])
    print(f"largest difference paceline vs scikit-learn: {worst:.2e} ({where})")


if __name__ == "__main__":
    main()
