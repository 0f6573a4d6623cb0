"""The case engine: steps journaled, routing, review wait, decisions, actions and events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.errors import Conflict, NotFound, ValidationError
from paceline.runtime.engine import Runtime, RuntimeConfig
from paceline.runtime.registry import Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.storage.case_repo import CaseRepository
from tests.runtime.flows import ExpenseCheck


@pytest.fixture
def rt(workspace: Workspace) -> Iterator[Runtime]:
    registry = Registry()
    registry.register(ExpenseCheck)
    yield Runtime(workspace.store, registry)


def drain(rt: Runtime) -> None:
    Worker(rt, "test", 1).run(until_idle=True)


def test_confident_cases_complete_automatically_and_journal_every_step(rt: Runtime) -> None:
    case, created = rt.start("expense-check", "e1", {"amount": 80, "category": "travel"}, "cli:op")
    assert created and case["status"] == "running"
    drain(rt)
    done = rt.case(case["id"])
    assert done["status"] == "completed"
    assert [s["step"] for s in done["steps"]] == [
        "trigger",
        "extract",
        "infer",
        "rules",
        "route",
        "review",
        "act",
        "record",
    ]
    assert len({s["idempotency_key"] for s in done["steps"]}) == 8
    assert (
        done["actions"][0]["status"] == "recorded"
    )  # no PACELINE_ACTION_URL_EXPENSE_CHECK: recorded locally


def test_the_same_external_id_returns_the_existing_case(rt: Runtime) -> None:
    first, created = rt.start("expense-check", "dup", {"amount": 80, "category": "travel"}, "cli:op")
    again, created_again = rt.start("expense-check", "dup", {"amount": 99, "category": "meals"}, "cli:op")
    assert created and not created_again and again["id"] == first["id"]


def test_bulk_intake_starts_each_case_once_with_its_audit_entry_and_release(
    workspace: Workspace, rt: Runtime
) -> None:
    earlier, _ = rt.start("expense-check", "b1", {"amount": 80, "category": "travel"}, "cli:op")
    items = [(f"b{i}", {"amount": 10 + i, "category": "travel"}) for i in range(7)]
    items.append(("b3", {"amount": 999, "category": "meals"}))  # repeated within the batch
    started = rt.start_many("expense-check", items, "cli:intake", chunk=3)
    ids = [case_id for case_id, _ in started]
    assert [created for _, created in started] == [True, False, True, True, True, True, True, False]
    assert ids[1] == earlier["id"] and ids[7] == ids[3] and len(set(ids)) == 7
    assert rt.case(ids[3])["payload"]["amount"] == 13  # the first payload of an external id
    created = {
        e["entity_id"]: e
        for e in workspace.audit_entries(limit=500)
        if e["entity"] == "cases" and e["action"] == "create"
    }
    assert set(created) == set(ids)
    assert created[ids[0]]["actor"] == "cli:intake" and created[ids[0]]["data"]["external_id"] == "b0"
    assert created[ids[0]]["data"]["status"] == "running" and created[ids[0]]["data"]["lease_owner"] is None
    assert workspace.verify_audit().ok
    drain(rt)
    assert {rt.case(i)["status"] for i in ids} == {"completed"}
    with rt.store.read() as session:  # the release evaluation was kept with the case, as start() keeps it
        infer = CaseRepository(session).journals([ids[0]])[ids[0]]["infer"]
    assert infer["feature_flags"][0]["feature_flag.context.id"] == ids[0]
    with pytest.raises(ValidationError) as bad:
        rt.start_many(
            "expense-check", [("b9", {"amount": 5, "category": "travel"}), ("b10", {"amount": -1})], "x"
        )
    assert bad.value.details["field"] == "payload.amount"
    assert len(rt.cases(limit=100)) == 7  # a bad item refuses the whole batch before anything is written


def test_a_rule_hit_or_low_confidence_waits_for_review_then_the_decision_moves_it_on(rt: Runtime) -> None:
    big, _ = rt.start("expense-check", "big", {"amount": 5000, "category": "travel"}, "cli:op")
    unclear, _ = rt.start("expense-check", "unclear", {"amount": 10, "category": "gifts"}, "cli:op")
    drain(rt)
    assert rt.case(big["id"])["status"] == rt.case(unclear["id"])["status"] == "awaiting_review"
    queue = ReviewQueue(rt)
    item = queue.claim("ann", ["finance"])
    assert item is not None and item["shown"]["rule_hits"][0]["rule"] == "amount_limit"
    assert item["shown"]["suggestion"]["confidence_band"] == "high"
    decided = queue.decide(
        item["id"], "ann", "override", {"decision": "query"}, "policy", "over the limit", 4200
    )
    assert decided["patch"] == [{"op": "replace", "path": "/decision", "value": "query"}]
    assert (
        queue.decide(item["id"], "ann", "override", {"decision": "query"}, "policy") == decided
    )  # idempotent
    with pytest.raises(Conflict):
        queue.decide(item["id"], "ann", "accept")
    drain(rt)
    assert rt.case(big["id"])["status"] == "completed"
    assert rt.case(unclear["id"])["status"] == "awaiting_review"


def test_bad_input_is_refused_with_the_field_named(rt: Runtime) -> None:
    with pytest.raises(ValidationError) as err:
        rt.start("expense-check", "bad", {"amount": -5, "category": "travel"}, "cli:op")
    assert err.value.details["field"] == "payload.amount"
    with pytest.raises(NotFound):
        rt.start("nope", "x", {}, "cli:op")
    rt.start("expense-check", "r", {"amount": 10, "category": "gifts"}, "cli:op")
    drain(rt)
    item = ReviewQueue(rt).items()[0]
    with pytest.raises(ValidationError, match="reason_code"):
        ReviewQueue(rt).decide(item["id"], "ann", "reject")
    with pytest.raises(ValidationError, match="decision"):
        ReviewQueue(rt).decide(item["id"], "ann", "maybe")


def test_an_expired_review_lease_goes_back_to_the_queue(rt: Runtime) -> None:
    rt.start("expense-check", "lease", {"amount": 10, "category": "gifts"}, "cli:op")
    drain(rt)
    queue = ReviewQueue(rt)
    item = queue.claim("ann", ["finance"], lease_minutes=-1)  # already expired
    assert item is not None
    assert queue.sweep()["released"] == 1
    again = queue.claim("bob", ["finance"])
    assert again is not None and again["id"] == item["id"] and again["assignee"] == "bob"


def test_completed_cases_become_canonical_events_in_the_warehouse(workspace: Workspace, rt: Runtime) -> None:
    for i in range(3):
        rt.start("expense-check", f"ev{i}", {"amount": 50, "category": "travel"}, "cli:op")
    drain(rt)
    assert workspace.export_runtime_events() == 6  # a task event and a prediction per case
    counts = workspace.table_counts()
    assert counts["task_events"] == 3 and counts["predictions"] == 3
    assert workspace.export_runtime_events() == 0


def test_every_case_status_change_is_in_the_audit_chain(workspace: Workspace, rt: Runtime) -> None:
    case, _ = rt.start("expense-check", "audited", {"amount": 10, "category": "gifts"}, "cli:op")
    drain(rt)
    item = ReviewQueue(rt).items()[0]
    ReviewQueue(rt).decide(item["id"], "ann", "accept")
    drain(rt)
    changes = [
        e["data"]["status"]["new"]
        for e in reversed(workspace.audit_entries(limit=500))
        if e["entity"] == "cases" and e["entity_id"] == case["id"] and e["action"] == "update"
    ]
    assert changes == ["awaiting_review", "running", "completed"]
    assert workspace.verify_audit().ok


class Flaky(ExpenseCheck):
    """Extraction fails the first *failures* times it runs (a source system briefly down)."""

    name = "flaky-expense"
    failures = 0

    def extract(self, ctx: Any) -> dict[str, Any]:
        if type(self).failures > 0:
            type(self).failures -= 1
            raise ConnectionError("source system unavailable")
        return dict(ctx.payload)


def test_a_failing_step_is_retried_with_backoff_then_the_case_fails(workspace: Workspace) -> None:
    registry = Registry()
    registry.register(Flaky)
    fast = RuntimeConfig(backoff_base_seconds=0.0, max_case_attempts=3)
    rt = Runtime(workspace.store, registry, fast)
    Flaky.failures = 2
    recovers, _ = rt.start("flaky-expense", "f1", {"amount": 10, "category": "travel"}, "cli:op")
    for _ in range(3):
        rt.run_due("w")
    done = rt.case(recovers["id"])
    assert done["status"] == "completed" and done["attempts"] == 3
    Flaky.failures = 10
    broken, _ = rt.start("flaky-expense", "f2", {"amount": 10, "category": "travel"}, "cli:op")
    for _ in range(5):
        rt.run_due("w")
    failed = rt.case(broken["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert failed["error"] == "extract: ConnectionError: source system unavailable"
