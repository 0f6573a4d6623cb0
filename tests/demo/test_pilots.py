"""The demo's pilots, recorded and judged by Paceline's own pilot engine on the demo firm."""

from __future__ import annotations

from pathlib import Path

import pytest

from paceline.bootstrap import Workspace
from paceline.demo.params import FirmParams
from paceline.demo.run import run_demo
from paceline.services.access import operator


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    home = tmp_path_factory.mktemp("demo-pilots") / "ws"
    built, created = run_demo(7, FirmParams(), home=home)
    assert created
    return {p["pilot"]: p for p in built.pilots} | {"_home": {"path": str(home)}}


def test_the_claims_rct_recovers_a_productivity_gain(summary: dict[str, dict[str, object]]) -> None:
    claims = summary["claims-rct"]
    low, high = claims["relative_ci"]  # type: ignore[misc]
    assert 0 < low < high  # the injected throughput gain shows as a significant per-person uplift
    assert claims["se_method"] == "cluster_CR2" and claims["verdict"] == "adopt"


def test_the_clinical_did_recovers_shorter_documentation(summary: dict[str, dict[str, object]]) -> None:
    clinical = summary["clinical-did"]
    low, high = clinical["relative_ci"]  # type: ignore[misc]
    assert low < high < 0
    assert clinical["verdict"] == "extend"  # esat of the pilot sites stays under the 3.5 minimum


def test_the_records_are_evaluated_and_audited(summary: dict[str, dict[str, object]]) -> None:
    ws = Workspace.open(Path(str(summary["_home"]["path"])))
    with ws.pilots(readonly=True) as pilots:
        names = {p.spec.name: p.status for p in pilots.list(operator())}
    assert names == {
        "claims-rct": "evaluated: adopt",
        "clinical-did": "evaluated: extend",
        "maintenance-rollout": names["maintenance-rollout"],
    }
    assert ws.verify_audit().ok


def test_paceline_recovers_the_injected_documentation_effect(summary: dict[str, dict[str, object]]) -> None:
    """Per assisted encounter, the scribe cuts documentation time by the injected 30% (DemoParams)."""
    import ibis

    from paceline import evaluate_pilot

    ws = Workspace.open(Path(str(summary["_home"]["path"])))
    params = FirmParams()
    t, a = ws.warehouse_connection().table("task_events"), ws.warehouse_connection().table("assignments")
    start = pilot_dates(params)
    rows = t.filter(t.use_case == "clinical-documentation").join(a, ["person_id", "use_case"])
    rows = rows.filter(rows.completed_at < ibis.timestamp(f"{start[1]} 00:00:00+00:00"))
    post = rows.completed_at >= ibis.timestamp(f"{start[0]} 00:00:00+00:00")
    rows = rows.filter(~(post & (rows.cohort == "pilot") & ~rows.ai_assisted))  # assisted encounters
    table = rows.mutate(phase=post.ifelse("post", "pre")).select(
        "person_id", "cohort", "phase", "effort_seconds"
    )
    result = evaluate_pilot(
        table.to_pyarrow(),
        outcome="effort_seconds",
        group="cohort",
        treated="pilot",
        unit="person_id",
        period="phase",
        post="post",
        transform="log",
    ).to_dict()
    low, high = result["relative_ci"]
    assert low <= params.clinical.documentation_effect <= high, result
    assert result["se_method"].startswith("cluster")


def pilot_dates(params: FirmParams) -> tuple[str, str]:
    from paceline.demo.pilots import _month

    t = params.timeline
    return _month(t.start, t.pilot_start).isoformat(), _month(t.start, t.scale_up).isoformat()


def test_the_duration_estimand_is_the_one_recorded(summary: dict[str, dict[str, object]]) -> None:
    from dataclasses import replace

    from paceline.demo.pilots import demo_pilots
    from paceline.domain.pilots import DurationEstimand
    from paceline.services.pilot_eval import evaluate_kpi
    from paceline.services.pilot_plan import cohort_people

    ws = Workspace.open(Path(str(summary["_home"]["path"])))
    con = ws.warehouse_connection()
    clinical = next(p for p in demo_pilots(FirmParams()) if p.name == "clinical-did")
    people = cohort_people(con, clinical)
    by_estimand = {
        e: evaluate_kpi(con, replace(clinical, duration_estimand=e), "handling_time", people)
        for e in DurationEstimand
    }
    assert by_estimand[DurationEstimand.LOG]["outcome"] == "value"
    lifts = {e: doc["relative_lift"] for e, doc in by_estimand.items()}
    assert all(
        v is not None and v < 0 for v in lifts.values()
    )  # shorter documentation, whatever the estimand
    assert len({round(v, 6) for v in lifts.values()}) == 3  # three different estimands, three numbers


def test_the_maintenance_rollout_is_judged_as_a_staggered_rollout(
    summary: dict[str, dict[str, object]],
) -> None:
    rollout = summary["maintenance-rollout"]
    assert rollout["design"] == "staggered" and rollout["se_method"] == "cluster_bootstrap"
    low, high = rollout["relative_ci"]  # type: ignore[misc]
    assert low < high and float(rollout["relative_lift"]) < 0  # type: ignore[arg-type]  # repairs got shorter
