"""The program service: portfolio order, technology options, risks, go-live with its reviews,
and the warehouse figures (traceability, ROI) against an independent pandas computation."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from paceline.bootstrap import Workspace
from paceline.domain.portfolio import FEASIBILITY_KEYS, READINESS_KEYS
from paceline.domain.roles import Grant, Role
from paceline.domain.techselect import Criterion
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator

OP = operator()
BO = Principal("bo", (Grant(Role.BUSINESS_OWNER),))
OTHER_BO = Principal("bo2", (Grant(Role.BUSINESS_OWNER),))
PM = Principal("pm", (Grant(Role.PROGRAM_MANAGER),))
KEY = "claims-triage"
VALUE = {
    "volume_per_year": 24000,
    "minutes_per_task": 15,
    "cost_per_hour": 50,
    "error_cost": 200,
    "uplift_low": 0.1,
    "uplift_expected": 0.2,
    "uplift_high": 0.3,
}
OPTION = {
    "name": "acme",
    "kind": "vendor",
    "scores": dict.fromkeys((c.value for c in Criterion), 3),
    "cost": {"price_per_call": 0.01, "licences_per_year": 12000},
}


def _create(ws: Workspace, key: str = KEY, **extra: Any) -> None:
    with ws.lifecycle() as lc:
        lc.create(OP, {"key": key, "title": key.replace("-", " "), "owner": "bo", **extra})


# --- portfolio ---------------------------------------------------------------------------
def test_portfolio_ranks_by_priority(workspace: Workspace) -> None:
    answers = {
        "readiness": dict.fromkeys(READINESS_KEYS, 3),
        "feasibility": dict.fromkeys(FEASIBILITY_KEYS, 3),
    }
    # keys chosen so that alphabetical order is the wrong answer
    _create(workspace, "a-small", value={**VALUE, "volume_per_year": 1000}, **answers)
    _create(workspace, "m-big", value={**VALUE, "volume_per_year": 500000}, **answers)
    _create(workspace, "b-unassessed", value={**VALUE, "volume_per_year": 500000})
    _create(
        workspace,
        "a-banned",
        value={**VALUE, "volume_per_year": 900000},
        ai_act=["social_scoring"],
        **answers,
    )
    with workspace.program(readonly=True) as prog:
        rows = prog.portfolio(OP)
    order = [r["use_case"] for r in rows]
    assert (
        order[:2] == ["m-big", "a-small"] and order[-1] == "a-banned"
    )  # prohibited last, whatever its value
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    priorities = [r["priority"] for r in rows[:3]]
    assert priorities == sorted(priorities, reverse=True) and priorities[0] > priorities[1] > 0
    assert rows[0]["owner"] == "bo" and rows[0]["status"] == "proposed"


# --- technology options ----------------------------------------------------------------
def test_option_save_and_select_sets_the_annual_cost(workspace: Workspace) -> None:
    _create(workspace, value=VALUE, phase="select")
    with workspace.program(PM) as prog:
        assessed = prog.save_option(PM, KEY, OPTION)
        prog.save_option(PM, KEY, {**OPTION, "name": "globex", "cost": {"infrastructure_per_month": 100}})
    assert assessed[0]["name"] == "acme" and assessed[0]["selected"] is False
    with pytest.raises(NotFound), workspace.program(BO) as prog:
        prog.select_option(BO, KEY, "initech")
    with pytest.raises(PermissionDenied), workspace.program(OTHER_BO) as prog:
        prog.select_option(OTHER_BO, KEY, "acme")
    with workspace.program(BO) as prog:
        doc = prog.select_option(BO, KEY, "acme")
    expected = 0.01 * 24000 + 12000  # price per call x calls per task x volume + licences
    assert doc["value"]["annual_cost"] == pytest.approx(expected)
    with workspace.program(readonly=True) as prog:
        assert prog.records.get(OP, KEY).value.annual_cost == pytest.approx(expected)
        options = {o["name"]: o for o in prog.options(OP, KEY)}
    assert options["acme"]["selected"] and not options["globex"]["selected"]
    assert options["globex"]["cost"]["total"] == pytest.approx(1200)
    with workspace.gates(readonly=True) as gates:
        ev = gates.evidence(OP, KEY)
    assert ev.deliverables["vendor_assessment"].status == "done"
    assert ev.deliverables["cost_model"].status == "done"
    assert [t.name for t in ev.tech if t.selected] == ["acme"]


def test_a_bad_option_is_refused(workspace: Workspace) -> None:
    _create(workspace, value=VALUE)
    with pytest.raises(ValidationError), workspace.program(PM) as prog:
        prog.save_option(PM, KEY, {**OPTION, "scores": {"security": 4}})  # other criteria unscored
    with workspace.program(readonly=True) as prog:
        assert prog.options(OP, KEY) == []


# --- risks -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"residual_likelihood": 6}, "residual_likelihood"),
        ({"inherent_impact": 0}, "inherent_impact"),
        ({"inherent_likelihood": 1, "residual_likelihood": 2}, "residual_likelihood"),
        ({"status": "forgotten"}, "status"),
        ({"category": "weather"}, "category"),
        ({"colour": "red"}, "colour"),
        ({"title": " "}, "title"),
    ],
)
def test_risk_edits_are_validated(workspace: Workspace, changes: dict[str, Any], field: str) -> None:
    _create(workspace)
    with workspace.program(readonly=True) as prog:
        first = prog.risks(OP, KEY)["risks"][0]
    with pytest.raises(ValidationError) as err, workspace.program(PM) as prog:
        prog.save_risk(PM, KEY, {"key": first["key"], **changes})
    assert err.value.details.get("field") == field
    with workspace.program(readonly=True) as prog:
        assert prog.risks(OP, KEY)["risks"][0] == first  # nothing stored


@pytest.mark.parametrize("rating", ["high", float("inf")])
def test_a_rating_that_is_not_a_number_is_a_validation_error(workspace: Workspace, rating: Any) -> None:
    _create(workspace)
    with workspace.program(readonly=True) as prog:
        first = prog.risks(OP, KEY)["risks"][0]
    with pytest.raises(ValidationError), workspace.program(PM) as prog:
        prog.save_risk(PM, KEY, {"key": first["key"], "residual_impact": rating})


def test_risk_edit_over_the_stored_risk(workspace: Workspace) -> None:
    _create(workspace)
    with workspace.program(readonly=True) as prog:
        first = prog.risks(OP, KEY)["risks"][0]
    high = {"inherent_likelihood": 5, "inherent_impact": 5, "residual_likelihood": 5, "residual_impact": 5}
    with workspace.program(PM) as prog:
        saved = prog.save_risk(PM, KEY, {"key": first["key"], **high, "status": "open"})
    assert saved["title"] == first["title"] and saved["residual_score"] == 25
    with workspace.gates(readonly=True) as gates:
        risks = {r.key: r for r in gates.evidence(OP, KEY).risks}
    assert risks[first["key"]].residual_score == 25
    reviewer = Principal("r", (Grant(Role.REVIEWER),))
    with pytest.raises(PermissionDenied), workspace.program(reviewer) as prog:
        prog.save_risk(reviewer, KEY, {"key": first["key"], "status": "closed"})


# --- go-live and reviews -------------------------------------------------------------------
def test_go_live_schedules_the_30_60_90_day_reviews(workspace: Workspace) -> None:
    _create(workspace)
    with pytest.raises(PermissionDenied), workspace.program(OTHER_BO) as prog:
        prog.go_live(OTHER_BO, KEY, date(2025, 1, 1))
    with workspace.program(BO) as prog:
        reviews = prog.go_live(BO, KEY, date(2025, 1, 1))
    assert [(r["kind"], r["due"]) for r in reviews] == [
        ("day30", "2025-01-31"),
        ("day60", "2025-03-02"),
        ("day90", "2025-04-01"),
    ]
    assert all(r["completed_at"] is None for r in reviews)
    with workspace.program(BO) as prog:  # recording the date again does not add reviews
        assert len(prog.go_live(BO, KEY, date(2025, 1, 1))) == 3
    with workspace.lifecycle(readonly=True) as lc:
        assert lc.view(OP, KEY).go_live == date(2025, 1, 1)


# --- the warehouse figures ---------------------------------------------------------------
START = date(2025, 2, 1)  # the AI is switched on
PEOPLE = [f"emp-{i}" for i in range(8)]


def _frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(11)
    rows = []
    for day in pd.date_range("2025-01-02", "2025-05-28", freq="D"):
        if day.date() == START or day.weekday() >= 5:
            continue  # nothing on the start day itself: baseline and AI months do not share a day
        after = day.date() > START
        for person in PEOPLE:
            for n in range(int(rng.integers(1, 4 if after else 3))):
                rows.append(
                    {
                        "task_id": f"t-{day:%m%d}-{person}-{n}",
                        "use_case": KEY,
                        "person_id": person,
                        "opened_at": f"{day:%Y-%m-%d}T08:00:00Z",
                        "completed_at": f"{day:%Y-%m-%d}T{9 + n}:00:00Z",
                        "ai_assisted": bool(after),
                        "units": 1.0,
                        "error": bool(rng.random() < (0.06 if after else 0.12)),
                    }
                )
    tasks = pd.DataFrame(rows)
    tasks.insert(0, "event_id", [f"e{i}" for i in range(len(tasks))])
    ai = tasks[tasks.ai_assisted]
    traced = ai.sample(frac=0.9, random_state=3)
    preds = pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(len(traced))],
            "model": "triage",
            "model_version": "1",
            "use_case": KEY,
            "predicted_at": traced.opened_at.to_numpy(),
            "prediction": "route-a",
            "task_id": traced.task_id.to_numpy(),
        }
    )
    # a second prediction for a traced task, and another use case's prediction of an untraced one
    untraced = ai[~ai.task_id.isin(traced.task_id)].task_id.iloc[0]
    extra = preds.iloc[:1].assign(prediction_id="p-dup")
    other = preds.iloc[:1].assign(prediction_id="p-other", use_case="other-case", task_id=untraced)
    preds = pd.concat([preds, extra, other], ignore_index=True)
    months = pd.date_range("2025-02-01", "2025-05-01", freq="MS")
    costs = pd.DataFrame(
        {
            "use_case": KEY,
            "period_start": months.strftime("%Y-%m-%d"),
            "period_end": (months + pd.offsets.MonthEnd(0)).strftime("%Y-%m-%d"),
            "category": "license",
            "amount": [3000.0, 1500.0, 1500.0, 1500.0],
        }
    )
    assignments = pd.DataFrame(
        {
            "person_id": PEOPLE,
            "use_case": KEY,
            "cohort": "all",
            "eligible_from": "2024-12-01",
            "ai_enabled_from": START.isoformat(),
        }
    )
    return {"task_events": tasks, "predictions": preds, "costs": costs, "assignments": assignments}


@pytest.fixture
def warehouse(workspace: Workspace, tmp_path: Path) -> dict[str, pd.DataFrame]:
    frames = _frames()
    for name, df in frames.items():
        path = tmp_path / f"{name}.csv"
        df.to_csv(path, index=False)
        report = workspace.ingest(name, path)
        assert report.loaded == len(df), report
    _create(workspace, value=VALUE)
    return frames


def _traceability(frames: dict[str, pd.DataFrame], since: date) -> float:
    t, p = frames["task_events"], frames["predictions"]
    done = pd.to_datetime(t.completed_at).dt.date
    tasks = set(t[(t.use_case == KEY) & t.ai_assisted & (done >= since)].task_id)
    traced = set(p[p.use_case == KEY].task_id)
    return len(tasks & traced) / len(tasks)


def test_traceability_matches_pandas(workspace: Workspace, warehouse: dict[str, pd.DataFrame]) -> None:
    facts = workspace.program_facts()
    for since in (START, date(2025, 4, 1), date(2025, 5, 28)):
        assert facts.traceability(KEY, since) == pytest.approx(_traceability(warehouse, since), rel=1e-12)
    assert facts.traceability(KEY, date(2025, 7, 1)) is None  # nothing to trace
    assert facts.traceability("other-case", START) is None


def test_eligible_people_and_ai_start(workspace: Workspace, warehouse: dict[str, pd.DataFrame]) -> None:
    facts = workspace.program_facts()
    assert len(facts.eligible_people(KEY)) == len(PEOPLE)
    assert all(p.startswith("p_") for p in facts.eligible_people(KEY))
    assert facts.ai_start(KEY) == START and facts.ai_start("other-case") is None
    expected = [(date(2025, m, 1), a) for m, a in zip((2, 3, 4, 5), (3000, 1500, 1500, 1500), strict=True)]
    assert sorted(facts.monthly_costs(KEY)) == expected


def _roi_reference(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The ROI method of docs/roi.md, computed directly on the rows."""
    t = frames["task_events"].copy()
    t["day"] = pd.to_datetime(t.completed_at).dt.date
    t["month"] = pd.to_datetime(t.completed_at).dt.tz_localize(None).dt.to_period("M")
    before = t[t.day <= START]

    def productivity(df: pd.DataFrame) -> float:
        return float(df.units.sum() / df[["person_id", "day"]].drop_duplicates().shape[0])

    base_prod, base_err = productivity(before), float(before.error.mean())
    after = t[t.day >= START]
    v = VALUE
    tasks_per_month = v["volume_per_year"] / 12
    out = []
    for month, df in after.groupby("month"):
        uplift = productivity(df) / base_prod - 1
        saved = 1 - 1 / (1 + uplift)
        time_value = tasks_per_month * v["minutes_per_task"] / 60 * saved * v["cost_per_hour"]
        error_value = tasks_per_month * (base_err - float(df.error.mean())) * v["error_cost"]
        out.append({"month": month.start_time.date(), "benefit": time_value + error_value})
    ref = pd.DataFrame(out)
    costs = frames["costs"].assign(month=lambda c: pd.to_datetime(c.period_start).dt.date)
    ref = ref.merge(costs.groupby("month").amount.sum().rename("cost").reset_index(), on="month", how="outer")
    ref = ref.fillna(0.0).sort_values("month").reset_index(drop=True)
    ref["cumulative_benefit"] = ref.benefit.cumsum()
    ref["cumulative_cost"] = ref.cost.cumsum()
    ref["roi"] = (ref.cumulative_benefit - ref.cumulative_cost) / ref.cumulative_cost
    return ref


