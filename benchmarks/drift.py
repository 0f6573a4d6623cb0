"""Drift over 25 columns: Paceline vs a scipy loop vs Evidently, same data, same run.

Usage:
    python benchmarks/drift.py [--rows 1000000 10000000] [--runs 3] [--tools paceline,scipy,evidently]
                               [--huge 100000000] [--huge-reference 10000000] [--memory-limit 512MB]

Data (generated once, deterministically, under benchmarks/.data/drift): reference and
current Parquet files with 20 numeric and 5 categorical columns, shaped like the
monitoring notes' generator (normal, uniform, lognormal, exponential; 3/5/10/20/50
categories; 1% nulls in num_05) with drift injected in the current file only:
num_00 mean +0.5 sd, num_01 scale x1.3, num_02 mean +0.02 sd, num_03 lognormal sigma
0.5 -> 0.7, cat_0 probabilities reshuffled, cat_1 a new category at 5%.

Each tool runs as its own process; the figures are the whole process (interpreter,
imports, reading the files, the statistics), wall time measured by this script and
peak RSS as the process reports it (``getrusage(RUSAGE_SELF).ru_maxrss``):

* paceline  — ``paceline.drift(ref.parquet, cur.parquet)``;
* scipy     — pyarrow load, then per numeric column ``ks_2samp`` + ``wasserstein_distance``
              + numpy decile PSI, per categorical column ``chi2_contingency`` + PSI;
* evidently — Evidently 0.7.23 ``DataDriftPreset()`` (its defaults), installed only in
              ``benchmarks/.venv-evidently`` (created on first use, with pandas<3).

Agreement: Paceline's KS statistic, KS p-value and Wasserstein distance are compared
with scipy's (and its PSI with the numpy PSI) for every numeric column, in the same run.
``--huge N`` also runs Paceline alone on an N-row current file against the
``--huge-reference`` file, with DuckDB's memory limit set, and reports its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data" / "drift"
EVIDENTLY_VENV = HERE / ".venv-evidently"
CHUNK = 1_000_000

GENERATE = """
import sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq

def chunk(rng, n, current):
    cols = {}
    for i in range(20):
        shape = i % 5
        if shape == 0:
            x = rng.normal(10.0, 2.0, n)
        elif shape == 1:
            x = rng.normal(0.0, 1.0, n)
        elif shape == 2:
            x = rng.uniform(-5, 5, n)
        elif shape == 3:
            x = rng.lognormal(0.0, 0.5, n)
        else:
            x = rng.exponential(3.0, n)
        if current:
            if i == 0:
                x = x + 0.5 * 2.0
            elif i == 1:
                x = x * 1.3
            elif i == 2:
                x = x + 0.02 * (10 / np.sqrt(12))
            elif i == 3:
                x = rng.lognormal(0.0, 0.7, n)
        if i == 5:
            x[rng.random(n) < 0.01] = np.nan
        cols[f"num_{i:02d}"] = pa.array(x, from_pandas=True)  # NaN -> NULL, as an engine expects
    for j, k in enumerate([3, 5, 10, 20, 50]):
        names = pa.array([f"c{j}_{v}" for v in range(k)] + ["NEW"], pa.string())
        p = np.linspace(1.0, 2.0, k)
        if current and j == 0:
            p = p[::-1] ** 2
        idx = rng.choice(k, size=n, p=p / p.sum())
        if current and j == 1:
            idx[rng.random(n) < 0.05] = k
        cols[f"cat_{j}"] = pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), names).cast(pa.string())
    return pa.table(cols)

