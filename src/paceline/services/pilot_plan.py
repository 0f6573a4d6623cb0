"""``paceline pilot plan``: what a recorded pilot can detect, from the baseline in the warehouse.

For each primary KPI, per-person weekly values over the baseline window are
computed in the engine and reduced there to a few hundred person-week rows; only
the variance components (between people, week to week, between teams, and the
correlation of consecutive periods for CUPED) go into the power formulas of
:mod:`paceline.analytics.power`. No person-level figure leaves this module.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from paceline.analytics.power import VarianceComponents, plan
from paceline.domain.kpis import Grain
from paceline.domain.pilots import PilotSpec, Unit
from paceline.services.kpi import definition, person_level
from paceline.services.kpi_frames import PERIOD, KpiQuery

BASELINE_WEEKS = 12


def baseline_window(spec: PilotSpec) -> tuple[date, date]:
    """The baseline: from ``baseline_start`` (else 12 weeks before the pilot) to the day before it."""
    return spec.baseline_start or spec.start - timedelta(weeks=BASELINE_WEEKS), spec.start - timedelta(days=1)


def cohort_people(con: Any, spec: PilotSpec) -> tuple[set[str], set[str]]:
    """The (pseudonymised) people in the treatment and in the control cohorts of the pilot's use case."""
    a = con.table("assignments")
    a = a.filter(
        (a.use_case == spec.use_case) & a.cohort.isin([*spec.treatment_cohorts, *spec.control_cohorts])
    )
    rows = a.select("person_id", "cohort").distinct().to_pyarrow().to_pylist()
    treated = {r["person_id"] for r in rows if r["cohort"] in spec.treatment_cohorts}
    control = {r["person_id"] for r in rows if r["cohort"] in spec.control_cohorts}
    return treated, control


def person_weeks(
    con: Any, spec: PilotSpec, kpi: str, people: set[str], until: date | None = None
) -> pd.DataFrame:
    """Per person and week, from the baseline's start: the KPI's value and the person's team.

    Person-level figures stay inside the services that reduce them to estimates.
    """
    since, baseline_end = baseline_window(spec)
    until = until or baseline_end
    query = KpiQuery(kpi, use_case=spec.use_case, by=("team",), grain=Grain.WEEK, since=since, until=until)
    frame, value_of = person_level(con, query)
    frame = frame.filter(frame.person_id.isin(sorted(people)))
    grouped = frame.group_by([PERIOD, "person_id", "team"]).aggregate(value=value_of(frame))
    return grouped.to_pyarrow().to_pandas()


def components(weekly: pd.DataFrame) -> VarianceComponents | None:
    """Variance components by one-way random-effects ANOVA (``None`` with too little data)."""
    weekly = weekly.dropna(subset=["value"])
    per_person = weekly.groupby("person_id").value.agg(["mean", "count"])
    if len(per_person) < 3:
        return None
    deviations = weekly.value - weekly.person_id.map(per_person["mean"])
    dof = int((per_person["count"] - 1).sum())
    s2 = float((deviations**2).sum() / dof) if dof > 0 else 0.0
    tau2 = max(0.0, float(per_person["mean"].var(ddof=1)) - s2 * float((1 / per_person["count"]).mean()))
    return VarianceComponents(
        mean=float(weekly.value.mean()),
        tau2=tau2,
        s2=s2,
        icc_team=_icc(weekly, per_person["mean"]),
        team_size=float(weekly.groupby("team").person_id.nunique().mean()),
        cuped_r2=_halves_r2(weekly),
    )


def _icc(weekly: pd.DataFrame, person_means: pd.Series) -> float:
    teams = weekly.drop_duplicates("person_id").set_index("person_id").team
    frame = pd.DataFrame({"mean": person_means, "team": teams.reindex(person_means.index)}).dropna()
    if frame.team.nunique() < 2:
        return 0.0
    team_means = frame.groupby("team")["mean"].agg(["mean", "count"])
    within = float(frame.groupby("team")["mean"].var(ddof=1).mean())
    between = float(team_means["mean"].var(ddof=1)) - within * float((1 / team_means["count"]).mean())
    total = max(between, 0.0) + within
    return 0.0 if not math.isfinite(total) or total <= 0 else max(between, 0.0) / total


def _halves_r2(weekly: pd.DataFrame) -> float:
    """Squared correlation of each person's mean in the first and second half of the baseline."""
    weeks = sorted(weekly[PERIOD].unique())
    if len(weeks) < 4:
        return 0.0
    first = weekly[weekly[PERIOD].isin(weeks[: len(weeks) // 2])].groupby("person_id").value.mean()
    second = weekly[weekly[PERIOD].isin(weeks[len(weeks) // 2 :])].groupby("person_id").value.mean()
    both = pd.concat([first, second], axis=1, join="inner").dropna()
    if len(both) < 3:
        return 0.0
    r = float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])
    return 0.0 if not math.isfinite(r) else r * r


def plan_pilot(con: Any, spec: PilotSpec, power: float = 0.8) -> dict[str, Any]:
    """The plan document: per primary KPI, the baseline, the components and what the pilot can detect."""
    treated, control = cohort_people(con, spec)
    weeks = max(1, math.ceil(((spec.end - spec.start).days + 1) / 7))
    since, until = baseline_window(spec)
    rows = []
    for primary in spec.primary:
        kpi = definition(primary.kpi)
        entry: dict[str, Any] = {
            "kpi": kpi.name,
            "unit": kpi.unit,
            "target_effect_pct": primary.target_effect_pct,
        }
        vc = components(person_weeks(con, spec, kpi.name, treated | control))
        if vc is None:
            entry["note"] = "fewer than 3 people with baseline data: no plan possible"
            rows.append(entry)
            continue
        # Counted in people either way: team randomisation enters through the design effect.
        by_team = spec.unit is Unit.TEAM
        target = primary.target_effect_pct
        result = plan(vc, len(treated), len(control), weeks, target, spec.alpha, power, by_team)
        entry.update(
            baseline={
                "mean": vc.mean,
                "tau2": vc.tau2,
                "s2": vc.s2,
                "icc_team": vc.icc_team,
                "team_size": vc.team_size,
                "cuped_r2": vc.cuped_r2,
            },
            **result.to_dict(),
        )
        rows.append(entry)
    return {
        "pilot": spec.name,
        "use_case": spec.use_case,
        "baseline": [since.isoformat(), until.isoformat()],
        "weeks": weeks,
        "power": power,
        "alpha": spec.alpha,
        "n_treatment": len(treated),
        "n_control": len(control),
        "kpis": rows,
    }
