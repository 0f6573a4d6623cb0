"""Pilot pages: the list, the form that records a plan, and the report with its verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from paceline.domain.kpis import KPIS
from paceline.domain.pilots import Design, parse_acceptance, parse_guardrail, parse_primary
from paceline.domain.roles import Action
from paceline.errors import PacelineError
from paceline.services.access import Principal
from paceline.services.pilots import spec_from_dict
from paceline.web import charts
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.nav import NAV, NavItem
from paceline.web.security import Session
from paceline.web.system import plotly_js
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
NAV.insert(2, NavItem("Pilots", "/pilots", Action.READ))


@router.get("/pilots")
def pilot_list(request: Request, principal: PagePrincipal) -> Response:
    with workspace(request).pilots(readonly=True) as pilots:
        records = [p.to_dict() for p in pilots.list(principal)]
    return render(
        request, "pilots.html", {"pilots": records, "can_create": principal.can(Action.PILOT_MANAGE)}
    )


def _form_context(values: dict[str, str], error: str | None = None) -> dict[str, Any]:
    return {
        "values": values,
        "error": error,
        "error_field": None,
        "designs": [d.value for d in Design],
        "kpis": list(KPIS),
    }


@router.get("/pilots/new")
def pilot_new(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.PILOT_MANAGE)
    return render(request, "pilot_new.html", _form_context({}))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


@router.post("/pilots/new")
def pilot_create(
    request: Request,
    principal: PagePrincipal,
    _session: Annotated[Session, Depends(form_session)],
    name: Annotated[str, Form()] = "",
    use_case: Annotated[str, Form()] = "",
    hypothesis: Annotated[str, Form()] = "",
    design: Annotated[str, Form()] = "randomised",
    treatment: Annotated[str, Form()] = "",
    control: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    primary: Annotated[str, Form()] = "",
    guardrails: Annotated[str, Form()] = "",
    acceptance: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "name": name,
        "use_case": use_case,
        "hypothesis": hypothesis,
        "design": design,
        "treatment": treatment,
        "control": control,
        "start": start,
        "end": end,
        "primary": primary,
        "guardrails": guardrails,
        "acceptance": acceptance,
    }
    try:
        spec = spec_from_dict(
            {
                "name": name.strip(),
                "use_case": use_case.strip(),
                "hypothesis": hypothesis,
                "design": design,
                "treatment_cohorts": _lines(treatment),
                "control_cohorts": _lines(control),
                "start": start,
                "end": end,
                "primary": [vars(parse_primary(x)) for x in _lines(primary)],
                "guardrails": [vars(parse_guardrail(x)) for x in _lines(guardrails)],
                "acceptance": [vars(parse_acceptance(x)) for x in _lines(acceptance)],
            }
        )
        with workspace(request).pilots(principal) as pilots:
            pilots.create(principal, spec)
    except PacelineError as exc:
        field = exc.details.get("field")
        message = f"{exc.message}" + (f" ({exc.details['fix']})" if exc.details.get("fix") else "")
        context = _form_context(values, message) | {"error_field": field}
        return render(request, "pilot_new.html", context, status_code=exc.http_status)
    return RedirectResponse(f"/pilots/{spec.name}", status_code=303)


def _report(request: Request, principal: Principal, name: str) -> dict[str, Any]:
    ws = workspace(request)
    with ws.pilots(readonly=True) as pilots:
        record = pilots.get(principal, name).to_dict()
    evaluation = ws.evaluate_recorded_pilot(name, who=principal)
    plan = ws.plan_pilot(name, who=principal)
    studies = [
        {
            "kpi": k["kpi"],
            "check": k["event_study"]["check"],
            "steady": k["event_study"].get("steady_state"),
            "chart": charts.event_study(k["event_study"]["weeks"], KPIS[k["kpi"]].unit),
        }
        for k in (evaluation or {}).get("kpis", [])
        if k.get("event_study", {}).get("weeks")
    ]
    return {
        "pilot": record,
        "evaluation": evaluation,
        "plan": plan,
        "studies": studies,
        "forest": charts.forest(evaluation["kpis"]) if evaluation else None,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


@router.get("/pilots/{name}")
def pilot_report(request: Request, name: str, principal: PagePrincipal) -> Response:
    return render(request, "pilot.html", _report(request, principal, name))


@router.get("/pilots/{name}/report.html")
def pilot_export(request: Request, name: str, principal: PagePrincipal) -> Response:
    """The report as one self-contained HTML file (styles and Plotly inline) to send or archive."""
    context = _report(request, principal, name) | {"plotly": plotly_js().read_text(encoding="utf-8")}
    templates = request.app.state.templates
    css = (Path(__file__).parent / "static" / "paceline.css").read_text(encoding="utf-8")
    html = templates.get_template("pilot_export.html").render({**context, "css": css})
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pilot-{name}.html"'},
    )
