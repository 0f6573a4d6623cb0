"""The lifecycle API under /api/v1: the use-case inventory, its gates, records, portfolio and ROI.

Every handler opens the library's service for the principal and lets it decide: permissions
(403), unknown records (404), bad fields (422, naming the field), a blocked gate (409 with
every failing check in ``details.gate``). Request bodies with a fixed shape are pydantic
models (extra fields refused); the use case and risk documents are checked by the library.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from paceline.services.access import Principal
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import ErrorOut

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "No such use case (or record of it)"},
    409: {"model": ErrorOut, "description": "A blocked gate (details.gate lists the checks) or a clash"},
}
router = APIRouter(prefix="/api/v1", tags=["lifecycle"], responses=RESPONSES)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
UC = "/use-cases/{key}"

USE_CASE_EXAMPLE = {
    "key": "claims-triage",
    "title": "Claims triage",
    "owner": "demo-business-owner",
    "business_process": "claims intake",
    "department": "claims",
    "geography": "EU",
    "data_categories": ["personal", "financial"],
    "people_affected": 60,
    "value": {
        "volume_per_year": 120000,
        "minutes_per_task": 40,
        "cost_per_hour": 55,
        "uplift_low": 0.15,
        "uplift_expected": 0.3,
        "uplift_high": 0.4,
        "expected_adoption": 0.7,
    },
    "readiness": {"data_available": 3, "quality_measured": 2},
    "feasibility": {"users_involved": 3, "sponsor_committed": 4},
    "risk_likelihood": 3,
    "risk_impact": 3,
    "ai_act": ["interacts_with_people"],
}
RISK_EXAMPLE = {
    "key": "hallucination",
    "title": "Wrong suggestions are accepted",
    "category": "model",
    "mitigation": "Show sources; sample 5% for review",
    "owner": "ml-engineer",
    "status": "mitigating",
    "inherent_likelihood": 4,
    "inherent_impact": 3,
    "residual_likelihood": 2,
    "residual_impact": 3,
}
TRAINING_EXAMPLE = [
    {
        "record_id": "lms-1001",
        "person_id": "p1",
        "course": "claims-ai-basics",
        "use_case": "claims-triage",
        "enrolled_on": "2025-05-01",
        "completed_on": "2025-05-09",
        "score": 82,
        "pass_mark": 70,
    }
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdvanceIn(Strict):
    justification: str | None = Field(
        None, description="Only to override a blocked gate (admin, program-manager; 20+ characters)"
    )


class SendBackIn(Strict):
    justification: str


class SignoffIn(Strict):
    check: str
    note: str = ""


class DeliverableIn(Strict):
    status: str = Field(description="missing, draft, in_review or done (done needs a link)")
    owner: str = ""
    link: str = ""
    note: str = ""


class StakeholderIn(Strict):
    role: str
    person: str


class RequirementIn(Strict):
    kind: str = Field(description="latency, security or interoperability")
    title: str
    target: str
    measured: str = ""
    met: bool = False
    id: int = Field(0, ge=0, description="0 records a new requirement; an id updates that one")


class OptionIn(Strict):
    name: str
    kind: str = "vendor"
    scores: dict[str, int] = Field(default_factory=dict)
    notes: str = ""
    cost: dict[str, float] = Field(default_factory=dict)


class RiskIn(Strict):
    key: str
    title: str | None = None
    category: str | None = None
    description: str | None = None
    mitigation: str | None = None
    owner: str | None = None
    status: str | None = None
    inherent_likelihood: int | None = None
    inherent_impact: int | None = None
    residual_likelihood: int | None = None
    residual_impact: int | None = None


class GoLiveIn(Strict):
    date: date


class ReviewIn(Strict):
    actions: str = ""


class OpsFigureIn(Strict):
    metric: str = "uptime"
    value: float
    period_start: date
    period_end: date
    source: str


# --- the inventory -------------------------------------------------------------------
@router.get("/use-cases", summary="The use cases the principal may read")
def list_use_cases(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).lifecycle(readonly=True) as lc:
        return {"use_cases": [lc.view(principal, uc.key).to_dict() for uc in lc.list(principal)]}


@router.post("/use-cases", status_code=201, summary="Add a use case (needs usecase.manage)")
def create_use_case(
    request: Request,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[USE_CASE_EXAMPLE])],
) -> dict[str, Any]:
    with workspace(request).lifecycle(principal) as lc:
        uc = lc.create(principal, body)
        return lc.view(principal, uc.key).to_dict()


@router.get(UC, summary="One use case with its EU AI Act tier")
def show_use_case(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).lifecycle(readonly=True) as lc:
        return lc.view(principal, key).to_dict()


@router.patch(UC, summary="Change fields of a use case (its owner or a manager; the phase moves by gates)")
def update_use_case(
    request: Request,
    key: str,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[{"goal": "Halve the intake backlog"}])],
) -> dict[str, Any]:
    with workspace(request).lifecycle(principal) as lc:
        lc.update(principal, key, body)
        return lc.view(principal, key).to_dict()


# --- gates ---------------------------------------------------------------------------
@router.get(UC + "/gate", summary="The next gate's checks as they stand")
def gate(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).gates(principal, readonly=True) as gates:
        return gates.evaluate(principal, key).to_dict()


@router.post(UC + "/advance", summary="Pass the gate; 409 lists the failing checks (override: justification)")
def advance(
    request: Request, key: str, principal: ApiPrincipal, body: Annotated[AdvanceIn | None, Body()] = None
) -> dict[str, Any]:
    with workspace(request).gates(principal) as gates:
        return gates.advance(principal, key, body.justification if body else None)


@router.post(UC + "/send-back", summary="Return the use case to the previous phase (needs a justification)")
def send_back(request: Request, key: str, principal: ApiPrincipal, body: SendBackIn) -> dict[str, Any]:
    with workspace(request).gates(principal) as gates:
        return gates.send_back(principal, key, body.justification)


@router.get(UC + "/history", summary="The gate transitions, oldest first, with overrides and justifications")
def history(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).gates(principal, readonly=True) as gates:
        return {"history": gates.history(principal, key)}


# --- sign-offs, deliverables, stakeholders, requirements --------------------------------
@router.post(UC + "/signoffs", status_code=201, summary="Sign off a checkpoint (only its roles or an admin)")
def sign_off(request: Request, key: str, principal: ApiPrincipal, body: SignoffIn) -> dict[str, Any]:
    with workspace(request).lifecycle(principal) as lc:
        return vars(lc.sign_off(principal, key, body.check, body.note))


@router.delete(UC + "/signoffs/{check}", status_code=204, summary="Withdraw a sign-off")
def revoke_sign_off(request: Request, key: str, check: str, principal: ApiPrincipal) -> Response:
    with workspace(request).lifecycle(principal) as lc:
        lc.revoke_sign_off(principal, key, check)
    return Response(status_code=204)


@router.post(UC + "/deliverables/{deliverable}", summary="Record a document deliverable's status")
def set_deliverable(
    request: Request, key: str, deliverable: str, principal: ApiPrincipal, body: DeliverableIn
) -> dict[str, Any]:
    with workspace(request).lifecycle(principal) as lc:
        lc.set_deliverable(principal, key, deliverable, body.status, body.owner, body.link, body.note)
        return vars(lc.repo.deliverables(key)[deliverable])


@router.post(UC + "/stakeholders", status_code=201, summary="Name a person for a role (stakeholder map)")
def add_stakeholder(
    request: Request, key: str, principal: ApiPrincipal, body: StakeholderIn
) -> dict[str, Any]:
    with workspace(request).lifecycle(principal) as lc:
        lc.assign(principal, key, body.role, body.person)
        return {"stakeholders": {role: list(people) for role, people in lc.repo.stakeholders(key).items()}}


@router.post(UC + "/requirements", summary="Record an architecture requirement (or update one by id)")
def record_requirement(
    request: Request, key: str, principal: ApiPrincipal, body: RequirementIn
) -> dict[str, Any]:
    with workspace(request).lifecycle(principal) as lc:
        req = lc.record_requirement(
            principal, key, body.kind, body.title, body.target, body.measured, body.met, body.id
        )
        return vars(req)


# --- technology options and risks ----------------------------------------------------------
@router.get(UC + "/options", summary="The assessed technology options, ranked, with their annual cost")
def options(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).program(principal, readonly=True) as program:
        return {"options": program.options(principal, key)}


@router.post(
    UC + "/options", summary="Assess an option (scores 1..5 per criterion, cost model); replaces by name"
)
def save_option(request: Request, key: str, principal: ApiPrincipal, body: OptionIn) -> dict[str, Any]:
    with workspace(request).program(principal) as program:
        return {"options": program.save_option(principal, key, body.model_dump())}


@router.post(
    UC + "/options/{name}/select", summary="Select an option; its annual cost becomes the running cost"
)
def select_option(request: Request, key: str, name: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).program(principal) as program:
        return program.select_option(principal, key, name)


@router.get(UC + "/risks", summary="The risk register with its summary")
def risks(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).program(principal, readonly=True) as program:
        return program.risks(principal, key)


@router.post(UC + "/risks", summary="Add a risk or change one (by key; omitted fields keep their value)")
def save_risk(
    request: Request,
    key: str,
    principal: ApiPrincipal,
    body: Annotated[RiskIn, Body(examples=[RISK_EXAMPLE])],
) -> dict[str, Any]:
    with workspace(request).program(principal) as program:
        return program.save_risk(principal, key, body.model_dump(exclude_none=True))


# --- go-live, reviews, ROI, operations ------------------------------------------------------
@router.post(UC + "/go-live", summary="Record the go-live date and schedule the 30/60/90-day reviews")
def go_live(request: Request, key: str, principal: ApiPrincipal, body: GoLiveIn) -> dict[str, Any]:
    with workspace(request).program(principal) as program:
        return {"go_live": body.date.isoformat(), "reviews": program.go_live(principal, key, body.date)}


@router.get(UC + "/reviews", summary="The scheduled and completed post-deployment reviews")
def reviews(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).program(principal, readonly=True) as program:
        program.records.get(principal, key)
        return {"reviews": program.repo.reviews(key)}


@router.post(UC + "/reviews/{kind}", summary="Complete a review: KPIs against the pilot's targets")
def complete_review(
    request: Request,
    key: str,
    kind: str,
    principal: ApiPrincipal,
    body: Annotated[ReviewIn | None, Body()] = None,
) -> dict[str, Any]:
    with workspace(request).program(principal) as program:
        return program.complete_review(principal, key, kind, body.actions if body else "")


@router.get(UC + "/roi", summary="The use case's ROI by month with its totals")
def roi(request: Request, key: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).program(principal, readonly=True) as program:
        return program.roi(principal, key)


@router.post(UC + "/ops-figures", status_code=201, summary="Record an operations figure (uptime share)")
def ops_figure(request: Request, key: str, principal: ApiPrincipal, body: OpsFigureIn) -> dict[str, Any]:
    with workspace(request).lifecycle(principal) as lc:
        lc.record_ops_figure(
            principal, key, body.metric, body.value, body.period_start, body.period_end, body.source
        )
        return {"ops_figures": lc.repo.ops_figures(key)}


# --- program-wide ------------------------------------------------------------------------
@router.get("/portfolio", summary="The prioritised use-case list with each business case")
def portfolio(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).program(principal, readonly=True) as program:
        return {"use_cases": program.portfolio(principal)}


@router.get("/roi", summary="The program's ROI roll-up: per use case, in total, and whether it grows")
def program_roi(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).program(principal, readonly=True) as program:
        return program.program_roi(principal)


@router.post(
    "/training-records",
    summary="Load learning records; 200 with the report (bad rows: quarantined and problems)",
)
def training_records(
    request: Request,
    principal: ApiPrincipal,
    rows: Annotated[list[dict[str, Any]], Body(examples=[TRAINING_EXAMPLE])],
    source: Annotated[str, Query(max_length=40)] = "api",
) -> dict[str, Any]:
    return workspace(request).record_training(rows, source, principal).to_dict()
