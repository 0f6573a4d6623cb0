"""The governance API under /api/v1: frameworks and controls, control status per use case,
evidence documents, audit findings, management reviews and the compliance & risk score.

Handlers open the library's governance service for the principal and let it decide:
``governance.manage`` changes frameworks, findings and reviews; ``evidence.upload`` uploads
documents; reading needs ``workspace.read`` on the use case (the auditor reads everything).
Errors come back in the one error shape: 404 for an unknown framework, control, use case or
document, 422 naming the field (for an import, the path inside the file), 403 for a missing role.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from paceline.domain.roles import Action
from paceline.errors import ValidationError
from paceline.services.access import Principal
from paceline.services.governance import builtin_catalogues
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import ErrorOut

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "No such framework, control, use case, document or finding"},
}
router = APIRouter(prefix="/api/v1", tags=["governance"], responses=RESPONSES)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]

FINDING_EXAMPLE = {
    "title": "Reviewer training not refreshed",
    "severity": "medium",
    "owner": "head-of-people",
    "use_case": "claims-triage",
    "control": "eu-ai-act-deployer/Art. 4",
    "due": "2026-04-30",
    "actions": [{"action": "Schedule the refresher", "owner": "people-team", "due": "2026-04-15"}],
}
REVIEW_EXAMPLE = {
    "held_on": "2026-03-02",
    "title": "Q1 AI steering review",
    "attendees": ["cio", "ciso", "head-of-people"],
    "decisions": "Adopt ISO/IEC 42001; scale claims triage",
    "actions": [{"action": "Publish the AI policy", "owner": "cio", "due": "2026-03-31"}],
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdoptIn(Strict):
    catalogue: str = Field(description="A built-in catalogue: GET /api/v1/frameworks/catalogues")


class ImportIn(Strict):
    text: str = Field(description="The framework as YAML or JSON text (docs/governance.md shows the format)")
    name: str = Field("api", description="A name for the file, used in error messages", max_length=200)


def _today(day: date | None) -> date:
    return day or date.today()


# --- frameworks and controls ---------------------------------------------------------------
@router.get("/frameworks", summary="The adopted and imported frameworks")
def list_frameworks(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        return {"frameworks": [f.to_dict(with_controls=False) for f in gov.frameworks(principal)]}


@router.get("/frameworks/catalogues", summary="The built-in catalogues a workspace can adopt")
def catalogues(principal: ApiPrincipal) -> dict[str, Any]:
    principal.require(Action.READ)
    return {"catalogues": sorted(builtin_catalogues())}


@router.post("/frameworks/adopt", summary="Adopt a built-in catalogue (idempotent; governance.manage)")
def adopt(request: Request, principal: ApiPrincipal, body: AdoptIn) -> dict[str, Any]:
    with workspace(request).governance(principal) as gov:
        return gov.adopt(principal, body.catalogue)


@router.post("/frameworks/import", summary="Import a firm's own framework from YAML or JSON (idempotent)")
def import_framework(request: Request, principal: ApiPrincipal, body: ImportIn) -> dict[str, Any]:
    with workspace(request).governance(principal) as gov:
        return gov.import_text(principal, body.text, body.name)


@router.get("/frameworks/{key}", summary="One framework with its controls")
def show_framework(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        return gov.framework(principal, key).to_dict()


@router.get("/controls/{framework}/{control_id:path}", summary="A control with its evidence per use case")
def show_control(
    request: Request,
    framework: str,
    control_id: str,
    principal: ApiPrincipal,
    day: Annotated[date | None, Query(description="As of this day (default today)")] = None,
) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        return gov.control_view(principal, f"{framework}/{control_id}", _today(day))


@router.get("/use-cases/{key}/controls", summary="The applicable controls of a use case with their status")
def use_case_controls(
    request: Request, key: str, principal: ApiPrincipal, day: Annotated[date | None, Query()] = None
) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        statuses = gov.statuses(principal, key, _today(day))
        return {
            "use_case": key,
            "summary": gov.summary(statuses),
            "controls": [s.to_dict(_today(day)) for s in statuses],
        }


# --- the score ---------------------------------------------------------------------------------
@router.get("/compliance", summary="The compliance & risk score (KPI 8) with breakdown, fixes and trend")
def compliance(
    request: Request,
    principal: ApiPrincipal,
    use_case: Annotated[str | None, Query(description="A use case; without it the program")] = None,
    weeks: Annotated[int, Query(ge=0, le=104, description="Weeks of trend")] = 12,
) -> dict[str, Any]:
    with workspace(request).compliance(principal) as comp:
        return comp.score(principal, use_case, date.today(), weeks)


# --- evidence documents ------------------------------------------------------------------------
@router.get("/evidence", summary="Uploaded evidence documents the principal may read")
def list_documents(
    request: Request, principal: ApiPrincipal, use_case: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        return {"documents": gov.documents(principal, use_case)}


@router.post("/evidence", status_code=201, summary="Upload a document as evidence (evidence.upload)")
async def upload(
    request: Request,
    principal: ApiPrincipal,
    file: Annotated[UploadFile, File(description="The document")],
    title: Annotated[str, Form()],
    owner: Annotated[str, Form()],
    dated: Annotated[str, Form(description="YYYY-MM-DD: when the document was produced")],
    use_case: Annotated[str | None, Form()] = None,
    control: Annotated[str | None, Form(description="framework/id, e.g. iso-42001/A.2.2")] = None,
    expires: Annotated[str | None, Form(description="YYYY-MM-DD; empty: the control's max age")] = None,
) -> dict[str, Any]:
    ws = workspace(request)
    content = await file.read(ws.settings.evidence_max_bytes + 1)
    with ws.governance(principal) as gov:
        return gov.upload(
            principal,
            content,
            file.filename or "document",
            title,
            owner,
            dated,
            use_case or None,
            control or None,
            expires or None,
        )


@router.get("/evidence/{doc_id}/file", summary="Download an evidence document (its hash is checked)")
def download(request: Request, doc_id: int, principal: ApiPrincipal) -> FileResponse:
    with workspace(request).governance(principal, readonly=True) as gov:
        doc, path = gov.document(principal, doc_id)
    return FileResponse(path, filename=doc["filename"], media_type="application/octet-stream")


# --- findings and management reviews --------------------------------------------------------------
@router.get("/findings", summary="Audit findings")
def list_findings(
    request: Request, principal: ApiPrincipal, use_case: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        return {"findings": gov.findings(principal, use_case)}


@router.post("/findings", status_code=201, summary="Record an internal-audit finding (governance.manage)")
def raise_finding(
    request: Request,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[FINDING_EXAMPLE])],
) -> dict[str, Any]:
    with workspace(request).governance(principal) as gov:
        return gov.raise_finding(principal, body)


@router.patch(
    "/findings/{finding_id}", summary="Add or complete actions, change owner or due, close or reopen"
)
def update_finding(
    request: Request,
    finding_id: int,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[{"done": [0], "closed_on": "2026-04-20"}])],
) -> dict[str, Any]:
    with workspace(request).governance(principal) as gov:
        return gov.update_finding(principal, finding_id, body)


@router.get("/management-reviews", summary="Management reviews with their actions")
def list_reviews(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        return {"management_reviews": gov.management_reviews(principal)}


@router.post("/management-reviews", status_code=201, summary="Record a management review (governance.manage)")
def record_review(
    request: Request,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[REVIEW_EXAMPLE])],
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("the body must be an object", field="body")
    with workspace(request).governance(principal) as gov:
        return gov.record_management_review(principal, body)


# --- retention ---------------------------------------------------------------------------------
class RetentionIn(Strict):
    days: int = Field(description="Keep rows this many days (at least the table's floor)")


class RetentionRunIn(Strict):
    dry_run: bool = Field(False, description="Count what would be deleted; delete nothing")


@router.get("/retention", summary="Tables with a retention job, their floors and policies")
def retention_tables(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).retention(principal, readonly=True) as ret:
        return {"tables": ret.tables(principal)}


@router.put("/retention/{table}", summary="Set a table's retention policy (governance.manage)")
def set_retention(request: Request, table: str, principal: ApiPrincipal, body: RetentionIn) -> dict[str, Any]:
    with workspace(request).retention(principal) as ret:
        return ret.set_policy(principal, table, body.days)


@router.post("/retention/run", summary="Run the deletion job now; records what was deleted when")
def run_retention(request: Request, principal: ApiPrincipal, body: RetentionRunIn) -> dict[str, Any]:
    with workspace(request).retention(principal) as ret:
        return {"dry_run": body.dry_run, "runs": ret.run(principal, datetime.now(UTC), body.dry_run)}


@router.get("/retention/runs", summary="Past deletion runs, newest first")
def retention_runs(
    request: Request, principal: ApiPrincipal, limit: Annotated[int, Query(ge=1, le=10_000)] = 200
) -> dict[str, Any]:
    with workspace(request).retention(principal, readonly=True) as ret:
        return {"runs": ret.runs(principal, limit)}


# --- notices -----------------------------------------------------------------------------------
NoticeKind = Annotated[Literal["worker", "data-protection"], Query(description="worker or data-protection")]


@router.get("/use-cases/{key}/notice", summary="The worker-information notice or data-protection note")
def show_notice(
    request: Request, key: str, principal: ApiPrincipal, kind: NoticeKind = "worker"
) -> dict[str, Any]:
    with workspace(request).governance(principal, readonly=True) as gov:
        doc = gov.notice(principal, key, kind)
        return {
            "use_case": key,
            "kind": kind,
            "title": doc.title,
            "markdown": doc.to_markdown(),
            "issued": [n for n in gov.repo.notices(key) if n["kind"] == kind],
        }


@router.post(
    "/use-cases/{key}/notice/issue", status_code=201, summary="Record that the notice was issued (evidence)"
)
def issue_notice(
    request: Request, key: str, principal: ApiPrincipal, kind: NoticeKind = "worker"
) -> dict[str, Any]:
    with workspace(request).governance(principal) as gov:
        return gov.issue_notice(principal, key, kind)
