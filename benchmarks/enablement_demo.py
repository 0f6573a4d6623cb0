"""The demo firm's training-to-outcome estimates against the injected (calibrated) truth.

Usage: python benchmarks/enablement_demo.py [--seed 7] [--people 800] [--months 18]

Generates the demo firm, loads it into a fresh workspace through ingest, records its
enablement (curricula, the learning system's xAPI history, champions, goals, sessions) with
:func:`paceline.demo.enablement.record_enablement`, then runs
``Workspace.training_outcomes`` for claims-triage and prints each KPI's estimate next to the
truth: the productivity effect from :func:`paceline.demo.enablement.calibrated_truth`, and
zero for adoption and suggestion acceptance (the demo injects no training effect on them).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from paceline.bootstrap import Workspace
from paceline.demo.enablement import calibrated_truth, record_enablement
from paceline.demo.firm import generate_firm
from paceline.demo.params import FirmParams
from paceline.demo.run import write_tables


def _build(home: Path, params: FirmParams, seed: int) -> Workspace:
    ws = Workspace.init(home)
    firm = generate_firm(params, seed)
    for name, path in write_tables(firm, home / "demo-data").items():
        ws.ingest(name, path)
    record_enablement(ws, params, seed)
    return ws


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:+.2f}%" if pct else f"{value:+.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--months", type=int, default=None)
    args = parser.parse_args()
    params = FirmParams.sized(args.people, args.months)
    truth = calibrated_truth(params, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ws = _build(Path(tmp) / "ws", params, args.seed)
        built = time.perf_counter()
        doc = ws.training_outcomes("claims-triage")
        done = time.perf_counter()
        ws.close()
    print(f"seed {args.seed}: workspace built in {built - start:.1f} s, outcomes in {done - built:.1f} s")
    print(f"training factor on the assistant's effect: 1 + {truth['ai_effect_uplift']:.3f}")
    columns = ["KPI", "truth", "estimate", "95% CI", "relative (truth)", "relative estimate [95% CI]"]
    columns += ["CR2 check [95% CI]", "trained / not"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for o in doc["outcomes"]:
        true = truth["estimate"] if o["kpi"] == "productivity" else 0.0
        rel = truth["relative"] if o["kpi"] == "productivity" else 0.0
        ci = "-" if not o["ci"] else f"[{_fmt(o['ci'][0])}, {_fmt(o['ci'][1])}]"
        rci = (
            ""
            if not o["relative_ci"]
            else f" [{_fmt(o['relative_ci'][0], True)}, {_fmt(o['relative_ci'][1], True)}]"
        )
        cr2 = o["did_cr2"]
        check = (
            "-"
            if not cr2 or cr2["estimate"] is None
            else (f"{_fmt(cr2['estimate'])} [{_fmt(cr2['ci'][0])}, {_fmt(cr2['ci'][1])}]")
        )
        people = f"{o['people']['trained']} / {o['people']['not_trained']}"
        print(
            f"| {o['kpi']} | {_fmt(true)} | {_fmt(o['estimate'])} | {ci} | {_fmt(rel, True)} | "
            f"{_fmt(o['relative'], True)}{rci} | {check} | {people} |"
        )


if __name__ == "__main__":
    main()
