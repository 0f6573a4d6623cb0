"""Reliability of the runtime: crashes, duplicates, flaky downstreams, stalls and concurrent workers.

Each test checks an outcome that a broken runtime would get wrong: a case processed
twice shows as a second journal row (or a ``uq_step_key`` error), a lost action as a case
the receiver never saw, a changed key as a case with two keys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import func, select

from paceline.bootstrap import Workspace
from paceline.domain.workflow import CaseContext, RuleHit, Suggestion, idempotency_key
from paceline.errors import Conflict
from paceline.runtime.dispatch import Dispatcher
from paceline.runtime.engine import Group, LeaseLost, Runtime, RuntimeConfig, utcnow
from paceline.runtime.registry import Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.storage.case_repo import CaseRepository
from paceline.storage.db import Store
from paceline.storage.runtime_models import CaseRow, OutboxRow, StepRunRow
from tests.runtime.flows import ExpenseCheck
from tests.runtime.receiver import Received, Receiver

RUN_WORKER = Path(__file__).resolve().parent / "run_worker.py"
ALL_STEPS = 8  # trigger .. record, review automatic
TO_REVIEW = 5  # trigger .. route, then the wait
needs_pg = pytest.mark.skipif(
    not os.environ.get("PACELINE_TEST_POSTGRES_URL"),
    reason="needs PostgreSQL: run through scripts/test-services.sh",
)
FAST = RuntimeConfig(backoff_base_seconds=0.01, backoff_cap_seconds=0.05)


def registry(*flows: type[ExpenseCheck]) -> Registry:
    reg = Registry()
    for flow in flows or (ExpenseCheck,):
        reg.register(flow)
    return reg


def auto_payload(i: int) -> dict[str, Any]:
    """Confident and under the limit: completes without review."""
    return {"amount": 10 + (i * 37) % 900, "category": ("travel", "meals")[i % 2], "description": f"#{i}"}


def review_payload(i: int) -> dict[str, Any]:
    return {"amount": 5000 + i, "category": "travel"}  # over the limit: a person decides


def poll(what: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(every)
    return what()


class Db:
    """Counts straight from the tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def scalar(self, stmt: Any) -> Any:
        with self.store.read() as session:
            return session.scalar(stmt)

    def cases(self, status: str | None = None) -> int:
        stmt = select(func.count()).select_from(CaseRow)
        return int(self.scalar(stmt if status is None else stmt.where(CaseRow.status == status)))

    def pending_actions(self) -> int:
        return int(
            self.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending"))
        )

    def steps_per_case_step(self) -> dict[tuple[str, str], int]:
        with self.store.read() as session:
            rows = session.execute(
                select(StepRunRow.case_id, StepRunRow.step, func.count()).group_by(
                    StepRunRow.case_id, StepRunRow.step
                )
            ).all()
        return {(c, s): int(n) for c, s, n in rows}

    def journal_rows(self) -> int:
        return int(self.scalar(select(func.count()).select_from(StepRunRow)))

    def actions(self) -> list[OutboxRow]:
        with self.store.read() as session:
            return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))

    def case_rows(self) -> list[CaseRow]:
        with self.store.read() as session:
            return list(session.scalars(select(CaseRow)))


def assert_journaled_once(db: Db, case_ids: set[str], steps_each: int) -> None:
    per = db.steps_per_case_step()
    assert max(per.values()) == 1, [k for k, n in per.items() if n > 1][:5]
    assert db.journal_rows() == len(case_ids) * steps_each
    by_case: dict[str, int] = {}
    for case_id, _step in per:
        by_case[case_id] = by_case.get(case_id, 0) + 1
    assert set(by_case) == case_ids and set(by_case.values()) == {steps_each}


def assert_one_stable_key_per_case(rx: Receiver, case_ids: set[str]) -> None:
    keys = rx.keys_by_case()
    assert set(keys) == case_ids, f"{len(case_ids - set(keys))} cases never reached the receiver"
    two = {c: k for c, k in keys.items() if len(k) != 1}
    assert not two, f"cases with several keys: {list(two.items())[:3]}"
    for case_id, found in keys.items():
        assert found == {idempotency_key(str(case_id), "act", ExpenseCheck.version)}
    assert len({next(iter(k)) for k in keys.values()}) == len(case_ids)  # no key shared by two cases


@pytest.fixture
def rt(workspace: Workspace) -> Iterator[Runtime]:
    yield Runtime(workspace.store, registry(), FAST)


