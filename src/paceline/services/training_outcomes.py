"""Training to outcomes: adoption, behavioural adoption and productivity of trained people against
people not yet trained, around the days they finished their learning path.

The question is the one of the three-arm trial (Dell'Acqua et al.): with the AI tool in hand,
does training add to what people get from it? So every comparison is between people who
already have the tool: each person's weeks start at their AI switch-on, and people are
compared only with others switched on the same week (an AI cohort), because the tool's own
ramp-up depends on how long someone has had it.

Within each AI cohort the pilot engine's staggered estimator
(:func:`paceline.analytics.staggered.staggered_att`, Callaway and Sant'Anna with
not-yet-treated controls) compares each completion week's group with the people not yet
trained, and a pairs cluster bootstrap resamples *people*. Cohort estimates are pooled by
their number of trained people. As a check, a stacked two-period difference-in-differences
(four weeks before and after each completion week, against people of the same AI cohort
still untrained four weeks later, :func:`stacked_did`) runs through the pilot engine's
regression with CR2 standard errors clustered by person.

People who finished before their switch-on have no untrained weeks with the tool and are
left out (counted in ``people.trained_before_access``). Person-level values never leave this
module: what is returned are cohort estimates, with cohorts of fewer than ``k`` trained
people or controls shown without figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from paceline.analytics.ols import CellData, CovType, SingularDesign, fit
from paceline.analytics.result import Estimate
from paceline.analytics.robust import bell_mccaffrey_df, cr2_covariance, working_model
from paceline.analytics.staggered import StaggeredResult, staggered_att
from paceline.domain.kpis import KPIS, Change, Grain
from paceline.errors import ValidationError
from paceline.services.kpi import person_level
from paceline.services.kpi_frames import PERIOD, KpiQuery, period_of
from paceline.services.roster import Assignment, assignments

OUTCOME_KPIS = ("adoption_rate", "suggestions_accepted_share", "productivity")
STACK_WEEKS = 4


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week(day: date, origin: date) -> int:
    return (_monday(day) - origin).days // 7


def adoption_weeks(con: Any, use_case: str, people: Mapping[str, Assignment]) -> pd.DataFrame:
    """Per person and week from their switch-on: 1 when they used the tool that week, else 0."""
    u = con.table("usage_events")
    u = u.filter(u.use_case == use_case)
    active = u.select(person_id=u.person_id, week=period_of(u.occurred_at, Grain.WEEK)).distinct()
    seen = active.to_pyarrow().to_pandas()
    if seen.empty:
        return pd.DataFrame(columns=["person_id", "week", "value"])
    last = pd.to_datetime(seen.week).max().date()
    used = set(zip(seen.person_id, pd.to_datetime(seen.week).dt.date, strict=True))
    rows = []
    for pid, a in people.items():
        if a.ai_enabled_from is None:
            continue
        week = _monday(a.ai_enabled_from)
        while week <= last:
            rows.append((pid, week, float((pid, week) in used)))
            week += timedelta(weeks=1)
    return pd.DataFrame(rows, columns=["person_id", "week", "value"])


def kpi_weeks(con: Any, use_case: str, kpi: str, people: Mapping[str, Assignment]) -> pd.DataFrame:
    """Per person and week: the KPI's value (weeks with no data are absent)."""
    if kpi == "adoption_rate":
        return adoption_weeks(con, use_case, people)
    frame, value_of = person_level(con, KpiQuery(kpi, use_case=use_case, grain=Grain.WEEK))
    frame = frame.filter(frame.person_id.isin(sorted(people)))
    table = frame.group_by([PERIOD, "person_id"]).aggregate(value=value_of(frame)).to_pyarrow().to_pandas()
    table = table.rename(columns={PERIOD: "week"}).dropna(subset=["value"])
    table["week"] = pd.to_datetime(table.week).dt.date
    return table[["person_id", "week", "value"]]


def _after_switch_on(weekly: pd.DataFrame, people: Mapping[str, Assignment]) -> pd.DataFrame:
    """Keep each person's weeks from their AI switch-on week on."""
    on = {p: _monday(a.ai_enabled_from) for p, a in people.items() if a.ai_enabled_from is not None}
    start = weekly.person_id.map(on)
    keep = start.notna() & (weekly.week >= start)
    return weekly[keep.to_numpy(dtype=bool)]


def _cohort_estimate(
    weekly: pd.DataFrame, trained: Mapping[str, date], origin: date, alpha: float, seed: int, share: bool
) -> StaggeredResult:
    """One AI cohort's staggered estimate.

    A share (adoption, acceptance) is compared in percentage points, not relative to its level
    (which is often 0 the week before): its relative figures are dropped.
    """
    codes, ids = pd.factorize(weekly.person_id)
    week = np.array([_week(d, origin) for d in weekly.week], dtype=np.int64)
    starts = {i: float(_week(trained[p], origin)) for i, p in enumerate(ids) if p in trained}
    values = weekly.value.astype(float).to_numpy()
    result = staggered_att(codes, week, values, starts, alpha, seed=seed)
    return replace(result, relative=None, relative_ci=None) if share else result


