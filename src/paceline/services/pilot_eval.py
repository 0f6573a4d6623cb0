"""``paceline pilot evaluate --pilot NAME``: a recorded pilot judged on the warehouse's data.

For each primary and guardrail KPI the engine reduces the task events to one row
per person and phase (the baseline window and the pilot window): the person is the
unit, never the task, and each person counts once. That small table goes through
the same statistics as ``--data`` (:func:`paceline.services.pilot_data.evaluate_pilot`):

* a **randomised** pilot compares the people of the two arms during the pilot,
  with each person's baseline value as the CUPED covariate;
* a **difference-in-differences** pilot compares the change from baseline to pilot
  between the arms, with standard errors clustered by person.

Acceptance criteria are read from the KPI engine for the treated cohorts during
the pilot; the verdict follows :mod:`paceline.domain.verdict`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
from scipy.stats import norm

from paceline.analytics.event_study import event_study
from paceline.analytics.quantiles import arm, quantile_effect
from paceline.analytics.sequential import obrien_fleming_bounds
from paceline.analytics.staggered import staggered_att
from paceline.domain.kpis import Grain
from paceline.domain.pilots import Design, DurationEstimand, PilotSpec, Unit
from paceline.domain.verdict import Estimate, Reason, decide, judge_acceptance
from paceline.services.kpi import definition, person_level, task_frame
from paceline.services.kpi_frames import PERIOD, KpiQuery
from paceline.services.pilot_data import evaluate_pilot
from paceline.services.pilot_plan import baseline_window, cohort_people, person_weeks

KpiValue = Callable[[str, str], float | None]
"""The KPI's value for a treated cohort during the pilot (for acceptance criteria)."""


def person_phases(con: Any, spec: PilotSpec, kpi: str, treated: set[str], control: set[str]) -> pa.Table:
    """One row per person and phase: ``person_id``, ``team``, ``phase`` (pre or post), ``value``, ``arm``."""
    since, _ = baseline_window(spec)
    query = KpiQuery(
        kpi, use_case=spec.use_case, by=("team",), grain=Grain.TOTAL, since=since, until=spec.end
    )
    frame, value_of = person_level(con, query)
    frame = frame.filter(frame.person_id.isin(sorted(treated | control)))
    start = spec.start.isoformat()
    frame = frame.mutate(phase=(frame._day >= start).ifelse("post", "pre"))
    value = value_of(frame)
    # a person's team: the last one in their tasks (teams are the clusters of team-randomised pilots)
    table = frame.group_by(["person_id", "phase"]).aggregate(value=value, team=frame.team.max()).to_pyarrow()
    arms = ["treatment" if p in treated else "control" for p in table.column("person_id").to_pylist()]
    return table.append_column("arm", pa.array(arms, pa.string()))


def _randomised_rows(phases: pa.Table) -> pa.Table:
    """Pilot-window values with the person's baseline value as covariate (mean-filled when missing)."""
    rows = phases.to_pylist()
    pre = {r["person_id"]: r["value"] for r in rows if r["phase"] == "pre" and r["value"] is not None}
    fill = sum(pre.values()) / len(pre) if pre else 0.0
    post = [r for r in rows if r["phase"] == "post" and r["value"] is not None]
    return pa.table(
        {
            "person_id": [r["person_id"] for r in post],
            "team": [r["team"] for r in post],
            "arm": [r["arm"] for r in post],
            "value": [float(r["value"]) for r in post],
            "pre": [float(pre.get(r["person_id"], fill)) for r in post],
        }
    )


def _cluster(spec: PilotSpec) -> str:
    """The column of the randomisation unit: standard errors are clustered at that level."""
    return "team" if spec.unit is Unit.TEAM else "person_id"


def _is_duration(kpi: str) -> bool:
    return definition(kpi).unit in ("hours", "minutes")


def _transform(spec: PilotSpec, kpi: str) -> str | None:
    """The duration estimand stated in the plan: ``log`` compares geometric means of person values."""
    return "log" if _is_duration(kpi) and spec.duration_estimand is DurationEstimand.LOG else None


