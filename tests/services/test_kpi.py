"""Every KPI against an independent pandas computation on a fixture full of edge cases."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from paceline.bootstrap import Workspace
from paceline.domain.kpis import KPIS
from tests.services import kpi_fixture as fx


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("kpi")
    ws = Workspace.init(folder / "ws")
    for table, path in fx.write_all(folder).items():
        report = ws.ingest(table, path)
        assert report.quarantined == 0, (table, report.reasons)
    yield ws
    ws.close()


def _engine(ws: Workspace, kpi: str, grain: str, by: list[str], stat: str = "mean") -> pd.DataFrame:
    df = ws.kpi(kpi, grain=grain, by=by, stat=stat).to_pandas()
    return df


def _keyed(frame: pd.DataFrame, keys: list[str]) -> dict[tuple[str, ...], pd.Series]:
    def norm(v: object) -> str:
        return "null" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    return {tuple(norm(row[k]) for k in keys): row for _, row in frame.iterrows()}


def _compare(engine: pd.DataFrame, ref: pd.DataFrame, keys: list[str], k: int = 5) -> None:
    e, r = _keyed(engine, keys), _keyed(ref, keys)
    assert set(e) == set(r)
    for key, want in r.items():
        got = e[key]
        assert int(got.n) == int(want.n), key
        assert int(got.n_people) == int(want.n_people), key
        if 0 < want.n_people < k:
            assert bool(got.suppressed) and pd.isna(got.value), key
        elif want.value is None or pd.isna(want.value):
            assert pd.isna(got.value), key
        else:
            assert not got.suppressed, key
            assert math.isclose(float(got.value), float(want.value), rel_tol=1e-9, abs_tol=1e-12), key


TASK_KPIS = [
    "productivity",
    "productivity_quality_adjusted",
    "error_rate",
    "automation_rate",
    "automation_full_rate",
    "automation_partial_rate",
]


@pytest.mark.parametrize("kpi", TASK_KPIS)
@pytest.mark.parametrize(
    ("grain", "by"),
    [("total", []), ("week", ["team"]), ("day", ["use_case"]), ("month", ["tenure_band", "ai_assisted"])],
)
def test_task_kpis_match_pandas(ws: Workspace, kpi: str, grain: str, by: list[str]) -> None:
    _compare(_engine(ws, kpi, grain, by), fx.reference_task_kpi(kpi, grain, by), ["period_start", *by])


@pytest.mark.parametrize("kpi", ["resolution_time", "handling_time"])
@pytest.mark.parametrize("stat", ["mean", "median", "p90"])
def test_duration_statistics(ws: Workspace, kpi: str, stat: str) -> None:
    ref = fx.reference_task_kpi(kpi, "week", ["priority"], stat)
    _compare(_engine(ws, kpi, "week", ["priority"], stat), ref, ["period_start", "priority"])


def test_groups_of_k_minus_one_people_are_suppressed(ws: Workspace) -> None:
    rows = {r["team"]: r for r in ws.kpi("error_rate", by=["team"]).rows}
    assert rows["team-b"]["suppressed"] and rows["team-b"]["value"] is None
    assert rows["team-b"]["n_people"] == 4
    assert not rows["team-a"]["suppressed"] and rows["team-a"]["n_people"] == 5


def test_weeks_start_on_monday_in_utc(ws: Workspace) -> None:
    periods = {r["period_start"] for r in ws.kpi("automation_rate", grain="week").rows}
    assert all(pd.Timestamp(p).weekday() == 0 for p in periods)


@pytest.mark.parametrize(
    ("grain", "by"), [("total", []), ("week", ["team"]), ("total", ["use_case", "cohort"])]
)
def test_adoption_matches_pandas(ws: Workspace, grain: str, by: list[str]) -> None:
    _compare(_engine(ws, "adoption_rate", grain, by), fx.reference_adoption(grain, by), ["period_start", *by])


@pytest.mark.parametrize("verb", ["accepted", "edited", "rejected"])
def test_behavioural_adoption_matches_pandas(ws: Workspace, verb: str) -> None:
    kpi = f"suggestions_{verb}_share"
    _compare(
        _engine(ws, kpi, "total", ["team"]),
        fx.reference_suggestions(verb, ["team"]),
        ["period_start", "team"],
    )


@pytest.mark.parametrize("kpi", ["csat", "nps", "esat"])
@pytest.mark.parametrize("by", [[], ["segment"], ["ai_assisted"]])
def test_survey_kpis_match_pandas(ws: Workspace, kpi: str, by: list[str]) -> None:
    engine = _engine(ws, kpi, "total", by)
    ref = fx.reference_survey(kpi, by)
    if kpi != "esat":  # customer surveys without a people split are never suppressed
        assert not engine.suppressed.any()
    _compare(engine, ref, ["period_start", *by], k=5 if kpi == "esat" else 0)


def test_compare_before_and_after_a_date(ws: Workspace) -> None:
    from datetime import date

    from paceline.services.kpi_explain import Sides

    doc = ws.kpi_compare("error_rate", Sides(split=date(2026, 3, 23)), by=["use_case"]).to_dict()
    t = fx.tasks_enriched()
    for row in doc["rows"]:
        g = t[(t.use_case == row["use_case"]) & t.error.notna()]
        before = g[g.day < date(2026, 3, 23)].error.astype(bool).mean()
        after = g[g.day >= date(2026, 3, 23)].error.astype(bool).mean()
        assert math.isclose(row["baseline"], before) and math.isclose(row["current"], after)
        assert math.isclose(row["change"], (before - after) / before * 100)
    assert doc["change"] == "reduction_pct" and doc["typical"]["low"] == 20


def test_compare_cohorts(ws: Workspace) -> None:
    from paceline.services.kpi_explain import Sides

    doc = ws.kpi_compare(
        "automation_rate", Sides(dim="ai_assisted", baseline="false", current="true")
    ).to_dict()
    t = fx.tasks_enriched()
    [row] = doc["rows"]
    want = (t[t.ai_assisted].automation != "none").mean() - (t[~t.ai_assisted].automation != "none").mean()
    assert math.isclose(row["change"], want * 100)


def test_explain_adds_up_to_the_change(ws: Workspace) -> None:
    from datetime import date

    from paceline.services.kpi_explain import Sides

    doc = ws.kpi_explain("error_rate", Sides(split=date(2026, 3, 23)), "priority").to_dict()
    total = sum(s["contribution"] for s in doc["segments"])
    assert math.isclose(total + doc["not_attributed"], doc["difference"], abs_tol=1e-12)
    assert abs(doc["not_attributed"]) < 1e-12  # a share KPI over disjoint segments is fully attributed
    t = fx.tasks_enriched()
    t = t[t.error.notna()]
    a, b = t[t.day < date(2026, 3, 23)], t[t.day >= date(2026, 3, 23)]
    seg = {s["segment"]: s for s in doc["segments"]}
    for name in ("low", "high"):
        sa, sb = (a.priority == name).mean(), (b.priority == name).mean()
        ra = a[a.priority == name].error.astype(bool).mean()
        rb = b[b.priority == name].error.astype(bool).mean()
        assert math.isclose(seg[name]["rate_effect"], (rb - ra) * (sa + sb) / 2)
        assert math.isclose(seg[name]["mix_effect"], (sb - sa) * (ra + rb) / 2)


def test_explain_hides_small_groups_in_the_unattributed_rest(ws: Workspace) -> None:
    from datetime import date

    from paceline.services.kpi_explain import Sides

    doc = ws.kpi_explain("error_rate", Sides(split=date(2026, 3, 23)), "team").to_dict()
    assert "team-b" not in {s["segment"] for s in doc["segments"]}
    total = sum(s["contribution"] for s in doc["segments"])
    assert math.isclose(total + doc["not_attributed"], doc["difference"], abs_tol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kpi": "happiness"}, "unknown KPI 'happiness'"),
        ({"kpi": "csat", "by": ["priority"]}, "csat cannot be split by priority"),
        ({"kpi": "error_rate", "stat": "p90"}, "error_rate has no statistic 'p90'"),
        ({"kpi": "error_rate", "grain": "year"}, "grain 'year' is not one of"),
        ({"kpi": "error_rate", "since": "last week"}, "since 'last week' is not a date"),
    ],
)
def test_bad_kpi_requests_are_named(ws: Workspace, kwargs: dict[str, object], message: str) -> None:
    from paceline.errors import ValidationError

    kpi = str(kwargs.pop("kpi"))
    with pytest.raises(ValidationError, match=message):
        ws.kpi(kpi, **kwargs)  # type: ignore[arg-type]


def test_since_until_are_inclusive_utc_days(ws: Workspace) -> None:
    rows = ws.kpi("automation_rate", grain="day", since="2026-03-05", until="2026-03-06").rows
    assert [r["period_start"] for r in rows] == ["2026-03-05", "2026-03-06"]
    t = fx.tasks_enriched()
    assert sum(r["n"] for r in rows) == int(t.day.astype(str).isin(["2026-03-05", "2026-03-06"]).sum())


def test_cohort_split_of_task_kpis(ws: Workspace) -> None:
    rows = ws.kpi("automation_rate", by=["use_case", "cohort"]).rows
    t = fx.tasks_enriched()
    a = fx.assignment_frame()
    human = t[t.person_id != "system"]
    merged = human.merge(a, on=["person_id", "use_case"], how="left")
    live = merged[
        (merged.eligible_from <= merged.day)
        & (
            merged.eligible_to.isna()
            | (
                merged.eligible_to.map(lambda d: d if d == d and d is not None else None).fillna(
                    pd.Timestamp.max.date()
                )
                >= merged.day
            )
        )
    ]
    counts = live.groupby(["use_case", "cohort"]).size().to_dict()
    for r in rows:
        if r["cohort"] is not None:
            assert r["n"] == counts[(r["use_case"], r["cohort"])]


def test_results_are_cached_until_new_data_arrives(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    paths = fx.write_all(tmp_path)
    ws.ingest("task_events", paths["task_events"])
    first = ws.kpi("error_rate", by=["use_case"]).rows
    misses = ws.kpi_cache.misses
    assert ws.kpi("error_rate", by=["use_case"]).rows == first and ws.kpi_cache.misses == misses
    other = Workspace.open(tmp_path / "ws")  # another process: served from the disk cache
    assert other.kpi("error_rate", by=["use_case"]).rows == first and other.kpi_cache.hits == 1
    late = tmp_path / "late.csv"
    pd.DataFrame(
        [
            {
                "event_id": "late-1",
                "task_id": "x",
                "use_case": "claims",
                "person_id": "team-a-0",
                "opened_at": "2026-03-03T09:00:00Z",
                "completed_at": "2026-03-03T10:00:00Z",
                "ai_assisted": "true",
                "error": "true",
            }
        ]
    ).to_csv(late, index=False)
    ws.ingest("task_events", late)  # late data for an early week
    after = {r["use_case"]: r["n"] for r in ws.kpi("error_rate", by=["use_case"]).rows}
    before = {r["use_case"]: r["n"] for r in first}
    assert after["claims"] == before["claims"] + 1 and after["docs"] == before["docs"]


def test_overview_windows_agree_with_exact_comparisons(ws: Workspace) -> None:
    from paceline.services.kpi_explain import Sides

    doc = ws.overview()
    assert doc["use_cases"] == ["claims", "docs"] and doc["ai_start"]["claims"] == "2026-03-09"
    workforce = [t for t in doc["tiles"] if t["key"] in KPIS]  # other capabilities add KPI 7 and 8 tiles
    tiles = {(t["key"], t["use_case"]): t for t in workforce}
    assert len(tiles) == len(workforce) == 3 * len(KPIS)
    for kpi in ("error_rate", "productivity", "csat", "nps", "resolution_time"):
        tile = tiles[(kpi, "claims")]
        [row] = ws.kpi_compare(kpi, Sides(split=fx.date(2026, 3, 9)), use_case="claims").rows
        assert math.isclose(tile["baseline"], row["baseline"]) and math.isclose(
            tile["current"], row["current"]
        )
        assert math.isclose(tile["change"], row["change"])
    assert tiles[("error_rate", None)]["typical"].startswith("20-60%")


def test_overview_shows_a_scoped_principal_only_its_use_case(ws: Workspace) -> None:
    from paceline.domain.roles import Grant, Role
    from paceline.services.access import Principal

    owner = Principal("bo", (Grant(Role.BUSINESS_OWNER, "docs"),))
    doc = ws.overview(who=owner)
    assert doc["use_cases"] == ["docs"] and doc["scopes"] == ["docs"]
    assert {t["use_case"] for t in doc["tiles"]} == {"docs"}


def test_filters_select_one_segment(ws: Workspace) -> None:
    from dataclasses import replace as dc_replace

    from paceline.services.kpi_frames import KpiQuery

    whole = {r["priority"]: r for r in ws.kpi("error_rate", by=["priority"]).rows}
    query = ws._kpi_query("error_rate", by=["team"])
    within = ws.run_kpi(dc_replace(query, filters={"priority": "high"}))
    assert sum(r["n"] for r in within.rows) == whole["high"]["n"]
    ai = ws.run_kpi(dc_replace(ws._kpi_query("automation_rate"), filters={"ai_assisted": "true"}))
    t = fx.tasks_enriched()
    assert ai.rows[0]["n"] == int(t.ai_assisted.sum())
    assert not isinstance(KpiQuery("x").filters, tuple)


def test_compute_many_equals_one_by_one(ws: Workspace) -> None:
    from paceline.domain.kpis import Grain, Stat
    from paceline.services.kpi import compute, compute_many
    from paceline.services.kpi_frames import KpiQuery

    con = ws.warehouse.connect()
    queries = [KpiQuery(k, by=("team",), grain=Grain.WEEK) for k in KPIS]
    queries.append(KpiQuery("resolution_time", by=("team",), grain=Grain.WEEK, stat=Stat.P90))
    queries.append(KpiQuery("error_rate", by=("priority",), filters={"ai_assisted": "true"}))
    assert [r.rows for r in compute_many(con, queries, 5)] == [compute(con, q, 5).rows for q in queries]


def test_overview_of_a_workspace_with_only_task_events(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest("task_events", fx.write_all(tmp_path)["task_events"])
    doc = ws.overview()
    adoption = [t for t in doc["tiles"] if t["key"] == "adoption_rate"]
    assert adoption and all(t["series"] == [] and t["latest"] is None for t in adoption)
    assert ws.kpi("adoption_rate").rows == []
