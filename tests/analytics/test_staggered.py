"""Staggered rollouts: the not-yet-treated comparison recovers effects that grow with exposure."""

from __future__ import annotations

import numpy as np

from paceline.analytics.result import Status
from paceline.analytics.staggered import staggered_att


def rollout(effect_per_week: float, seed: int = 4) -> tuple[np.ndarray, ...]:
    """150 people in 3 waves starting at weeks 4, 8 and 12 of 16; the effect grows each week treated."""
    rng = np.random.default_rng(seed)
    people, weeks = np.arange(150), np.arange(16)
    wave_start = np.array([4, 8, 12])[people % 3]
    person = np.repeat(people, weeks.size)
    week = np.tile(weeks, people.size)
    exposure = np.maximum(week - wave_start[person] + 1, 0)
    y = (
        rng.normal(20, 3, people.size)[person]
        + 0.2 * week
        + effect_per_week * exposure
        + rng.normal(0, 1, person.size)
    )
    true = []  # the average effect over the (wave, week) cells the estimator can use
    for g in (4, 8):
        for t in range(g, 12):
            true.append(effect_per_week * (t - g + 1))
    return person, week, y, {int(p): float(wave_start[p]) for p in people}, float(np.mean(true))


def test_growing_effects_are_recovered() -> None:
    person, week, y, starts, _ = rollout(-0.25)
    result = staggered_att(person, week, y, starts)
    assert result.check.status is Status.PASS and result.ci is not None and result.estimate is not None
    # cells weighted by wave size: waves 1 and 2 over the weeks before wave 3 starts
    cells = [(g, t) for g in (4, 8) for t in range(g, 12)]
    true = float(np.mean([-0.25 * (t - g + 1) for g, t in cells]))
    assert result.ci[0] <= true <= result.ci[1]
    assert result.relative is not None and result.relative < 0


def test_no_effect_gives_an_interval_around_zero() -> None:
    person, week, y, starts, _ = rollout(0.0, seed=9)
    result = staggered_att(person, week, y, starts)
    assert result.ci is not None and result.ci[0] <= 0 <= result.ci[1]


def test_a_share_that_starts_at_zero_has_an_absolute_interval_only() -> None:
    """Before the rollout nobody uses the tool (a share of 0): every draw's baseline is 0."""
    person, week, _, starts, _ = rollout(0.0)
    rng = np.random.default_rng(5)
    treated = np.array([week[i] >= starts[int(p)] for i, p in enumerate(person)])
    y = np.where(treated, rng.binomial(1, 0.4, person.size), 0).astype(float)
    result = staggered_att(person, week, y, starts)
    assert result.estimate is not None and result.ci is not None and result.ci[0] <= 0.4 <= result.ci[1]
    assert result.relative is None and result.relative_ci is None
    assert "no relative effect: the baseline is zero" in result.check.detail


def test_everyone_at_once_has_no_comparison() -> None:
    person, week, y, starts, _ = rollout(0.0)
    result = staggered_att(person, week, y, {p: 4.0 for p in starts})
    assert result.check.status is Status.FAIL and result.estimate is None


def team_rollout(seed: int, teams: int = 16, size: int = 6, weeks: int = 12) -> tuple[np.ndarray, ...]:
    """Teams switched on together (6 teams at week 4, 6 at week 8, 4 never), no effect, and a
    shock per team and week that the team's people share: the team is the real cluster."""
    rng = np.random.default_rng(seed)
    people = np.arange(teams * size)
    team = people // size
    start = np.select([team < 6, team < 12], [4.0, 8.0], np.inf)
    person = np.repeat(people, weeks)
    week = np.tile(np.arange(weeks), people.size)
    shock = rng.normal(0, 1.0, (teams, weeks))[team[person], week]
    y = rng.normal(10, 1, people.size)[person] + 0.1 * week + shock + rng.normal(0, 0.5, person.size)
    starts = {int(p): float(start[p]) for p in people if np.isfinite(start[p])}
    return person, week, y, starts, team[person]


def test_team_bootstrap_covers_where_the_people_bootstrap_does_not() -> None:
    """People of a team share shocks: resampling people treats them as independent, so the
    interval is too narrow and misses the true (zero) effect far more often than 5%; resampling
    teams keeps each team's people together and gives wider intervals that cover far more often."""
    covered: dict[str, list[bool]] = {"people": [], "teams": []}
    width: dict[str, list[float]] = {"people": [], "teams": []}
    for rep in range(150):
        person, week, y, starts, team = team_rollout(rep)
        for name, cluster in (("people", None), ("teams", team)):
            result = staggered_att(person, week, y, starts, cluster=cluster, cluster_name="teams", draws=199)
            assert result.ci is not None
            covered[name].append(result.ci[0] <= 0.0 <= result.ci[1])
            width[name].append(result.ci[1] - result.ci[0])
    people, teams = float(np.mean(covered["people"])), float(np.mean(covered["teams"]))
    assert people < 0.75  # far below the nominal 95%
    assert teams > people + 0.2
    ratio = np.array(width["teams"]) / np.array(width["people"])
    assert np.median(ratio) > 1.5 and np.mean(ratio > 1) > 0.9


def test_the_check_says_what_was_resampled() -> None:
    person, week, y, starts, team = team_rollout(1)
    by_team = staggered_att(person, week, y, starts, cluster=team, cluster_name="teams")
    assert by_team.check.status is Status.PASS and by_team.clusters == 16
    assert "bootstrap draws over teams (16 resampled)" in by_team.check.detail
    by_person = staggered_att(person, week, y, starts)
    assert "bootstrap draws over people (96 resampled)" in by_person.check.detail
    assert by_team.estimate == by_person.estimate  # the estimate does not depend on the clusters


def test_one_cluster_per_person_is_the_people_bootstrap() -> None:
    person, week, y, starts, _ = rollout(-0.1)
    plain = staggered_att(person, week, y, starts)
    same = staggered_att(person, week, y, starts, cluster=person * 7 + 3)
    assert (same.se, same.ci, same.relative_ci) == (plain.se, plain.ci, plain.relative_ci)


def test_few_clusters_warn() -> None:
    person, week, y, starts, team = team_rollout(2)
    few = staggered_att(person, week, y, starts, cluster=team // 2, cluster_name="plants")
    assert few.clusters == 8 and few.check.status is Status.WARN
    assert "over plants" in few.check.detail and "fewer than 10 plants" in few.check.detail


def test_a_person_who_moves_counts_with_their_latest_cluster() -> None:
    person, week, y, starts, team = team_rollout(3)
    moved = team.copy()
    moved[(person == 0) & (week >= 6)] = 5  # person 0 joins team 5 in week 6
    always = team.copy()
    always[person == 0] = 5
    result = staggered_att(person, week, y, starts, cluster=moved)
    assert result.clusters == 16
    assert result.ci == staggered_att(person, week, y, starts, cluster=always).ci
    assert result.ci != staggered_att(person, week, y, starts, cluster=team).ci
