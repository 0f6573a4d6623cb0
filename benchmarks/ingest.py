"""Ingest of a large task_events Parquet file: Paceline vs a plain DuckDB copy.

Usage: python benchmarks/ingest.py [--rows 10000000] [--runs 3]

Both sides read the same file and write zstd Parquet. Paceline also parses and
checks every rule of spec/events.md, pseudonymises person ids, de-duplicates by
event id and records the ingest in the audit log. Each run is a fresh process,
so the peak memory is that run's own.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

from common import median, run_measured, task_events_parquet

PACELINE = """
import time
from pathlib import Path
from paceline.bootstrap import Workspace
ws = Workspace.init(Path({tmp!r}) / "ws")
__result["base_mib"] = __rss()
t0 = time.perf_counter()
report = ws.ingest("task_events", {path!r})
__result["seconds"] = time.perf_counter() - t0
__result["loaded"] = report.loaded
"""

DUCKDB_COPY = """
import time
import duckdb
con = duckdb.connect()
__result["base_mib"] = __rss()
t0 = time.perf_counter()
con.execute("COPY (SELECT * FROM read_parquet('{path}')) "
            "TO '{tmp}/copy.parquet' (FORMAT parquet, COMPRESSION zstd)")
__result["seconds"] = time.perf_counter() - t0
__result["loaded"] = con.execute("SELECT count(*) FROM read_parquet('{tmp}/copy.parquet')").fetchone()[0]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    path = str(task_events_parquet(args.rows))
    results: dict[str, list[dict[str, float]]] = {"paceline ingest": [], "duckdb COPY": []}
    for _ in range(args.runs):
        for name, code in (("paceline ingest", PACELINE), ("duckdb COPY", DUCKDB_COPY)):
            tmp = tempfile.mkdtemp(prefix="paceline-bench-")
            try:
                run = run_measured(code.format(path=path, tmp=tmp))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            assert run["loaded"] == args.rows, run
            results[name].append(run)
    print(f"ingest of {args.rows:,} task_events rows from Parquet, median of {args.runs} runs")
    print(f"{'':18} {'seconds':>8} {'rows/s':>12} {'peak MiB':>9} {'added MiB':>10}")
    for name, runs in results.items():
        secs = median(runs, "seconds")
        print(f"{name:18} {secs:8.2f} {args.rows / secs:12,.0f} {median(runs, 'peak_mib'):9.0f} "
              f"{median(runs, 'added_mib'):10.0f}")
    ratio = median(results["paceline ingest"], "seconds") / median(results["duckdb COPY"], "seconds")
    print(f"paceline / duckdb time ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