def evaluate_median(con: Any, spec: PilotSpec, kpi: str, people: tuple[set[str], set[str]]) -> dict[str, Any]:
    """The ``median`` estimand: the arms' pooled median durations (or their DiD), people resampled."""
    treated, control = people
    since = baseline_window(spec)[0] if spec.design is Design.DID else spec.start
    frame = task_frame(con, KpiQuery(kpi, use_case=spec.use_case, since=since, until=spec.end))
    frame = frame.filter(frame.person_id.isin(sorted(treated | control)))
    hours = frame.completed_at.delta(frame.opened_at, unit="microsecond").cast("float64") / 3.6e9
    duration = hours if kpi == "resolution_time" else frame.effort_seconds / 60.0
    rows = frame.select(person=frame.person_id, post=frame._day >= spec.start.isoformat(), d=duration)
    data = rows.to_pyarrow().to_pandas()
    codes = pd.factorize(data.person)[0]
    in_t = data.person.isin(treated).to_numpy()
    post = data.post.to_numpy() if spec.design is Design.DID else None
    arms = [arm(codes[m], data.d.to_numpy()[m], None if post is None else post[m]) for m in (in_t, ~in_t)]
    effect = quantile_effect(arms[0], arms[1], q=0.5, alpha=spec.alpha)
    design = "did" if spec.design is Design.DID else "ab"
    doc: dict[str, Any] = {
        "design": design,
        "outcome": kpi,
        "kpi": kpi,
        "df": None,
        "alpha": spec.alpha,
        "se_method": "cluster_bootstrap",
        "n_obs": len(data),
        "n_units": {"treatment": len(arms[0].post), "control": len(arms[1].post)},
    }
    if effect is None:
        return doc | {
            "estimate": None,
            "se": None,
            "ci": None,
            "p_value": None,
            "relative_lift": None,
            "relative_ci": None,
            "checks": [{"name": "quantile", "status": "fail", "detail": "fewer than 2 people in an arm"}],
        }
    p_value = float(2 * norm.sf(abs(effect.estimate / effect.se))) if effect.se else None
    return doc | {
        "estimate": effect.estimate,
        "se": effect.se,
        "ci": list(effect.ci),
        "p_value": p_value,
        "relative_lift": effect.relative,
        "relative_ci": list(effect.relative_ci) if effect.relative_ci else None,
        "checks": [
            {
                "name": "quantile",
                "status": "pass",
                "detail": f"median {'DiD ' if design == 'did' else ''}with {effect.draws} "
                "bootstrap draws over people",
            }
        ],
    }


def evaluate_kpi(con: Any, spec: PilotSpec, kpi: str, people: tuple[set[str], set[str]]) -> dict[str, Any]:
    """The estimate of one KPI's effect as the document of spec/interface.md.

    Durations follow the plan's estimand: ``log`` (ratio of geometric means of each person's
    mean), ``median`` (the pooled median, :func:`evaluate_median`) or ``ratio_of_means``.
    """
    if _is_duration(kpi) and spec.duration_estimand is DurationEstimand.MEDIAN:
        return evaluate_median(con, spec, kpi, people)
    phases = person_phases(con, spec, kpi, *people)
    transform = _transform(spec, kpi)
    if spec.design is Design.RANDOMISED:
        data = _randomised_rows(phases)
        covariate = "pre" if data.num_rows and len(set(data.column("pre").to_pylist())) > 1 else None
        result = evaluate_pilot(
            data,
            outcome="value",
            group="arm",
            treated="treatment",
            unit=_cluster(spec),
            covariate=covariate,
            transform=transform,
            alpha=spec.alpha,
            design="ab",
            expected_share=None,
        )
    else:
        data = phases.filter(pa.compute.is_valid(phases.column("value")))
        result = evaluate_pilot(
            data,
            outcome="value",
            group="arm",
            treated="treatment",
            unit=_cluster(spec),
            period="phase",
            post="post",
            transform=transform,
            alpha=spec.alpha,
            design="did",
            expected_share=None,
        )
    doc = result.to_dict()
    doc["kpi"] = kpi
    return doc


