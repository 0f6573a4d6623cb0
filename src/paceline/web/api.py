"""The JSON API under ``/api/v1`` (spec/interface.md, HTTP).

Handlers resolve the principal, let the library decide permissions
(``Principal.require``; a refusal becomes 403 in the error shape) and return
pydantic models.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from paceline.domain.roles import Action
from paceline.services.access import Principal
from paceline.web import queries
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import (
    AuditPageOut,
    AuditVerifyOut,
    ErrorOut,
    GrantOut,
    IngestsOut,
    MeOut,
    TablesOut,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or invalid credentials"},
    403: {"model": ErrorOut, "description": "The principal's roles do not allow this"},
    422: {"model": ErrorOut, "description": "Invalid parameters"},
}

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]


@router.get("/me", response_model=MeOut, summary="The authenticated principal and its roles")
def me(principal: ApiPrincipal) -> MeOut:
    roles = [GrantOut(role=g.role.value, use_case=g.use_case) for g in principal.grants]
    return MeOut(login=principal.login, kind=principal.kind, roles=roles)


@router.get("/tables", response_model=TablesOut, summary="The canonical event tables")
def tables(principal: ApiPrincipal) -> TablesOut:
    principal.require(Action.READ)
    return TablesOut(tables=queries.canonical_tables())


@router.get("/ingests", response_model=IngestsOut, summary="Recent ingest runs, newest first")
def ingests(
    request: Request, principal: ApiPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> IngestsOut:
    principal.require(Action.READ)
    return IngestsOut(ingests=queries.recent_ingests(workspace(request), limit, principal))


@router.get(
    "/audit/verify", response_model=AuditVerifyOut, response_model_exclude_none=True,
    summary="Verify the audit hash chain (200 with ok=false when it is broken)",
)
def audit_verify(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    principal.require(Action.AUDIT_VERIFY)
    return workspace(request).verify_audit().to_dict()


@router.get("/audit/entries", response_model=AuditPageOut, summary="Audit entries in chain order")
def audit_entries(
    request: Request, principal: ApiPrincipal,
    after: Annotated[int, Query(ge=0, description="Return entries with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPageOut:
    principal.require(Action.AUDIT_READ)
    rows = queries.audit_entries_after(workspace(request), after, limit + 1, principal)
    page, more = rows[:limit], len(rows) > limit
    return AuditPageOut(entries=page, next_after=page[-1].seq if more else None)
