"""The durable case engine: runs each case's steps, one committed transaction per step.

A worker claims due cases with a lease, then for each step either replays the output
the journal holds (the step finished before a crash) or runs it and commits the journal
row together with the case's new step and version. Human review is a stored state: the
case waits as ``awaiting_review`` with an open review task, and the decision moves it on.
Downstream actions are written to the outbox in the act step's transaction and sent by
:mod:`paceline.runtime.dispatch` with an idempotency key that never changes for the case.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticError

from paceline.domain.workflow import (
    STEPS,
    CaseContext,
    CaseStatus,
    Route,
    RuleHit,
    Step,
    Suggestion,
    Workflow,
    backoff,
    idempotency_key,
    route,
)
from paceline.errors import NotFound, ValidationError
from paceline.runtime.events import case_events
from paceline.runtime.flags import FlagService, hide_suggestion, release_key
from paceline.runtime.registry import REGISTRY, Registry
from paceline.storage.case_repo import CaseRepository, case_doc, iso
from paceline.storage.db import Store
from paceline.storage.runtime_models import CaseRow, OutboxRow, ReviewTaskRow, StepRunRow


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RuntimeConfig:
    lease: timedelta = timedelta(seconds=30)
    action_lease: timedelta = timedelta(seconds=30)
    max_action_attempts: int = 10
    max_case_attempts: int = (
        5  # a failing step is retried (with backoff) until the case was claimed this often
    )
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 300.0


def action_url(workflow: str) -> str | None:
    """``PACELINE_ACTION_URL_<WORKFLOW>`` (upper case, ``-`` as ``_``): where its actions are sent."""
    return os.environ.get("PACELINE_ACTION_URL_" + workflow.upper().replace("-", "_")) or None


# Steps after which the transaction commits: the model call (never repeated once it returned)
# and the last step; the steps in between are pure or write their effects as rows of the group.
GROUP_ENDS = frozenset({Step.INFER, Step.RECORD})


class LeaseLost(Exception):
    """Another worker took the case over (this one stalled past its lease): stop touching it."""


class Runtime:
    """Start cases, run them, and answer what the API asks about them."""

    def __init__(
        self,
        store: Store,
        registry: Registry = REGISTRY,
        config: RuntimeConfig | None = None,
        action_urls: dict[str, str] | None = None,
        flags: FlagService | None = None,
    ) -> None:
        self.store, self.registry = store, registry
        self.flags = flags or FlagService(store, registry)
        self.config = config or RuntimeConfig()
        self.action_urls = action_urls or {}
        self._loaded: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # claimed, not yet run

    # --- triggers --------------------------------------------------------------------
    def start(self, workflow: str, external_id: str, payload: Any, actor: str) -> tuple[dict[str, Any], bool]:
        """Create a case (or return the existing one for the same external id): ``(case, created)``."""
        wf = self.registry.get(workflow)
        if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 200:
            raise ValidationError(
                "external_id must be 1-200 characters", field="external_id", value=external_id
            )
        if not isinstance(payload, dict):
            raise ValidationError("payload must be a JSON object", field="payload", fix="see example_payload")
        try:
            clean = wf.payload_model.model_validate(payload).model_dump(mode="json")
        except PydanticError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            raise ValidationError(
                f"payload.{where}: {first['msg']}",
                field=f"payload.{where}",
                value=first.get("input"),
                fix=f"GET /api/v1/workflows/{wf.name} shows the schema and an example",
            ) from None
        with self.store.read() as session:  # a repeated trigger: no flag evaluation
            found = CaseRepository(session).find_external(wf.name, external_id)
            if found is not None:
                return self._case_view(CaseRepository(session), found), False
        case_id = str(uuid.uuid4())
        release = self.flags.release(wf.name, case_id, clean)  # sticky: kept on the case, never re-evaluated
        with self.store.write(actor) as session:
            repo = CaseRepository(session)
            found = repo.find_external(wf.name, external_id)
            if found is not None:
                return self._case_view(repo, found), False
            now = utcnow()
            row = CaseRow(
                id=case_id,
                workflow=wf.name,
                workflow_version=wf.version,
                external_id=external_id,
                status=CaseStatus.RUNNING.value,
                step=Step.TRIGGER.value,
                payload=clean,
                variant=release.variant,
                version=0,
                attempts=0,
                next_run_at=now,
                created_at=now,
                updated_at=now,
            )
            stored = repo.add_case(row)
            if stored is not row:  # a concurrent trigger with this external id inserted it first
                return self._case_view(repo, stored), False
            self.flags.record_assignment(session, release, case_id)
            return self._case_view(repo, row), True

    # --- execution ---------------------------------------------------------------------
    def run_due(self, worker: str, limit: int = 8) -> int:
        """Claim up to *limit* due cases and run each until it waits, completes or fails."""
        with self.store.write(f"worker:{worker}") as session:
            repo = CaseRepository(session)
            rows = repo.claim(worker, utcnow(), self.config.lease, limit)
            claimed = [r.id for r in rows]
            for row in rows:  # read with the claim: no second transaction per case
                fresh = row.step == Step.TRIGGER.value  # a new case has no journal yet
                journal = {} if fresh else {s: dict(r.output) for s, r in repo.journal(row.id).items()}
                self._loaded[row.id] = (case_doc(row), journal)
        for case_id in claimed:
            try:
                self._run_case(worker, case_id)
            except LeaseLost:
                continue
            finally:
                self._loaded.pop(case_id, None)
        return len(claimed)

    def _load(self, case_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The case and its journal as the claim read them (else read now)."""
        loaded = self._loaded.pop(case_id, None)
        if loaded is not None:
            return loaded
        with self.store.read() as session:
            repo = CaseRepository(session)
            row = repo.get(case_id)
            if row is None:
                return None
            return case_doc(row), {step: dict(run.output) for step, run in repo.journal(case_id).items()}

    def _run_case(self, worker: str, case_id: str) -> None:
        loaded = self._load(case_id)
        if loaded is None:
            return
        case, journal = loaded
        wf = self.registry.get(case["workflow"])
        ctx = CaseContext(case_id, case["external_id"], case["payload"], journal, case["variant"])
        version = case["version"]
        index = STEPS.index(Step(case["step"]))
        pending: list[tuple[Step, dict[str, Any], float]] = []
        for step in STEPS[index:]:
            if step.value in journal:  # finished before a crash: replay, never re-run
                ctx.outputs[step.value] = journal[step.value]
                continue
            if step is Step.REVIEW and ctx.outputs[Step.ROUTE.value]["route"] == Route.REVIEW.value:
                if pending:
                    version = self._commit(worker, wf, ctx, pending, version)
                self._await_review(worker, wf, ctx, version)
                return
            started = time.perf_counter()
            try:
                output = self._execute(wf, step, ctx)
            except Exception as exc:  # a step's own failure: recorded on the case, visible in the API
                if pending:  # keep the work done before it
                    version = self._commit(worker, wf, ctx, pending, version)
                self._fail(worker, case_id, version, step, exc, case["attempts"])
                return
            ctx.outputs[step.value] = output
            pending.append((step, output, (time.perf_counter() - started) * 1000))
            if step in GROUP_ENDS:
                version = self._commit(worker, wf, ctx, pending, version)
                pending = []

    def _execute(self, wf: Workflow, step: Step, ctx: CaseContext) -> dict[str, Any]:
        out = ctx.outputs
        if step is Step.TRIGGER:
            return {"payload": ctx.payload}
        if step is Step.EXTRACT:
            return {"features": wf.extract(ctx)}
        if step is Step.INFER:
            call = wf.predictor(ctx.model_variant).predict(out["extract"]["features"], ctx.case_id)
            suggestion = wf.suggest(ctx, out["extract"]["features"], call)
            release = self.flags.assignment(release_key(wf.name), ctx.case_id)
            flags = [release] if release else []  # the trigger's evaluation, as feature_flag.* attributes
            return {"suggestion": suggestion.to_dict(), "call": call.to_dict(), "feature_flags": flags}
        if step is Step.RULES:
            suggestion = _suggestion(out["infer"]["suggestion"])
            hits = wf.rules(ctx, out["extract"]["features"], suggestion)
            return {"hits": [h.to_dict() for h in hits]}
        if step is Step.ROUTE:
            hits = [RuleHit(**h) for h in out["rules"]["hits"]]
            chosen = route(
                f"{wf.name}|{ctx.external_id}", _suggestion(out["infer"]["suggestion"]), hits, wf.thresholds
            )
            kill = self.flags.kill(wf.name, ctx.case_id, ctx.payload)  # on: the human-only path
            chosen = Route.REVIEW if kill.value else chosen
            return {"route": chosen.value, "human_only": bool(kill.value), "feature_flags": [kill.attributes]}
        if step is Step.REVIEW:  # automatic (or QA-sampled) completion: the suggestion stands
            return {"final": out["infer"]["suggestion"]["output"], "decision": "auto", "by": "system"}
        if step is Step.ACT:
            body = wf.action(ctx, out["review"]["final"]) if out["review"].get("final") is not None else None
            key = idempotency_key(ctx.case_id, "act", wf.version)
            return {"action_key": key if body is not None else None, "body": body}
        return {"recorded": True}

    def _commit(
        self,
        worker: str,
        wf: Workflow,
        ctx: CaseContext,
        done_steps: list[tuple[Step, dict[str, Any], float]],
        version: int,
    ) -> int:
        """Journal finished steps and move the case on, in one transaction; the new version.

        Several steps share a transaction when nothing outside the database happened between
        them (they are pure, or their side effect is a row written in this same transaction);
        a step that calls out (the model) ends its group, so it is never repeated after a crash.
        """
        now = utcnow()
        last = done_steps[-1][0]
        nxt = STEPS.index(last) + 1
        done = nxt == len(STEPS)
        with self.store.write(f"worker:{worker}") as session:
            repo = CaseRepository(session)
            values: dict[str, Any] = {
                "step": STEPS[min(nxt, len(STEPS) - 1)].value,
                "lease_expires_at": now + self.config.lease,
            }
            if done:
                values |= {"status": CaseStatus.COMPLETED.value, "completed_at": now, "lease_owner": None}
            if not repo.advance(ctx.case_id, worker, version, now, **values):
                raise LeaseLost(ctx.case_id)
            for step, output, ms in done_steps:
                self._journal(repo, wf, ctx, step, output, ms, worker, now)
            if done:
                case = case_doc(repo.get(ctx.case_id))  # type: ignore[arg-type]
                for table, row in case_events(wf, case, ctx.outputs, repo.reviews_of(ctx.case_id), now):
                    repo.add_event(table, row, now)
        return version + 1

    def _journal(
        self,
        repo: CaseRepository,
        wf: Workflow,
        ctx: CaseContext,
        step: Step,
        output: dict[str, Any],
        ms: float,
        worker: str,
        now: datetime,
    ) -> None:
        key = idempotency_key(ctx.case_id, step.value, wf.version)
        repo.add_step(
            StepRunRow(
                case_id=ctx.case_id,
                step=step.value,
                idempotency_key=key,
                status="succeeded",
                output=output,
                worker=worker,
                duration_ms=ms,
                finished_at=now,
            )
        )
        if step is Step.ROUTE and output["route"] == Route.QA.value:
            repo.add_review(self._review_row(wf, ctx, "qa", now))
        if step is Step.ACT and output["action_key"]:
            repo.add_action(self._action_row(wf, ctx, output, now))

    def _action_row(self, wf: Workflow, ctx: CaseContext, output: dict[str, Any], now: datetime) -> OutboxRow:
        url = self.action_urls.get(wf.name) or action_url(wf.name)
        return OutboxRow(
            case_id=ctx.case_id,
            workflow=wf.name,
            action="act",
            target=url,
            payload=output["body"],
            idempotency_key=output["action_key"],
            status="pending" if url else "recorded",
            attempts=0,
            next_attempt_at=now,
        )

    def _review_row(self, wf: Workflow, ctx: CaseContext, kind: str, now: datetime) -> ReviewTaskRow:
        shown = {
            "suggestion": ctx.outputs["infer"]["suggestion"],
            "rule_hits": ctx.outputs["rules"]["hits"],
            "payload": ctx.payload,
            "external_id": ctx.external_id,
            "model": {k: ctx.outputs["infer"]["call"][k] for k in ("model", "version")},
        }
        if ctx.outputs["route"].get("human_only"):
            shown = hide_suggestion(shown)
        return ReviewTaskRow(
            case_id=ctx.case_id,
            workflow=wf.name,
            queue=wf.queue,
            kind=kind,
            status="open",
            shown=shown,
            due_at=now + timedelta(hours=wf.thresholds.review_sla_hours),
            escalated=0,
            comment="",
            created_at=now,
        )

    def _await_review(self, worker: str, wf: Workflow, ctx: CaseContext, version: int) -> None:
        now = utcnow()
        with self.store.write(f"worker:{worker}") as session:
            repo = CaseRepository(session)
            values = {
                "status": CaseStatus.AWAITING_REVIEW.value,
                "step": Step.REVIEW.value,
                "lease_owner": None,
                "lease_expires_at": None,
            }
            if not repo.advance(ctx.case_id, worker, version, now, **values):
                raise LeaseLost(ctx.case_id)
            repo.add_review(self._review_row(wf, ctx, "review", now))

    def _fail(
        self, worker: str, case_id: str, version: int, step: Step, exc: Exception, attempts: int = 0
    ) -> None:
        """Retry the case later with backoff, or mark it failed once it used its attempts."""
        now, error = utcnow(), f"{step.value}: {type(exc).__name__}: {exc}"[:2000]
        values: dict[str, Any] = {"step": step.value, "error": error, "lease_owner": None}
        if attempts < self.config.max_case_attempts:
            cfg = self.config
            wait = backoff(attempts, case_id, cfg.backoff_base_seconds, cfg.backoff_cap_seconds)
            values |= {"next_run_at": now + timedelta(seconds=wait), "lease_expires_at": None}
        else:
            values["status"] = CaseStatus.FAILED.value
        with self.store.write(f"worker:{worker}") as session:
            CaseRepository(session).advance(case_id, worker, version, now, **values)

    # --- reads -------------------------------------------------------------------------
    def _case_view(self, repo: CaseRepository, row: CaseRow) -> dict[str, Any]:
        doc = case_doc(row)
        doc["steps"] = [
            {
                "step": r.step,
                "status": r.status,
                "idempotency_key": r.idempotency_key,
                "finished_at": iso(r.finished_at),
                "duration_ms": r.duration_ms,
            }
            for r in repo.journal(row.id).values()
        ]
        doc["actions"] = [
            {
                "action": a.action,
                "idempotency_key": a.idempotency_key,
                "status": a.status,
                "attempts": a.attempts,
                "target": a.target,
                "last_error": a.last_error,
                "sent_at": iso(a.sent_at),
            }
            for a in repo.actions_of(row.id)
        ]
        doc["reviews"] = [
            {"id": r.id, "kind": r.kind, "status": r.status, "decision": r.decision}
            for r in repo.reviews_of(row.id)
        ]
        return doc

    def case(self, case_id: str) -> dict[str, Any]:
        with self.store.read() as session:
            repo = CaseRepository(session)
            row = repo.get(case_id)
            if row is None:
                raise NotFound(f"no case {case_id!r}", fix="list cases with GET /api/v1/cases")
            return self._case_view(repo, row)

    def cases(
        self, workflow: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        if status is not None and status not in {s.value for s in CaseStatus}:
            raise ValidationError(
                f"status {status!r} is not one of: {', '.join(s.value for s in CaseStatus)}", field="status"
            )
        with self.store.read() as session:
            return [case_doc(r) for r in CaseRepository(session).list_cases(workflow, status, limit)]


def _suggestion(doc: dict[str, Any]) -> Suggestion:
    return Suggestion(doc["output"], doc["confidence"], tuple(doc["rationale"]), tuple(doc["sources"]))
