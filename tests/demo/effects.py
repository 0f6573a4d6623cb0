"""Estimators of the injected effects, in DuckDB SQL over the generated tables.

Shared by the effect tests and ``benchmarks/demo_calibration.py`` (which prints
injected vs recovered values for docs/demo.md). They read only the canonical
columns a firm would export, never the generator's internals.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np

from paceline.demo.firm import Firm
from tests.demo.stats import Estimate, mantel_haenszel, month_start, person_did, within_person


def phase_dates(firm: Firm) -> tuple[str, str]:
    """ISO dates of the pilot start and of scale-up."""
    t = firm.params.timeline
    pilot, scale = month_start(firm.params, t.pilot_start), month_start(firm.params, t.scale_up)
    return pilot.isoformat(), scale.isoformat()


def _claims_rct(firm: Firm, value: str, grain: str) -> str:
    """Observations of the claims RCT up to scale-up; treated people count on assisted days only."""
    pilot, scale = phase_dates(firm)
    return f"""
        SELECT person_id, CASE cohort WHEN 'pilot' THEN 'treated' ELSE 'control' END AS arm,
               completed_at >= TIMESTAMPTZ '{pilot}' AS post, {value} AS v
        FROM task_events JOIN assignments USING (person_id, use_case)
        WHERE use_case = 'claims-triage' AND cohort IN ('pilot', 'control')
          AND completed_at < TIMESTAMPTZ '{scale}'
        GROUP BY person_id, cohort, post, {grain}
        HAVING NOT (post AND cohort = 'pilot' AND NOT bool_and(ai_assisted))
    """


def gain_by_band(duck: duckdb.DuckDBPyConnection, firm: Firm, band_sql: str) -> list[Estimate]:
    """Mean within-person gain in log units per day (assisted vs other days after switch-on), by band."""
    pilot, _ = phase_dates(firm)
    rows = duck.execute(f"""
        WITH days AS (
            SELECT person_id, CAST(completed_at AS DATE) AS d, bool_and(ai_assisted) AS ai, sum(units) AS u,
                   completed_at >= ai_enabled_from AS enabled
            FROM task_events JOIN assignments USING (person_id, use_case)
            WHERE use_case = 'claims-triage' AND cohort IN ('pilot', 'control')
            GROUP BY ALL
        ),
        base AS (
            SELECT person_id, avg(u) AS rate FROM days
            WHERE d < DATE '{pilot}' GROUP BY person_id HAVING count(*) >= 20
        ),
        per AS (
            SELECT person_id, ln(avg(u) FILTER (WHERE ai)) - ln(avg(u) FILTER (WHERE NOT ai)) AS g
            FROM days WHERE enabled GROUP BY person_id
        ),
        banded AS (
            SELECT g, {band_sql} AS q FROM per JOIN base USING (person_id) JOIN people USING (person_id)
            WHERE g IS NOT NULL
        )
        SELECT q, avg(g), sqrt(var_samp(g) / count(*)), count(*) FROM banded GROUP BY q ORDER BY q
    """).fetchall()
    return [Estimate(v, se, n) for _, v, se, n in rows]


def throughput(firm: Firm, duck: duckdb.DuckDBPyConnection) -> Estimate:
    """Claims RCT: DiD of log units per person-day, pilot (assisted days) vs control."""
    return person_did(duck, _claims_rct(firm, "sum(units)", "CAST(completed_at AS DATE)"), "ln(avg(v))")


def handling_time(firm: Firm, duck: duckdb.DuckDBPyConnection) -> Estimate:
    """Claims RCT: DiD of mean log handling time (effort_seconds)."""
    return person_did(duck, _claims_rct(firm, "ln(any_value(effort_seconds))", "event_id"), "avg(v)")


def error_log_rr(duck: duckdb.DuckDBPyConnection, use_case: str) -> Estimate:
    """Log risk ratio of errors on assisted tasks, per person (Mantel-Haenszel); claims: RCT teams only."""
    cohorts = "AND cohort IN ('pilot', 'control')" if use_case == "claims-triage" else ""
    return mantel_haenszel(
        duck,
        f"""SELECT person_id, ai_assisted, error FROM task_events JOIN assignments USING (person_id, use_case)
            WHERE use_case = '{use_case}' {cohorts}""",
    )


def negative_control(duck: duckdb.DuckDBPyConnection) -> Estimate:
    """Complex-claims team: mean within-person log handling time, assisted minus not."""
    return within_person(
        duck,
        """SELECT person_id, ai_assisted, ln(effort_seconds) AS v
           FROM task_events WHERE team = 'claims-complex'""",
    )


def documentation_did(firm: Firm, duck: duckdb.DuckDBPyConnection) -> Estimate:
    """Clinical sites: DiD of mean log documentation time, treated (assisted) vs control sites."""
    pilot, scale = phase_dates(firm)
    obs = f"""
        SELECT person_id, CASE cohort WHEN 'pilot' THEN 'treated' ELSE 'control' END AS arm,
               completed_at >= TIMESTAMPTZ '{pilot}' AS post, ln(effort_seconds) AS v
        FROM task_events JOIN assignments USING (person_id, use_case)
        WHERE use_case = 'clinical-documentation' AND completed_at < TIMESTAMPTZ '{scale}'
          AND NOT (completed_at >= TIMESTAMPTZ '{pilot}' AND cohort = 'pilot' AND NOT ai_assisted)
    """
    return person_did(duck, obs, "avg(v)")


def repairs(duck: duckdb.DuckDBPyConnection) -> tuple[Estimate, Estimate]:
    """Unplanned repairs: log MTTR ratio and log downtime ratio, assisted vs not."""
    row = duck.execute("""
        SELECT avg(ln(effort_seconds)) FILTER (WHERE ai_assisted)
                 - avg(ln(effort_seconds)) FILTER (WHERE NOT ai_assisted),
               var_samp(ln(effort_seconds)) * (1.0 / count(*) FILTER (WHERE ai_assisted)
                                               + 1.0 / count(*) FILTER (WHERE NOT ai_assisted)),
               avg(epoch(completed_at) - epoch(opened_at)) FILTER (WHERE ai_assisted)
                 / avg(epoch(completed_at) - epoch(opened_at)) FILTER (WHERE NOT ai_assisted),
               stddev_samp(epoch(completed_at) - epoch(opened_at))
                 / avg(epoch(completed_at) - epoch(opened_at)),
               count(*) FILTER (WHERE ai_assisted), count(*) FILTER (WHERE NOT ai_assisted)
        FROM task_events WHERE use_case = 'predictive-maintenance' AND priority = 'urgent'
    """).fetchone()
    assert row is not None
    n = row[4] + row[5]
    mttr = Estimate(row[0], math.sqrt(row[1]), n)
    return mttr, Estimate(math.log(row[2]), row[3] * math.sqrt(1 / row[4] + 1 / row[5]), n)


def late_adoption(firm: Firm, duck: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int, float, int]]:
    """Months 6-12 after scale-up, per use case: assigned person-months, active ones, the
    number expected from the injected ramp ``ceiling * (1 - exp(-months on / ramp))``, and
    the distinct people (an adopter stays one, so people, not months, are the sample size)."""
    t, a = firm.params.timeline, firm.params.adoption
    rows = duck.execute(f"""
        WITH months AS (
            SELECT m, m + INTERVAL 1 MONTH AS m_end FROM range(
                TIMESTAMPTZ '{month_start(firm.params, t.scale_up + 6)}',
                TIMESTAMPTZ '{month_start(firm.params, t.months)}', INTERVAL 1 MONTH) r(m)
        ),
        assigned AS (
            SELECT m, use_case, person_id,
                   greatest(epoch(m_end) - epoch(CAST(ai_enabled_from AS TIMESTAMPTZ)), 0)
                     / 86400 / (365.25 / 12) AS months_on
            FROM months JOIN assignments ON CAST(eligible_from AS TIMESTAMPTZ) < m_end
        ),
        active AS (
            SELECT DISTINCT date_trunc('month', occurred_at) AS m, use_case, person_id FROM usage_events
        )
        SELECT use_case, count(a.person_id) AS n, count(x.person_id) AS users,
               sum({a.ceiling} * (1 - exp(-months_on / {a.ramp_months}))) AS expected,
               count(DISTINCT a.person_id) AS people
        FROM assigned a LEFT JOIN active x USING (m, use_case, person_id)
        GROUP BY use_case ORDER BY use_case
    """).fetchall()
    return [(str(u), int(n), int(users), float(e), int(k)) for u, n, users, e, k in rows]


READINGS = """
    WITH f AS (
        SELECT label,
               json_extract_string(features, '$.type') AS type,
               CAST(json_extract(features, '$.air_temperature_k') AS DOUBLE) AS air,
               CAST(json_extract(features, '$.process_temperature_k') AS DOUBLE) AS process,
               CAST(json_extract(features, '$.rotational_speed_rpm') AS DOUBLE) AS rpm,
               CAST(json_extract(features, '$.torque_nm') AS DOUBLE) AS torque,
               CAST(json_extract(features, '$.tool_wear_min') AS DOUBLE) AS wear
        FROM predictions JOIN labels USING (prediction_id) WHERE model = 'failure-risk'
    )
    SELECT *, process - air < 8.6 AND rpm < 1380 AS hdf,
           torque * rpm * 2 * pi() / 60 NOT BETWEEN 3500 AND 9000 AS pwf,
           wear * torque > CASE type WHEN 'L' THEN 11000 WHEN 'M' THEN 12000 ELSE 13000 END AS osf,
           wear BETWEEN 200 AND 245 AS worn
    FROM f
