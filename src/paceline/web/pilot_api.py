"""The pilot API under /api/v1/pilots: record a plan, read it, plan its power, judge it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from paceline.services.access import Principal
from paceline.services.pilots import spec_from_dict
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace

router = APIRouter(prefix="/api/v1/pilots", tags=["pilots"], responses=ERRORS)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]

EXAMPLE = {
    "name": "claims-rct",
    "use_case": "claims-triage",
    "design": "randomised",
    "hypothesis": "Pre-filled claims raise adjusters' output per day",
    "treatment_cohorts": ["pilot"],
    "control_cohorts": ["control"],
    "start": "2025-04-01",
    "end": "2025-06-30",
    "primary": [{"kpi": "productivity", "target_effect_pct": 5}],
    "guardrails": [{"kpi": "error_rate", "margin_pct": 10}],
    "acceptance": [{"kpi": "esat", "minimum": 3.5}],
}


@router.post("", status_code=201, summary="Record a pilot's plan (needs pilot.manage on its use case)")
def create(
    request: Request, principal: ApiPrincipal, body: Annotated[dict[str, Any], Body(examples=[EXAMPLE])]
) -> dict[str, Any]:
    spec = spec_from_dict(body)
    with workspace(request).pilots(principal) as pilots:
        return pilots.create(principal, spec).to_dict()


@router.get("", summary="The pilots the principal may read, newest first")
def list_pilots(
    request: Request, principal: ApiPrincipal, use_case: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    with workspace(request).pilots(readonly=True) as pilots:
        return {"pilots": [p.to_dict() for p in pilots.list(principal, use_case)]}


@router.get("/{name}", summary="One pilot's plan and status")
def show(request: Request, name: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).pilots(readonly=True) as pilots:
        return pilots.get(principal, name).to_dict()


@router.get("/{name}/plan", summary="What the pilot can detect: MDE, power, weeks needed")
def plan(
    request: Request, name: str, principal: ApiPrincipal, power: Annotated[float, Query(ge=0.5, lt=1)] = 0.8
) -> dict[str, Any]:
    return workspace(request).plan_pilot(name, power, who=principal)


@router.post("/{name}/evaluate", summary="Judge the pilot on the warehouse's data (records the verdict)")
def evaluate(request: Request, name: str, principal: ApiPrincipal) -> dict[str, Any]:
    return workspace(request).evaluate_recorded_pilot(name, who=principal)