out, rows, seed, kind, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
writer = None
for start in range(0, rows, step):
    table = chunk(np.random.default_rng([seed, start // step]), min(step, rows - start), kind == "cur")
    writer = writer or pq.ParquetWriter(out + ".tmp", table.schema)
    writer.write_table(table, row_group_size=256_000)
writer.close()
import os
os.replace(out + ".tmp", out)
"""

PACELINE = """
import json, resource, sys, time
t0 = time.perf_counter()
import paceline
ref, cur, out, memory = sys.argv[1:5]
report = paceline.drift(ref, cur, memory_limit=memory)
cols = {c.column: {"ks": c.ks, "ks_p": c.ks_p_value, "w1": c.wasserstein, "psi": c.psi,
                   "chi2_p": c.chi2_p_value, "drifted": c.drifted} for c in report.columns}
json.dump({"columns": cols, "seconds": time.perf_counter() - t0,
           "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, open(out, "w"))
"""

SCIPY = """
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import stats
ref_path, cur_path, out = sys.argv[1:4]
names = pq.read_schema(ref_path).names
ref, cur = pq.read_table(ref_path), pq.read_table(cur_path)

def psi(r, c):
    r, c = np.maximum(r / r.sum(), 1e-4), np.maximum(c / c.sum(), 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))

cols = {}
for name in names:
    if name.startswith("num_"):
        r = ref[name].to_numpy(zero_copy_only=False); r = r[np.isfinite(r)]
        c = cur[name].to_numpy(zero_copy_only=False); c = c[np.isfinite(c)]
        ks = stats.ks_2samp(r, c)
        edges = np.quantile(r, np.arange(1, 10) / 10)
        pr = np.bincount(np.searchsorted(edges, r, side="left"), minlength=10)
        pcur = np.bincount(np.searchsorted(edges, c, side="left"), minlength=10)
        cols[name] = {"ks": float(ks.statistic), "ks_p": float(ks.pvalue),
                      "w1": float(stats.wasserstein_distance(r, c)), "psi": psi(pr, pcur)}
    else:
        vr = pc.value_counts(ref[name].drop_null()).to_pylist()
        vc = pc.value_counts(cur[name].drop_null()).to_pylist()
        a = {d["values"]: d["counts"] for d in vr}
        b = {d["values"]: d["counts"] for d in vc}
        cats = sorted(set(a) | set(b))
        table = np.array([[a.get(k, 0) for k in cats], [b.get(k, 0) for k in cats]])
        seen = [k for k in cats if k in a]
        unseen = sum(b[k] for k in cats if k not in a)
        ref_bins = np.array([a[k] for k in seen] + [0])
        cur_bins = np.array([b.get(k, 0) for k in seen] + [unseen])
        cols[name] = {"chi2_p": float(stats.chi2_contingency(table, correction=False).pvalue),
                      "psi": psi(ref_bins, cur_bins)}
json.dump({"columns": cols, "seconds": time.perf_counter() - t0,
           "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, open(out, "w"))
"""

EVIDENTLY = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref_path, cur_path, out = sys.argv[1:4]
ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
num = [c for c in ref.columns if c.startswith("num_")]
cat = [c for c in ref.columns if c.startswith("cat_")]
definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
snapshot = Report([DataDriftPreset()]).run(
    current_data=Dataset.from_pandas(cur, data_definition=definition),
    reference_data=Dataset.from_pandas(ref, data_definition=definition),
)
metrics = snapshot.dict()["metrics"]
values = {str(m.get("metric_id") or m.get("metric_name")): str(m.get("value")) for m in metrics}
json.dump({"values": values, "seconds": time.perf_counter() - t0,
           "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, open(out, "w"))
"""


def dataset(rows: int, seed: int, kind: str) -> Path:
    """``<kind>_<rows>.parquet`` under the data folder, generated once (1M-row chunks, seeded)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{kind}_{rows}.parquet"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        subprocess.run(
            [sys.executable, "-c", GENERATE, str(path), str(rows), str(seed), kind, str(CHUNK)], check=True
        )
    return path


def evidently_python() -> Path:
    """The Python of the benchmark-only venv with Evidently 0.7.23 (created on first use)."""
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print("creating benchmarks/.venv-evidently (Evidently 0.7.23, pandas<3) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently==0.7.23", "pandas<3", "pyarrow"],
            check=True,
        )
    return python


def run_tool(tool: str, ref: Path, cur: Path, memory_limit: str) -> dict:
    """One whole-process run of *tool*: wall seconds (measured here), peak MiB and its results."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        if tool == "paceline":
            cmd = [sys.executable, "-c", PACELINE, str(ref), str(cur), str(out), memory_limit]
        elif tool == "scipy":
            cmd = [sys.executable, "-c", SCIPY, str(ref), str(cur), str(out)]
        else:
            cmd = [str(evidently_python()), "-c", EVIDENTLY, str(ref), str(cur), str(out)]
        start = time.perf_counter()
        done = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{tool} failed:\n{done.stderr[-3000:]}")
        doc = json.loads(out.read_text())
    doc["wall"] = wall
    return doc


def agreement(paceline: dict, scipy: dict) -> dict[str, float]:
    """Largest differences between Paceline and scipy/numpy over the numeric (and categorical) columns."""
    worst = {"ks": 0.0, "ks_p": 0.0, "w1": 0.0, "w1_rel": 0.0, "psi": 0.0, "chi2_p": 0.0}
    for name, s in scipy["columns"].items():
        p = paceline["columns"][name]
        for key in ("ks", "ks_p", "w1", "psi", "chi2_p"):
            if key in s:
                worst[key] = max(worst[key], abs(p[key] - s[key]))
        if "w1" in s:
            worst["w1_rel"] = max(worst["w1_rel"], abs(p["w1"] - s["w1"]) / max(abs(s["w1"]), 1e-300))
    return worst


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def compare(rows: int, runs: int, tools: list[str], memory_limit: str) -> None:
    ref, cur = dataset(rows, 1, "ref"), dataset(rows, 2, "cur")
    results: dict[str, list[dict]] = {t: [] for t in tools}
    print(f"\n{rows:,} x {rows:,} rows, 25 columns; load average before: {load_average()}", flush=True)
    for i in range(runs):
        for tool in tools:  # interleaved, so a slow period hits every tool alike
            doc = run_tool(tool, ref, cur, memory_limit)
            results[tool].append(doc)
            print(f"  run {i + 1} {tool:<9} {doc['wall']:7.2f} s  {doc['peak_mib']:7.0f} MiB", flush=True)
    print(f"load average after: {load_average()}")
    base = statistics.median(d["wall"] for d in results.get("paceline", results[tools[0]]))
    print("\n| tool | runs | wall (median) | peak RSS (median) | wall / Paceline |\n|---|---|---|---|---|")
    for tool, docs in results.items():
        wall = statistics.median(d["wall"] for d in docs)
        peak = statistics.median(d["peak_mib"] for d in docs)
        print(f"| {tool} | {len(docs)} | {wall:.2f} s | {peak / 1024:.2f} GiB | {wall / base:.1f}x |")
    if "paceline" in results and "scipy" in results:
        worst = agreement(results["paceline"][0], results["scipy"][0])
        print(
            "\nPaceline vs scipy, largest |difference| over the columns: "
            + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
        )
        ok = worst["ks"] <= 1e-9 and worst["w1"] <= 1e-9 and worst["psi"] <= 1e-9
        print("agreement to 1e-9 (KS, Wasserstein, PSI):", "yes" if ok else "NO")
        flagged = sorted(n for n, c in results["paceline"][0]["columns"].items() if c["drifted"])
        print("Paceline flags (PSI >= 0.2):", ", ".join(flagged))


def huge(rows: int, reference_rows: int, memory_limit: str) -> None:
    ref, cur = dataset(reference_rows, 1, "ref"), dataset(rows, 3, "cur")
    print(
        f"\n{reference_rows:,} reference x {rows:,} current rows, Paceline only, DuckDB memory_limit "
        f"{memory_limit}; load average before: {load_average()}",
        flush=True,
    )
    doc = run_tool("paceline", ref, cur, memory_limit)
    print(f"| paceline | {doc['wall']:.1f} s | {doc['peak_mib'] / 1024:.2f} GiB peak RSS |")
    flagged = sorted(n for n, c in doc["columns"].items() if c["drifted"])
    print("Paceline flags (PSI >= 0.2):", ", ".join(flagged))
    print(f"load average after: {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="paceline,scipy,evidently")
    parser.add_argument(
        "--evidently-max-rows",
        type=int,
        default=1_000_000,
        help="Evidently runs only up to this size (it took ~155 s at 1M in the notes).",
    )
    parser.add_argument("--memory-limit", default="512MB", help="DuckDB memory_limit for Paceline.")
    parser.add_argument("--huge", type=int, default=0, help="Also run Paceline on this many current rows.")
    parser.add_argument("--huge-reference", type=int, default=10_000_000)
    args = parser.parse_args()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for rows in args.rows:
        chosen = [t for t in tools if t != "evidently" or rows <= args.evidently_max_rows]
        compare(rows, args.runs, chosen, args.memory_limit)
    if args.huge:
        huge(args.huge, args.huge_reference, args.memory_limit)


if __name__ == "__main__":
    main()
