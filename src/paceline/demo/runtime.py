"""The demo firm's recent months through the human-in-the-loop runtime.

:func:`run_recent_months` trains the three workflows' models on the firm's history before
its last 13 weeks, starts a share of those weeks' claims, encounters and machine readings as
cases (:data:`paceline.demo.workflow_models.EVERY`, drawn over the whole quarter), runs a
worker until nothing is due, and then decides the review queue the way the firm's own people
would:

* the reviewer is the person who handled the task in the firm (or a member of the team);
* a right suggestion is accepted; a wrong one is edited to the generated ground truth with
  a reason code (``override`` with ``policy`` when a rule check sent it to review), except
  that one wrong suggestion in ten is accepted anyway: automation bias, which the blind
  second reviews of a sample of decided cases then show as disagreement between people;
* a claim whose form misses fields is sometimes sent back to intake (``reject``,
  ``missing_info``);
* the newest few items of each queue stay open, so the review page has work to show.

A second worker run acts on the decided cases and records them, and their canonical events
(tasks, predictions, labels, usage) are exported to the warehouse through the ordinary
ingest. Before the export each case's events are put on the firm's record:

* on the firm's calendar: the runtime stamps cases with the wall clock, so each case's events
  are moved to the time the task came in (durations kept), inside the firm's timeline;
* under the firm's ids where the firm's history already holds the same work: a claim or an
  encounter is a task the firm's files recorded, with its task event and the handler's
  suggestion event; the case's task event and suggestion events take those ids, so the
  ingest recognises them as stored and the work is counted once. The runtime model's
  prediction and the reviewer's label are new rows (``rt-<case id>``): a newer model's output
  on the same task. A machine reading has no task in the firm's files (its work orders start
  at a failure), so a maintenance case adds its triage task.

The models, the cases and the reviewers' draws come from the seed; the runtime's case ids are
random, and with them the small quality-assurance sample of automatically completed cases, so
counts can differ by a case or two between builds.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from paceline.bootstrap import Workspace
from paceline.demo.firm.rng import stream
from paceline.demo.params import FirmParams
from paceline.demo.workflow_models import (
    SPECS,
    WEEKS,
    DemoCase,
    History,
    Trained,
    demo_history,
    matrix,
    recent_weeks,
    save,
    train_all,
)
from paceline.demo.workflows import WORKFLOWS
from paceline.domain.workflow import unit_interval
from paceline.runtime.engine import Runtime
from paceline.runtime.labels import LabelStore
from paceline.runtime.registry import Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.storage.runtime_models import CaseRow, EventOutboxRow

DATA_DIR = "demo-data"  # as paceline.demo.run writes it
MODELS_DIR = "models"
COLUMNS = {
    "predictions": ["prediction_id", "model", "predicted_at", "task_id", "features", "latency_ms"],
    "labels": ["prediction_id", "label", "labeler"],
    "assignments": None,
}
RECORDS = {  # the firm's record of each task: its task event and the handler's suggestion event
    "task_events": ["event_id", "task_id"],
    "usage_events": ["event_id", "task_id", "action"],
}
SUGGESTION_EVENTS = ("suggestion_accepted", "suggestion_edited", "suggestion_rejected", "suggestion_shown")
START_CHUNK = 1000  # cases started per transaction
EDIT_REASON = {
    "claims-triage": "wrong_route",
    "clinical-documentation": "wrong_field",
    "predictive-maintenance": "wrong_field",
}
SECONDS = {  # median seconds a reviewer spends: accepting, correcting (assumptions)
    "claims-triage": (45.0, 150.0),
    "clinical-documentation": (60.0, 200.0),
    "predictive-maintenance": (90.0, 240.0),
}
MISS_RATE = 0.1  # wrong suggestions accepted anyway (automation bias; assumption)
REJECT_MISSING = 0.3  # claims with missing fields sent back to intake (assumption)

Say = Callable[[str], None]


def read_tables(data_dir: Path) -> dict[str, pa.Table]:
    """The columns of the demo's Parquet files that the workflows' history needs."""
    return {name: pq.read_table(data_dir / f"{name}.parquet", columns=cols) for name, cols in COLUMNS.items()}


def _reviewer(case: DemoCase, team: list[str], salt: str, exclude: str | None = None) -> str:
    """Who decides: for a case's own review (*salt* ``review``) the person who handled the task
    in the firm if known; otherwise a member of the team other than *exclude*, by hash."""
    if salt == "review" and case.reviewer:
        return case.reviewer
    pool = [p for p in team if p != exclude] or ["demo-reviewer"]
    return pool[int(unit_interval(f"{salt}|{case.external_id}") * len(pool))]


def _decision(
    workflow: str, item: dict[str, Any], case: DemoCase, rng: np.random.Generator
) -> dict[str, Any]:
    """The decision a reviewer of the firm makes on *item*, knowing the ground truth."""
    label = SPECS[workflow].label
    shown = item["shown"]
    suggested = shown["suggestion"]["output"].get(label)
    rules = {h["rule"] for h in shown.get("rule_hits") or []}
    accept_s, fix_s = SECONDS[workflow]
    if "missing_fields" in rules and rng.random() < REJECT_MISSING:
        return {
            "decision": "reject",
            "reason_code": "missing_info",
            "comment": "sent back to intake to complete the form",
            "time_spent_ms": int(rng.lognormal(np.log(accept_s), 0.4) * 1000),
        }
    if suggested == case.truth or (suggested is not None and rng.random() < MISS_RATE):
        return {"decision": "accept", "time_spent_ms": int(rng.lognormal(np.log(accept_s), 0.5) * 1000)}
    if suggested is None:  # the human-only path: no suggestion was shown
        decision, reason = "override", "other"
    else:
        decision, reason = ("override", "policy") if rules else ("edit", EDIT_REASON[workflow])
    return {
        "decision": decision,
        "output": {label: case.truth},
        "reason_code": reason,
        "comment": f"{label}: {suggested} -> {case.truth}",
        "time_spent_ms": int(rng.lognormal(np.log(fix_s), 0.5) * 1000),
    }


def _case_accuracy(trained: Trained, history: History) -> float | None:
    spec = SPECS[trained.card.workflow]
    if not history.cases:
        return None
    x = matrix(spec, [c.payload for c in history.cases], trained.card.features)
    predicted = trained.estimator.predict(x)
    return round(float(np.mean(predicted == np.array([c.truth for c in history.cases]))), 4)


def run_recent_months(
    ws: Workspace,
    seed: int = 7,
    params: FirmParams | None = None,
    *,
    tables: Mapping[str, pa.Table] | None = None,
    weeks: int = WEEKS,
    every: Mapping[str, int] | None = None,
    cases: int | None = None,
    leave_open: int = 3,
    second_review_share: float = 0.15,
    say: Say | None = None,
) -> dict[str, Any]:
    """Run a share of the firm's last *weeks* through the runtime; a summary of what happened.

    *tables* are the firm's ``predictions``, ``labels`` and ``assignments`` (and, to put the
    events on the firm's record, ``task_events`` and ``usage_events``); by default they are
    read from the demo's Parquet files in the workspace. *every* overrides a workflow's share
    (one in n, :data:`paceline.demo.workflow_models.EVERY`); *cases* caps the cases per workflow.
    """
    params = params or FirmParams()
    tell = say or (lambda _: None)
    clock = time.perf_counter()
    data = dict(tables) if tables is not None else read_tables(ws.home / DATA_DIR)
    tell("training the workflows' models on the firm's history")
    weeks = recent_weeks(params, weeks)
    history = demo_history(data, params, seed, weeks=weeks, every=every, cases=cases)
    trained = train_all(history, seed)
    models_dir = ws.home / MODELS_DIR
    for model in trained.values():
        save(model, models_dir)
    registry = Registry()
    for cls in WORKFLOWS:
        registry.register(cls(models_dir))
    runtime = Runtime(ws.store, registry)
    by_external: dict[tuple[str, str], DemoCase] = {}
    total = sum(len(h.cases) for h in history.values())
    tell(f"running {total:,} cases of the last {weeks} weeks through the runtime")
    for name, h in history.items():
        items = [(case.external_id, case.payload) for case in h.cases]
        for first in range(0, len(items), START_CHUNK):
            runtime.start_many(name, items[first : first + START_CHUNK], "system:demo-intake")
        by_external |= {(name, case.external_id): case for case in h.cases}
    Worker(runtime, "demo", batch=50).run(until_idle=True)
    queue, decided = ReviewQueue(runtime), _decide_queue(runtime, history, by_external, seed, leave_open)
    second = _second_reviews(runtime, queue, history, by_external, decided, seed, second_review_share)
    Worker(runtime, "demo", batch=50).run(until_idle=True)
    records = firm_records(ws.home / DATA_DIR, tables, {c.record for c in by_external.values() if c.record})
    reconciled = _reconcile_events(ws, by_external, records)
    before = ws.table_counts()
    exported = ws.export_runtime_events(limit=1_000_000)
    added = {t: n - before.get(t, 0) for t, n in ws.table_counts().items() if n != before.get(t, 0)}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in runtime.cases(limit=1_000_000):
        counts[doc["workflow"]][doc["status"]] += 1
    decisions: dict[str, Counter[str]] = defaultdict(Counter)
    for row in LabelStore(ws.store).rows():
        decisions[row["workflow"]][row["decision"]] += 1
    return {
        "weeks": weeks,
        "cases": {name: dict(c) for name, c in sorted(counts.items())},
        "decisions": {name: dict(c) for name, c in sorted(decisions.items())},
        "second_reviews": second,
        "open_reviews": len(queue.items(status="open", limit=1_000_000)),
        "events_exported": exported,
        "events_on_firm_record": reconciled,  # rows given the firm's ids: already in the warehouse
        "events": added,  # rows the export added to each warehouse table
        "models": [
            {
                "workflow": name,
                "model": trained[name].card.model,
                "version": trained[name].card.version,
                "rows": trained[name].card.rows,
                "holdout_accuracy": trained[name].card.holdout_accuracy,
                "case_accuracy": _case_accuracy(trained[name], history[name]),
            }
            for name in sorted(trained)
        ],
        "seconds": round(time.perf_counter() - clock, 3),
    }


@dataclass(frozen=True)
class FirmRecords:
    """The firm's own ids for tasks the runtime replays: each task's event and suggestion event."""

    task_event: dict[str, str]  # task id -> event id
    suggestion_event: dict[str, str]  # task id -> event id of the handler's suggestion outcome


def firm_records(data_dir: Path, tables: Mapping[str, pa.Table] | None, task_ids: set[str]) -> FirmRecords:
    """The firm's records of *task_ids*, from *tables* if they hold them, else from the demo's
    files in *data_dir* (none: nothing of the firm is in this workspace to match)."""
    wanted = pa.array(sorted(task_ids), pa.string())

    def read(name: str) -> pa.Table:
        if tables is not None and name in tables:
            table = tables[name].select(RECORDS[name])
            return table.filter(pc.is_in(table["task_id"], wanted))
        path = data_dir / f"{name}.parquet"
        if not path.exists():
            return pa.table({c: pa.array([], pa.string()) for c in RECORDS[name]})
        return pq.read_table(path, columns=RECORDS[name], filters=[("task_id", "in", wanted.to_pylist())])

    events = read("task_events")
    task_event = dict(zip(events["task_id"].to_pylist(), events["event_id"].to_pylist(), strict=True))
    usage = read("usage_events")
    usage = usage.filter(pc.is_in(usage["action"], pa.array(SUGGESTION_EVENTS)))
    suggestion_event: dict[str, str] = {}
    for task, event in zip(usage["task_id"].to_pylist(), usage["event_id"].to_pylist(), strict=True):
        suggestion_event.setdefault(task, event)
    return FirmRecords(task_event, suggestion_event)


TIME_FIELDS = ("opened_at", "completed_at", "predicted_at", "labeled_at", "occurred_at")


def _case_of(row: Mapping[str, Any]) -> str:
    """The case id in a runtime event's id (``rt-<case id>`` or ``rt-<case id>-<action>``)."""
    key = str(row.get("event_id") or row.get("prediction_id") or "")
    return key[3:39] if key.startswith("rt-") else ""


