"""The runtime API under /api/v1: workflows, their cases, and the human-review queue.

The runtime (``Workspace.runtime``) runs the cases; this module decides who may do what with
them. Reading a workflow, a case or a review item needs ``workspace.read`` on the workflow's use
case; starting a case ``case.start``; claiming, deciding and giving feedback on a review item
``review.decide`` on its workflow's use case (a reviewer granted one use case sees and decides only
that use case's items). Bad input answers in the one error shape: an unknown workflow, case or
item 404, a bad field 422 naming it (``payload.<field>`` for the payload), a second, different
decision or an item leased to someone else 409, a missing role 403.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from paceline.domain.roles import Action
from paceline.domain.workflow import REASON_CODES, Decision, Workflow
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.runtime.engine import Runtime
from paceline.runtime.reviews import ESCALATED, ReviewQueue
from paceline.services.access import Principal
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import ErrorOut

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "No such workflow, case or review item"},
    409: {"model": ErrorOut, "description": "Decided already, or leased to another reviewer"},
}
router = APIRouter(prefix="/api/v1", tags=["runtime"], responses=RESPONSES)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]

MAX_TIME_SPENT_MS = 2_147_483_647  # the column is a 32-bit integer (about 24 days)
DUE_SOON_SHARE = 0.25  # an item is "due soon" in the last quarter of its SLA
ReviewStatus = Literal["open", "claimed", "done", "any"]

CASE_EXAMPLE = {
    "external_id": "claim-104233",
    "payload": {"amount": 120.0, "category": "travel", "description": "train to the client"},
}
DECISION_EXAMPLE = {
    "decision": "edit",
    "output": {"decision": "query"},
    "reason_code": "wrong_field",
    "comment": "The receipt is missing",
    "time_spent_ms": 41250,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(Strict):
    external_id: str = Field(description="The id in the source system; the same id twice returns one case")
    payload: dict[str, Any] = Field(description="The trigger payload: GET /api/v1/workflows/{workflow}")


class ClaimIn(Strict):
    queues: list[str] = Field(
        default_factory=list, description="Queues to take the next item from; empty: every queue you decide"
    )


class DecisionIn(Strict):
    decision: str = Field(description="accept, edit, override, reject or escalate")
    output: dict[str, Any] | None = Field(None, description="The corrected output (edit and override)")
    reason_code: str | None = Field(
        None, description="Required for every decision but accept: GET /api/v1/reviews/reason-codes"
    )
    comment: str = Field("", max_length=4000)
    time_spent_ms: int | None = Field(None, ge=0, le=MAX_TIME_SPENT_MS)


class FeedbackIn(Strict):
    thumbs: str = Field(description="up or down")
    comment: str = Field("", max_length=2000)


# --- who may see and do what ---------------------------------------------------------------
def use_case_of(runtime: Runtime, workflow: str) -> str:
    """The use case of *workflow*; ``""`` for one no longer registered (then only global grants apply)."""
    try:
        return runtime.registry.get(workflow).use_case
    except NotFound:
        return ""


def workflows(runtime: Runtime) -> list[Workflow]:
    return [runtime.registry.get(name) for name in runtime.registry.names()]


def require_on(principal: Principal, action: Action, use_case: str) -> None:
    """*action* on *use_case*; an empty use case needs a grant for every use case."""
    principal.require(action, use_case)


def decidable_queues(runtime: Runtime, principal: Principal) -> dict[str, float]:
    """The queues whose every workflow *principal* may decide, with the shortest review lease of each.

    Escalated items wait in ``<queue>:escalated`` and go to the same people. A queue shared with a
    workflow of a use case the principal may not decide is left out, so a claim never hands over
    an item the principal could not decide.
    """
    leases: dict[str, float] = {}
    refused: set[str] = set()
    for wf in workflows(runtime):
        names = (wf.queue, wf.queue + ESCALATED)
        if not principal.can(Action.REVIEW_DECIDE, wf.use_case):
            refused.update(names)
            continue
        for name in names:
            leases[name] = min(
                leases.get(name, wf.thresholds.review_lease_minutes), wf.thresholds.review_lease_minutes
            )
    return {name: minutes for name, minutes in leases.items() if name not in refused}


def sla_state(item: dict[str, Any], now: datetime | None = None) -> str:
    """``on_track``, ``due_soon`` (last quarter of the SLA), ``overdue``; decided: ``met`` or ``missed``."""
    due = datetime.fromisoformat(item["due_at"])
    if item["status"] == "done":
        decided = item.get("decided_at")
        return "met" if decided is None or datetime.fromisoformat(decided) <= due else "missed"
    now = now or datetime.now(UTC)
    if now > due:
        return "overdue"
    created = datetime.fromisoformat(item["created_at"])
    return "due_soon" if (due - now) <= (due - created) * DUE_SOON_SHARE else "on_track"


def with_sla(item: dict[str, Any], runtime: Runtime) -> dict[str, Any]:
    return {**item, "use_case": use_case_of(runtime, item["workflow"]), "sla": sla_state(item)}


def visible_reviews(
    runtime: Runtime, principal: Principal, items: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The items whose workflow's use case *principal* may read, each with its use case and SLA state."""
    shown = (with_sla(item, runtime) for item in items)
    return [item for item in shown if principal.can(Action.READ, item["use_case"])]


