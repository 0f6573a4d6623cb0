"""The enablement API under /api/v1/enablement: curricula, learning records (xAPI), the competency
matrix, champions, team goals, frontline sessions, the change log and training to outcomes.

Handlers open the library's services for the principal and let them decide: permissions (403),
unknown records (404), bad fields (422 naming the field). A person id travels in request bodies,
never in a URL, so it does not end up in access logs.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from paceline.errors import ValidationError
from paceline.services.access import Principal
from paceline.services.training_outcomes import OUTCOME_KPIS
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import ErrorOut

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "No such course, session, champion or learner link"},
}
router = APIRouter(prefix="/api/v1/enablement", tags=["enablement"], responses=RESPONSES)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
UseCase = Annotated[str, Query(description="The use case's key, e.g. claims-triage")]

STATEMENT_EXAMPLE = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {"account": {"homePage": "https://lms.example", "name": "emp-0042"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
    "object": {"id": "https://lms.example/courses/claims-routing-workshop"},
    "result": {"score": {"scaled": 0.82}, "success": True},
    "timestamp": "2025-05-09T10:00:00Z",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordIn(Strict):
    person: str = Field(description="The person's HR id (pseudonymised on entry)")
    course: str
    verb: str = Field("completed", description="registered, attempted, completed, passed or failed")
    on: date
    score: float | None = Field(None, description="0..1")


class PersonIn(Strict):
    person: str


class PlanIn(Strict):
    use_case: str
    start: date
    until: date
    team: str = ""
    cadence: str | None = Field(None, description="weekly or monthly; default from the use case's phase")
    champion: int | None = None


# --- catalogue -----------------------------------------------------------------------------
@router.get("/catalogue", summary="Competencies, courses and curricula (learning paths with role targets)")
def catalogue(request: Request, principal: ApiPrincipal, use_case: str | None = None) -> dict[str, Any]:
    with workspace(request).enablement(readonly=True) as en:
        return en.catalogue_doc(principal, use_case)


@router.post("/competencies", summary="Add or replace a competency (training.record)")
def save_competency(
    request: Request, principal: ApiPrincipal, body: Annotated[Any, Body()]
) -> dict[str, Any]:
    with workspace(request).enablement(principal) as en:
        return en.save_competency(principal, body)


@router.post("/courses", summary="Add or replace a course (training.record)")
def save_course(request: Request, principal: ApiPrincipal, body: Annotated[Any, Body()]) -> dict[str, Any]:
    with workspace(request).enablement(principal) as en:
        return en.save_course(principal, body)


@router.post("/curricula", summary="Add or replace a curriculum (training.record)")
def save_curriculum(
    request: Request, principal: ApiPrincipal, body: Annotated[Any, Body()]
) -> dict[str, Any]:
    with workspace(request).enablement(principal) as en:
        return en.save_curriculum(principal, body)


# --- learning records ------------------------------------------------------------------------
@router.post(
    "/statements",
    summary="Load xAPI statements (a list, one statement, or an LRS page); 200 with the report",
)
def statements(
    request: Request,
    principal: ApiPrincipal,
    body: Annotated[Any, Body(examples=[[STATEMENT_EXAMPLE]])],
    source: Annotated[str, Query(max_length=40)] = "api",
) -> dict[str, Any]:
    if isinstance(body, dict) and isinstance(body.get("statements"), list):
        docs = body["statements"]
    elif isinstance(body, list):
        docs = body
    elif isinstance(body, dict):
        docs = [body]
    else:
        raise ValidationError("the body must be a statement, a list of them, or an LRS page", field="body")
    with workspace(request).enablement(principal) as en:
        return en.import_xapi(principal, docs, source).to_dict()


@router.post("/records", summary="Enter an enrolment, completion or result (training.record)")
def record(request: Request, principal: ApiPrincipal, body: RecordIn) -> dict[str, Any]:
    with workspace(request).enablement(principal) as en:
        return en.enter(principal, body.person, body.course, body.verb, body.on, body.score)


@router.get("/imports", summary="The latest learning-record imports and their counts")
def imports(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).enablement(readonly=True) as en:
        return {"imports": en.imports(principal)}


@router.get("/me", summary="My own learning: paths, courses, competencies (the linked person)")
def my_learning(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).enablement(readonly=True) as en:
        return en.my_learning(principal)


@router.post("/learners/lookup", summary="One person's learning (learning.read_individual: people/HR)")
def learner(request: Request, principal: ApiPrincipal, body: PersonIn) -> dict[str, Any]:
    with workspace(request).enablement(readonly=True) as en:
        return en.person_learning(principal, body.person)


@router.put("/links/{login}", status_code=204, summary="Link a login to a person (training.record)")
def link(request: Request, login: str, principal: ApiPrincipal, body: PersonIn) -> None:
    with workspace(request).enablement(principal) as en:
        en.link_learner(principal, login, body.person)


# --- aggregates ----------------------------------------------------------------------------
@router.get("/matrix", summary="Competency matrix by team and competency (small groups suppressed)")
def matrix(request: Request, principal: ApiPrincipal, use_case: str | None = None) -> dict[str, Any]:
    with workspace(request).enablement(readonly=True) as en:
        return en.matrix(principal, use_case)


@router.get("/outcomes", summary="Trained vs not-yet-trained people: adoption, behaviour, productivity")
def outcomes(
    request: Request,
    principal: ApiPrincipal,
    use_case: UseCase,
    kpi: Annotated[list[str] | None, Query(description=f"any of {', '.join(OUTCOME_KPIS)}")] = None,
) -> dict[str, Any]:
    return workspace(request).training_outcomes(use_case, tuple(kpi or OUTCOME_KPIS), principal)


# --- champions, goals, sessions, changes ---------------------------------------------------------
@router.get("/champions", summary="Champions of a use case, team coverage and sessions held")
def champions(request: Request, principal: ApiPrincipal, use_case: UseCase) -> dict[str, Any]:
    with workspace(request).enablement_network(readonly=True) as net:
        return net.champions(principal, use_case)


@router.post("/champions", status_code=201, summary="Name a champion (training.record)")
def add_champion(request: Request, principal: ApiPrincipal, body: Annotated[Any, Body()]) -> dict[str, Any]:
    with workspace(request).enablement_network(principal) as net:
        return net.add_champion(principal, body)


@router.delete("/champions/{champion_id}", status_code=204, summary="Retire a champion (training.record)")
def retire_champion(request: Request, champion_id: int, principal: ApiPrincipal) -> None:
    with workspace(request).enablement_network(principal) as net:
        net.retire_champion(principal, champion_id)


@router.get("/goals", summary="Team goals of a use case with progress from the KPIs")
def goals(request: Request, principal: ApiPrincipal, use_case: UseCase) -> dict[str, Any]:
    with workspace(request).enablement_network(readonly=True) as net:
        return {"use_case": use_case, "goals": net.goals(principal, use_case)}


@router.post("/goals", summary="Add or replace a team goal (training.record; never for a person)")
def save_goal(request: Request, principal: ApiPrincipal, body: Annotated[Any, Body()]) -> dict[str, Any]:
    with workspace(request).enablement_network(principal) as net:
        return net.save_goal(principal, body)


@router.get("/sessions", summary="Frontline review sessions of a use case and the feedback captured")
def sessions(request: Request, principal: ApiPrincipal, use_case: UseCase) -> dict[str, Any]:
    with workspace(request).enablement_network(readonly=True) as net:
        return net.sessions(principal, use_case)


@router.post("/sessions/plan", summary="Plan sessions: weekly up to phase 4, monthly at scale")
def plan_sessions(request: Request, principal: ApiPrincipal, body: PlanIn) -> dict[str, Any]:
    with workspace(request).enablement_network(principal) as net:
        return net.plan_sessions(
            principal, body.use_case, body.start, body.until, body.team, body.cadence, body.champion
        )


@router.post("/sessions/{session_id}/result", summary="Record a session: held with feedback, or cancelled")
def session_result(
    request: Request, session_id: int, principal: ApiPrincipal, body: Annotated[Any, Body()]
) -> dict[str, Any]:
    with workspace(request).enablement_network(principal) as net:
        return net.record_session(principal, session_id, body)


@router.get("/changes", summary="The change log: model stage and workflow flag changes, newest first")
def changes(
    request: Request, principal: ApiPrincipal, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    with workspace(request).enablement_network(readonly=True) as net:
        return {"changes": net.change_log(principal, limit)}
