"""The durable case engine: runs each case's steps and journals them in committed groups.

A worker claims due cases with a lease, then for each step either replays the output
the journal holds (the step finished before a crash) or runs it; a group of steps is
committed with its journal rows together with the case's new step and version, checked
against the version read and the lease held. A group ends at the model call (never
repeated once it returned) and at the last step; a case's last group, pure steps only,
is carried into the next commit of the same worker. Human review is a stored state: the
case waits as ``awaiting_review`` with an open review task, and the decision moves it on.
Downstream actions are written to the outbox in the act step's transaction and sent by
:mod:`paceline.runtime.dispatch` with an idempotency key that never changes for the case.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticError
from sqlalchemy.exc import IntegrityError

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
from paceline.storage.runtime_models import CaseRow, ReviewTaskRow


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


@dataclass
class Claimed:
    """A claimed case as the claim's transaction read it, until it runs."""

    case: dict[str, Any]
    journal: dict[str, Any]
    release: dict[str, Any] | None  # the trigger's release evaluation (feature_flag.* attributes)
    release_read: bool  # whether the claim read it (a case past its infer step does not need it)


@dataclass
class Group:
    """Finished steps of one case, journaled in one transaction with the case's move on."""

    wf: Workflow
    ctx: CaseContext
    case: dict[str, Any]
    version: int  # the case's version before these steps
    steps: list[tuple[Step, dict[str, Any], float]] = field(default_factory=list)  # (step, output, ms)
    review: bool = False  # after these steps the case waits for a person

    @property
    def completes(self) -> bool:
        return bool(self.steps) and self.steps[-1][0] is Step.RECORD


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
        self._loaded: dict[str, Claimed] = {}  # claimed, not yet run

    # --- triggers --------------------------------------------------------------------
    def start(self, workflow: str, external_id: str, payload: Any, actor: str) -> tuple[dict[str, Any], bool]:
        """Create a case (or return the existing one for the same external id): ``(case, created)``."""
        wf = self.registry.get(workflow)
        clean = _validated(wf, external_id, payload)
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
            row = CaseRow(**_new_case(wf, case_id, external_id, clean, release.variant, utcnow()))
            stored = repo.add_case(row)
            if stored is not row:  # a concurrent trigger with this external id inserted it first
                return self._case_view(repo, stored), False
            self.flags.record_assignment(session, release, case_id)
            return self._case_view(repo, row), True

    def start_many(
        self, workflow: str, items: Sequence[tuple[str, Any]], actor: str, chunk: int = 500
    ) -> list[tuple[str, bool]]:
        """Start many cases of *workflow* (bulk intake: a batch of claims, the demo's recent months):
        ``(case id, created)`` for each ``(external_id, payload)``, in order.

        Each item is checked as :meth:`start` checks it, and an external id seen before (earlier
        in *items* too) gives its existing case without a flag evaluation. Each *chunk* of new
        cases is written in one transaction: the cases, their release assignments and their audit
        entries with one statement each. If a concurrent trigger inserted one of the external ids
        meanwhile, that chunk falls back to :meth:`start` per item, which settles the race.
        """
        wf = self.registry.get(workflow)
        cleaned = [(external_id, _validated(wf, external_id, payload)) for external_id, payload in items]
        known: dict[str, tuple[str, bool]] = {}  # external id -> (case id, created by this call)
        for first in range(0, len(cleaned), chunk):
            part = cleaned[first : first + chunk]
            with self.store.read() as session:
                for external_id, case_id in CaseRepository(session).external_ids(
                    wf.name, [e for e, _ in part]
                ):
                    known.setdefault(external_id, (case_id, False))
            fresh: dict[str, dict[str, Any]] = {}
            for external_id, clean in part:
                if external_id not in known:
                    fresh.setdefault(external_id, clean)
            if fresh:
                known |= self._insert_cases(wf, fresh, actor)
        out, seen = [], set()
        for external_id, _ in cleaned:
            case_id, created = known[external_id]
            out.append((case_id, created and external_id not in seen))
            seen.add(external_id)
        return out

    def _insert_cases(
        self, wf: Workflow, fresh: dict[str, dict[str, Any]], actor: str
    ) -> dict[str, tuple[str, bool]]:
        """Write new cases (external id -> payload) in one transaction: external id -> (case id,
        created)."""
        now = utcnow()
        rows, releases = [], []
        for external_id, clean in fresh.items():
            case_id = str(uuid.uuid4())
            release = self.flags.release(wf.name, case_id, clean)  # sticky, as in start()
            rows.append(_new_case(wf, case_id, external_id, clean, release.variant, now))
            releases.append((release, case_id))
        try:
            with self.store.write(actor) as session:
                CaseRepository(session).add_cases(rows)
                self.flags.record_assignments(session, releases)
        except IntegrityError:  # a concurrent trigger won an external id: settle each case alone
            settled = {}
            for external_id, clean in fresh.items():
                case, created = self.start(wf.name, external_id, clean, actor)
                settled[external_id] = (case["id"], created)
            return settled
        return {row["external_id"]: (row["id"], True) for row in rows}

    # --- execution ---------------------------------------------------------------------
    def run_due(self, worker: str, limit: int = 8) -> int:
        """Claim up to *limit* due cases and run each until it waits, completes or fails.

        The claim's transaction also reads what the cases need before they run (no transaction
        per case for it): each case's journal, the release evaluation of the cases still to
        infer, and the flag definitions when any flag changed since this process read them.
        A case's last group is committed with the next case's first one (see :meth:`_run_case`).
        """
        with self.store.write(f"worker:{worker}") as session:
            repo = CaseRepository(session)
            cases = repo.claim(worker, utcnow(), self.config.lease, limit)
            if not cases:
                return 0
            journals = repo.journals([c["id"] for c in cases if c["step"] != Step.TRIGGER.value])
            to_infer = {
                c["id"]: release_key(c["workflow"])
                for c in cases
                if Step.INFER.value not in journals.get(c["id"], {})
            }
            releases = self.flags.assignments(session, to_infer)
            self.flags.refresh(session)
            for case in cases:
                self._loaded[case["id"]] = Claimed(
                    case, journals.get(case["id"], {}), releases.get(case["id"]), case["id"] in to_infer
                )
        held: list[Group] = []
        for case in cases:
            try:
                self._run_case(worker, case["id"], held)
            except LeaseLost:
                continue
            finally:
                self._loaded.pop(case["id"], None)
        if held:  # the batch's last finished case
            self._commit(worker, held)
        return len(cases)

    def _load(self, case_id: str) -> Claimed | None:
        """The case, its journal and its release evaluation as the claim read them (else read now)."""
        loaded = self._loaded.pop(case_id, None)
        if loaded is not None:
            return loaded
        with self.store.read() as session:
            repo = CaseRepository(session)
            row = repo.get(case_id)
            if row is None:
                return None
            return Claimed(case_doc(row), repo.journals([case_id])[case_id], None, False)

    def _run_case(self, worker: str, case_id: str, held: list[Group] | None = None) -> None:
        """Run the case's remaining steps, committing at each group's end.

        With *held* (a batch's list), a case's last group — pure steps and rows, no call out —
        is not committed at once but held and committed in the transaction of the next group
        this worker commits (usually the next case's trigger-to-infer group), which halves the
        commits per case. A crash before that commit re-runs only those pure steps.
        """
        claimed = self._load(case_id)
        if claimed is None:
            return
        lone = held is None
        held = [] if held is None else held
        case, journal = claimed.case, claimed.journal
        wf = self.registry.get(case["workflow"])
        ctx = CaseContext(case_id, case["external_id"], case["payload"], journal, case["variant"])
        group = Group(wf, ctx, case, case["version"])
        for step in STEPS[STEPS.index(Step(case["step"])) :]:
            if step.value in journal:  # finished before a crash: replay, never re-run
                ctx.outputs[step.value] = journal[step.value]
                continue
            if step is Step.REVIEW and ctx.outputs[Step.ROUTE.value]["route"] == Route.REVIEW.value:
                group.review = True
                self._save(worker, held, group)
                return
            started = time.perf_counter()
            try:
                output = self._execute(wf, step, ctx, claimed)
            except Exception as exc:  # a step's own failure: recorded on the case, visible in the API
                version = group.version + (1 if group.steps else 0)
                self._save(worker, held, group)  # keep the work done before it
                self._fail(worker, case_id, version, step, exc, case["attempts"])
                return
            ctx.outputs[step.value] = output
            group.steps.append((step, output, (time.perf_counter() - started) * 1000))
            if step in GROUP_ENDS:
                if step is Step.RECORD and not lone:
                    held.append(group)
                else:
                    self._save(worker, held, group)
                group = Group(wf, ctx, case, group.version + 1)

    def _save(self, worker: str, held: list[Group], group: Group) -> None:
        """Commit the held groups and *group*; LeaseLost if *group*'s case was taken over."""
        groups = [*held, group] if group.steps or group.review else list(held)
        held.clear()
        if groups and group.ctx.case_id in self._commit(worker, groups):
            raise LeaseLost(group.ctx.case_id)

    def _release(self, wf: Workflow, ctx: CaseContext, claimed: Claimed) -> dict[str, Any] | None:
        """The trigger's release evaluation of the case (read with the claim, else now)."""
        if claimed.release_read:
            return claimed.release
        return self.flags.assignment(release_key(wf.name), ctx.case_id)

    def _execute(self, wf: Workflow, step: Step, ctx: CaseContext, claimed: Claimed) -> dict[str, Any]:
        out = ctx.outputs
        if step is Step.TRIGGER:
            return {"payload": ctx.payload}
        if step is Step.EXTRACT:
            return {"features": wf.extract(ctx)}
        if step is Step.INFER:
            call = wf.predictor(ctx.model_variant).predict(out["extract"]["features"], ctx.case_id)
            suggestion = wf.suggest(ctx, out["extract"]["features"], call)
            release = self._release(wf, ctx, claimed)
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

    def _commit(self, worker: str, groups: list[Group]) -> set[str]:
        """Journal each group's steps and move its case on, all in one transaction; the ids of
        the cases whose lease or version no longer matched (taken over: nothing of theirs written).

        Steps share a transaction when nothing outside the database happened between them (they
        are pure, or their side effect is a row written in this same transaction); a step that
        calls out (the model) ends its group, so it is never repeated after a crash. The journal
        rows, outbox rows and events of all groups are written with one statement each.
        """
        now, lost = utcnow(), set()
        steps: list[dict[str, Any]] = []
        actions: list[dict[str, Any]] = []
        events: list[tuple[str, dict[str, Any]]] = []
        with self.store.write(f"worker:{worker}") as session:
            repo = CaseRepository(session)
            for g in groups:
                if not repo.advance(g.ctx.case_id, worker, g.version, now, **self._move(g, now)):
                    lost.add(g.ctx.case_id)
                    continue
                steps += [
                    self._step_row(g.wf, g.ctx, step, out, ms, worker, now) for step, out, ms in g.steps
                ]
                outputs = {step.value: out for step, out, _ in g.steps}
                if outputs.get(Step.ROUTE.value, {}).get("route") == Route.QA.value:
                    repo.add_review(self._review_row(g.wf, g.ctx, "qa", now))
                if g.review:
                    repo.add_review(self._review_row(g.wf, g.ctx, "review", now))
                act = outputs.get(Step.ACT.value)
                if act and act["action_key"]:
                    actions.append(self._action_row(g.wf, g.ctx, act, now))
                if g.completes:
                    waited = g.ctx.outputs[Step.ROUTE.value]["route"] == Route.REVIEW.value
                    reviews = repo.reviews_of(g.ctx.case_id) if waited else []  # else no decided review
                    events += case_events(g.wf, g.case, g.ctx.outputs, reviews, now)
            repo.add_steps(steps)
            repo.add_actions(actions)
            repo.add_events(events, now)
        return lost

    def _move(self, group: Group, now: datetime) -> dict[str, Any]:
        """The case's new state after *group*: waiting for a person, completed, or at its next step."""
        if group.review:
            return {
                "status": CaseStatus.AWAITING_REVIEW.value,
                "step": Step.REVIEW.value,
                "lease_owner": None,
                "lease_expires_at": None,
            }
        if group.completes:
            return {
                "status": CaseStatus.COMPLETED.value,
                "step": Step.RECORD.value,
                "completed_at": now,
                "lease_owner": None,
                "lease_expires_at": now + self.config.lease,
            }
        nxt = STEPS[STEPS.index(group.steps[-1][0]) + 1]
        return {"step": nxt.value, "lease_expires_at": now + self.config.lease}

    def _step_row(
        self,
        wf: Workflow,
        ctx: CaseContext,
        step: Step,
        output: dict[str, Any],
        ms: float,
        worker: str,
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "case_id": ctx.case_id,
            "step": step.value,
            "idempotency_key": idempotency_key(ctx.case_id, step.value, wf.version),
            "status": "succeeded",
            "output": output,
            "worker": worker,
            "duration_ms": ms,
            "finished_at": now,
        }

    def _action_row(
        self, wf: Workflow, ctx: CaseContext, output: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        url = self.action_urls.get(wf.name) or action_url(wf.name)
        return {
            "case_id": ctx.case_id,
            "workflow": wf.name,
            "action": "act",
            "target": url,
            "payload": output["body"],
            "idempotency_key": output["action_key"],
            "status": "pending" if url else "recorded",
            "attempts": 0,
            "next_attempt_at": now,
        }

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


def _validated(wf: Workflow, external_id: Any, payload: Any) -> dict[str, Any]:
    """The trigger's payload as the workflow's model cleans it; a ValidationError naming the field."""
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 200:
        raise ValidationError("external_id must be 1-200 characters", field="external_id", value=external_id)
    if not isinstance(payload, dict):
        raise ValidationError("payload must be a JSON object", field="payload", fix="see example_payload")
    try:
        clean: dict[str, Any] = wf.payload_model.model_validate(payload).model_dump(mode="json")
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise ValidationError(
            f"payload.{where}: {first['msg']}",
            field=f"payload.{where}",
            value=first.get("input"),
            fix=f"GET /api/v1/workflows/{wf.name} shows the schema and an example",
        ) from None
    return clean


def _new_case(
    wf: Workflow, case_id: str, external_id: str, payload: dict[str, Any], variant: str, now: datetime
) -> dict[str, Any]:
    """The columns of a new case: running, at its trigger, due now."""
    return {
        "id": case_id,
        "workflow": wf.name,
        "workflow_version": wf.version,
        "external_id": external_id,
        "status": CaseStatus.RUNNING.value,
        "step": Step.TRIGGER.value,
        "payload": payload,
        "variant": variant,
        "version": 0,
        "attempts": 0,
        "next_run_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _suggestion(doc: dict[str, Any]) -> Suggestion:
    return Suggestion(doc["output"], doc["confidence"], tuple(doc["rationale"]), tuple(doc["sources"]))
