"""A small firm with every edge case the KPI definitions must handle, and a pandas reference.

The reference computes each KPI straight from the formulas in spec/interface.md on
the raw frames, with no code shared with the engine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from paceline.domain.kpis import tenure_band

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
TEAMS = {"team-a": 5, "team-b": 4, "team-c": 8}  # exactly k, k - 1, more
OFFSETS = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]


def people_frame() -> pd.DataFrame:
    rows = []
    for team, size in TEAMS.items():
        for i in range(size):
            hire = date(2026, 3, 1) - timedelta(days=[40, 250, 700, 2000][i % 4])
            rows.append({"person_id": f"{team}-{i}", "team": team, "role": "agent", "hire_date": hire})
    rows.append({"person_id": "idle-1", "team": "team-c", "role": "agent", "hire_date": date(2020, 1, 1)})
    return pd.DataFrame(rows)


def task_frame(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = people_frame()
    workers = [p for p in people.person_id if p != "idle-1"]
    rows = []
    for i in range(2400):
        person = "system" if i % 23 == 0 else workers[int(rng.integers(len(workers)))]
        opened = START + timedelta(minutes=int(rng.integers(0, 42 * 24 * 60)))
        hours = float(rng.gamma(2.0, 3.0))  # some tasks span midnight and week boundaries
        completed = opened + timedelta(hours=hours)
        tz = OFFSETS[i % 3]
        err = rng.random()
        rows.append(
            {
                "event_id": f"e{i}",
                "task_id": f"t{i}",
                "use_case": ["claims", "docs"][i % 2],
                "person_id": person,
                "team": "team-c" if i % 17 == 0 and person != "system" else "",
                "opened_at": opened.astimezone(tz).isoformat(),
                "completed_at": completed.astimezone(tz).isoformat(),
                "ai_assisted": "true" if rng.random() < 0.5 else "false",
                "automation": "full" if person == "system" else ["none", "partial"][i % 2],
                "units": float(rng.integers(1, 4)),
                "quality": "" if i % 5 == 0 else round(float(rng.random()), 3),
                "error": "" if err < 0.2 else ("true" if err > 0.85 else "false"),
                "priority": ["low", "high"][i % 2],
            }
        )
    return pd.DataFrame(rows)


def assignment_frame() -> pd.DataFrame:
    rows = []
    for team, size in TEAMS.items():
        for i in range(size):
            pid = f"{team}-{i}"
            cohort = "pilot" if i % 2 == 0 else "control"
            start = date(2026, 3, 4) if i == 1 else date(2026, 2, 1)  # starts mid-week
            end = date(2026, 3, 25) if i == 2 else None  # ends mid-week
            for uc in ("claims", "docs"):
                rows.append(
                    {
                        "person_id": pid,
                        "use_case": uc,
                        "cohort": cohort,
                        "eligible_from": start,
                        "eligible_to": end,
                        "ai_enabled_from": date(2026, 3, 9),
                    }
                )
    rows.append(
        {
            "person_id": "idle-1",
            "use_case": "claims",
            "cohort": "pilot",
            "eligible_from": date(2026, 2, 1),
            "eligible_to": None,
            "ai_enabled_from": None,
        }
    )
    return pd.DataFrame(rows)


def usage_frame(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    assigned = assignment_frame()
    rows = []
    actions = [
        "session",
        "suggestion_shown",
        "suggestion_accepted",
        "suggestion_edited",
        "suggestion_rejected",
    ]
    for i in range(1500):
        a = assigned.iloc[int(rng.integers(len(assigned) - 1))]  # idle-1 never uses the tool
        when = START + timedelta(minutes=int(rng.integers(0, 42 * 24 * 60)))
        rows.append(
            {
                "event_id": f"u{i}",
                "person_id": a.person_id,
                "use_case": a.use_case,
                "occurred_at": when.astimezone(OFFSETS[i % 3]).isoformat(),
                "action": actions[int(rng.integers(len(actions)))],
            }
        )
    return pd.DataFrame(rows)


def survey_frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tasks = task_frame()
    rows = []
    for i in range(900):
        task = tasks.iloc[int(rng.integers(len(tasks)))]
        survey = ["csat", "nps", "esat"][i % 3]
        score = {"csat": rng.integers(1, 6), "nps": rng.integers(0, 11), "esat": rng.integers(1, 6)}[survey]
        rows.append(
            {
                "response_id": f"r{i}",
                "survey": survey,
                "score": int(score),
                "responded_at": task.completed_at,
                "use_case": task.use_case,
                "task_id": task.task_id if survey != "esat" else "",
                "person_id": task.person_id if task.person_id != "system" else "",
                "segment": ["retail", "business"][i % 2],
            }
        )
    return pd.DataFrame(rows)


FRAMES = {
    "people": people_frame,
    "task_events": task_frame,
    "assignments": assignment_frame,
    "usage_events": usage_frame,
    "survey_responses": survey_frame,
}


def write_all(folder: Path) -> dict[str, Path]:
    out = {}
    for name, make in FRAMES.items():
        path = folder / f"{name}.csv"
        make().to_csv(path, index=False)
        out[name] = path
    return out


# --- the reference -------------------------------------------------------------------


def _period(ts: pd.Series, grain: str) -> pd.Series:
    if grain == "total":
        return pd.Series([None] * len(ts), index=ts.index, dtype=object)
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    freq = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS"}[grain]
    if grain == "week":
        starts = naive.dt.normalize() - pd.to_timedelta(naive.dt.day_of_week, unit="D")
    elif grain == "day":
        starts = naive.dt.normalize()
    else:
        starts = naive.dt.to_period(freq[0]).dt.start_time
    return starts.dt.date.map(lambda d: d.isoformat())


def tasks_enriched() -> pd.DataFrame:
    t = task_frame()
    for col in ("opened_at", "completed_at"):
        t[col] = pd.to_datetime(t[col], utc=True, format="ISO8601")
    people = people_frame().set_index("person_id")
    own = t.team.replace("", np.nan)
    t["team"] = own.fillna(t.person_id.map(people.team))
    t["day"] = t.completed_at.dt.tz_convert("UTC").dt.date
    hire = t.person_id.map(people.hire_date)
    t["tenure_band"] = [
        tenure_band((d - h).days) if isinstance(h, date) else None for d, h in zip(t.day, hire, strict=True)
    ]
    t["error"] = t.error.map({"true": True, "false": False, "": None}).astype(object)
    t["quality"] = pd.to_numeric(t.quality, errors="coerce")
    t["ai_assisted"] = t.ai_assisted == "true"
    return t


def reference_task_kpi(kpi: str, grain: str, by: list[str], stat: str = "mean") -> pd.DataFrame:
    t = tasks_enriched()
    t["period_start"] = _period(t.completed_at, grain)
    keys = ["period_start", *by]
    rows = []
    for key, g in t.groupby(keys, dropna=False):
        human = g[g.person_id != "system"]
        n_people = human.person_id.nunique()
        if kpi.startswith("productivity"):
            units = g.units * g.quality.fillna(1.0) if kpi.endswith("adjusted") else g.units
            person_days = len(human[["person_id", "day"]].drop_duplicates())
            value, n = (units.sum() / person_days if person_days else None), len(g)
        elif kpi == "error_rate":
            known = g[g.error.notna()]
            value, n = known.error.astype(bool).mean(), len(known)
            n_people = known[known.person_id != "system"].person_id.nunique()
        elif kpi in ("resolution_time", "handling_time"):
            hours = (g.completed_at - g.opened_at).dt.total_seconds() / 3600
            if kpi == "handling_time":  # no effort given in the fixture: completed - started, in minutes
                hours = (g.completed_at - g.opened_at).dt.total_seconds() / 60
            value = {"mean": hours.mean(), "median": hours.median(), "p90": hours.quantile(0.9)}[stat]
            n = len(g)
        else:
            levels = {
                "automation_rate": ["partial", "full"],
                "automation_full_rate": ["full"],
                "automation_partial_rate": ["partial"],
            }[kpi]
            value, n = g.automation.isin(levels).mean(), len(g)
        rows.append(
            {
                **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                "value": value,
                "n": n,
                "n_people": n_people,
            }
        )
    return pd.DataFrame(rows)


def _weeks(lo: date, hi: date) -> list[tuple[date, date]]:
    first = lo - timedelta(days=lo.weekday())
    out = []
    while first <= hi:
        out.append((first, min(first + timedelta(days=7), hi + timedelta(days=1))))
        first += timedelta(days=7)
    return out


def reference_adoption(grain: str, by: list[str]) -> pd.DataFrame:
    u = usage_frame()
    u["ts"] = pd.to_datetime(u.occurred_at, utc=True, format="ISO8601")
    u["day"] = u.ts.dt.date
    lo, hi = u.day.min(), u.day.max()
    spans = _weeks(lo, hi) if grain == "week" else [(lo, hi + timedelta(days=1))]
    a = assignment_frame()
    people = people_frame().set_index("person_id")
    rows = []
    for start, end in spans:
        live = a[
            (a.eligible_from < end)
            & (
                a.eligible_to.isna()
                | (a.eligible_to.map(lambda d: d if isinstance(d, date) else date.max) >= start)
            )
        ]
        live = live.sort_values("eligible_from").groupby(["person_id", "use_case"]).tail(1).copy()
        used = u[(u.day >= start) & (u.day < end)][["person_id", "use_case"]].drop_duplicates()
        live = live.merge(used.assign(active=True), on=["person_id", "use_case"], how="left")
        live["active"] = live.active.fillna(False).astype(bool)
        live["team"] = live.person_id.map(people.team)
        period = (start if grain == "week" else lo).isoformat()
        for key, g in live.groupby(by, dropna=False) if by else [((), live)]:
            n = g.person_id.nunique()
            active = g[g.active].person_id.nunique()
            keyvals = key if isinstance(key, tuple) else (key,)
            group = dict(zip(by, keyvals, strict=True))
            rows.append({"period_start": period, **group, "value": active / n, "n": n, "n_people": n})
    return pd.DataFrame(rows)


def reference_suggestions(verb: str, by: list[str]) -> pd.DataFrame:
    u = usage_frame()
    u = u[u.action.isin(["suggestion_accepted", "suggestion_edited", "suggestion_rejected"])].copy()
    u["team"] = u.person_id.map(people_frame().set_index("person_id").team)
    rows = []
    for key, g in u.groupby(by) if by else [((), u)]:
        keyvals = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                "period_start": None,
                **dict(zip(by, keyvals, strict=True)),
                "value": (g.action == f"suggestion_{verb}").mean(),
                "n": len(g),
                "n_people": g.person_id.nunique(),
            }
        )
    return pd.DataFrame(rows)


def reference_survey(kpi: str, by: list[str]) -> pd.DataFrame:
    s = survey_frame()
    s = s[s.survey == kpi].copy()
    s["person_id"] = s.person_id.replace("", np.nan)
    tasks = task_frame().set_index("task_id")
    s["ai_assisted"] = s.task_id.map(lambda t: (tasks.ai_assisted[t] == "true") if t else None)
    rows = []
    for key, g in s.groupby(by, dropna=False) if by else [((), s)]:
        keyvals = key if isinstance(key, tuple) else (key,)
        nps = 100 * ((g.score >= 9).mean() - (g.score <= 6).mean())
        value = nps if kpi == "nps" else g.score.mean()
        rows.append(
            {
                "period_start": None,
                **dict(zip(by, keyvals, strict=True)),
                "value": value,
                "n": len(g),
                "n_people": g.person_id.nunique(),
            }
        )
    return pd.DataFrame(rows)
