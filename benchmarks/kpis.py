"""Every task KPI at weekly grain by team: Paceline vs hand-written DuckDB SQL vs pandas.

Usage: python benchmarks/kpis.py [--rows 10000000] [--runs 3] [--skip-pandas]

The task events are ingested once into a benchmark workspace (not timed). Each arm
then computes productivity, quality-adjusted productivity, error rate, mean
resolution time and the three automation rates by week and team, with the same
semantics (team from the task, else from people; person 'system' out of the
person-day denominator), in a fresh process, without Paceline's result cache.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from common import DATA, median, run_measured, task_events_parquet

KPIS = ["productivity", "productivity_quality_adjusted", "error_rate", "resolution_time", "automation_rate",
        "automation_full_rate", "automation_partial_rate"]

PACELINE = """
import time
from paceline.bootstrap import Workspace
from paceline.domain.kpis import Grain
from paceline.services.kpi import compute_many
from paceline.services.kpi_frames import KpiQuery
con = Workspace.open({home!r}).warehouse.connect()
__result["base_mib"] = __rss()
t0 = time.perf_counter()
results = compute_many(con, [KpiQuery(k, by=("team",), grain=Grain.WEEK) for k in {kpis!r}], 5)
rows = sum(len(r.rows) for r in results)
__result["seconds"] = time.perf_counter() - t0
__result["rows"] = rows
"""

HAND_SQL = """
import time
import duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
tasks = "read_parquet('{warehouse}/task_events/*.parquet')"
people = ("(SELECT person_id, team FROM (SELECT *, row_number() OVER (PARTITION BY person_id "
          "ORDER BY _ingest_id DESC, _row DESC) AS r "
          "FROM read_parquet('{warehouse}/people/*.parquet')) WHERE r = 1)")
base = (f"(SELECT t.*, coalesce(t.team, p.team) AS g, date_trunc('week', t.completed_at)::DATE AS w, "
        f"t.completed_at::DATE AS d FROM {{tasks}} t LEFT JOIN {{people}} p USING (person_id))")
human = "person_id <> 'system'"
days = f"count(DISTINCT (person_id, d)) FILTER (WHERE {{human}})"
people_n = f"count(DISTINCT person_id) FILTER (WHERE {{human}})"
query = (f"SELECT w, g, sum(units) / {{days}}, sum(units * coalesce(quality, 1)) / {{days}}, {{people_n}}, "
         f"count(*), avg(error::INT), count(error), "
         f"count(DISTINCT person_id) FILTER (WHERE {{human}} AND error IS NOT NULL), "
         f"avg(date_diff('microsecond', opened_at, completed_at) / 3.6e9), "
         f"avg((automation IN ('partial', 'full'))::INT), avg((automation = 'full')::INT), "
         f"avg((automation = 'partial')::INT) FROM {{base}} GROUP BY ALL")
__result["base_mib"] = __rss()
t0 = time.perf_counter()
rows = len(con.execute(query).fetchall()) * 7
__result["seconds"] = time.perf_counter() - t0
__result["rows"] = rows
"""

PANDAS = """
import time
import glob
import pandas as pd
cols = ["person_id", "team", "opened_at", "completed_at", "units", "quality", "error", "automation"]
__result["base_mib"] = __rss()
t0 = time.perf_counter()
files = sorted(glob.glob('{warehouse}/task_events/*.parquet'))
t = pd.concat([pd.read_parquet(f, columns=cols) for f in files])
people = pd.concat([pd.read_parquet(f) for f in glob.glob('{warehouse}/people/*.parquet')])
people = people.sort_values(["_ingest_id", "_row"]).drop_duplicates("person_id", keep="last")
t["g"] = t.team.fillna(t.person_id.map(people.set_index("person_id").team))
done = t.completed_at.dt.tz_convert("UTC").dt.tz_localize(None)
t["d"] = done.dt.normalize()
t["w"] = t.d - pd.to_timedelta(t.d.dt.day_of_week, unit="D")
t["human"] = t.person_id != "system"
t["hours"] = (t.completed_at - t.opened_at).dt.total_seconds() / 3600
t["uq"] = t.units * t.quality.fillna(1.0)
t["err"] = t.error.astype("float")
t["auto"] = t.automation.isin(["partial", "full"]).astype(float)
t["full"] = (t.automation == "full").astype(float)
t["part"] = (t.automation == "partial").astype(float)
keys = ["w", "g"]
h = t[t.human]
person_days = h[keys + ["person_id", "d"]].drop_duplicates().groupby(keys).size()
people_n = h.groupby(keys).person_id.nunique()
sums = t.groupby(keys).agg(units=("units", "sum"), uq=("uq", "sum"), err=("err", "mean"),
                           hours=("hours", "mean"), auto=("auto", "mean"), full=("full", "mean"),
                           part=("part", "mean"), n=("units", "size"))
out = sums.join(person_days.rename("pd")).join(people_n.rename("np"))
out["productivity"] = out.units / out.pd
out["productivity_q"] = out.uq / out.pd
__result["seconds"] = time.perf_counter() - t0
__result["rows"] = len(out) * 7
"""


def prepare(rows: int) -> Path:
    """A workspace holding *rows* task events and their people, reused across runs."""
    home = DATA / f"kpi-ws-{rows}"
    if (home / "secret.key").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    import duckdb

    from paceline.bootstrap import Workspace

    ws = Workspace.init(home)
    ws.ingest("task_events", task_events_parquet(rows))
    people = DATA / "people_2000.csv"
    duckdb.sql("SELECT 'emp-' || i AS person_id, 'team-' || (i % 40) AS team, "
               "'2024-01-01'::DATE AS hire_date FROM range(2000) t(i)").write_csv(str(people))
    ws.ingest("people", people)
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()
    home = prepare(args.rows)
    warehouse = home / "warehouse"
    arms = {"paceline (Ibis -> DuckDB)": PACELINE.format(home=str(home), kpis=KPIS),
            "hand-written DuckDB SQL": HAND_SQL.format(warehouse=warehouse)}
    if not args.skip_pandas:
        arms["pandas"] = PANDAS.format(warehouse=warehouse)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
    for _ in range(args.runs):
        for name, code in arms.items():
            results[name].append(run_measured(code))
    rows = {name: runs[0]["rows"] for name, runs in results.items()}
    print(f"{len(KPIS)} task KPIs by week and team over {args.rows:,} task events, "
          f"median of {args.runs} runs")
    print(f"{'':28} {'seconds':>8} {'peak MiB':>9} {'added MiB':>10} {'result rows':>12}")
    for name, runs in results.items():
        print(f"{name:28} {median(runs, 'seconds'):8.2f} {median(runs, 'peak_mib'):9.0f} "
              f"{median(runs, 'added_mib'):10.0f} {rows[name]:12,.0f}")
    pace, hand = results["paceline (Ibis -> DuckDB)"], results["hand-written DuckDB SQL"]
    print(f"paceline / hand SQL: time {median(pace, 'seconds') / median(hand, 'seconds'):.2f}x, "
          f"memory added by the computation {median(pace, 'added_mib') / median(hand, 'added_mib'):.2f}x")


if __name__ == "__main__":
    main()
