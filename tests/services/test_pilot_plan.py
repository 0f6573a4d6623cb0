"""``Workspace.plan_pilot`` on a small demo firm: cohorts, baseline window, components, MDE."""

from __future__ import annotations

from datetime import date

import pytest

from paceline.bootstrap import Workspace
from paceline.demo.params import FirmParams
from paceline.demo.run import run_demo
from paceline.domain.pilots import Design, Guardrail, PilotSpec, PrimaryKpi
from paceline.errors import NotFound, ValidationError
from paceline.services.access import operator


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    home = tmp_path_factory.mktemp("plan") / "ws"
    mp = pytest.MonkeyPatch()
    mp.setenv("PACELINE_HOME", str(home))
    run_demo(7, FirmParams.sized(120, 9), reset=False, say=lambda _m: None)
    mp.undo()
    ws = Workspace.open(home)
    spec = PilotSpec(
        "plan-claims",
        "claims-triage",
        "Pre-fill raises throughput",
        Design.RANDOMISED,
        ("pilot",),
        ("control",),
        date(2025, 4, 1),
        date(2025, 6, 30),
        (PrimaryKpi("productivity", 10), PrimaryKpi("error_rate", 20)),
        (Guardrail("error_rate", 10),),
    )
    with ws.pilots() as pilots:
        pilots.create(operator(), spec)
    return ws


def test_plan_of_a_recorded_pilot(ws: Workspace) -> None:
    doc = ws.plan_pilot("plan-claims")
    assert doc["baseline"] == ["2025-01-07", "2025-03-31"] and doc["weeks"] == 13
    assert doc["n_treatment"] > 0 and doc["n_control"] > 0
    productivity, errors = doc["kpis"]
    assert productivity["kpi"] == "productivity" and productivity["baseline"]["mean"] > 0
    assert 0 < productivity["mde_pct_cuped"] <= productivity["mde_pct"]
    assert 0 <= productivity["power_for_target"] <= 1
    assert errors["kpi"] == "error_rate" and errors["mde_pct"] > 0


def test_more_power_needs_a_larger_effect(ws: Workspace) -> None:
    low, high = ws.plan_pilot("plan-claims", 0.8), ws.plan_pilot("plan-claims", 0.95)
    assert high["kpis"][0]["mde_pct"] > low["kpis"][0]["mde_pct"]


def test_bad_plan_requests(ws: Workspace) -> None:
    with pytest.raises(NotFound):
        ws.plan_pilot("nope")
    with pytest.raises(ValidationError):
        ws.plan_pilot("plan-claims", 1.5)


def test_an_unfinished_pilot_is_judged_at_its_interim_look(ws: Workspace) -> None:
    from dataclasses import replace

    from paceline.analytics.sequential import obrien_fleming_bounds
    from paceline.domain.pilots import Acceptance

    with ws.pilots(readonly=True) as pilots:
        base = pilots.get(operator(), "plan-claims").spec
    spec = replace(
        base,
        name="claims-looks",
        start=date(2025, 8, 4),
        end=date(2025, 10, 26),
        weekly_looks=12,
        guardrails=(),
        acceptance=(Acceptance("esat", 1.0),),
    )
    with ws.pilots() as pilots:
        pilots.create(operator(), spec)
    doc = ws.evaluate_recorded_pilot("claims-looks")
    look = doc["look"]
    assert look["of"] == 12 and 1 <= look["look"] < 12 and look["data_until"] < "2025-10-26"
    assert look["boundary"] == obrien_fleming_bounds(12)[look["look"] - 1]
    primary = [r for r in doc["reasons"] if r["criterion"].startswith("primary")]
    assert all("boundary" in r["text"] for r in primary)
    final = ws.evaluate_recorded_pilot("plan-claims")
    assert final["look"] is None


def test_a_team_randomised_pilot_is_clustered_by_team(ws: Workspace) -> None:
    from dataclasses import replace

    from paceline.domain.pilots import Unit

    with ws.pilots(readonly=True) as pilots:
        base = pilots.get(operator(), "plan-claims").spec
    with ws.pilots() as pilots:
        pilots.create(operator(), replace(base, name="claims-teams", unit=Unit.TEAM, guardrails=()))
    by_team = ws.evaluate_recorded_pilot("claims-teams")["kpis"][0]
    by_person = ws.evaluate_recorded_pilot("plan-claims")["kpis"][0]
    # a few teams instead of many people: the small-cluster correction is chosen
    assert by_team["se_method"] in ("cluster_CR2", "wild_bootstrap")
    assert by_team["n_units"]["treatment"] < by_person["n_units"]["treatment"]


def test_survey_and_behaviour_kpis_are_judged_per_person(ws: Workspace) -> None:
    from dataclasses import replace

    from paceline.services.pilot_eval import person_phases
    from paceline.services.pilot_plan import cohort_people

    with ws.pilots(readonly=True) as pilots:
        base = pilots.get(operator(), "plan-claims").spec
    spec = replace(
        base,
        name="claims-survey",
        primary=(PrimaryKpi("esat", 5),),
        guardrails=(Guardrail("nps", 10), Guardrail("suggestions_rejected_share", 20)),
    )
    with ws.pilots() as pilots:
        pilots.create(operator(), spec)
    doc = ws.evaluate_recorded_pilot("claims-survey")
    assert [k["kpi"] for k in doc["kpis"]] == ["esat", "nps", "suggestions_rejected_share"]
    assert all(k["se_method"].startswith(("cluster", "wild")) for k in doc["kpis"])
    nps = person_phases(
        ws.warehouse_connection(), spec, "nps", *cohort_people(ws.warehouse_connection(), spec)
    )
    values = [v for v in nps.column("value").to_pylist() if v is not None]
    assert values and all(-100 <= v <= 100 for v in values)  # each person's own NPS
    plan = ws.plan_pilot("claims-survey")
    assert plan["kpis"][0]["kpi"] == "esat" and plan["kpis"][0]["baseline"]["mean"] > 1


def test_evaluations_are_cached_until_the_plan_or_the_data_change(ws: Workspace) -> None:
    first = ws.evaluate_recorded_pilot("plan-claims")
    misses = ws.kpi_cache.misses
    assert ws.evaluate_recorded_pilot("plan-claims") == first and ws.kpi_cache.misses == misses
