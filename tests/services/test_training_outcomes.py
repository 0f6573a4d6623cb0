"""Training to outcomes on simulated cohorts: a known training effect is recovered within its interval,
and with no effect (an A/A check) every interval covers zero."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paceline.bootstrap import Workspace
from paceline.errors import ValidationError
from paceline.services.access import operator
from paceline.services.training_outcomes import estimate

OP = operator()
UC = "uc"
START = date(2025, 1, 6)
DAYS = [START + timedelta(days=i) for i in range(175) if (START + timedelta(days=i)).weekday() < 5]
SWITCH_ON = (date(2025, 2, 3), date(2025, 3, 3))
CATALOGUE = {
    "competency": {"key": "prompting", "title": "Prompting"},
    "course": {
        "key": "cert",
        "title": "Certificate",
        "kind": "certification",
        "minutes": 30,
        "use_case": UC,
        "pass_mark": 0.7,
        "grants": {"prompting": 2},
    },
    "curriculum": {
        "key": "all",
        "title": "Everyone",
        "use_case": UC,
        "role": "*",
        "path": ["cert"],
        "targets": {"prompting": 2},
    },
}


@dataclass(frozen=True)
class Simulated:
    ws: Workspace
    truth: float  # the mean effect on tasks per person-day over trained people's weeks from completion on
    trained: dict[str, date]


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def simulate(home: Path, effect: float, seed: int, people: int = 80, before_access: int = 0) -> Simulated:
    """Two AI cohorts; 80% finish the path 1-12 weeks after switch-on; tasks grow by *effect* once trained.

    Work has a common upward trend (so a before/after comparison would be biased) and person
    effects; use of the tool (adoption, acceptance) does not depend on training at all.
    """
    rng = np.random.default_rng(seed)
    ids = [f"e{i:03d}" for i in range(people)]
    on = [SWITCH_ON[i % 2] for i in range(people)]
    done: dict[str, date] = {}
    for i, pid in enumerate(ids):
        if i < before_access:
            done[pid] = on[i] - timedelta(days=3)
        elif rng.random() < 0.8:
            done[pid] = on[i] + timedelta(days=int(rng.integers(7, 85)))
    level = 4.0 * np.exp(0.25 * rng.standard_normal(people))
    tasks: dict[str, list[Any]] = {
        k: [] for k in ("event_id", "task_id", "person_id", "opened_at", "completed_at")
    }
    effects: dict[tuple[str, date], list[float]] = {}
    for i, pid in enumerate(ids):
        for d, day in enumerate(DAYS):
            rate = level[i] * (1 + 0.002 * d)
            boosted = pid in done and day >= done[pid] and done[pid] > on[i]
            for n in range(rng.poisson(rate * (1 + effect) if boosted else rate)):
                tasks["event_id"].append(f"{pid}-{day}-{n}")
                tasks["task_id"].append(f"{pid}-{day}-{n}")
                tasks["person_id"].append(pid)
                tasks["opened_at"].append(_at(day, 8))
                tasks["completed_at"].append(_at(day, 9 + n % 8))
            if pid in done and done[pid] > on[i] and day >= on[i] and _monday(day) >= _monday(done[pid]):
                effects.setdefault((pid, _monday(day)), []).append(rate * effect if boosted else 0.0)
    n = len(tasks["event_id"])
    task_table = pa.table(tasks | {"use_case": [UC] * n, "ai_assisted": [True] * n})
    usage: dict[str, list[Any]] = {k: [] for k in ("event_id", "person_id", "occurred_at", "action")}
    for i, pid in enumerate(ids):
        week = _monday(on[i])
        while week <= DAYS[-1]:
            if rng.random() < 0.75:
                for action in (
                    "session",
                    "suggestion_accepted" if rng.random() < 0.5 else "suggestion_rejected",
                ):
                    usage["event_id"].append(f"u-{pid}-{week}-{action}")
                    usage["person_id"].append(pid)
                    usage["occurred_at"].append(_at(week + timedelta(days=1), 10))
                    usage["action"].append(action)
            week += timedelta(weeks=1)
    usage_table = pa.table(usage | {"use_case": [UC] * len(usage["event_id"])})
    people_table = pa.table({"person_id": ids, "team": [f"t{i % 4}" for i in range(people)]})
    assignments = pa.table(
        {
            "person_id": ids,
            "use_case": [UC] * people,
            "cohort": ["rollout"] * people,
            "eligible_from": [START] * people,
            "ai_enabled_from": on,
        }
    )
    ws = Workspace.init(home)
    for name, table in (
        ("people", people_table),
        ("assignments", assignments),
        ("task_events", task_table),
        ("usage_events", usage_table),
    ):
        pq.write_table(table, home.parent / f"{name}.parquet")
        assert ws.ingest(name, home.parent / f"{name}.parquet").quarantined == 0
    _records(ws, ids, done)
    weekly = [float(np.mean(v)) for v in effects.values()]
    return Simulated(ws, float(np.mean(weekly)) if weekly else 0.0, done)


def _records(ws: Workspace, ids: list[str], done: dict[str, date]) -> None:
    statements = []
    for pid in ids:
        verb, day = ("passed", done[pid]) if pid in done else ("registered", START)
        statements.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, pid)),
                "actor": {"account": {"homePage": "x", "name": pid}},
                "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
                "object": {"id": "https://lms/cert"},
                "timestamp": _at(day, 12).isoformat(),
            }
        )
    with ws.enablement(OP) as en:
        en.save_competency(OP, CATALOGUE["competency"])
        en.save_course(OP, CATALOGUE["course"])
        en.save_curriculum(OP, CATALOGUE["curriculum"])
        assert en.import_xapi(OP, statements, "sim").loaded == len(ids)


@pytest.fixture(scope="module")
def with_effect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulated]:
    sim = simulate(tmp_path_factory.mktemp("effect") / "ws", effect=0.25, seed=11)
    yield sim
    sim.ws.close()


@pytest.fixture(scope="module")
def without_effect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulated]:
    sim = simulate(tmp_path_factory.mktemp("aa") / "ws", effect=0.0, seed=12, before_access=6)
    yield sim
    sim.ws.close()


def test_the_records_give_each_persons_completion_day(with_effect: Simulated) -> None:
    with with_effect.ws.enablement(readonly=True) as en:
        trained = en.trained_on(UC)
    assert len(trained) == len(with_effect.trained)
    pseudo = {p: d for p, d in trained.items()}
    assert sorted(pseudo.values()) == sorted(with_effect.trained.values())


def test_a_known_training_effect_is_recovered_within_its_interval(with_effect: Simulated) -> None:
    doc = with_effect.ws.training_outcomes(UC, ("productivity",), OP)
    out = doc["outcomes"][0]
    lo, hi = out["ci"]
    assert 0 < lo <= with_effect.truth <= hi, (out["estimate"], out["ci"], with_effect.truth)
    assert out["relative"] is not None and 0.1 < out["relative"] < 0.4  # an effect of +25% on a growing base
    assert len(out["cohorts"]) == 2 and all(c["estimate"] is not None for c in out["cohorts"])
    check = out["did_cr2"]
    assert check["se_method"] == "cluster_CR2" and check["ci"][0] > 0
    assert check["ci"][0] <= with_effect.truth <= check["ci"][1]
    assert not [c for c in check["checks"] if c["name"] == "unit_assignment"]


def test_with_no_effect_every_interval_covers_zero(without_effect: Simulated) -> None:
    doc = without_effect.ws.training_outcomes(UC, who=OP)
    assert [o["kpi"] for o in doc["outcomes"]] == [
        "adoption_rate",
        "suggestions_accepted_share",
        "productivity",
    ]
    for out in doc["outcomes"]:
        lo, hi = out["ci"]
        assert lo <= 0 <= hi, (out["kpi"], out["estimate"], out["ci"])
        assert out["did_cr2"]["ci"][0] <= 0 <= out["did_cr2"]["ci"][1], out["kpi"]
    adoption = doc["outcomes"][0]
    assert adoption["relative"] is None  # shares are compared in percentage points
    assert adoption["people"]["trained_before_access"] == 6


def test_small_cohorts_are_shown_without_figures(without_effect: Simulated) -> None:
    con = without_effect.ws.warehouse_connection()
    with without_effect.ws.enablement(readonly=True) as en:
        trained = en.trained_on(UC)
    doc = estimate(con, UC, "productivity", trained, k=1000)
    assert all(c["suppressed"] and c["estimate"] is None for c in doc["cohorts"])
    assert doc["estimate"] is not None  # the pooled figure is about every cohort together
    with pytest.raises(ValidationError) as err:
        estimate(con, UC, "csat", trained, k=5)
    assert err.value.details["field"] == "kpi"


def test_results_are_cached_until_the_records_change(with_effect: Simulated) -> None:
    first = with_effect.ws.training_outcomes(UC, ("adoption_rate",), OP)
    assert with_effect.ws.training_outcomes(UC, ("adoption_rate",), OP) == first
