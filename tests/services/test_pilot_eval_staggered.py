"""``evaluate_staggered_kpi``: the bootstrap resamples the pilot's unit (teams for a team pilot).

The warehouse queries are replaced by a synthetic panel (people in teams that switch on
together and share a shock per team and week), so the test is about the wiring: which
clusters reach :func:`paceline.analytics.staggered.staggered_att` and what the document says.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from paceline.domain.pilots import Design, PilotSpec, PrimaryKpi, Unit
from paceline.services import pilot_eval
from paceline.services.kpi_frames import PERIOD
from paceline.services.pilot_plan import baseline_window

SPEC = PilotSpec(
    name="maintenance-waves",
    use_case="predictive-maintenance",
    hypothesis="Guidance shortens repairs",
    design=Design.STAGGERED,
    treatment_cohorts=("wave-1", "wave-2"),
    control_cohorts=(),
    start=date(2026, 3, 2),
    end=date(2026, 5, 24),
    primary=(PrimaryKpi("handling_time", 5),),
)
TEAMS, SIZE = 16, 6


def _origin(spec: PilotSpec) -> date:
    since, _ = baseline_window(spec)
    return since - timedelta(days=since.weekday())


def _weekly(seed: int = 5) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(seed)
    origin = _origin(SPEC)
    weeks = (SPEC.end - origin).days // 7 + 1
    first = (SPEC.start - origin).days // 7
    people = np.arange(TEAMS * SIZE)
    team = people // SIZE
    start = np.select([team < 6, team < 12], [first, first + 4], -1)
    shock = rng.normal(0, 1.0, (TEAMS, weeks))
    rows = []
    for p in people:
        level = rng.normal(30, 2)
        for w in range(weeks):
            value = level + shock[team[p], w] + rng.normal(0, 0.5)
            rows.append(
                (pd.Timestamp(origin + timedelta(weeks=w)), f"emp-{p:03d}", f"team-{team[p]:02d}", value)
            )
    weekly = pd.DataFrame(rows, columns=[PERIOD, "person_id", "team", "value"])
    starts = {f"emp-{p:03d}": float(start[p]) for p in people if start[p] >= 0}
    return weekly, starts


@pytest.fixture
def panel(monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], set[str]]:
    weekly, starts = _weekly()

    def person_weeks(con: Any, spec: PilotSpec, kpi: str, people: set[str], until: date | None = None) -> Any:
        return weekly[weekly.person_id.isin(people)].copy()

    monkeypatch.setattr(pilot_eval, "person_weeks", person_weeks)
    monkeypatch.setattr(pilot_eval, "_switch_on_weeks", lambda con, spec, origin: starts)
    everyone = set(weekly.person_id)
    return set(starts), everyone - set(starts)


def test_a_team_pilot_resamples_teams(panel: tuple[set[str], set[str]]) -> None:
    by_person = pilot_eval.evaluate_staggered_kpi(None, SPEC, "handling_time", panel)
    by_team = pilot_eval.evaluate_staggered_kpi(None, replace(SPEC, unit=Unit.TEAM), "handling_time", panel)
    for doc in (by_person, by_team):
        assert doc["design"] == "staggered" and doc["se_method"] == "cluster_bootstrap"
    (person_check,) = by_person["checks"]
    (team_check,) = by_team["checks"]
    assert "bootstrap draws over people (96 resampled)" in person_check["detail"]
    assert "bootstrap draws over teams (16 resampled)" in team_check["detail"]
    assert team_check["status"] == "pass"
    assert by_team["estimate"] == pytest.approx(by_person["estimate"], rel=1e-12)
    # the team's shared shocks: the team bootstrap's interval is the wider one
    assert by_team["se"] > 1.5 * by_person["se"]
    assert by_team["ci"][1] - by_team["ci"][0] > 1.5 * (by_person["ci"][1] - by_person["ci"][0])


def test_people_without_a_team_are_their_own_cluster(
    panel: tuple[set[str], set[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    weekly, _ = _weekly()
    weekly.loc[weekly.person_id == "emp-000", "team"] = None
    monkeypatch.setattr(pilot_eval, "person_weeks", lambda *a, **k: weekly.copy())
    doc = pilot_eval.evaluate_staggered_kpi(None, replace(SPEC, unit=Unit.TEAM), "handling_time", panel)
    assert "bootstrap draws over teams (17 resampled)" in doc["checks"][0]["detail"]