def review_for(runtime: Runtime, principal: Principal, review_id: int, action: Action) -> dict[str, Any]:
    """The review item *review_id*, if *principal* may do *action* on its use case (else 403)."""
    item = with_sla(ReviewQueue(runtime).get(review_id), runtime)
    require_on(principal, action, item["use_case"])
    return item


def case_for(runtime: Runtime, principal: Principal, case_id: str) -> dict[str, Any]:
    case = runtime.case(case_id)
    require_on(principal, Action.READ, use_case_of(runtime, case["workflow"]))
    return case


def claim_next(runtime: Runtime, principal: Principal, queues: list[str]) -> dict[str, Any] | None:
    """The next item of *queues* (every queue the principal decides when empty), leased to them."""
    principal.require(Action.REVIEW_DECIDE)
    known = {name for wf in workflows(runtime) for name in (wf.queue, wf.queue + ESCALATED)}
    unknown = [q for q in queues if q not in known]
    if unknown:
        raise ValidationError(
            f"no workflow has the queue {unknown[0]!r}",
            field="queues",
            fix=f"use one of: {', '.join(sorted(known)) or 'none (no workflow is registered)'}",
        )
    allowed = decidable_queues(runtime, principal)
    refused = [q for q in queues if q not in allowed]
    if refused:
        raise PermissionDenied(
            f"{principal.login} may not decide the items of queue {refused[0]!r}",
            action=Action.REVIEW_DECIDE.value,
            field="queues",
            fix=f"claim from your queues: {', '.join(sorted(allowed)) or 'none'}",
        )
    chosen = queues or sorted(allowed)
    if not chosen:
        return None
    lease = min(allowed[q] for q in chosen)
    item = ReviewQueue(runtime).claim(principal.login, chosen, lease)
    return None if item is None else with_sla(item, runtime)


def decide(runtime: Runtime, principal: Principal, review_id: int, body: DecisionIn) -> dict[str, Any]:
    review_for(runtime, principal, review_id, Action.REVIEW_DECIDE)
    require_finite(body.output, "output")
    decided = ReviewQueue(runtime).decide(
        review_id,
        principal.login,
        body.decision,
        body.output,
        body.reason_code or None,
        body.comment,
        body.time_spent_ms,
    )
    return with_sla(decided, runtime)