def _reconcile_events(
    ws: Workspace, cases: Mapping[tuple[str, str], DemoCase], records: FirmRecords
) -> dict[str, int]:
    """Put the pending events of the demo's cases on the firm's record; rows given the firm's ids.

    The runtime stamps a case with the wall clock. The demo's cases are the firm's recent weeks,
    so each case's events are shifted by one offset (its time in the firm minus its creation),
    which keeps every duration and keeps the warehouse inside the firm's timeline. A task the
    firm's files hold keeps its ids: the case's task event takes the task's event id and its
    suggestion events the id of the handler's suggestion event, so the ingest stores the work once.
    """
    on_record: Counter[str] = Counter()
    with ws.store.write("system:demo-intake") as session:
        arrived = {}
        for row in session.scalars(select(CaseRow)):
            case = cases.get((row.workflow, row.external_id))
            if case is not None:
                arrived[row.id] = case
        events = list(session.scalars(select(EventOutboxRow).where(EventOutboxRow.exported_at.is_(None))))
        # the reviewer's time on the case (0 for automatic completions): deterministic, unlike the wall clock
        effort = {
            _case_of(e.row): float(e.row.get("effort_seconds") or 0.0)  # type: ignore[arg-type]
            for e in events
            if e.table_name == "task_events"
        }
        for event in events:
            cid = _case_of(event.row)
            if cid not in arrived:
                continue
            case = arrived[cid]
            moved: dict[str, Any] = dict(event.row)
            for name in TIME_FIELDS:
                if isinstance(moved.get(name), str):
                    late = name not in ("opened_at", "predicted_at")
                    moved[name] = (
                        case.at + timedelta(seconds=effort.get(cid, 0.0) if late else 0)
                    ).isoformat()
            firm_id = _firm_id(event.table_name, case.record, records)
            if firm_id is not None:
                moved["event_id"] = firm_id
                on_record[event.table_name] += 1
            event.row = moved
    return dict(on_record)


