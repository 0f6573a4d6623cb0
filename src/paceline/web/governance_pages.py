"""Compliance pages: the dashboard with the score and what to fix first, the frameworks and their
controls, a control with its evidence (and an upload form), audit findings and management reviews.
Every page reads through the governance service, so the auditor sees everything and changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from paceline.domain.roles import Action
from paceline.errors import PacelineError
from paceline.services.access import Principal
from paceline.services.governance import builtin_catalogues
from paceline.web import charts
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.nav import NAV, NavItem
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
FormSession = Annotated[Session, Depends(form_session)]


def _nav_position() -> int:
    """Right after KPIs (the score is KPI 8), else before the audit log."""
    paths = [item.path for item in NAV]
    if "/kpis" in paths:
        return paths.index("/kpis") + 1
    return paths.index("/audit") if "/audit" in paths else len(NAV)


NAV.insert(_nav_position(), NavItem("Compliance", "/compliance", Action.READ))


def _trend_chart(trend: list[dict[str, Any]]) -> str:
    return charts.sparkline(
        [{"week": p["day"], "value": p["value"], "suppressed": p["value"] is None} for p in trend]
    )


@router.get("/compliance")
def dashboard(
    request: Request, principal: PagePrincipal, use_case: Annotated[str | None, Query()] = None
) -> Response:
    """The score of the program (global grants) or of one use case, with the table of use cases."""
    principal.require(Action.READ, use_case)
    ws = workspace(request)
    today = date.today()
    with ws.compliance(principal) as comp:
        cases = comp.gov.readable_use_cases(principal)
        selected = use_case if use_case or not principal.is_global else None
        if selected is None and not principal.is_global:
            selected = cases[0].key if cases else None
        doc = comp.score(principal, selected, today) if (selected or principal.is_global) else None
        rows = []
        for uc in cases:
            s = comp.current(principal, uc.key, today)
            rows.append(
                {
                    "key": uc.key,
                    "title": uc.title,
                    "phase": int(uc.phase),
                    "value": s.value,
                    "status": s.status,
                }
            )
    context = {
        "doc": doc,
        "selected": selected,
        "rows": rows,
        "chart": _trend_chart(doc["trend"]) if doc else None,
        "can_manage": principal.can(Action.GOVERNANCE_MANAGE),
    }
    return render(request, "compliance.html", context)


@router.get("/compliance/frameworks")
def frameworks(request: Request, principal: PagePrincipal, done: str | None = None) -> Response:
    with workspace(request).governance(principal, readonly=True) as gov:
        adopted = gov.frameworks(principal)
    keys = {f.key for f in adopted}
    context = {
        "frameworks": adopted,
        "catalogues": [k for k in builtin_catalogues() if k not in keys],
        "can_manage": principal.can(Action.GOVERNANCE_MANAGE),
        "done": done,
    }
    return render(request, "compliance_frameworks.html", context)


@router.post("/compliance/frameworks/adopt")
def adopt(
    request: Request,
    principal: PagePrincipal,
    _session: FormSession,
    catalogue: Annotated[str, Form()],
) -> Response:
    with workspace(request).governance(principal) as gov:
        gov.adopt(principal, catalogue)
    return RedirectResponse(f"/compliance/frameworks/{catalogue}?done=adopted", status_code=303)


@router.get("/compliance/frameworks/{key}")
def framework(request: Request, key: str, principal: PagePrincipal, done: str | None = None) -> Response:
    with workspace(request).governance(principal, readonly=True) as gov:
        fw = gov.framework(principal, key)
    groups: dict[str, list[Any]] = {}
    for c in fw.controls:
        groups.setdefault(c.group or "Controls", []).append(c)
    return render(request, "compliance_framework.html", {"fw": fw, "groups": groups, "done": done})


def _control_context(request: Request, principal: Principal, ref: str) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        view = gov.control_view(principal, ref, date.today())
        cases = [
            u.key for u in gov.readable_use_cases(principal) if principal.can(Action.EVIDENCE_UPLOAD, u.key)
        ]
    can_upload = principal.can(Action.EVIDENCE_UPLOAD)
    return {
        "view": view,
        "upload_cases": cases,
        "can_upload": can_upload,
        "error": None,
        "values": {},
        "done": None,
    }


@router.get("/compliance/controls/{framework}/{control_id:path}")
def control(
    request: Request, framework: str, control_id: str, principal: PagePrincipal, done: str | None = None
) -> Response:
    context = _control_context(request, principal, f"{framework}/{control_id}") | {"done": done}
    return render(request, "compliance_control.html", context)


@router.post("/compliance/controls/{framework}/{control_id:path}")
async def upload(
    request: Request,
    framework: str,
    control_id: str,
    principal: PagePrincipal,
    _session: FormSession,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
    dated: Annotated[str, Form()] = "",
    expires: Annotated[str, Form()] = "",
    use_case: Annotated[str, Form()] = "",
) -> Response:
    ref = f"{framework}/{control_id}"
    ws = workspace(request)
    content = await file.read(ws.settings.evidence_max_bytes + 1)
    try:
        with ws.governance(principal) as gov:
            gov.upload(
                principal,
                content,
                file.filename or "document",
                title,
                owner,
                dated or date.today(),
                use_case or None,
                ref,
                expires or None,
            )
    except PacelineError as exc:
        context = _control_context(request, principal, ref) | {
            "error": exc,
            "values": {
                "title": title,
                "owner": owner,
                "dated": dated,
                "expires": expires,
                "use_case": use_case,
            },
        }
        return render(request, "compliance_control.html", context, status_code=exc.http_status)
    return RedirectResponse(f"/compliance/controls/{ref}?done=uploaded", status_code=303)


@router.get("/compliance/findings")
def findings(request: Request, principal: PagePrincipal) -> Response:
    with workspace(request).governance(principal, readonly=True) as gov:
        items = gov.findings(principal)
        reviews = gov.management_reviews(principal)
    today = date.today().isoformat()
    return render(
        request, "compliance_findings.html", {"findings": items, "reviews": reviews, "today": today}
    )


@router.get("/compliance/retention")
def retention(request: Request, principal: PagePrincipal) -> Response:
    with workspace(request).retention(principal, readonly=True) as ret:
        context = {"tables": ret.tables(principal), "runs": ret.runs(principal, 100)}
    return render(request, "compliance_retention.html", context)


@router.get("/use-cases/{key}/notice")
def notice(
    request: Request,
    key: str,
    principal: PagePrincipal,
    kind: Annotated[Literal["worker", "data-protection"], Query()] = "worker",
    format: Annotated[Literal["html", "md"], Query()] = "html",
    done: str | None = None,
) -> Response:
    """The worker-information notice or data-protection note: a page, or ``?format=md`` to download."""
    with workspace(request).governance(principal, readonly=True) as gov:
        doc = gov.notice(principal, key, kind)
        issued = [n for n in gov.repo.notices(key) if n["kind"] == kind]
    if format == "md":
        return Response(
            doc.to_markdown(),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{key}-{kind}-notice.md"'},
        )
    context = {
        "notice": doc,
        "key": key,
        "kind": kind,
        "issued": issued,
        "done": done,
        "can_issue": principal.can(Action.EVIDENCE_UPLOAD, key),
    }
    return render(request, "notice.html", context)


@router.post("/use-cases/{key}/notice")
def issue_notice(
    request: Request,
    key: str,
    principal: PagePrincipal,
    _session: FormSession,
    kind: Annotated[Literal["worker", "data-protection"], Form()] = "worker",
) -> Response:
    with workspace(request).governance(principal) as gov:
        gov.issue_notice(principal, key, kind)
    return RedirectResponse(f"/use-cases/{key}/notice?kind={kind}&done=issued", status_code=303)
