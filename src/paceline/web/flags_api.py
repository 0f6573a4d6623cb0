"""The feature-flag API under /api/v1: release canaries, kill switches and the guardrail check.

Reading flags needs ``workspace.read``; changing one, and running the guardrail check (which
may roll a canary back), is for admins and ML engineers with a program-wide grant. The flag
document is checked by the library: a bad field is a 422 naming it (``details.field``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from paceline.domain.flags import FlagKind
from paceline.domain.roles import Action
from paceline.errors import ValidationError
from paceline.runtime.flags import GuardrailMonitor, require_flag_manager
from paceline.services.access import Principal
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import ErrorOut

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "No such flag"},
}
router = APIRouter(prefix="/api/v1", tags=["flags"], responses=RESPONSES)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]

FLAG_EXAMPLE = {
    "state": "enabled",
    "variants": ["baseline", "v2"],
    "default_variant": "baseline",
    "canary": {"variant": "v2", "percent": 10},
    "targeting": [{"attribute": "tenant", "values": ["acme"], "variant": "v2"}],
    "guardrails": [{"metric": "override_rate", "max_delta": 0.1, "min_sample": 30}],
    "reason": "canary of the v2 prompt",
}


@router.get("/flags", summary="Every feature flag with its rollout, version and last change")
def list_flags(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    principal.require(Action.READ)
    return {"flags": workspace(request).runtime.flags.list()}


@router.get("/flags/{key}", summary="One feature flag")
def show_flag(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    principal.require(Action.READ)
    return workspace(request).runtime.flags.get(key)


@router.put("/flags/{key}", summary="Create or replace a flag (admin, ml-engineer); audited")
def put_flag(
    request: Request,
    key: str,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[FLAG_EXAMPLE, {"default_variant": "on"}])],
) -> dict[str, Any]:
    require_flag_manager(principal)
    return workspace(request).runtime.flags.put(key, body, principal.actor)


@router.post("/flags/{key}/guard", summary="Run a release's guardrail check now; may roll it back to 0%")
def guard_flag(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    require_flag_manager(principal)
    kind, _, workflow = key.partition(".")
    if kind != FlagKind.RELEASE.value or not workflow:
        raise ValidationError(f"{key!r} is not a release flag", field="key", fix="use release.<workflow>")
    return GuardrailMonitor(workspace(request).runtime.flags).check(workflow, actor=principal.actor)