def test_roi_matches_pandas(workspace: Workspace, warehouse: dict[str, pd.DataFrame]) -> None:
    ref = _roi_reference(warehouse)
    with workspace.program(readonly=True) as prog:
        doc = prog.roi(OP, KEY)
    points = pd.DataFrame(doc["points"])
    assert list(points.period_start) == [m.isoformat() for m in ref.month]
    for column in ("benefit", "cost", "cumulative_benefit", "cumulative_cost", "roi"):
        assert points[column].to_numpy() == pytest.approx(ref[column].to_numpy(), rel=1e-9), column
    assert doc["totals"]["benefit"] == pytest.approx(ref.benefit.sum(), rel=1e-9)
    assert doc["totals"]["cost"] == pytest.approx(7500.0)
    assert doc["growing"] is False and "six months" in doc["sentence"]  # four months of data
    with workspace.program(readonly=True) as prog:
        rollup = prog.program_roi(OP)
    assert rollup["program"]["net"] == pytest.approx(ref.benefit.sum() - 7500.0, rel=1e-9)


def test_roi_without_an_ai_start(workspace: Workspace) -> None:
    _create(workspace)
    with workspace.program(readonly=True) as prog:
        doc = prog.roi(OP, KEY)
    assert doc["points"] == [] and doc["totals"] is None and "no AI start" in doc["sentence"]


def test_monthly_costs_sum_categories(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text(
        "use_case,period_start,period_end,category,amount\n"
        f"{KEY},2025-03-01,2025-03-31,license,100\n"
        f"{KEY},2025-03-01,2025-03-31,compute,25.5\n"
        f"other,2025-03-01,2025-03-31,compute,999\n",
        encoding="utf-8",
    )
    workspace.ingest("costs", path)
    assert workspace.program_facts().monthly_costs(KEY) == [(date(2025, 3, 1), 125.5)]
