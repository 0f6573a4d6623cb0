"""Lifecycle pages: the ranked portfolio with its value-feasibility chart, the intake form, and the
deployment playbook of a use case (HTML, or Markdown to download). The use-case page itself is in
:mod:`paceline.web.usecase_pages`.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from paceline.domain.ai_act import AI_ACT_QUESTIONS, Category
from paceline.domain.portfolio import FEASIBILITY_QUESTIONS, READINESS_QUESTIONS
from paceline.domain.roles import Action
from paceline.domain.usecases import DataCategory, ValueInputs
from paceline.errors import PacelineError, ValidationError
from paceline.services.access import Principal
from paceline.services.playbook import render_markdown, sections
from paceline.web import charts
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.nav import NAV, NavItem
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
NAV.insert(1, NavItem("Portfolio", "/portfolio", Action.READ))

TEXT_FIELDS = ("key", "title", "owner", "business_process", "department", "geography", "goal")
MULTI_FIELDS = ("data_categories", "ai_act")
VALUE_LABELS = {
    "volume_per_year": "Tasks a year",
    "minutes_per_task": "Minutes per task today",
    "cost_per_hour": "Cost of an hour of work",
    "uplift_low": "Share of time saved, low",
    "uplift_expected": "Share of time saved, expected",
    "uplift_high": "Share of time saved, high",
    "error_rate": "Share of tasks with an error today",
    "error_cost": "Cost of one error",
    "error_reduction": "Share of errors the AI removes",
    "expected_adoption": "Share of people expected to use it",
    "annual_cost": "Running cost a year",
}
SCALE = ("not at all", "a little", "partly", "mostly", "fully")
ACT_GROUPS = (
    ("Prohibited practices (Art. 5)", Category.PROHIBITED),
    ("High-risk areas (Annex III)", Category.HIGH_RISK),
    ("Transparency cases (Art. 50)", Category.TRANSPARENCY),
    ("The Art. 6(3) derogation", Category.MODIFIER),
)


def money(amount: float | None) -> str:
    """A whole amount with thousands separators, or a dash."""
    return "\u2013" if amount is None else f"{amount:,.0f}"


async def form_data(request: Request) -> FormData:
    """The parsed form of a POST (for forms with many or repeated fields)."""
    return await request.form()


@router.get("/portfolio")
def portfolio(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.READ)
    with workspace(request).program(principal, readonly=True) as program:
        cases = program.portfolio(principal)
    context = {
        "cases": cases,
        "chart": charts.value_feasibility(cases),
        "can_create": principal.can(Action.USECASE_MANAGE),
        "money": money,
    }
    return render(request, "portfolio.html", context)


def _form_context(values: dict[str, Any], error: PacelineError | None = None) -> dict[str, Any]:
    message = None
    if error is not None:
        fix = error.details.get("fix")
        message = error.message + (f" ({fix})" if fix and fix not in error.message else "")
    return {
        "values": values,
        "error": message,
        "error_field": error.details.get("field") if error is not None else None,
        "categories": [c.value for c in DataCategory],
        "value_fields": [(f.name, VALUE_LABELS.get(f.name, f.name)) for f in fields(ValueInputs)],
        "readiness": READINESS_QUESTIONS,
        "feasibility": FEASIBILITY_QUESTIONS,
        "scale": SCALE,
        "ai_act": [(title, [q for q in AI_ACT_QUESTIONS if q.category is c]) for title, c in ACT_GROUPS],
    }


@router.get("/portfolio/new")
def usecase_new(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.USECASE_MANAGE)
    return render(request, "usecase_new.html", _form_context({}))


def _whole(values: dict[str, Any], name: str, default: int) -> int:
    text = str(values.get(name) or "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValidationError(
            f"{name} {text!r} is not a whole number", field=name, fix="give a whole number"
        ) from None


def intake_document(values: dict[str, Any]) -> dict[str, Any]:
    """The use-case document of the intake form's *values* (checked by the library on create)."""
    doc: dict[str, Any] = {name: str(values.get(name, "")).strip() for name in TEXT_FIELDS}
    doc["data_categories"] = values.get("data_categories", [])
    doc["ai_act"] = values.get("ai_act", [])
    doc["people_affected"] = _whole(values, "people_affected", 0)
    doc["risk_likelihood"] = _whole(values, "risk_likelihood", 3)
    doc["risk_impact"] = _whole(values, "risk_impact", 3)
    doc["value"] = {
        f.name: text for f in fields(ValueInputs) if (text := str(values.get(f"value.{f.name}", "")).strip())
    }
    for group, questions in (("readiness", READINESS_QUESTIONS), ("feasibility", FEASIBILITY_QUESTIONS)):
        doc[group] = {
            q.key: text for q in questions if (text := str(values.get(f"{group}.{q.key}", "")).strip())
        }
    return doc


@router.post("/portfolio/new")
def usecase_create(
    request: Request,
    principal: PagePrincipal,
    _session: Annotated[Session, Depends(form_session)],
    form: Annotated[FormData, Depends(form_data)],
) -> Response:
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k not in MULTI_FIELDS}
    values |= {k: [str(v) for v in form.getlist(k)] for k in MULTI_FIELDS}
    try:
        principal.require(Action.USECASE_MANAGE)
        doc = intake_document(values)
        with workspace(request).lifecycle(principal) as lc:
            uc = lc.create(principal, doc)
    except PacelineError as exc:
        return render(request, "usecase_new.html", _form_context(values, exc), status_code=exc.http_status)
    return RedirectResponse(f"/use-cases/{uc.key}?done=created", status_code=303)


@router.get("/use-cases/{key}/playbook")
def playbook(
    request: Request,
    key: str,
    principal: PagePrincipal,
    format: Annotated[Literal["html", "md"], Query()] = "html",
) -> Response:
    """The deployment playbook of the use case: a page, or with ``?format=md`` a Markdown file."""
    with workspace(request).program(principal, readonly=True) as program:
        page = program.page(principal, key)
    if format == "md":
        return Response(
            render_markdown(page),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="playbook-{key}.md"'},
        )
    return render(request, "playbook.html", {"book": sections(page), "key": key})
