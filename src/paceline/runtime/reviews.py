"""The review queue: claim with a lease, decide with a reason code, escalate overdue items.

A decision is written in one transaction with the case's review step, so the case moves
on exactly once: submitting the same decision twice returns the stored one, a different
decision on a finished item is refused. Each decision keeps what the reviewer was shown,
the final output and a JSON Patch (RFC 6902) from the suggestion to it: the label store.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jsonpatch
from sqlalchemy import update

from paceline.domain.workflow import REASON_CODES, CaseStatus, Decision, Step, idempotency_key
from paceline.errors import Conflict, NotFound, ValidationError
from paceline.runtime import privacy
from paceline.runtime.engine import Runtime, utcnow
from paceline.storage.case_repo import CaseRepository, audit_transition, aware, iso
from paceline.storage.runtime_models import CaseRow, ReviewTaskRow, StepRunRow

ESCALATED = ":escalated"


def review_doc(row: ReviewTaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "case_id": row.case_id,
        "workflow": row.workflow,
        "queue": row.queue,
        "kind": row.kind,
        "status": row.status,
        "shown": row.shown,
        "assignee": row.assignee,
        "lease_expires_at": iso(row.lease_expires_at),
        "due_at": iso(row.due_at),
        "escalated": row.escalated,
        "decision": row.decision,
        "reason_code": row.reason_code,
        "comment": row.comment,
        "output": row.output,
        "patch": row.patch,
        "time_spent_ms": row.time_spent_ms,
        "feedback": row.feedback,
        "created_at": iso(row.created_at),
        "decided_at": iso(row.decided_at),
    }


def _validate(decision: str, reason_code: str | None, output: Any) -> Decision:
    try:
        chosen = Decision(decision)
    except ValueError:
        choices = ", ".join(d.value for d in Decision)
        raise ValidationError(f"decision {decision!r} is not one of: {choices}", field="decision") from None
    if chosen is not Decision.ACCEPT:
        if not reason_code:
            raise ValidationError(
                f"a reason_code is required for {chosen.value}",
                field="reason_code",
                fix="GET /api/v1/reviews/reason-codes lists them",
            )
        if reason_code not in REASON_CODES:
            raise ValidationError(
                f"unknown reason_code {reason_code!r}",
                field="reason_code",
                fix=f"use one of: {', '.join(REASON_CODES)}",
            )
    if chosen in (Decision.EDIT, Decision.OVERRIDE) and not isinstance(output, dict):
        raise ValidationError(f"{chosen.value} needs the corrected output as an object", field="output")
    return chosen


class ReviewQueue:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def items(
        self, status: str | None = "open", queue: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        with self.runtime.store.read() as session:
            return [review_doc(r) for r in CaseRepository(session).reviews(status, queue, limit)]

    def get(self, review_id: int) -> dict[str, Any]:
        with self.runtime.store.read() as session:
            row = CaseRepository(session).review(review_id)
            if row is None:
                raise NotFound(f"no review {review_id}", fix="GET /api/v1/reviews?status=open")
            return review_doc(row)

    def claim(self, who: str, queues: list[str], lease_minutes: float = 10.0) -> dict[str, Any] | None:
        """The next item of *queues* for *who*, leased so no one else works on it meanwhile."""
        with self.runtime.store.write(f"user:{who}") as session:
            row = CaseRepository(session).claim_review(
                queues, who, utcnow(), timedelta(minutes=lease_minutes)
            )
            if row is not None:  # a sensitive use case's item: certified reviewers only (rolls back)
                privacy.check_gate(self.runtime.store, session, who, row.workflow)
            return None if row is None else review_doc(row)

    def decide(
        self,
        review_id: int,
        who: str,
        decision: str,
        output: Any = None,
        reason_code: str | None = None,
        comment: str = "",
        time_spent_ms: int | None = None,
    ) -> dict[str, Any]:
        chosen = _validate(decision, reason_code, output)
        now = utcnow()
        with self.runtime.store.write(f"user:{who}") as session:
            repo = CaseRepository(session)
            row = repo.review(review_id, lock=True)  # a racing duplicate waits, then sees "done"
            if row is None:
                raise NotFound(f"no review {review_id}")
            privacy.check_gate(self.runtime.store, session, who, row.workflow)
            if row.status == "done":
                if (
                    row.decision == chosen.value
                    and row.reason_code == reason_code
                    and (output is None or row.output == output)
                ):
                    return review_doc(row)  # the same decision again: idempotent
                raise Conflict(
                    f"review {review_id} was decided already ({row.decision})", fix="open a new review"
                )
            lease = row.lease_expires_at
            if row.status == "claimed" and row.assignee != who and lease is not None and _later(lease, now):
                raise Conflict(f"review {review_id} is claimed by {row.assignee} until {lease.isoformat()}")
            suggested = dict(row.shown["suggestion"]["output"])  # type: ignore[index]
            if row.shown.get("human_only") and chosen is Decision.ACCEPT:
                raise ValidationError(
                    "no suggestion was shown (the AI is switched off here): there is nothing to accept",
                    field="decision",
                    fix="give the outcome as an override with the output, or reject",
                )
            if chosen is Decision.ESCALATE:
                row.queue = row.queue if row.queue.endswith(ESCALATED) else row.queue + ESCALATED
                row.status, row.assignee, row.lease_expires_at, row.escalated = (
                    "open",
                    None,
                    None,
                    row.escalated + 1,
                )
                row.comment = comment
                return review_doc(row)
            final = (
                suggested if chosen is Decision.ACCEPT else (None if chosen is Decision.REJECT else output)
            )
            row.status, row.decision, row.reason_code, row.comment = (
                "done",
                chosen.value,
                reason_code,
                comment,
            )
            row.output, row.assignee, row.decided_at, row.time_spent_ms = final, who, now, time_spent_ms
            row.patch = jsonpatch.make_patch(suggested, final).patch if final is not None else None
            if row.kind == "review":
                self._resume(session, row, final, chosen, who, now)
            return review_doc(row)

    def _resume(
        self, session: Any, row: ReviewTaskRow, final: Any, chosen: Decision, who: str, now: Any
    ) -> None:
        case = session.get(CaseRow, row.case_id)
        if case is None or case.status != CaseStatus.AWAITING_REVIEW.value:
            raise Conflict(f"case {row.case_id} is not waiting for review")
        key = idempotency_key(case.id, Step.REVIEW.value, case.workflow_version)
        session.add(
            StepRunRow(
                case_id=case.id,
                step=Step.REVIEW.value,
                idempotency_key=key,
                status="succeeded",
                output={"final": final, "decision": chosen.value, "by": who},
                worker=f"user:{who}",
                duration_ms=float(row.time_spent_ms or 0),
                finished_at=now,
            )
        )
        result = session.execute(
            update(CaseRow)
            .where(
                CaseRow.id == case.id,
                CaseRow.version == case.version,
                CaseRow.status == CaseStatus.AWAITING_REVIEW.value,
            )
            .values(
                status=CaseStatus.RUNNING.value,
                step=Step.ACT.value,
                version=case.version + 1,
                next_run_at=now,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise Conflict(f"case {case.id} changed meanwhile; try again")
        audit_transition(session, case.id, {"status": CaseStatus.RUNNING.value, "step": Step.ACT.value})

    def feedback(self, review_id: int, who: str, thumbs: str, comment: str = "") -> dict[str, Any]:
        """In-app feedback on a suggestion (thumbs up or down and a comment)."""
        if thumbs not in ("up", "down"):
            raise ValidationError("thumbs must be up or down", field="thumbs")
        with self.runtime.store.write(f"user:{who}") as session:
            row = CaseRepository(session).review(review_id)
            if row is None:
                raise NotFound(f"no review {review_id}")
            privacy.check_gate(self.runtime.store, session, who, row.workflow)
            row.feedback = {
                "thumbs": thumbs,
                "comment": comment[:2000],
                "by": who,
                "at": utcnow().isoformat(),
            }
            return review_doc(row)

    def sweep(self) -> dict[str, int]:
        """Expired review leases back to the queue; overdue items escalated once."""
        now = utcnow()
        with self.runtime.store.write("system:sweeper") as session:
            repo = CaseRepository(session)
            released = repo.release_expired_reviews(now)
            overdue = repo.overdue_reviews(now)
            for row in overdue:
                row.queue = row.queue if row.queue.endswith(ESCALATED) else row.queue + ESCALATED
                row.escalated += 1
        return {"released": released, "escalated": len(overdue)}


def _later(a: datetime, b: datetime) -> bool:
    return aware(a) > aware(b)