def _pool(parts: list[tuple[int, StaggeredResult]], alpha: float) -> dict[str, Any]:
    """Cohort estimates pooled by their number of trained people (independent people, normal CI)."""
    usable = [(n, r) for n, r in parts if r.estimate is not None and r.se is not None and n > 0]
    if not usable:
        return {
            "estimate": None,
            "se": None,
            "ci": None,
            "p_value": None,
            "relative": None,
            "relative_ci": None,
        }
    total = sum(n for n, _ in usable)
    w = [n / total for n, _ in usable]
    est = sum(wi * float(r.estimate or 0.0) for wi, (_, r) in zip(w, usable, strict=True))
    se = math.sqrt(sum((wi * float(r.se or 0.0)) ** 2 for wi, (_, r) in zip(w, usable, strict=True)))
    z = float(norm.ppf(1 - alpha / 2))
    rel_parts = [
        (wi, r) for wi, (_, r) in zip(w, usable, strict=True) if r.relative is not None and r.relative_ci
    ]
    relative = relative_ci = None
    if len(rel_parts) == len(usable):
        relative = sum(wi * float(r.relative or 0.0) for wi, r in rel_parts)
        half = math.sqrt(
            sum((wi * (r.relative_ci[1] - r.relative_ci[0]) / 2) ** 2 for wi, r in rel_parts if r.relative_ci)
        )
        relative_ci = [relative - half, relative + half]
    p_value = float(2 * norm.sf(abs(est / se))) if se > 0 else None
    return {
        "estimate": est,
        "se": se,
        "ci": [est - z * se, est + z * se],
        "p_value": p_value,
        "relative": relative,
        "relative_ci": relative_ci,
    }


def _stack_rows(
    by_person: Mapping[str, pd.DataFrame], members: list[str], trained: Mapping[str, date], switch_on: date
) -> list[tuple[str, str, str, str, float]]:
    """One AI cohort's stacks: per completion week, four weeks before and after it, trained vs not yet."""
    rows: list[tuple[str, str, str, str, float]] = []
    weeks = sorted({_monday(trained[p]) for p in members if p in trained})
    for start in weeks:
        pre_from, post_to = start - timedelta(weeks=STACK_WEEKS), start + timedelta(weeks=STACK_WEEKS)
        if _monday(switch_on) > pre_from:
            continue  # the tool was not on for the whole window
        for pid in members:
            done = trained.get(pid)
            if done is not None and _monday(done) == start:
                arm = "trained"
            elif done is None or done >= post_to:
                arm = "not_yet"
            else:
                continue
            frame = by_person.get(pid)
            if frame is None:
                continue
            for phase, lo, hi in (("pre", pre_from, start), ("post", start, post_to)):
                values = frame.value[(frame.week >= lo) & (frame.week < hi)]
                if len(values):
                    rows.append((f"{switch_on}|{start}", pid, arm, phase, float(values.mean())))
    return rows


def stacked_did(
    weekly: pd.DataFrame, trained: Mapping[str, date], cohorts: Mapping[date, list[str]], alpha: float
) -> dict[str, Any] | None:
    """The CR2 check: a stacked two-period difference-in-differences around each completion week.

    Each stack (an AI cohort and a completion week) compares the people who finished that week
    with those of the cohort still untrained four weeks later. Each person's change from the
    four weeks before to the four weeks from the completion week is regressed on stack effects
    and a trained indicator (the stacked DiD with stack-by-period effects); the standard error
    is CR2 clustered by person, with Bell-McCaffrey degrees of freedom, as in the pilot engine.
    """
    by_person = {str(p): g for p, g in weekly.groupby("person_id")}
    rows: list[tuple[str, str, str, str, float]] = []
    for switch_on, members in cohorts.items():
        rows += _stack_rows(by_person, members, trained, switch_on)
    data = pd.DataFrame(rows, columns=["block", "person_id", "arm", "phase", "value"])
    if data.empty:
        return None
    wide = data.pivot_table(index=["block", "person_id", "arm"], columns="phase", values="value").dropna()
    if not {"pre", "post"} <= set(wide.columns):
        return None
    change = (wide["post"] - wide["pre"]).reset_index(name="d")
    both = change.groupby("block").arm.nunique()
    change = change[change.block.isin(both[both == 2].index)]
    if change.empty:
        return None
    return _stack_regression(change, alpha)