def _firm_id(table: str, task_id: str | None, records: FirmRecords) -> str | None:
    if task_id is None:
        return None
    if table == "task_events":
        return records.task_event.get(task_id)
    if table == "usage_events":
        return records.suggestion_event.get(task_id)
    return None


def _decide_queue(
    runtime: Runtime,
    history: Mapping[str, History],
    cases: Mapping[tuple[str, str], DemoCase],
    seed: int,
    leave_open: int,
) -> list[tuple[str, int, str]]:
    """Decide the open items, leaving the newest *leave_open* of each workflow; (workflow, id, who)."""
    queue = ReviewQueue(runtime)
    items = sorted(queue.items(status="open", limit=1_000_000), key=lambda i: i["id"])
    by_workflow: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        by_workflow[item["workflow"]].append(item)
    decided = []
    for name, mine in sorted(by_workflow.items()):
        rng = stream(seed, f"runtime-decisions-{name}")
        for item in mine[: max(len(mine) - leave_open, 0)]:
            case = cases[(name, item["shown"]["external_id"])]
            who = _reviewer(case, history[name].reviewers, item["kind"])
            queue.decide(item["id"], who, **_decision(name, item, case, rng))
            decided.append((name, item["id"], who))
    return decided


def _second_reviews(
    runtime: Runtime,
    queue: ReviewQueue,
    history: Mapping[str, History],
    cases: Mapping[tuple[str, str], DemoCase],
    decided: list[tuple[str, int, str]],
    seed: int,
    share: float,
) -> int:
    """Blind second reviews of a sample of decided items, by another member of the team."""
    sample = [d for d in decided if unit_interval(f"second|{seed}|{d[1]}") < share]
    if not sample:
        return 0
    store = LabelStore(runtime.store)
    new_ids = store.request_second_reviews([review_id for _, review_id, _ in sample])
    for (name, _, first), review_id in zip(sample, new_ids, strict=True):
        item = queue.get(review_id)
        case = cases[(name, item["shown"]["external_id"])]
        who = _reviewer(case, history[name].reviewers, "second", exclude=first)
        rng = stream(seed, f"runtime-second-{name}", review_id)
        queue.decide(review_id, who, **_decision(name, item, case, rng))
    return len(new_ids)
