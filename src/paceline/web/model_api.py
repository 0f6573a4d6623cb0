"""The model registry API under /api/v1/models, and a model's performance.

Every handler opens the registry for the principal and lets the library decide: permissions
(403: ``model.register`` on the model's use case to change it, ``model.approve`` to approve,
never one's own request), unknown models, versions or requests (404), bad fields (422,
naming the field), clashes such as a second pending request or a stale one (409). Bodies
with a fixed shape are pydantic models with extra fields refused; cards, lineage and
metrics are checked by the library.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from paceline.services.access import Principal
from paceline.services.model_registry import VersionIn
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import ErrorOut

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "No such model, version or stage request"},
    409: {"model": ErrorOut, "description": "A clash: the name exists, a request is pending or stale"},
}
router = APIRouter(prefix="/api/v1", tags=["models"], responses=RESPONSES)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
M = "/models/{model}"
V = M + "/versions/{version}"

CARD_EXAMPLE = {
    "purpose": "Route incoming claims to the right queue",
    "intended_use": "A suggestion an adjuster accepts or corrects; never an automatic decision",
    "training_data": "Claims of 2025-01 to 2025-12 with the adjusters' routing as labels",
    "evaluation": "Hold-out accuracy 0.86 on the latest 20% of claims",
    "limitations": "Unreliable for commercial lines (few examples)",
    "owners": ["claims-ml-team"],
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelIn(Strict):
    name: str
    use_case: str
    title: str = ""
    task: str = Field("multiclass", description="binary or multiclass")
    positive_label: str | None = Field(None, description="The positive class (binary models only)")


class VersionBody(Strict):
    version: str
    artifact_uri: str
    artifact_hash: str = Field(description="SHA-256 of the artifact (64 hex characters)")
    lineage: dict[str, Any] = Field(
        description="ingest_ids, files [{path, sha256}], label_exports [{path, sha256}], data_until, note"
    )
    metrics: dict[str, Any] = Field(default_factory=dict, description="Evaluation at training: name → number")
    trained_at: datetime | None = None
    card: dict[str, Any] | None = Field(None, description="The model card (default: the previous version's)")
    deprecation_date: date | None = None
    retirement_date: date | None = None


class StageIn(Strict):
    to: str = Field(description="candidate, canary, production, deprecated or retired")
    reason: str


class DecisionIn(Strict):
    note: str = ""


class DatesIn(Strict):
    deprecation_date: date | None = None
    retirement_date: date | None = None


class ScheduleIn(Strict):
    every_days: int = Field(ge=1, le=3650)
    remind_days_before: int = Field(7, ge=0)


class RetrainIn(Strict):
    reason: str
    version: str | None = None
    incident_id: int | None = Field(None, ge=1)


# --- reading ---------------------------------------------------------------------------------
@router.get("/models", summary="The models the principal may read, with their production version")
def list_models(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).models(readonly=True) as registry:
        return {"models": registry.list(principal)}


@router.get(M, summary="One model: versions (with cards), stage history, requests, schedule, reminders")
def show_model(request: Request, model: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).models(readonly=True) as registry:
        return registry.show(principal, model)


@router.get("/model-reminders", summary="Retraining, deprecation and retirement reminders due or overdue")
def reminders(
    request: Request,
    principal: ApiPrincipal,
    today: Annotated[date | None, Query(description="The day to judge on (default today)")] = None,
    ahead: Annotated[int, Query(ge=0, le=365, description="Days ahead for planned dates")] = 7,
) -> dict[str, Any]:
    day = today or date.today()
    with workspace(request).models(readonly=True) as registry:
        return {"today": day.isoformat(), "reminders": registry.reminders(principal, day, None, ahead)}


@router.get(M + "/performance", summary="Realized and estimated performance per period and segment")
def performance(
    request: Request,
    model: str,
    principal: ApiPrincipal,
    grain: Annotated[str, Query(description="day, week, month, quarter or total")] = "week",
    segment: Annotated[str | None, Query(description="use_case, model_version or features.<key>")] = None,
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    positive: Annotated[
        str | None, Query(description="The positive class (unregistered binary models)")
    ] = None,
    bins: Annotated[int, Query(ge=2, le=100)] = 10,
    exact_auc: Annotated[bool, Query(description="Also the exact AUC (needs a sort)")] = True,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "grain": grain,
        "segment": segment,
        "since": since,
        "until": until,
        "bins": bins,
        "exact_auc": exact_auc,
    }
    if positive:
        options["positive"] = positive
    return workspace(request).model_performance(model, principal, **options)


# --- changing ---------------------------------------------------------------------------------
@router.post("/models", status_code=201, summary="Register a model of a use case (needs model.register)")
def register_model(request: Request, principal: ApiPrincipal, body: ModelIn) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.register_model(
            principal, body.name, body.use_case, body.title, body.task, body.positive_label
        )


@router.post(M + "/versions", status_code=201, summary="Register a version as a candidate, with its lineage")
def register_version(
    request: Request, model: str, principal: ApiPrincipal, body: VersionBody
) -> dict[str, Any]:
    spec = VersionIn(
        body.version,
        body.artifact_uri,
        body.artifact_hash,
        body.lineage,
        body.metrics,
        body.trained_at,
        body.card,
        body.deprecation_date,
        body.retirement_date,
    )
    with workspace(request).models(principal) as registry:
        return registry.register_version(principal, model, spec)


@router.patch(V + "/card", summary="Change fields of a version's model card; returns what it still lacks")
def update_card(
    request: Request,
    model: str,
    version: str,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[CARD_EXAMPLE])],
) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.update_card(principal, model, version, body)


@router.post(
    V + "/stage", summary="Move a version, or ask for the move (canary, production need an approval)"
)
def request_stage(
    request: Request, model: str, version: str, principal: ApiPrincipal, body: StageIn
) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.request_stage(principal, model, version, body.to, body.reason)


@router.put(V + "/dates", summary="Plan a version's deprecation and retirement dates")
def set_dates(
    request: Request, model: str, version: str, principal: ApiPrincipal, body: DatesIn
) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.set_dates(principal, model, version, body.deprecation_date, body.retirement_date)


@router.post(
    M + "/requests/{request_id}/approve", summary="Approve a stage request (model.approve; not one's own)"
)
def approve(
    request: Request, model: str, request_id: int, principal: ApiPrincipal, body: DecisionIn
) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.approve(principal, request_id, body.note, model)


@router.post(M + "/requests/{request_id}/reject", summary="Reject a stage request (model.approve; a note)")
def reject(
    request: Request, model: str, request_id: int, principal: ApiPrincipal, body: DecisionIn
) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.reject(principal, request_id, body.note, model)


@router.put(M + "/schedule", summary="Set the retraining schedule (every N days from the last training)")
def set_schedule(request: Request, model: str, principal: ApiPrincipal, body: ScheduleIn) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.set_schedule(principal, model, body.every_days, body.remind_days_before)


@router.post(
    M + "/retraining-requests", status_code=201, summary="Request retraining (optionally from an incident)"
)
def request_retraining(
    request: Request, model: str, principal: ApiPrincipal, body: RetrainIn
) -> dict[str, Any]:
    with workspace(request).models(principal) as registry:
        return registry.request_retraining(principal, model, body.reason, body.version, body.incident_id)