"""
"""The failure-risk model's readings with the AI4I rules evaluated on the published features."""


def ai4i_counts(duck: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Readings, failures, and failures per AI4I rule, counted from features and labels."""
    row = duck.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE label = 'failure'),
               count(*) FILTER (WHERE hdf), count(*) FILTER (WHERE pwf), count(*) FILTER (WHERE osf),
               count(*) FILTER (WHERE label = 'failure' AND worn AND NOT (hdf OR pwf OR osf)),
               count(*) FILTER (WHERE (hdf OR pwf OR osf) AND label <> 'failure'),
               count(*) FILTER (WHERE label = 'failure' AND NOT (hdf OR pwf OR osf OR worn)),
               count(*) FILTER (WHERE NOT (hdf OR pwf OR osf OR worn))
        FROM ({READINGS})
    """).fetchone()
    assert row is not None
    names = ("readings", "failures", "hdf", "pwf", "osf", "wear", "missed", "unexplained", "rule_free")
    return dict(zip(names, (int(v) for v in row), strict=True))


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index over the reference deciles (open outer bins), shares clipped at 1e-4."""
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=10) / reference.size
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=10) / current.size
    ref, cur = np.clip(ref, 1e-4, None), np.clip(cur, 1e-4, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def router_drift(duck: duckdb.DuckDBPyConnection) -> list[tuple[str, float, float, int]]:
    """Per month of claims-router traffic: PSI of claim amounts against the first month,
    the share of the ``app`` channel, and the number of predictions."""
    cols = duck.execute("""
        SELECT strftime(date_trunc('month', predicted_at), '%Y-%m') AS m,
               CAST(json_extract(features, '$.amount') AS DOUBLE) AS amount,
               json_extract_string(features, '$.channel') = 'app' AS app
        FROM predictions WHERE model = 'claims-router'
    """).fetchnumpy()
    month, amount, app = cols["m"], cols["amount"], cols["app"]
    months = sorted(set(month.tolist()))
    reference = amount[month == months[0]]
    out = []
    for m in months:
        now = month == m
        out.append((m, psi(reference, amount[now]), float(app[now].mean()), int(now.sum())))
    return out
