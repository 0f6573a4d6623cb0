"""The monitored models: AI4I 2020 rules on the maintenance readings, and the injected drift."""

from __future__ import annotations

import math

import duckdb

from paceline.demo.firm import Firm
from tests.demo import effects
from tests.demo.stats import Estimate, Z, month_start

AI4I_FAILURES = 339 / 10_000  # machine failures in the published AI4I 2020 data set


def test_ai4i_rules_decide_the_failure_labels(firm: Firm, duck: duckdb.DuckDBPyConnection) -> None:
    """HDF, PWF and OSF always fail; other failures are tool wear at 200-240+ min or rare random ones."""
    p = firm.params.maintenance.ai4i
    c = effects.ai4i_counts(duck)
    n, failures, missed, unexplained, rule_free = (
        c[k] for k in ("readings", "failures", "missed", "unexplained", "rule_free")
    )
    assert n > 10_000 and missed == 0
    expected = rule_free * p.random_failure  # RNF: p = 0.1% on any reading
    assert abs(unexplained - expected) <= Z * math.sqrt(expected), (unexplained, expected)
    share = Estimate(failures / n, math.sqrt(AI4I_FAILURES * (1 - AI4I_FAILURES) * (1 / n + 1 / 10_000)), n)
    assert share.within(AI4I_FAILURES), share


def test_ai4i_inputs_follow_the_published_distributions(duck: duckdb.DuckDBPyConnection) -> None:
    """Types 50/30/20, air ~300 K (sd 2), process = air + 10 K, torque 40 Nm (sd 10)."""
    row = duck.execute(f"""
        SELECT avg((type = 'L')::INT), avg((type = 'M')::INT), avg(air), stddev_samp(air),
               avg(process - air), avg(torque), stddev_samp(torque), corr(rpm, torque), count(*)
        FROM ({effects.READINGS})
    """).fetchone()
    assert row is not None
    low, medium, air, air_sd, gap, torque, torque_sd, corr, _ = row
    assert abs(air - 300) < 0.5 and abs(air_sd - 2) < 0.3 and abs(gap - 10) < 0.2, row
    assert abs(torque - 40) < 0.5 and abs(torque_sd - 10) < 0.5 and corr < -0.8, row
    # Types are drawn per machine (120 machines), so their shares vary with the machine count.
    assert abs(low - 0.5) < Z * math.sqrt(0.25 / 120) and abs(medium - 0.3) < Z * math.sqrt(0.21 / 120), row


def test_router_inputs_drift_in_the_drift_month_and_not_before(
    firm: Firm, duck: duckdb.DuckDBPyConnection
) -> None:
    """Claim amounts are stable (PSI < 0.1) before the drift month, then shift (PSI > 0.2); "app" appears."""
    t, mp = firm.params.timeline, firm.params.models
    months = effects.router_drift(duck)
    assert len(months) == t.months - t.pilot_start
    drift_index = t.drift_month - t.pilot_start
    for i, (month, psi, app, n) in enumerate(months[1:], start=1):
        if i < drift_index:
            assert psi < 0.1 and app == 0.0, (month, psi, app)
        elif i == drift_index:
            assert psi > 0.2, (month, psi)
            share = Estimate(app, math.sqrt(mp.drift_app_share * (1 - mp.drift_app_share) / n), n)
            assert share.within(mp.drift_app_share), share


def test_router_accuracy_drops_with_drift_until_retrained(
    firm: Firm, duck: duckdb.DuckDBPyConnection
) -> None:
    """Human-handled claims: accuracy ~0.90 before drift, ~0.78 after, ~0.90 once 1.2.0 is live."""
    t, mp = firm.params.timeline, firm.params.models
    drift, retrain = month_start(firm.params, t.drift_month), month_start(firm.params, t.retrain_month)
    rows = duck.execute(f"""
        SELECT CASE WHEN predicted_at < TIMESTAMPTZ '{drift}' THEN 0
                    WHEN predicted_at < TIMESTAMPTZ '{retrain}' THEN 1 ELSE 2 END AS phase,
               avg((prediction = label)::INT), count(*)
        FROM predictions p JOIN labels l USING (prediction_id) JOIN task_events t ON t.task_id = p.task_id
        WHERE model = 'claims-router' AND t.person_id <> 'system'
        GROUP BY phase ORDER BY phase
    """).fetchall()
    for (_, accuracy, n), target in zip(
        rows, (mp.router_accuracy, mp.router_drift_accuracy, mp.router_accuracy), strict=True
    ):
        assert Estimate(accuracy, math.sqrt(target * (1 - target) / n), n).within(target), rows
