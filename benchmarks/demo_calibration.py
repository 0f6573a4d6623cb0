"""Injected vs recovered effects of the demo firm, as a Markdown table (for docs/demo.md).

Usage: python benchmarks/demo_calibration.py [--seed 7]

Generates the default firm and runs the same independent estimators as the
effect tests (tests/demo/effects.py) on its tables. Each row gives the injected
value, the estimate with a 95% interval (estimate +- 1.96 SE), and the estimator.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.demo import effects
from tests.demo.stats import Estimate

from paceline.demo.firm import Firm, generate_firm
from paceline.demo.params import FirmParams

AI4I_PER_10K = {"failures": 339, "hdf": 115, "pwf": 95, "osf": 98}


def _pct(log_value: float) -> str:
    return f"{100 * math.expm1(log_value):+.1f}%"


def _ci(est: Estimate) -> str:
    lo, hi = est.value - 1.96 * est.se, est.value + 1.96 * est.se
    return f"{_pct(est.value)} [{_pct(lo)}, {_pct(hi)}]"


def _effect_rows(firm: Firm, duck: duckdb.DuckDBPyConnection) -> list[list[str]]:
    p = firm.params
    c, k, m = p.claims, p.clinical, p.maintenance
    mttr, downtime = effects.repairs(duck)
    quintiles = effects.gain_by_band(duck, firm, "ntile(5) OVER (ORDER BY rate)")
    top_injected = c.throughput_gain * 0.2**c.gain_curvature
    return [
        [
            "claims: units per person-day (RCT DiD)",
            _pct(c.throughput_gain),
            _ci(effects.throughput(firm, duck)),
        ],
        ["claims: bottom skill quintile (within person)", "> average", _ci(quintiles[0])],
        ["claims: top skill quintile (within person)", _pct(top_injected), _ci(quintiles[-1])],
        [
            "claims: handling time (RCT DiD)",
            _pct(math.log1p(c.handling_time_effect)),
            _ci(effects.handling_time(firm, duck)),
        ],
        [
            "claims: misroutes (Mantel-Haenszel RR)",
            _pct(math.log1p(-c.misroute_reduction)),
            _ci(effects.error_log_rr(duck, "claims-triage")),
        ],
        [
            "claims-complex (negative control): handling time",
            _pct(math.log1p(c.negative_control_slowdown)),
            _ci(effects.negative_control(duck)),
        ],
        [
            "clinical: documentation time (site DiD)",
            _pct(math.log1p(k.documentation_effect)),
            _ci(effects.documentation_did(firm, duck)),
        ],
        [
            "clinical: coding errors (Mantel-Haenszel RR)",
            _pct(math.log1p(-k.coding_error_reduction)),
            _ci(effects.error_log_rr(duck, "clinical-documentation")),
        ],
        ["maintenance: time to repair (urgent)", _pct(math.log1p(-m.mttr_reduction)), _ci(mttr)],
        [
            "maintenance: downtime (urgent, opened to done)",
            _pct(math.log1p(-m.downtime_reduction)),
            _ci(downtime),
        ],
        [
            "maintenance: operator errors (Mantel-Haenszel RR)",
            _pct(math.log1p(-m.operator_error_reduction)),
            _ci(effects.error_log_rr(duck, "predictive-maintenance")),
        ],
    ]


def _adoption_rows(firm: Firm, duck: duckdb.DuckDBPyConnection) -> list[list[str]]:
    rows = []
    for use_case, n, users, expected, people in effects.late_adoption(firm, duck):
        share = users / n
        se = math.sqrt(share * (1 - share) / people)
        shown = f"{share:.1%} [{share - 1.96 * se:.1%}, {share + 1.96 * se:.1%}]"
        rows.append([f"adoption 6-12 months after scale-up: {use_case}", f"{expected / n:.1%}", shown])
    return rows


def _drift_rows(firm: Firm, duck: duckdb.DuckDBPyConnection) -> list[list[str]]:
    t = firm.params.timeline
    months = effects.router_drift(duck)
    cut = t.drift_month - t.pilot_start
    before = max(psi for _, psi, _, _ in months[1:cut])
    month, at_drift, app, _ = months[cut]
    return [
        ["claims-router: amount PSI, months before the drift (max)", "no drift", f"{before:.3f}"],
        [f"claims-router: amount PSI in the drift month ({month})", "shift +0.5 log", f"{at_drift:.3f}"],
        [
            "claims-router: share of the new 'app' channel",
            f"{firm.params.models.drift_app_share:.0%}",
            f"{app:.1%}",
        ],
    ]


def _ai4i_rows(duck: duckdb.DuckDBPyConnection) -> list[list[str]]:
    counts = effects.ai4i_counts(duck)
    per_10k = {key: 10_000 * counts[key] / counts["readings"] for key in AI4I_PER_10K}
    rows = [
        [f"AI4I {key} per 10,000 readings", str(ref), f"{per_10k[key]:.0f}"]
        for key, ref in AI4I_PER_10K.items()
    ]
    rows.append(["AI4I rule fired but no failure label", "0", str(counts["missed"])])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    firm = generate_firm(FirmParams(), seed=args.seed)
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    for name, table in firm.tables.items():
        duck.register(name, table)
    print(f"Default firm, seed {args.seed}: injected vs recovered (95% interval)\n")
    print("| effect | injected | recovered |")
    print("|---|---|---|")
    for row in (
        _effect_rows(firm, duck) + _adoption_rows(firm, duck) + _drift_rows(firm, duck) + _ai4i_rows(duck)
    ):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