def weekly_effects(con: Any, spec: PilotSpec, kpi: str, people: tuple[set[str], set[str]]) -> dict[str, Any]:
    """The event study of a difference-in-differences pilot: effect by week and the pre-trend check."""
    treated, control = people
    weekly = person_weeks(con, spec, kpi, treated | control, until=spec.end)
    start = pd.Timestamp(spec.start - timedelta(days=spec.start.weekday()))
    rel = ((pd.to_datetime(weekly[PERIOD]) - start).dt.days // 7).to_numpy()
    arm = weekly.person_id.isin(treated).to_numpy().astype(int)
    codes = pd.factorize(weekly.team if spec.unit is Unit.TEAM else weekly.person_id)[0]
    study = event_study(rel, arm, weekly.value.astype(float).to_numpy(), codes, spec.alpha)
    return {
        "weeks": [{"week": e.week, "estimate": e.estimate, "ci": list(e.ci)} for e in study.effects],
        "pre_trend_p": study.pre_trend_p,
        "steady_state": None
        if study.steady_state is None
        else {
            "from_week": study.steady_state.week,
            "estimate": study.steady_state.estimate,
            "ci": list(study.steady_state.ci),
        },
        "check": study.check.to_dict(),
    }


def interim_look(con: Any, spec: PilotSpec) -> dict[str, Any] | None:
    """The scheduled look the data has reached, with its O'Brien-Fleming boundary; None at the end.

    A pilot with ``weekly_looks`` evaluated before its data reach ``end`` is at an interim look:
    week ``k`` of ``K`` (``K = weekly_looks``), where only a crossing of the boundary counts, so
    looking every week does not inflate false positives.
    """
    if spec.weekly_looks <= 0:
        return None
    t = con.table("task_events")
    last = t.filter(t.use_case == spec.use_case).completed_at.max().date().to_pyarrow().as_py()
    if last is None or last >= spec.end:
        return None
    look = min(max(math.ceil(((last - spec.start).days + 1) / 7), 1), spec.weekly_looks)
    bounds = obrien_fleming_bounds(spec.weekly_looks, spec.alpha)
    return {
        "look": look,
        "of": spec.weekly_looks,
        "boundary": bounds[look - 1],
        "data_until": last.isoformat(),
    }


def _estimate(doc: dict[str, Any], role: str, target: float, look: dict[str, Any] | None) -> Estimate:
    rel, ci = doc.get("relative_lift"), doc.get("relative_ci")
    est, se = doc.get("estimate"), doc.get("se")
    z = est / se if est is not None and se else None
    return Estimate(
        doc["kpi"],
        role,
        None if rel is None else 100 * rel,
        None if not ci or None in ci else (100 * ci[0], 100 * ci[1]),
        doc.get("p_value"),
        target,
        z=z,
        boundary=look["boundary"] if look and role == "primary" else None,
    )


def _switch_on_weeks(con: Any, spec: PilotSpec, origin: pd.Timestamp) -> dict[str, float]:
    """Each person's first week with the AI switched on for this use case, in weeks from *origin*."""
    a = con.table("assignments")
    a = a.filter((a.use_case == spec.use_case) & a.cohort.isin(list(spec.treatment_cohorts)))
    rows = a.group_by("person_id").aggregate(on=a.ai_enabled_from.min()).to_pyarrow().to_pylist()
    return {
        r["person_id"]: float((pd.Timestamp(r["on"]) - origin).days // 7) for r in rows if r["on"] is not None
    }


def evaluate_staggered_kpi(
    con: Any, spec: PilotSpec, kpi: str, people: tuple[set[str], set[str]]
) -> dict[str, Any]:
    """A staggered rollout's effect on one KPI: waves against people not yet switched on.

    The bootstrap resamples the pilot's unit (:func:`_cluster`): teams, with all their people
    and weeks, when the unit is the team (people of a team share shocks and switch on
    together), people otherwise.
    """
    treated, control = people
    weekly = person_weeks(con, spec, kpi, treated | control, until=spec.end).dropna(subset=["value"])
    since, _ = baseline_window(spec)
    origin = pd.Timestamp(since - timedelta(days=since.weekday()))
    week = ((pd.to_datetime(weekly[PERIOD]) - origin).dt.days // 7).to_numpy()
    codes, ids = pd.factorize(weekly.person_id)
    starts = _switch_on_weeks(con, spec, origin)
    start_by_code = {i: starts[p] for i, p in enumerate(ids) if p in starts}
    clusters = None
    if _cluster(spec) == "team":
        # a person without a team is a cluster of their own
        team = weekly.team.astype(object).where(weekly.team.notna(), "person:" + weekly.person_id.astype(str))
        clusters = pd.factorize(team)[0]
    result = staggered_att(
        codes,
        week,
        weekly.value.astype(float).to_numpy(),
        start_by_code,
        spec.alpha,
        cluster=clusters,
        cluster_name="teams",
    )
    p_value = None if not result.se else float(2 * norm.sf(abs((result.estimate or 0.0) / result.se)))
    return {
        "design": "staggered",
        "outcome": kpi,
        "kpi": kpi,
        "estimate": result.estimate,
        "se": result.se,
        "ci": list(result.ci) if result.ci else None,
        "df": None,
        "p_value": p_value,
        "relative_lift": result.relative,
        "relative_ci": list(result.relative_ci) if result.relative_ci else None,
        "se_method": "cluster_bootstrap",
        "alpha": spec.alpha,
        "n_obs": len(weekly),
        "n_units": {"treatment": len(start_by_code), "control": len(ids) - len(start_by_code)},
        "checks": [result.check.to_dict()],
    }


def evaluate_recorded(con: Any, spec: PilotSpec, kpi_value: KpiValue) -> dict[str, Any]:
    """The ``--pilot`` document: the primary result, every KPI's result, and the verdict."""
    people = cohort_people(con, spec)
    look = interim_look(con, spec)
    results, estimates = [], []
    for role, items in (("primary", spec.primary), ("guardrail", spec.guardrails)):
        for item in items:
            if spec.design is Design.STAGGERED:
                doc = evaluate_staggered_kpi(con, spec, item.kpi, people)
            else:
                doc = evaluate_kpi(con, spec, item.kpi, people)
            doc["role"] = role
            if spec.design is Design.DID and role == "primary":
                doc["event_study"] = weekly_effects(con, spec, item.kpi, people)
                doc["checks"] = [*doc.get("checks", []), doc["event_study"]["check"]]
            target = item.target_effect_pct if role == "primary" else item.margin_pct  # type: ignore[union-attr]
            results.append(doc)
            estimates.append(_estimate(doc, role, target, look))
    acceptance = [_acceptance(spec, a.kpi, a.minimum, kpi_value) for a in spec.acceptance]
    checks = [c for doc in results for c in doc.get("checks", []) if c["status"] != "pass"]
    decision = decide(estimates, acceptance, checks)
    head = dict(results[0]) if results else {}
    head.update(
        pilot=spec.name,
        use_case=spec.use_case,
        kpis=results,
        **decision.to_dict(),
        window={
            "baseline": [d.isoformat() for d in baseline_window(spec)],
            "pilot": [spec.start.isoformat(), spec.end.isoformat()],
        },
        people={"treatment": len(people[0]), "control": len(people[1])},
        look=look,
    )
    return head


def _acceptance(spec: PilotSpec, kpi: str, minimum: float, kpi_value: KpiValue) -> Reason:
    values = [kpi_value(kpi, cohort) for cohort in spec.treatment_cohorts]
    known = [v for v in values if v is not None]
    return judge_acceptance(kpi, minimum, min(known) if known else None)