# --- kill -9 --------------------------------------------------------------------------------------
def _spawn_worker(url: str, name: str, action_url: str, lease: float) -> subprocess.Popen[str]:
    env = dict(os.environ, PACELINE_ACTION_URL_EXPENSE_CHECK=action_url)
    return subprocess.Popen(
        [sys.executable, str(RUN_WORKER), url, "--name", name, "--lease", str(lease)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out + err


def _kill_part_way(proc: subprocess.Popen[str], part_way: Callable[[], bool]) -> None:
    """``kill -9`` *proc* at a moment when *part_way* holds. The worker is frozen (SIGSTOP) when the
    store shows it part-way, and killed only if the store still does while it is frozen: between
    the check and the signal it could have finished the batch and moved on to sending actions."""
    deadline = time.monotonic() + 240
    while True:
        assert poll(part_way, timeout=max(deadline - time.monotonic(), 0), every=0.02), _stop(proc)
        proc.send_signal(signal.SIGSTOP)
        if part_way():
            proc.send_signal(signal.SIGKILL)
            return
        proc.send_signal(signal.SIGCONT)


def test_kill_9_in_the_middle_of_1000_cases_completes_each_once_with_one_key(
    workspace: Workspace, database_url: str, record_property: Callable[[str, object], None]
) -> None:
    total = 1000
    rt = Runtime(workspace.store, registry())
    db = Db(workspace.store)
    case_ids = {
        rt.start("expense-check", f"k{i}", auto_payload(i), "test:kill")[0]["id"] for i in range(total)
    }
    assert len(case_ids) == total

    def mid_flight() -> bool:
        """30%+ done and the first worker holds a case part-way through its steps."""
        if db.cases("completed") < 0.3 * total:
            return False
        stmt = (
            select(func.count())
            .select_from(CaseRow)
            .where(CaseRow.status == "running", CaseRow.step != "trigger", CaseRow.lease_owner.like("w1-%"))
        )
        return bool(db.scalar(stmt))

    procs: dict[str, subprocess.Popen[str]] = {}
    crashed: list[Received] = []

    def crash_while_sending(received: Received) -> None:
        """Kill the second worker once the downstream took an action, before the answer reaches it."""
        if not crashed and "w2" in procs and len(rx.requests) >= 0.7 * total:
            crashed.append(received)
            procs["w2"].kill()
            procs["w2"].wait()

    with Receiver(hook=crash_while_sending) as rx:
        started = time.monotonic()
        first = _spawn_worker(database_url, "w1", rx.url, lease=2.0)
        try:  # 1. kill -9 while the worker is part-way through a case
            _kill_part_way(first, mid_flight)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=30)
        killed_at = time.monotonic() - started
        done_at_kill = db.cases("completed")
        orphaned = [
            r for r in db.case_rows() if r.status == "running" and (r.lease_owner or "").startswith("w1")
        ]
        assert 0.3 * total <= done_at_kill <= 0.6 * total, done_at_kill
        assert orphaned, "the kill left no case behind: nothing to take over"

        procs["w2"] = _spawn_worker(database_url, "w2", rx.url, lease=2.0)
        try:  # 2. kill -9 between the downstream's receipt of an action and its "sent" mark
            assert poll(lambda: procs["w2"].poll() is not None, timeout=240, every=0.1)
        finally:
            _stop(procs["w2"])
        assert crashed, "the second worker ended before sending 70% of the actions"
        unmarked = [a for a in db.actions() if a.idempotency_key == crashed[0].key]
        assert [a.status for a in unmarked] == ["pending"]

        third = _spawn_worker(database_url, "w3", rx.url, lease=2.0)
        try:
            finished = poll(
                lambda: db.cases("completed") == total and db.pending_actions() == 0, timeout=300, every=0.2
            )
        finally:
            log = _stop(third)
        assert finished, f"{db.cases('completed')} of {total} completed, worker said: {log[-2000:]}"
        elapsed = time.monotonic() - started

        assert db.cases("completed") == db.cases() == total
        assert_journaled_once(db, case_ids, ALL_STEPS)
        actions = db.actions()
        assert len(actions) == total and {a.status for a in actions} == {"sent"}
        assert_one_stable_key_per_case(rx, case_ids)
        resent = [r for r in rx.requests if r.key == crashed[0].key]
        assert len(resent) >= 2 and rx.repeats() >= 1  # sent again after the crash, with the same key
        orphan_ids = {r.id for r in orphaned}
        taken_over = [r for r in db.case_rows() if r.id in orphan_ids]
        assert all(r.attempts >= 2 for r in taken_over)  # claimed again after the first worker died
        facts = {
            "done_at_kill": done_at_kill,
            "killed_after_s": round(killed_at, 1),
            "taken_over": len(taken_over),
            "requests": len(rx.requests),
            "repeated_keys": rx.repeats(),
            "seconds": round(elapsed, 1),
        }
        for name, value in facts.items():
            record_property(name, value)
        print(facts)
        assert "errors=[]" in log, log[-2000:]


# --- duplicates -----------------------------------------------------------------------------------
def test_duplicate_triggers_return_the_same_case_even_when_they_race(rt: Runtime) -> None:
    first, created = rt.start("expense-check", "dup-1", auto_payload(1), "test:dup")
    again, created_again = rt.start("expense-check", "dup-1", auto_payload(2), "test:dup")
    assert created and not created_again and again["id"] == first["id"]

    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def trigger() -> None:
        try:
            barrier.wait()
            case, made = rt.start("expense-check", "dup-race", auto_payload(3), "test:dup")
            results.append((case["id"], made))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=trigger) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len({cid for cid, _ in results}) == 1 and sum(made for _, made in results) == 1

    Worker(rt, "dup", 1).run(until_idle=True)
    db = Db(rt.store)
    assert db.cases() == db.cases("completed") == 2
    assert_journaled_once(db, {first["id"], results[0][0]}, ALL_STEPS)