def require_finite(value: Any, where: str) -> None:
    """Refuse NaN and infinities (Python's JSON reader accepts them; the JSON columns may not)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{where}: {value} is not a finite number", field=where, fix="send a number")
    if isinstance(value, dict):
        for key, item in value.items():
            require_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            require_finite(item, f"{where}.{index}")


def reason_codes() -> list[dict[str, str]]:
    return [{"code": code, "label": label} for code, label in REASON_CODES.items()]


# --- workflows and cases ----------------------------------------------------------------------
@router.get("/workflows", summary="The registered workflows the principal may read")
def list_workflows(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    principal.require(Action.READ)
    runtime = workspace(request).runtime
    return {
        "workflows": [wf.describe() for wf in workflows(runtime) if principal.can(Action.READ, wf.use_case)]
    }


@router.get(
    "/workflows/{workflow}",
    summary="One workflow: its steps, payload JSON Schema, an example payload and its thresholds",
)
def show_workflow(request: Request, workflow: str, principal: ApiPrincipal) -> dict[str, Any]:
    wf = workspace(request).runtime.registry.get(workflow)
    require_on(principal, Action.READ, wf.use_case)
    return wf.describe()


@router.post(
    "/workflows/{workflow}/cases",
    status_code=201,
    summary="Start a case (201); the same external_id again returns the existing case (200)",
    responses={200: {"description": "A case with this external_id existed already: it is returned"}},
)
def start_case(
    request: Request,
    response: Response,
    workflow: str,
    principal: ApiPrincipal,
    body: Annotated[CaseIn, Body(examples=[CASE_EXAMPLE])],
) -> dict[str, Any]:
    runtime = workspace(request).runtime
    wf = runtime.registry.get(workflow)
    require_on(principal, Action.CASE_START, wf.use_case)
    require_finite(body.payload, "payload")
    case, created = runtime.start(wf.name, body.external_id, body.payload, principal.actor)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/api/v1/cases/{case['id']}"
    return case


@router.get("/cases", summary="Cases, newest first (workflow= and status= filter)")
def list_cases(
    request: Request,
    principal: ApiPrincipal,
    workflow: Annotated[str | None, Query(description="A workflow's name")] = None,
    status: Annotated[str | None, Query(description="running, awaiting_review, completed or failed")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    principal.require(Action.READ)
    runtime = workspace(request).runtime
    if workflow:
        require_on(principal, Action.READ, runtime.registry.get(workflow).use_case)
    cases = runtime.cases(workflow or None, status or None, limit)
    return {"cases": [c for c in cases if principal.can(Action.READ, use_case_of(runtime, c["workflow"]))]}


@router.get("/cases/{case_id}", summary="One case: status, steps and actions with their idempotency keys")
def show_case(request: Request, case_id: str, principal: ApiPrincipal) -> dict[str, Any]:
    return case_for(workspace(request).runtime, principal, case_id)


# --- the review queue ---------------------------------------------------------------------------
@router.get("/reviews/reason-codes", summary="The reason codes a decision other than accept must give")
def list_reason_codes(principal: ApiPrincipal) -> dict[str, Any]:
    principal.require(Action.READ)
    return {"reason_codes": reason_codes(), "decisions": [d.value for d in Decision]}


@router.get("/reviews", summary="Review items by SLA due time (status=open by default; queue= filters)")
def list_reviews(
    request: Request,
    principal: ApiPrincipal,
    status: Annotated[ReviewStatus, Query(description="open, claimed, done or any")] = "open",
    queue: Annotated[str | None, Query(description="One queue, e.g. finance or finance:escalated")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    principal.require(Action.READ)
    runtime = workspace(request).runtime
    items = ReviewQueue(runtime).items(None if status == "any" else status, queue or None, limit)
    return {"reviews": visible_reviews(runtime, principal, items)}


@router.post(
    "/reviews/claim",
    summary="Lease the next item of the queues (204 when there is none)",
    responses={204: {"description": "Nothing to claim in these queues"}},
)
def claim(
    request: Request,
    principal: ApiPrincipal,
    body: Annotated[ClaimIn, Body(examples=[{"queues": ["finance"]}])],
) -> Any:
    item = claim_next(workspace(request).runtime, principal, body.queues)
    return Response(status_code=204) if item is None else item


@router.get("/reviews/{review_id}", summary="One review item: what the reviewer is shown, and the decision")
def show_review(request: Request, review_id: int, principal: ApiPrincipal) -> dict[str, Any]:
    return review_for(workspace(request).runtime, principal, review_id, Action.READ)


@router.post(
    "/reviews/{review_id}/decision",
    summary="Decide an item; the same decision again is answered as stored, a different one is 409",
)
def post_decision(
    request: Request,
    review_id: int,
    principal: ApiPrincipal,
    body: Annotated[DecisionIn, Body(examples=[DECISION_EXAMPLE])],
) -> dict[str, Any]:
    return decide(workspace(request).runtime, principal, review_id, body)


@router.post("/reviews/{review_id}/feedback", summary="Thumbs up or down (and a comment) on a suggestion")
def post_feedback(
    request: Request,
    review_id: int,
    principal: ApiPrincipal,
    body: Annotated[FeedbackIn, Body(examples=[{"thumbs": "down", "comment": "Missed the VAT line"}])],
) -> dict[str, Any]:
    runtime = workspace(request).runtime
    review_for(runtime, principal, review_id, Action.REVIEW_DECIDE)
    return with_sla(
        ReviewQueue(runtime).feedback(review_id, principal.login, body.thumbs, body.comment), runtime
    )