def _stack_regression(change: pd.DataFrame, alpha: float) -> dict[str, Any]:
    stacks = pd.get_dummies(change.block).to_numpy(dtype=float)
    treated = (change.arm == "trained").to_numpy(dtype=float)
    z = np.column_stack([stacks, treated])
    units = pd.factorize(change.person_id)[0]
    n = len(change)
    cells = CellData(z, np.ones(n), change.d.to_numpy(dtype=float), np.zeros(n), units)
    doc: dict[str, Any] = {
        "design": "stacked_did",
        "se_method": CovType.CR2.value,
        "alpha": alpha,
        "n_obs": n,
        "n_units": {
            "treatment": int(change.person_id[treated == 1].nunique()),
            "control": int(change.person_id[treated == 0].nunique()),
        },
    }
    try:
        ols = fit(cells)
    except SingularDesign:
        return doc | {"estimate": None, "se": None, "ci": None, "df": None, "p_value": None, "checks": []}
    contrast = np.zeros(ols.k)
    contrast[-1] = 1.0
    model = working_model(ols)
    vcov = cr2_covariance(ols, model)
    est = Estimate(
        float(ols.beta[-1]),
        float(np.sqrt(contrast @ vcov @ contrast)),
        bell_mccaffrey_df(ols, contrast, model, adjust=model),
    )
    ok = np.isfinite(est.se) and est.se > 0
    return doc | {
        "estimate": est.estimate,
        "se": est.se if ok else None,
        "ci": list(est.ci(alpha)) if ok else None,
        "df": est.df,
        "p_value": est.p_value() if ok else None,
        "stacks": int(change.block.nunique()),
        "checks": [],
    }


def estimate(
    con: Any,
    use_case: str,
    kpi: str,
    trained: Mapping[str, date],
    k: int,
    alpha: float = 0.05,
    seed: int = 20260301,
) -> dict[str, Any]:
    """The effect of finishing training on *kpi* for *use_case* (see the module docstring).

    *trained* maps (pseudonymised) people to the day they finished their learning path.
    """
    if kpi not in OUTCOME_KPIS:
        raise ValidationError(
            f"{kpi!r} is not a training outcome", field="kpi", fix=f"use one of: {', '.join(OUTCOME_KPIS)}"
        )
    share = KPIS[kpi].change is Change.DELTA_PP
    people = {a.person_id: a for a in assignments(con, use_case) if a.ai_enabled_from is not None}
    weekly = _after_switch_on(kpi_weeks(con, use_case, kpi, people), people)
    # a fixed order: the bootstrap draws people by their position, so the engine's row order must not matter
    weekly = weekly.sort_values(["person_id", "week"], kind="stable").reset_index(drop=True)
    before = {p for p, d in trained.items() if p in people and d <= people[p].ai_enabled_from}  # type: ignore[operator]
    usable = {p: d for p, d in trained.items() if p in people and p not in before}
    weekly = weekly[~weekly.person_id.isin(before)]  # trained with no untrained week: neither arm
    cohorts: dict[date, list[str]] = {}
    for pid, a in people.items():
        cohorts.setdefault(_monday(a.ai_enabled_from), []).append(pid)  # type: ignore[arg-type]
    rows, parts = [], []
    origin = min(cohorts) if cohorts else date(2000, 1, 3)
    for i, (switch_on, members) in enumerate(sorted(cohorts.items())):
        group = weekly[weekly.person_id.isin(members)]
        n_trained = sum(p in usable for p in members)
        n_controls = sum(p not in usable and p not in before for p in members)
        result = (
            _cohort_estimate(group, usable, origin, alpha, seed + i, share)
            if len(group) and n_trained
            else None
        )
        if result is not None:
            parts.append((n_trained, result))
        rows.append(_cohort_row(switch_on, n_trained, n_controls, result, k))
    pooled = _pool(parts, alpha)
    checks = [r.check.to_dict() for _, r in parts]
    return {
        "use_case": use_case,
        "kpi": kpi,
        "design": "staggered",
        "se_method": "cluster_bootstrap (people), cohorts pooled",
        "alpha": alpha,
        **pooled,
        "cohorts": rows,
        "people": {
            "with_tool": len(people),
            "trained": len(usable),
            "trained_before_access": len(before),
            "not_trained": len(people) - len(usable) - len(before),
        },
        "did_cr2": stacked_did(weekly, usable, cohorts, alpha),
        "checks": checks,
    }


def _cohort_row(
    switch_on: date, trained: int, controls: int, r: StaggeredResult | None, k: int
) -> dict[str, Any]:
    hidden = trained < k or controls < k
    shown = r is not None and not hidden
    return {
        "switch_on_week": switch_on.isoformat(),
        "trained": trained,
        "controls": controls,
        "suppressed": hidden,
        "estimate": r.estimate if shown and r is not None else None,
        "ci": list(r.ci) if shown and r is not None and r.ci else None,
        "relative": r.relative if shown and r is not None else None,
    }
