"""The HTML pages. Each resolves the principal, asks the library, renders a template.

Pages register themselves in :data:`paceline.web.nav.NAV`; the layout shows the
entries the principal may use.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from paceline.domain.roles import Action
from paceline.services.access import Principal
from paceline.web import queries
from paceline.web.audit_api import EXPORT_FORMATS, audit_filter, filter_query
from paceline.web.auth import page_principal, workspace
from paceline.web.templating import is_htmx, render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
HOME_INGESTS = 10
AUDIT_PAGE_ENTRIES = 50


def _grants(principal: Principal) -> list[dict[str, str | None]]:
    return [{"role": g.role.value, "use_case": g.use_case} for g in principal.grants]


@router.get("/")
def home(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.READ)
    ws = workspace(request)
    context = {
        "tables": queries.table_counts(ws, principal),
        "ingests": queries.recent_ingests(ws, HOME_INGESTS, principal),
        "grants": _grants(principal),
    }
    return render(request, "home.html", context)


def _audit_context(request: Request, principal: Principal) -> dict[str, Any]:
    where = audit_filter(request)
    entries = workspace(request).search_audit(where, AUDIT_PAGE_ENTRIES, principal)
    return {
        "entries": entries,
        "can_verify": principal.can(Action.AUDIT_VERIFY),
        "can_export": principal.can(Action.AUDIT_EXPORT),
        "check": None,
        "filters": where,
        "filter_query": filter_query(where),
        "formats": EXPORT_FORMATS,
    }


@router.get("/audit")
def audit(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.AUDIT_READ)
    return render(request, "audit.html", _audit_context(request, principal))


@router.get("/audit/verify")
def audit_verify(request: Request, principal: PagePrincipal) -> Response:
    """The chain check: a fragment for HTMX, the whole audit page without JavaScript."""
    principal.require(Action.AUDIT_VERIFY)
    check = workspace(request).verify_audit()
    if is_htmx(request):
        return render(request, "_verify_result.html", {"check": check})
    principal.require(Action.AUDIT_READ)
    context = _audit_context(request, principal) | {"check": check}
    return render(request, "audit.html", context)


@router.get("/users")
def users(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.USER_READ)
    with workspace(request).access(by=principal) as access:
        records = access.list_users(principal)
    rows = [
        {"login": u.login, "active": u.active,
         "grants": [{"role": g.role.value, "use_case": g.use_case} for g in u.grants]}
        for u in records
    ]
    return render(request, "users.html", {"users": rows})
