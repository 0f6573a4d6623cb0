"""Flags in the runtime: sticky release variants, the kill switch, guardrail rollback, audit, API."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.provider.no_op_provider import NoOpProvider

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.domain.workflow import CaseContext, RuleHit, Suggestion
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.runtime.engine import Runtime, RuntimeConfig
from paceline.runtime.flags import FlagService, GuardrailMonitor, StoreProvider, require_flag_manager
from paceline.runtime.models import CallableModel, ModelCall
from paceline.runtime.registry import Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.services.access import Principal, operator
from tests.runtime.flows import ExpenseCheck, _score

WF = "expense-check"
OP = "cli:operator"


class PricedModel(CallableModel):
    """The test model, reporting a cost per call as the chat adapter does."""

    def __init__(self, version: str, cost: float) -> None:
        super().__init__("expense-rules", version, _score)
        self.cost = cost

    def predict(self, features: Mapping[str, Any], conversation_id: str) -> ModelCall:
        call = super().predict(features, conversation_id)
        return ModelCall(
            call.prediction,
            call.confidence,
            call.model,
            call.version,
            call.latency_ms,
            call.attributes | {"paceline.cost": self.cost},
        )


class CanaryExpense(ExpenseCheck):
    """ExpenseCheck whose predictor serves the variant it is given (its version is the variant)."""

    def __init__(self) -> None:
        self.crash_in_rules = 0

    def predictor(self, variant: str) -> CallableModel:
        return PricedModel(variant, 0.002 if variant == "v2" else 0.001)

    def rules(self, ctx: CaseContext, features: dict[str, Any], suggestion: Suggestion) -> list[RuleHit]:
        if self.crash_in_rules:
            self.crash_in_rules -= 1
            raise Crash  # the process dies here: nothing after the infer step is journaled
        return super().rules(ctx, features, suggestion)


class Crash(BaseException):
    """Not an Exception: escapes the engine like a killed process would."""


@pytest.fixture
def flow() -> CanaryExpense:
    return CanaryExpense()


@pytest.fixture
def registry(flow: CanaryExpense) -> Registry:
    registry = Registry()
    registry.register(flow)
    return registry


@pytest.fixture
def rt(workspace: Workspace, registry: Registry) -> Iterator[Runtime]:
    yield Runtime(workspace.store, registry, RuntimeConfig(lease=timedelta(milliseconds=1)))


def drain(rt: Runtime) -> None:
    Worker(rt, "test", 1).run(until_idle=True)


def journal(rt: Runtime, case_id: str) -> dict[str, dict[str, Any]]:
    from paceline.storage.case_repo import CaseRepository

    with rt.store.read() as session:
        return {step: dict(run.output) for step, run in CaseRepository(session).journal(case_id).items()}


def start(rt: Runtime, n: int, category: str = "travel", prefix: str = "e") -> list[str]:
    return [rt.start(WF, f"{prefix}{i}", {"amount": 50, "category": category}, OP)[0]["id"] for i in range(n)]


# --- release: chosen once, at the trigger, and sticky ---------------------------------------------
def test_without_a_flag_cases_run_the_baseline_and_say_why(rt: Runtime) -> None:
    (case_id,) = start(rt, 1)
    drain(rt)
    case = rt.case(case_id)
    assert case["status"] == "completed" and case["variant"] == "baseline"
    infer, route = journal(rt, case_id)["infer"], journal(rt, case_id)["route"]
    assert infer["call"]["version"] == "baseline"
    (release,) = infer["feature_flags"]
    assert release == {
        "feature_flag.key": "release.expense-check",
        "feature_flag.provider.name": "paceline",
        "feature_flag.result.reason": "default",
        "feature_flag.result.value": "baseline",
        "feature_flag.result.variant": "baseline",
        "feature_flag.context.id": case_id,
    }
    assert route["human_only"] is False
    assert route["feature_flags"][0]["feature_flag.key"] == "kill.expense-check"
    assert route["feature_flags"][0]["feature_flag.result.value"] is False


def test_the_release_variant_reaches_the_predictor_with_the_evaluation_recorded(rt: Runtime) -> None:
    rt.flags.set_release(WF, "v2", 100, OP)
    (case_id,) = start(rt, 1)
    assert rt.case(case_id)["variant"] == "v2"
    drain(rt)
    infer = journal(rt, case_id)["infer"]
    assert infer["call"]["version"] == "v2"
    (release,) = infer["feature_flags"]
    assert release["feature_flag.result.variant"] == "v2"
    assert release["feature_flag.result.reason"] == "static"
    assert release["feature_flag.version"] == "1"
    assert release["feature_flag.context.id"] == case_id


def test_targeting_on_a_payload_field_picks_the_variant(rt: Runtime) -> None:
    rule = {"attribute": "category", "values": ["meals"], "variant": "v2"}
    rt.flags.put("release.expense-check", {"variants": ["baseline", "v2"], "targeting": [rule]}, OP)
    meals, _ = rt.start(WF, "m", {"amount": 20, "category": "meals"}, OP)
    travel, _ = rt.start(WF, "t", {"amount": 20, "category": "travel"}, OP)
    assert (meals["variant"], travel["variant"]) == ("v2", "baseline")
    drain(rt)
    (release,) = journal(rt, meals["id"])["infer"]["feature_flags"]
    assert release["feature_flag.result.reason"] == "targeting_match"


def test_a_canary_splits_new_cases_stickily(rt: Runtime) -> None:
    rt.flags.set_release(WF, "v2", 30, OP)
    ids = start(rt, 200)
    variants = {i: rt.case(i)["variant"] for i in ids}
    share = sum(v == "v2" for v in variants.values()) / len(ids)
    assert 0.30 - 4.5 * (0.3 * 0.7 / 200) ** 0.5 < share < 0.30 + 4.5 * (0.3 * 0.7 / 200) ** 0.5
    rt.flags.set_release(WF, "v2", 60, OP)  # raising the rollout moves no case
    assert {i: rt.case(i)["variant"] for i in ids} == variants
    again = start(rt, 200)  # the same external ids: the existing cases, not re-evaluated
    assert again == ids


def test_the_variant_persists_across_a_crash_and_replay(
    workspace: Workspace, rt: Runtime, flow: CanaryExpense, registry: Registry
) -> None:
    rt.flags.set_release(WF, "v2", 100, OP)
    first, waiting = start(rt, 2)
    flow.crash_in_rules = 1
    with pytest.raises(Crash):
        rt.run_due("w1", limit=1)
    assert set(journal(rt, first)) == {"trigger", "extract", "infer"}
    rt.flags.set_release(WF, "v2", 0, OP, reason="stop the canary")  # meanwhile, the canary stops
    (later,) = start(rt, 1, prefix="late")
    time.sleep(0.01)  # the crashed worker's lease expires
    restarted = Runtime(workspace.store, registry, RuntimeConfig(lease=timedelta(milliseconds=1)))
    drain(restarted)
    for case_id in (first, waiting):
        case = restarted.case(case_id)
        assert case["status"] == "completed" and case["variant"] == "v2"
        assert journal(restarted, case_id)["infer"]["call"]["version"] == "v2"
    assert restarted.case(later)["variant"] == "baseline"
    assert journal(restarted, later)["infer"]["call"]["version"] == "baseline"


# --- the kill switch ---------------------------------------------------------------------------------
def test_the_kill_switch_sends_every_case_to_a_person_without_the_suggestion(rt: Runtime) -> None:
    rt.flags.set_kill(WF, True, OP, reason="model misbehaving")
    ids = start(rt, 3)  # confident cases that would complete automatically
    drain(rt)
    assert {rt.case(i)["status"] for i in ids} == {"awaiting_review"}
    route = journal(rt, ids[0])["route"]
    assert route["route"] == "review" and route["human_only"] is True
    (kill,) = route["feature_flags"]
    assert kill["feature_flag.key"] == "kill.expense-check"
    assert kill["feature_flag.result.variant"] == "on" and kill["feature_flag.result.value"] is True
    queue = ReviewQueue(rt)
    items = queue.items()
    assert len(items) == 3
    for item in items:
        assert item["shown"]["human_only"] is True
        assert item["shown"]["suggestion"]["hidden"] is True
        assert item["shown"]["suggestion"]["output"] == {"decision": None}  # the fields, not the values
        assert item["shown"]["suggestion"]["confidence_band"] == "hidden"
        assert item["shown"]["suggestion"]["rationale"] == []
    queue.decide(items[0]["id"], "ann", "override", {"decision": "approve"}, "low_confidence")
    rt.flags.set_kill(WF, False, OP)
    after = start(rt, 2, prefix="after")
    drain(rt)
    assert rt.case(items[0]["case_id"])["status"] == "completed"
    assert {rt.case(i)["status"] for i in after} == {"completed"}


def test_an_unreadable_kill_switch_fails_safe_to_a_person(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("store unavailable")

    (case_id,) = start(rt, 1)
    monkeypatch.setattr(StoreProvider, "_resolve", broken)
    drain(rt)
    route = journal(rt, case_id)["route"]
    assert route["human_only"] is True and route["feature_flags"][0]["feature_flag.result.reason"] == "error"


# --- the per-process copy of the flags ---------------------------------------------------------------
OTHER_PROCESS = """
import sys, time
from paceline.runtime.flags import FlagService
from paceline.storage.db import Store
store = Store(sys.argv[1])
FlagService(store).set_kill("expense-check", True, "cli:other", reason="switched off elsewhere")
print(time.monotonic(), flush=True)  # CLOCK_MONOTONIC: one clock for every process of the machine
store.dispose()
"""


def kill_elsewhere(url: str) -> subprocess.Popen[str]:
    """Turn the kill switch on from another process (its own engine, its own flag copy)."""
    return subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def cached(rt: Runtime, ttl: float) -> FlagService:
    return FlagService(rt.store, rt.registry, StoreProvider(rt.store, ttl=ttl))


def test_a_change_in_another_process_is_seen_within_the_cache_time(rt: Runtime) -> None:
    """Evaluations in this process read the store at most once per ttl: the other process's
    change is seen within ttl of its commit, and the store is not read per evaluation."""
    ttl = 0.5
    flags = cached(rt, ttl)
    assert flags.kill(WF, "c0").value is False
    proc = kill_elsewhere(rt.store.url)
    evaluations, seen_at = 0, None
    deadline = time.monotonic() + 60
    while seen_at is None and time.monotonic() < deadline:
        evaluations += 1
        if flags.kill(WF, f"c{evaluations}").value is True:
            seen_at = time.monotonic()
        time.sleep(0.005)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    committed_at = float(out.split()[-1])
    assert seen_at is not None and seen_at - committed_at <= ttl + 0.25, seen_at - committed_at
    reads = flags.provider.reads  # type: ignore[attr-defined]
    assert reads < evaluations / 5, (reads, evaluations)  # a copy, not a read per evaluation


def test_a_worker_batch_sees_a_change_made_in_another_process_at_once(rt: Runtime) -> None:
    """The claim compares the flags' versions with the kept copy: even with a copy trusted for a
    minute, the first batch claimed after the other process's change runs with it."""
    rt.flags = cached(rt, ttl=60)
    witness = cached(rt, ttl=60)  # evaluates without claims: keeps its stale copy
    (before,) = start(rt, 1, prefix="before")
    drain(rt)
    assert rt.case(before)["status"] == "completed"
    assert witness.kill(WF, "w").value is False
    proc = kill_elsewhere(rt.store.url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert witness.kill(WF, "w").value is False  # stale for up to a minute without a claim
    after = start(rt, 3, prefix="after")
    drain(rt)
    assert {rt.case(i)["status"] for i in after} == {"awaiting_review"}
    assert journal(rt, after[0])["route"]["human_only"] is True


# --- guardrails -----------------------------------------------------------------------------------------
def decide_all(rt: Runtime, per_variant: int | None = None) -> dict[str, int]:
    """Reviewers override every v2 suggestion and accept every baseline one."""
    queue, done = ReviewQueue(rt), {"baseline": 0, "v2": 0}
    for item in queue.items(status="open", limit=1000):
        variant = rt.case(item["case_id"])["variant"]
        if per_variant is not None and done[variant] >= per_variant:
            continue
        if variant == "v2":
            queue.decide(item["id"], "ann", "override", {"decision": "approve"}, "wrong_field")
        else:
            queue.decide(item["id"], "ann", "accept")
        done[variant] += 1
    return done


def test_a_canary_breaching_the_override_guardrail_is_rolled_back_to_zero(
    workspace: Workspace, rt: Runtime
) -> None:
    guard = [{"metric": "override_rate", "max_delta": 0.2, "min_sample": 10}]
    doc = {"variants": ["baseline", "v2"], "canary": {"variant": "v2", "percent": 50}, "guardrails": guard}
    rt.flags.put("release.expense-check", doc, "user:mia", reason="try v2 on half")
    start(rt, 60, category="gifts")  # unclear: every case goes to review
    drain(rt)
    monitor = GuardrailMonitor(rt.flags)
    assert decide_all(rt, per_variant=5) == {"baseline": 5, "v2": 5}
    report = monitor.check(WF)  # 100% overridden, but 5 reviewed is under the minimum sample
    assert report["metrics"]["v2"]["override_rate"] == 1.0 and report["metrics"]["v2"]["reviewed"] == 5
    assert report["breaches"] == [] and not report["rolled_back"]
    assert rt.flags.get("release.expense-check")["canary"]["percent"] == 50
    decide_all(rt)
    drain(rt)  # the worker's housekeeping runs the guardrail monitor
    flag = rt.flags.get("release.expense-check")
    assert flag["canary"] == {"variant": "v2", "percent": 0.0}
    assert flag["reason"].startswith("guardrail: override_rate of v2 is 1")
    assert flag["updated_by"] == "system:guardrail" and flag["version"] == 2
    entries = [e for e in workspace.audit_entries(after=0, limit=100_000) if e["entity"] == "flags"]
    update = next(e for e in entries if e["action"] == "update")
    assert update["actor"] == "system:guardrail"
    assert update["data"]["canary_percent"] == {"old": 50.0, "new": 0.0}
    rollback = next(e for e in entries if e["action"] == "flag.rollback")
    assert rollback["data"]["breaches"][0]["metric"] == "override_rate"
    assert rollback["data"]["metrics"]["baseline"]["override_rate"] == 0.0
    new = start(rt, 20, prefix="after")
    assert {rt.case(i)["variant"] for i in new} == {"baseline"}  # 0%: no new case on the canary
    again = monitor.check(WF)  # the canary is off: nothing left to roll back
    assert not again["rolled_back"] and again["since"] is None


def test_the_monitor_measures_rules_latency_and_cost_per_variant(rt: Runtime) -> None:
    rt.flags.set_release(WF, "v2", 50, OP)
    ids = [
        rt.start(WF, f"m{i}", {"amount": 5000 if i % 2 else 10, "category": "travel"}, OP)[0]["id"]
        for i in range(40)
    ]
    drain(rt)
    report = GuardrailMonitor(rt.flags).check(WF, rollback=False)
    metrics = report["metrics"]
    assert sum(m["cases"] for m in metrics.values()) == len(ids)
    assert metrics["v2"]["cost_per_case"] == pytest.approx(0.002)
    assert metrics["baseline"]["cost_per_case"] == pytest.approx(0.001)
    hit = sum(1 for i in ids if journal(rt, i)["rules"]["hits"])
    assert sum(m["rule_failure_rate"] * m["ruled"] for m in metrics.values()) == pytest.approx(hit)
    assert all(m["p95_latency_ms"] is not None for m in metrics.values())
    with pytest.raises(NotFound):
        GuardrailMonitor(rt.flags).check("no-such-workflow")


# --- changes: validated and audited -----------------------------------------------------------------------
def test_every_flag_change_is_in_the_audit_log(workspace: Workspace, rt: Runtime) -> None:
    rt.flags.set_release(WF, "v2", 5, OP, reason="first canary")
    rt.flags.set_release(WF, "v2", 5, OP)  # no change: no new version, no entry
    rt.flags.set_release(WF, "v2", 25, OP, reason="widen")
    rt.flags.set_kill(WF, True, "user:mia", reason="incident 42")
    rt.flags.set_kill(WF, False, "user:mia")
    entries = [e for e in workspace.audit_entries(after=0, limit=100_000) if e["entity"] == "flags"]
    assert [(e["action"], e["entity_id"], e["actor"]) for e in entries] == [
        ("create", "release.expense-check", OP),
        ("update", "release.expense-check", OP),
        ("create", "kill.expense-check", "user:mia"),
        ("update", "kill.expense-check", "user:mia"),
    ]
    assert entries[0]["data"]["reason"] == "first canary" and entries[0]["data"]["canary_percent"] == 5.0
    assert entries[1]["data"]["canary_percent"] == {"old": 5.0, "new": 25.0}
    assert entries[1]["data"]["reason"] == {"old": "first canary", "new": "widen"}
    assert entries[2]["data"]["default_variant"] == "on"
    assert rt.flags.get("release.expense-check")["version"] == 2
    assert [f["key"] for f in rt.flags.list()] == ["kill.expense-check", "release.expense-check"]


@pytest.mark.parametrize(
    ("key", "doc", "field"),
    [
        ("release.expense-check", {"canary": {"variant": "v2", "percent": 5}}, "canary.variant"),
        (
            "release.expense-check",
            {"variants": ["baseline", "v2"], "canary": {"variant": "v2", "percent": 150}},
            "canary.percent",
        ),
        ("release.nope", {}, "key"),  # no such workflow
        ("kill.expense-check", {"default_variant": "sometimes"}, "default_variant"),
        ("beta.expense-check", {}, "key"),
    ],
)
def test_bad_flag_definitions_are_refused_with_the_field_named_and_nothing_written(
    workspace: Workspace, rt: Runtime, key: str, doc: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        rt.flags.put(key, doc, OP)
    assert err.value.details["field"] == field
    assert rt.flags.list() == []
    assert not [e for e in workspace.audit_entries(after=0, limit=100_000) if e["entity"] == "flags"]


def test_only_admins_and_ml_engineers_change_flags() -> None:
    require_flag_manager(operator())
    require_flag_manager(Principal("mo", (Grant(Role.ML_ENGINEER),)))
    for grants in [(Grant(Role.REVIEWER),), (Grant(Role.ML_ENGINEER, "claims-triage"),)]:
        with pytest.raises(PermissionDenied):
            require_flag_manager(Principal("x", grants))


# --- the provider through the OpenFeature API ---------------------------------------------------------------
def test_the_store_provider_serves_the_openfeature_api(rt: Runtime) -> None:
    rt.flags.set_release(WF, "v2", 50, OP)
    domain = f"paceline-test-{uuid.uuid4().hex}"
    api.set_provider_and_wait(StoreProvider(rt.store), domain)
    try:
        client = api.get_client(domain)
        details = client.get_string_details("release.expense-check", "baseline", EvaluationContext("case-1"))
        assert details.reason == "SPLIT" and details.variant in ("baseline", "v2")
        assert details.value == details.variant and details.flag_metadata["version"] == "1"
        missing = client.get_string_details("release.expense-check", "baseline", EvaluationContext(None))
        assert missing.error_code == ErrorCode.TARGETING_KEY_MISSING and missing.value == "baseline"
        unknown = client.get_string_details("colour.of.button", "blue", EvaluationContext("c"))
        assert unknown.error_code == ErrorCode.FLAG_NOT_FOUND and unknown.value == "blue"
        wrong = client.get_boolean_details("release.expense-check", False, EvaluationContext("c"))
        assert wrong.error_code == ErrorCode.TYPE_MISMATCH
        off = client.get_boolean_details("kill.expense-check", False, EvaluationContext("c"))
        assert off.value is False and off.reason == "DEFAULT"
    finally:
        api.set_provider(NoOpProvider(), domain)


# --- the HTTP API ------------------------------------------------------------------------------
def test_the_flags_api(tmp_path: Any, registry: Registry) -> None:
    from paceline.web.app import create_app
    from tests.web.web_helpers import TestClient

    ws = Workspace.init(tmp_path / "api-ws")
    try:
        ws.__dict__["runtime"] = Runtime(ws.store, registry)  # the test workflow, not the entry points
        tokens = {}
        with ws.access() as access:
            for login, role in [("ada", "admin"), ("mo", "ml-engineer"), ("rita", "reviewer")]:
                access.add_user(operator(), login, role)
                tokens[login] = {"Authorization": f"Bearer {access.create_token(operator(), login)}"}
        with TestClient(create_app(ws)) as client:
            body = {
                "variants": ["baseline", "v2"],
                "canary": {"variant": "v2", "percent": 10},
                "reason": "try",
            }
            assert (
                client.put(
                    "/api/v1/flags/release.expense-check", json=body, headers=tokens["rita"]
                ).status_code
                == 403
            )
            put = client.put("/api/v1/flags/release.expense-check", json=body, headers=tokens["mo"])
            assert put.status_code == 200 and put.json()["canary"] == {"variant": "v2", "percent": 10.0}
            assert put.json()["updated_by"] == "user:mo" and put.json()["reason"] == "try"
            bad = client.put(
                "/api/v1/flags/release.expense-check", json={"state": "paused"}, headers=tokens["ada"]
            )
            assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "state"
            listed = client.get("/api/v1/flags", headers=tokens["rita"])
            assert [f["key"] for f in listed.json()["flags"]] == ["release.expense-check"]
            assert client.get("/api/v1/flags/kill.expense-check", headers=tokens["rita"]).status_code == 404
            guard = client.post("/api/v1/flags/release.expense-check/guard", headers=tokens["ada"])
            assert guard.status_code == 200 and guard.json()["rolled_back"] is False
            assert (
                client.post("/api/v1/flags/release.expense-check/guard", headers=tokens["rita"]).status_code
                == 403
            )
            assert (
                client.post("/api/v1/flags/kill.expense-check/guard", headers=tokens["ada"]).status_code
                == 422
            )
    finally:
        ws.close()


def test_a_hidden_suggestion_cannot_be_accepted(workspace: Workspace) -> None:
    """With the kill switch on nothing was shown, so only an override or a reject can decide it."""

    registry = Registry()
    registry.register(ExpenseCheck)
    rt = Runtime(workspace.store, registry)
    rt.flags.set_kill("expense-check", True, "cli:op")
    rt.start("expense-check", "hidden", {"amount": 20, "category": "travel"}, "cli:op")
    Worker(rt, "t", 1).run(until_idle=True)
    item = ReviewQueue(rt).items()[0]
    assert item["shown"]["human_only"] is True
    with pytest.raises(ValidationError, match="nothing to accept"):
        ReviewQueue(rt).decide(item["id"], "ann", "accept")
    done = ReviewQueue(rt).decide(item["id"], "ann", "override", {"decision": "approve"}, "policy")
    assert done["output"] == {"decision": "approve"}
