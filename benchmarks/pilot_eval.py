"""Evaluate a pilot over 10M task events: paceline.evaluate_pilot vs statsmodels on the raw rows.

Usage: python benchmarks/pilot_eval.py [--rows 10000000] [--runs 3]

The Parquet file (generated once by DuckDB, not timed) holds ``rows`` tasks of 2,000
employees, half of them in the AI arm, over 8 weeks; the pilot starts in week 5. The
model is the same in both arms: the difference-in-differences OLS of the outcome on
treated, post and treated x post with standard errors clustered by employee (CR1,
t(G - 1)). Paceline lets DuckDB reduce the file to per-(employee, period) moments and
fits on those; statsmodels reads the needed columns into pandas and fits on every
row. Each arm runs in a fresh process (benchmarks/common.py); both start from the file.
"""

from __future__ import annotations

import argparse
import os

from common import DATA, median, run_measured

PERSONS = 2000

PACELINE = """
import time
import paceline
__result["base_mib"] = __rss()
t0 = time.perf_counter()
r = paceline.evaluate_pilot({path!r}, outcome="minutes", group="arm", treated="ai", unit="person_id",
                            period="week", post=5)
__result["seconds"] = time.perf_counter() - t0
__result["estimate"], __result["se"] = r.estimate.estimate, r.estimate.se
__result["se_method"] = r.se_method
"""

STATSMODELS = """
import time
import numpy as np
import pandas as pd
import statsmodels.api as sm
__result["base_mib"] = __rss()
t0 = time.perf_counter()
df = pd.read_parquet({path!r}, columns=["person_id", "arm", "week", "minutes"])
t = (df["arm"] == "ai").to_numpy(float)
p = (df["week"] >= 5).to_numpy(float)
x = np.column_stack([np.ones_like(t), t, p, t * p])
groups = pd.factorize(df["person_id"])[0]
t1 = time.perf_counter()
fit = sm.OLS(df["minutes"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={{"groups": groups}}, use_t=True)
__result["seconds"] = time.perf_counter() - t0
__result["fit_seconds"] = time.perf_counter() - t1
__result["estimate"], __result["se"] = float(fit.params[3]), float(fit.bse[3])
"""


def pilot_parquet(rows: int) -> str:
    """Tasks with a person effect, a common trend and an AI effect of 0.5 minutes after week 4."""
    import duckdb

    DATA.mkdir(exist_ok=True)
    path = DATA / f"pilot_tasks_{rows}.parquet"
    if path.exists():
        return str(path)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(f"""
        CREATE TEMP TABLE people AS
        SELECT p, 'emp-' || lpad(p::VARCHAR, 4, '0') AS person_id,
               CASE WHEN p % 2 = 0 THEN 'ai' ELSE 'control' END AS arm,
               2.0 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS level
        FROM range({PERSONS}) t(p)
    """)
    con.execute(f"""
        COPY (
            SELECT 'task-' || i AS task_id, person_id, arm, 1 + (i % 8)::INTEGER AS week,
                   30 + level + 0.3 * (i % 8 >= 4)::INT + 0.5 * (arm = 'ai' AND i % 8 >= 4)::INT
                     + 6.0 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS minutes
            FROM (SELECT i, (hash(i) % {PERSONS})::BIGINT AS p FROM range({rows}) t(i)) JOIN people USING (p)
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)
    """)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    path = pilot_parquet(args.rows)
    arms = {"paceline.evaluate_pilot": PACELINE, "statsmodels OLS, raw rows": STATSMODELS}
    results = {
        name: [run_measured(code.format(path=path)) for _ in range(args.runs)] for name, code in arms.items()
    }
    print(
        f"{args.rows:,} task rows, {PERSONS:,} employees; median of {args.runs} runs; "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| | seconds | peak MiB | added MiB | estimate | se |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        print(
            f"| {name} | {median(runs, 'seconds'):.2f} | {median(runs, 'peak_mib'):,.0f} | "
            f"{median(runs, 'added_mib'):,.0f} | {runs[0]['estimate']:.10f} | {runs[0]['se']:.10f} |"
        )
    sm_fit = median(results["statsmodels OLS, raw rows"], "fit_seconds")
    print(
        f"\nstatsmodels: {sm_fit:.2f} s of that in the fit (the rest reads the file into pandas); "
        f"Paceline's se_method: {results['paceline.evaluate_pilot'][0]['se_method']}"
    )


if __name__ == "__main__":
    main()
