"""Staggered rollouts: Callaway and Sant'Anna's group-time effects with not-yet-treated controls.

Naive two-way fixed effects compare late adopters with early ones *after* the early
ones were treated, which biases the estimate when effects differ by wave or grow over
time. Instead, for each wave ``g`` (first treated week) and each week ``t >= g``:

    ATT(g, t) = mean over wave g of [y(t) - y(g-1)]  -  mean over not-yet-treated of [y(t) - y(g-1)]

where the not-yet-treated are people whose wave starts after ``t``. The overall effect
averages ATT(g, t) weighted by the wave's size.

Intervals come from a bootstrap that resamples *clusters* with replacement and keeps each
cluster's people and weeks together (the pairs cluster bootstrap, Cameron, Gelbach & Miller
2008). By default a person is the cluster: they appear in several comparisons. When people
share shocks (a team's or a plant's bad week, a team switched on together) the cluster is
the team: resampling people then treats the members of a team as independent and the
interval is too narrow. Pass ``cluster`` (e.g. team codes) to resample teams. With fewer
than :data:`FEW_CLUSTERS` clusters the percentile interval is unreliable and the check warns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paceline.analytics.result import Check, Status

DRAWS = 499
FEW_CLUSTERS = 10
MIN_DRAWS = 20  # bootstrap draws needed for an interval (out of DRAWS)


@dataclass(frozen=True)
class StaggeredResult:
    estimate: float | None
    se: float | None
    ci: tuple[float, float] | None
    relative: float | None  # estimate / the treated waves' mean in the week before they start
    relative_ci: tuple[float, float] | None
    cells: int  # (wave, week) comparisons used
    check: Check
    clusters: int = 0  # clusters the bootstrap resampled


def _panel(person: np.ndarray, week: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """People x weeks matrix of values (NaN where missing), with the sorted ids of both axes."""
    people, p_idx = np.unique(person, return_inverse=True)
    weeks, w_idx = np.unique(week, return_inverse=True)
    matrix = np.full((people.size, weeks.size), np.nan)
    matrix[p_idx, w_idx] = y
    return matrix, people, weeks


def _att(
    matrix: np.ndarray, start: np.ndarray, weeks: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overall ATT, the treated baseline mean (for the relative effect) and the cells used.

    ``weight`` is (draws, people): one row of person weights per draw (bootstrap counts, or ones);
    each output has one value per row. A (wave, week) cell enters a row when that row has weight
    on both the wave's and the not-yet-treated people with data in the week.
    """
    rows = weight.shape[0]
    total, base, used, cells = np.zeros(rows), np.zeros(rows), np.zeros(rows), np.zeros(rows)
    col = {int(w): i for i, w in enumerate(weeks)}
    for g in np.unique(start[np.isfinite(start)]):
        g = int(g)
        if g - 1 not in col:
            continue
        ref = matrix[:, col[g - 1]]
        cohort = start == g
        for t in (w for w in weeks if w >= g):
            later = ~np.isfinite(start) | (start > t)
            diff = matrix[:, col[int(t)]] - ref
            ok_t, ok_c = cohort & np.isfinite(diff), later & np.isfinite(diff)
            if not ok_t.any() or not ok_c.any():
                continue
            w_t, w_c = weight[:, ok_t], weight[:, ok_c]
            n_t, n_c = w_t.sum(axis=1), w_c.sum(axis=1)
            live = (n_t > 0) & (n_c > 0)
            safe_t, safe_c = np.where(live, n_t, 1.0), np.where(live, n_c, 1.0)
            att = w_t @ diff[ok_t] / safe_t - w_c @ diff[ok_c] / safe_c
            total += np.where(live, att * n_t, 0.0)
            base += np.where(live, w_t @ ref[ok_t], 0.0)
            used += np.where(live, n_t, 0.0)
            cells += live
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(used > 0, total / used, np.nan), np.where(used > 0, base / used, np.nan), cells


def _cluster_of(person: np.ndarray, week: np.ndarray, cluster: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Each person's cluster code 0..G-1: the cluster of their latest week (people who move count
    with the cluster they ended in)."""
    order = np.lexsort((week, person))
    last = order[np.r_[np.diff(person[order]) != 0, True]]  # each person's latest row
    _, codes = np.unique(cluster[last], return_inverse=True)
    by_person = dict(zip(person[last].tolist(), codes.tolist(), strict=True))
    return np.array([by_person[p] for p in people.tolist()], dtype=np.int64)


def staggered_att(
    person: np.ndarray,
    week: np.ndarray,
    y: np.ndarray,
    start_week: dict[int, float],
    alpha: float = 0.05,
    seed: int = 20260301,
    cluster: np.ndarray | None = None,
    cluster_name: str = "clusters",
    draws: int = DRAWS,
) -> StaggeredResult:
    """The overall effect of a staggered rollout.

    ``start_week`` maps a person code to the first week they were treated (others never are).
    ``cluster`` (one code per row, e.g. the person's team) makes the bootstrap resample clusters
    instead of people; ``cluster_name`` names them in the check ("teams").
    """
    matrix, people, weeks = _panel(person, week, y)
    start = np.array([start_week.get(int(p), np.inf) for p in people], dtype=float)
    est_, base_, cells_ = _att(matrix, start, weeks, np.ones((1, people.size)))
    est, base, used = float(est_[0]), float(base_[0]), int(cells_[0])
    if not used or not np.isfinite(est):
        check = Check(
            "not_yet_treated", Status.FAIL, "no wave has a week before its start and people not yet treated"
        )
        return StaggeredResult(None, None, None, None, None, 0, check)
    if cluster is None:
        codes, what = np.arange(people.size), "people"
    else:
        codes, what = (
            _cluster_of(np.asarray(person), np.asarray(week), np.asarray(cluster), people),
            cluster_name,
        )
    n_clusters = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_clusters, (draws, n_clusters))  # row by row: the same draws as one at a time
    counts = np.zeros((draws, n_clusters))
    np.add.at(counts, (np.arange(draws)[:, None], picks), 1.0)
    value, b, _ = _att(matrix, start, weeks, counts[:, codes])
    absolute = value[np.isfinite(value)]
    # the relative effect needs a non-zero baseline in the draw (a share that starts at 0 has none)
    with_base = np.isfinite(value) & np.isfinite(b) & (b != 0)
    relative = value[with_base] / b[with_base]
    waves = len(np.unique(start[np.isfinite(start)]))
    detail = (
        f"{waves} waves compared with people not yet switched on; "
        f"{absolute.size} bootstrap draws over {what} ({n_clusters} resampled)"
    )
    status = Status.PASS
    if n_clusters < FEW_CLUSTERS:
        status = Status.WARN
        detail += f"; fewer than {FEW_CLUSTERS} {what}: the bootstrap interval is too narrow"
    if relative.size < MIN_DRAWS:
        detail += "; no relative effect: the baseline is zero"
    if absolute.size < MIN_DRAWS:
        detail = f"{waves} waves, but fewer than {MIN_DRAWS} bootstrap draws could estimate the effect"
        check = Check("not_yet_treated", Status.WARN, detail)
        return StaggeredResult(est, None, None, None, None, used, check, n_clusters)
    return StaggeredResult(
        est,
        float(absolute.std(ddof=1)),
        _interval(absolute, alpha),
        est / base if base else None,
        _interval(relative, alpha) if relative.size >= MIN_DRAWS else None,
        used,
        Check("not_yet_treated", status, detail),
        n_clusters,
    )


def _interval(draws: np.ndarray, alpha: float) -> tuple[float, float]:
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