def test_duplicate_decisions_are_idempotent_even_when_they_race(rt: Runtime) -> None:
    cases = [rt.start("expense-check", f"rev-{i}", review_payload(i), "test:dup")[0] for i in range(2)]
    Worker(rt, "dup", 1).run(until_idle=True)
    queue = ReviewQueue(rt)
    first = queue.claim("ann", ["finance"])
    assert first is not None
    decided = queue.decide(first["id"], "ann", "override", {"decision": "query"}, "policy", "limit", 900)
    assert (
        queue.decide(first["id"], "ann", "override", {"decision": "query"}, "policy", "limit", 900) == decided
    )
    with pytest.raises(Conflict):
        queue.decide(first["id"], "ann", "reject", None, "policy")

    second = queue.claim("bob", ["finance"])
    assert second is not None and second["id"] != first["id"]
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def decide() -> None:
        try:
            barrier.wait()
            answers.append(queue.decide(second["id"], "bob", "accept"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(answers) == 4 and all(a == answers[0] for a in answers)

    Worker(rt, "dup", 1).run(until_idle=True)
    db = Db(rt.store)
    assert db.cases("completed") == 2
    assert_journaled_once(db, {c["id"] for c in cases}, ALL_STEPS)
    assert [a.status for a in db.actions()] == ["recorded", "recorded"]


# --- an intermittently failing downstream -----------------------------------------------------------
def test_a_downstream_failing_every_third_request_gets_every_action_once_per_key(rt: Runtime) -> None:
    total = 60
    with Receiver(fail_every=3) as rx:
        rt.action_urls = {"expense-check": rx.url}
        ids = {
            rt.start("expense-check", f"flaky-{i}", auto_payload(i), "test:flaky")[0]["id"]
            for i in range(total)
        }
        db = Db(rt.store)

        def drained() -> bool:  # retries wait out their backoff: run again until none is pending
            Worker(rt, "flaky", 1).run(until_idle=True)
            return db.pending_actions() == 0

        assert poll(drained, timeout=60, every=0.05)
        actions = db.actions()
        assert len(actions) == total and {a.status for a in actions} == {"sent"}
        assert_one_stable_key_per_case(rx, ids)
        failed = [r for r in rx.requests if r.status == 503]
        assert len(failed) >= total // 3 - 1
        assert sum(a.attempts for a in actions) == len(rx.requests)  # every attempt counted
        assert any(a.attempts > 1 for a in actions)
        assert all(a.last_error is None and a.sent_at is not None for a in actions)
        assert_journaled_once(db, ids, ALL_STEPS)


def test_a_dispatcher_that_stalled_past_its_lease_cannot_overwrite_the_action_taken_over(
    workspace: Workspace,
) -> None:
    """A's send hangs past its action lease; B takes the action over and delivers it. A's late
    outcome (a 503) must not turn the sent action back into a pending retry."""
    config = RuntimeConfig(action_lease=timedelta(milliseconds=300), backoff_base_seconds=0.01)
    rt = Runtime(workspace.store, registry(), config)
    entered, release = threading.Event(), threading.Event()

    def hanging(_request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(timeout=30)
        return httpx.Response(503)

    with Receiver() as rx:
        rt.action_urls = {"expense-check": rx.url}
        rt.start("expense-check", "stall-send-1", auto_payload(1), "test:stall")
        assert rt.run_due("w") == 1
        stalled = Dispatcher(rt, httpx.Client(transport=httpx.MockTransport(hanging)))
        healthy = Dispatcher(rt)
        attempted: list[int] = []
        thread = in_thread(lambda: stalled.dispatch("A"), attempted)
        try:
            assert entered.wait(timeout=10)
            time.sleep(0.4)  # past A's lease
            assert healthy.dispatch("B") == 1  # B claims it again and the receiver answers 200
        finally:
            release.set()
            thread.join(timeout=30)
            stalled.close()
            healthy.close()
        assert attempted == [1]
        (action,) = Db(rt.store).actions()
        assert (action.status, action.attempts, action.last_error) == ("sent", 1, None)
        assert len(rx.requests) == 1 and rx.repeats() == 0


# --- review leases --------------------------------------------------------------------------------
def test_an_expired_review_lease_goes_back_to_the_queue_and_the_late_reviewer_is_refused(rt: Runtime) -> None:
    case, _ = rt.start("expense-check", "lease-1", review_payload(1), "test:lease")
    other, _ = rt.start("expense-check", "lease-2", review_payload(2), "test:lease")
    Worker(rt, "lease", 1).run(until_idle=True)
    queue = ReviewQueue(rt)

    held = queue.claim("ann", ["finance"], lease_minutes=-1)  # ann's lease ran out at once
    assert held is not None
    taken = queue.claim("bob", ["finance"])  # the expired item comes first again, without a sweep
    assert taken is not None and taken["id"] == held["id"] and taken["assignee"] == "bob"
    with pytest.raises(Conflict, match="claimed by bob"):
        queue.decide(held["id"], "ann", "accept")

    late = queue.claim("cat", ["finance"], lease_minutes=-1)
    assert late is not None and late["case_id"] == other["id"]
    assert queue.sweep()["released"] == 1
    assert [i["id"] for i in queue.items()] == [late["id"]]  # open again, unassigned
    assert queue.items()[0]["assignee"] is None

    queue.decide(taken["id"], "bob", "accept")
    Worker(rt, "lease", 1).run(until_idle=True)
    assert rt.case(case["id"])["status"] == "completed"
    assert rt.case(other["id"])["status"] == "awaiting_review"


# --- a stalled worker -----------------------------------------------------------------------------
Gate = tuple[threading.Event, threading.Event]  # (entered, release)


class GatedExpense(ExpenseCheck):
    """A step named in ``stalls`` blocks once, until released: a worker that stalls mid-case."""

    name = "gated-expense"
    stalls: ClassVar[dict[str, Gate]] = {}

    def _stall(self, step: str) -> None:
        gate = type(self).stalls.pop(step, None)
        if gate is not None:
            gate[0].set()
            gate[1].wait(timeout=30)

    def extract(self, ctx: CaseContext) -> dict[str, Any]:
        self._stall("extract")
        return dict(ctx.payload)

    def rules(self, ctx: CaseContext, features: dict[str, Any], suggestion: Suggestion) -> list[RuleHit]:
        self._stall("rules")
        return super().rules(ctx, features, suggestion)


def gate(step: str) -> Gate:
    GatedExpense.stalls[step] = (threading.Event(), threading.Event())
    return GatedExpense.stalls[step]


class Recording(Runtime):
    """Remembers the LeaseLost that run_due swallows."""

    lost: list[str]

    def _run_case(self, worker: str, case_id: str, held: list[Group] | None = None) -> None:
        try:
            super()._run_case(worker, case_id, held)
        except LeaseLost as exc:
            self.lost.append(str(exc))
            raise


def in_thread(fn: Callable[[], int], into: list[int]) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.append(fn()))
    thread.start()
    return thread


@pytest.mark.parametrize("takeover", ["finished", "claimed", "same-name"])
def test_a_worker_that_stalled_past_its_lease_cannot_overwrite_the_case_taken_over(
    workspace: Workspace, takeover: str
) -> None:
    """A stalls in extract past its lease; another worker takes the case over and
    - finished: runs it to the end (A's version and lease are both stale);
    - claimed: has only claimed it (A's version is current: the lease alone must refuse A);
    - same-name: is a restart of A under the same name, stalled itself after two more steps
      (A's lease owner matches: the version alone must refuse A).
    A's late commit is refused with LeaseLost and every step is journaled once."""
    GatedExpense.stalls = {}
    entered, release = gate("extract")
    reg = registry(GatedExpense)
    short = RuntimeConfig(lease=timedelta(milliseconds=300))
    stalled, healthy = Recording(workspace.store, reg, short), Recording(workspace.store, reg, short)
    stalled.lost, healthy.lost = [], []
    case, _ = stalled.start("gated-expense", "stall-1", auto_payload(1), "test:stall")
    successor = "A" if takeover == "same-name" else "B-0"

    claimed: list[int] = []
    thread = in_thread(lambda: stalled.run_due("A"), claimed)
    later: threading.Thread | None = None
    second: Gate | None = None
    try:
        assert entered.wait(timeout=10)  # A stalled in extract, before its first group committed
        time.sleep(0.5)  # past A's lease
        if takeover == "finished":
            stats = Worker(healthy, "B", 1).run(until_idle=True)
            assert stats.cases == 1 and not stats.errors
            assert healthy.case(case["id"])["status"] == "completed"
        elif takeover == "claimed":
            with workspace.store.write("worker:B-0") as session:
                taken = CaseRepository(session).claim("B-0", utcnow(), short.lease, 8)
                assert [(r["id"], r["version"]) for r in taken] == [(case["id"], 0)]  # what A read, too
        else:
            second = gate("rules")
            later = in_thread(lambda: healthy.run_due("A"), claimed)
            assert second[0].wait(timeout=10)  # the new A committed trigger to infer, then stalled in rules
            assert healthy.case(case["id"])["version"] == 1
    finally:
        release.set()
        thread.join(timeout=30)
    assert stalled.lost == [case["id"]] and healthy.lost == []
    if takeover == "claimed":
        assert healthy.case(case["id"])["version"] == 0  # A's first group did not land
        time.sleep(0.4)  # B died after claiming: its lease runs out, B-0 takes it again and finishes
        assert Worker(healthy, "B", 1).run(until_idle=True).cases == 1
    if later is not None and second is not None:
        second[1].set()  # the new A goes on and finishes
        later.join(timeout=30)
    assert claimed[0] == 1 and len(claimed) == (2 if later else 1)

    done = healthy.case(case["id"])
    assert done["status"] == "completed"
    db = Db(workspace.store)
    assert_journaled_once(db, {case["id"]}, ALL_STEPS)
    with workspace.store.read() as session:
        workers = dict(session.execute(select(StepRunRow.step, StepRunRow.worker)).all())
    assert set(workers.values()) == {successor}  # A's stalled group never landed: all the successor's
    assert [a["status"] for a in done["actions"]] == ["recorded"]


# --- two workers on the same cases ------------------------------------------------------------------
@pytest.mark.postgres
@needs_pg
def test_two_workers_on_postgresql_never_process_a_case_twice(pg_database: str) -> None:
    total, every_review = 500, 10
    stores = [Store.open(pg_database), Store.open(pg_database)]
    try:
        runtimes = [Runtime(s, registry()) for s in stores]
        with Receiver() as rx:
            for r in runtimes:
                r.action_urls = {"expense-check": rx.url}
            auto: set[str] = set()
            review: set[str] = set()
            for i in range(total):
                needs = i % every_review == 0
                case, _ = runtimes[0].start(
                    "expense-check", f"pg-{i}", review_payload(i) if needs else auto_payload(i), "test:pg"
                )
                (review if needs else auto).add(case["id"])
            workers = [Worker(r, f"w{n}", 2) for n, r in enumerate(runtimes, 1)]
            stats: list[Any] = [None, None]

            def run(n: int) -> None:
                stats[n] = workers[n].run(until_idle=True)

            threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=300)
            assert all(s is not None for s in stats)
            assert stats[0].errors == [] and stats[1].errors == []
            assert stats[0].cases > 0 and stats[1].cases > 0, "one worker did everything"
            assert stats[0].cases + stats[1].cases == total  # each case claimed once

            db = Db(stores[0])
            assert db.cases("completed") == len(auto) and db.cases("awaiting_review") == len(review)
            per = db.steps_per_case_step()
            assert max(per.values()) == 1
            assert db.journal_rows() == len(auto) * ALL_STEPS + len(review) * TO_REVIEW
            assert {c for c, _ in per} == auto | review
            assert_one_stable_key_per_case(rx, auto)
            assert rx.repeats() == 0
    finally:
        for s in stores:
            s.dispose()
