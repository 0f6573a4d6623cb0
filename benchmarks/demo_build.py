"""Build of the default demo firm, and the ``--scale`` writer: wall time, peak memory, rows/s.

Usage: python benchmarks/demo_build.py [--runs 3] [--scale-rows 10000000] [--seed 7]

Each run is a fresh Python process into a fresh workspace, so its peak RSS is its
own. For the build, "process" is the whole subprocess as a user waits for it
(interpreter start, imports, build), and the phases are the build's own clock
(generate the firm, write Parquet, ingest, users and summary). The goal of
issue 3 is generation + load of the default firm in under 60 s and 2 GiB.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from common import median, run_measured

BUILD = """
import time
from pathlib import Path
from paceline.bootstrap import Workspace
from paceline.demo.run import build_demo
ws = Workspace.init(Path({tmp!r}) / "ws")
t0 = time.perf_counter()
summary = build_demo(ws, seed={seed})
__result["seconds"] = time.perf_counter() - t0
__result.update({{f"phase_{{k}}": v for k, v in summary.seconds.items()}})
__result["task_events"] = summary.rows["task_events"]
__result["rows"] = sum(summary.rows.values())
__result["quarantined"] = summary.quarantined
"""

SCALE = """
from paceline.demo.scale import write_scale
report = write_scale({rows}, {tmp!r}, seed={seed})
__result["seconds"] = report.seconds
__result["rows"] = report.rows
"""


def _runs(code: str, runs: int, **fields: object) -> list[dict[str, float]]:
    results = []
    for _ in range(runs):
        tmp = tempfile.mkdtemp(prefix="paceline-demo-bench-")
        try:
            start = time.perf_counter()
            result = run_measured(code.format(tmp=tmp, **fields))
            result["process"] = time.perf_counter() - start
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale-rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    builds = _runs(BUILD, args.runs, seed=args.seed)
    assert all(b["quarantined"] == 0 for b in builds), builds
    first = builds[0]
    print(f"default demo firm (seed {args.seed}), median of {args.runs} fresh processes")
    print(f"  rows loaded: {first['rows']:,.0f} ({first['task_events']:,.0f} task events), 0 quarantined")
    for key, label in (
        ("process", "whole process (start, imports, build)"),
        ("seconds", "build_demo"),
        ("phase_generate", "  generate the firm"),
        ("phase_write", "  write Parquet"),
        ("phase_ingest", "  ingest 8 tables"),
        ("phase_summary", "  users, audit check, headline KPIs"),
    ):
        print(f"  {label:40} {median(builds, key):7.2f} s")
    gen_load = [b["phase_generate"] + b["phase_write"] + b["phase_ingest"] for b in builds]
    print(f"  {'generation + load (goal < 60 s)':40} {sorted(gen_load)[len(gen_load) // 2]:7.2f} s")
    print(f"  {'peak RSS (goal < 2048 MiB)':40} {median(builds, 'peak_mib'):7.0f} MiB")

    scales = _runs(SCALE, args.runs, rows=args.scale_rows, seed=args.seed)
    secs = median(scales, "seconds")
    print(f"--scale {args.scale_rows:,}, median of {args.runs} fresh processes")
    print(f"  {'write time':40} {secs:7.2f} s")
    print(f"  {'rows/s':40} {args.scale_rows / secs:10,.0f}")
    print(f"  {'peak RSS':40} {median(scales, 'peak_mib'):7.0f} MiB")


if __name__ == "__main__":
    main()
