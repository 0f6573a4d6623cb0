"""The use-case page: phase timeline, the gate checklist with its buttons, sign-offs, records,
business case, EU AI Act tier, ROI; and the forms that change them.

Each form POSTs to its own route (CSRF-checked), calls the library and redirects (303) back
to the page with a short message; a refusal re-renders the page with the message, the field
named and the error's status (a blocked gate: 409 with the failing checks highlighted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from paceline.domain.phases import DELIVERABLES, DeliverableStatus, RequirementKind
from paceline.domain.reviews import ReviewKind
from paceline.domain.risks import RiskStatus
from paceline.domain.roles import Action, Role
from paceline.domain.usecases import Phase
from paceline.errors import PacelineError, ValidationError
from paceline.services.access import Principal
from paceline.services.gate_service import MIN_JUSTIFICATION
from paceline.services.lifecycle import signing_role
from paceline.services.parsing import parse_date
from paceline.web import charts
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.lifecycle_pages import money
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
FormSession = Annotated[Session, Depends(form_session)]
Text = Annotated[str, Form()]

DONE = {
    "created": "The use case is in the inventory.",
    "advanced": "The gate passed: the use case moved on.",
    "overridden": "The gate was overridden; the justification is in the history.",
    "sent-back": "The use case went back to the previous phase.",
    "signed": "Signed off.",
    "deliverable": "The deliverable is recorded.",
    "stakeholder": "The stakeholder is named.",
    "requirement": "The requirement is recorded.",
    "selected": "The option is selected; its annual cost is now the running cost.",
    "risk": "The risk is updated.",
    "go-live": "The go-live date is recorded and the 30/60/90-day reviews are scheduled.",
    "review": "The review is recorded.",
    "ops": "The operations figure is recorded.",
}


def may_sign(principal: Principal, key: str, roles: list[str]) -> bool:
    """Whether *principal* may sign a checkpoint with these *roles* (the library's rule)."""
    return signing_role(principal, key, [Role(r) for r in roles]) is not None


def _raci(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stakeholder map as one row per role with its letter in each phase."""
    roles: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = roles.setdefault(row["role"], {"role": row["role"], "people": row["people"], "phases": []})
        entry["phases"].append(row)
    return list(roles.values())


def usecase_context(request: Request, principal: Principal, key: str) -> dict[str, Any]:
    """Everything usecase.html shows, from the library's page document and the principal's rights."""
    with workspace(request).program(principal, readonly=True) as program:
        page = program.page(principal, key)
        roi = program.roi(principal, key)
        editable = program.records.may_edit(principal, program.records.get(principal, key))
    phase = page["use_case"]["phase"]
    checkpoints = [{**c, "may_sign": may_sign(principal, key, c["roles"])} for c in page["checkpoints"]]
    documents = [d for d in DELIVERABLES if d.source == "document"]
    return {
        "p": page,
        "key": key,
        "phases": [
            {
                "n": int(ph),
                "title": ph.title,
                "state": "done" if ph < phase else "current" if ph == phase else "ahead",
            }
            for ph in Phase
        ],
        "by_phase": {int(ph): [d for d in page["deliverables"] if d["phase"] == ph] for ph in Phase},
        "checkpoints": checkpoints,
        "raci": _raci(page["stakeholders"]),
        "roi": roi,
        "roi_chart": charts.roi_cumulative(roi["points"]) if roi["points"] else None,
        "can": {
            "advance": principal.can(Action.GATE_ADVANCE, key),
            "override": principal.can(Action.GATE_OVERRIDE),
            "record": principal.can(Action.LIFECYCLE_RECORD, key),
            "edit": editable,
            "select": editable or principal.can(Action.GATE_OVERRIDE),
        },
        "choices": {
            "documents": [(d.key, f"{d.title} (phase {int(d.phase)})") for d in documents],
            "statuses": [s.value for s in DeliverableStatus],
            "roles": [r.value for r in Role if r not in (Role.ADMIN, Role.AUDITOR)],
            "kinds": [k.value for k in RequirementKind],
            "reviews": [k.value for k in ReviewKind],
            "risk_statuses": [s.value for s in RiskStatus],
        },
        "min_justification": MIN_JUSTIFICATION,
        "money": money,
        "done": DONE.get(request.query_params.get("done", "")),
        "blocked": None,
        "error": None,
        "error_form": None,
        "error_field": None,
        "values": {},
    }


@router.get("/use-cases/{key}")
def usecase_page(request: Request, key: str, principal: PagePrincipal) -> Response:
    return render(request, "usecase.html", usecase_context(request, principal, key))


def _act(
    request: Request,
    principal: Principal,
    key: str,
    form: str,
    values: dict[str, Any],
    action: Callable[[], Any],
    done: str | Callable[[Any], str],
) -> Response:
    """Run *action*; redirect to the page with message *done*, or re-render the page with the error."""
    try:
        result = action()
    except PacelineError as exc:
        context = usecase_context(request, principal, key)
        fix = exc.details.get("fix")
        context |= {
            "error": exc.message + (f" ({fix})" if fix and fix not in exc.message else ""),
            "error_form": form,
            "error_field": exc.details.get("field"),
            "values": values,
            "blocked": exc.details.get("gate") if exc.code == "gate_blocked" else None,
        }
        return render(request, "usecase.html", context, status_code=exc.http_status)
    message = done(result) if callable(done) else done
    return RedirectResponse(f"/use-cases/{key}?done={message}#{form}", status_code=303)


@router.post("/use-cases/{key}/advance")
def advance(
    request: Request,
    key: str,
    principal: PagePrincipal,
    _s: FormSession,
    justification: Text = "",
    override: Text = "",
) -> Response:
    def act() -> dict[str, Any]:
        with workspace(request).gates(principal) as gates:
            return gates.advance(principal, key, justification if override else None)

    def done(transition: dict[str, Any]) -> str:
        return "overridden" if transition["overridden"] else "advanced"

    return _act(request, principal, key, "gate", {"justification": justification}, act, done)


@router.post("/use-cases/{key}/send-back")
def send_back(
    request: Request, key: str, principal: PagePrincipal, _s: FormSession, justification: Text = ""
) -> Response:
    def act() -> object:
        with workspace(request).gates(principal) as gates:
            return gates.send_back(principal, key, justification)

    return _act(request, principal, key, "send-back", {"justification": justification}, act, "sent-back")


@router.post("/use-cases/{key}/signoffs")
def sign_off(
    request: Request, key: str, principal: PagePrincipal, _s: FormSession, check: Text = "", note: Text = ""
) -> Response:
    def act() -> object:
        with workspace(request).lifecycle(principal) as lc:
            return lc.sign_off(principal, key, check, note)

    return _act(request, principal, key, "checkpoints", {"check": check, "note": note}, act, "signed")


@router.post("/use-cases/{key}/deliverables")
def deliverable(
    request: Request,
    key: str,
    principal: PagePrincipal,
    _s: FormSession,
    deliverable: Text = "",
    status: Text = "",
    link: Text = "",
    note: Text = "",
) -> Response:
    def act() -> object:
        with workspace(request).lifecycle(principal) as lc:
            lc.set_deliverable(principal, key, deliverable, status, link=link, note=note)
        return None

    values = {"deliverable": deliverable, "status": status, "link": link, "note": note}
    return _act(request, principal, key, "deliverables", values, act, "deliverable")


@router.post("/use-cases/{key}/stakeholders")
def stakeholder(
    request: Request, key: str, principal: PagePrincipal, _s: FormSession, role: Text = "", person: Text = ""
) -> Response:
    def act() -> object:
        with workspace(request).lifecycle(principal) as lc:
            lc.assign(principal, key, role, person)
        return None

    return _act(request, principal, key, "stakeholders", {"role": role, "person": person}, act, "stakeholder")


@router.post("/use-cases/{key}/requirements")
def requirement(
    request: Request,
    key: str,
    principal: PagePrincipal,
    _s: FormSession,
    kind: Text = "",
    title: Text = "",
    target: Text = "",
    measured: Text = "",
    met: Text = "",
) -> Response:
    def act() -> object:
        with workspace(request).lifecycle(principal) as lc:
            return lc.record_requirement(principal, key, kind, title, target, measured, bool(met))

    values = {"kind": kind, "title": title, "target": target, "measured": measured, "met": met}
    return _act(request, principal, key, "requirements", values, act, "requirement")


@router.post("/use-cases/{key}/options/select")
def select_option(
    request: Request, key: str, principal: PagePrincipal, _s: FormSession, name: Text = ""
) -> Response:
    def act() -> object:
        with workspace(request).program(principal) as program:
            return program.select_option(principal, key, name)

    return _act(request, principal, key, "technology", {"name": name}, act, "selected")


@router.post("/use-cases/{key}/risks")
def risk(
    request: Request,
    key: str,
    principal: PagePrincipal,
    _s: FormSession,
    risk: Text = "",
    status: Text = "",
    residual_likelihood: Text = "",
    residual_impact: Text = "",
) -> Response:
    values = {"risk": risk, "status": status, "residual_likelihood": residual_likelihood}
    values["residual_impact"] = residual_impact

    def act() -> object:
        doc: dict[str, Any] = {"key": risk, "status": status}
        for name in ("residual_likelihood", "residual_impact"):
            if values[name]:
                doc[name] = _rating(name, values[name])
        with workspace(request).program(principal) as program:
            existing = {r["key"] for r in program.risks(principal, key)["risks"]}
            if risk not in existing:
                raise ValidationError(
                    f"no risk {risk!r} in the register", field="risk", fix="pick one of the list"
                )
            return program.save_risk(principal, key, doc)

    return _act(request, principal, key, "risks", values, act, "risk")


def _rating(name: str, text: str) -> int:
    if not text.strip().isdigit():
        raise ValidationError(f"{name} {text!r} is not a rating", field=name, fix="rate 1 to 5")
    return int(text)


@router.post("/use-cases/{key}/go-live")
def go_live(
    request: Request, key: str, principal: PagePrincipal, _s: FormSession, date: Text = ""
) -> Response:
    def act() -> object:
        day = parse_date(date, "date")
        with workspace(request).program(principal) as program:
            return program.go_live(principal, key, day)

    return _act(request, principal, key, "reviews", {"date": date}, act, "go-live")


@router.post("/use-cases/{key}/reviews")
def review(
    request: Request, key: str, principal: PagePrincipal, _s: FormSession, kind: Text = "", actions: Text = ""
) -> Response:
    def act() -> object:
        with workspace(request).program(principal) as program:
            return program.complete_review(principal, key, kind, actions)

    return _act(request, principal, key, "reviews", {"kind": kind, "actions": actions}, act, "review")


@router.post("/use-cases/{key}/ops-figures")
def ops_figure(
    request: Request,
    key: str,
    principal: PagePrincipal,
    _s: FormSession,
    value: Text = "",
    period_start: Text = "",
    period_end: Text = "",
    source: Text = "",
) -> Response:
    values = {"value": value, "period_start": period_start, "period_end": period_end, "source": source}

    def act() -> None:
        try:
            share = float(value)
        except ValueError:
            raise ValidationError(
                f"value {value!r} is not a number", field="value", fix="e.g. 0.998"
            ) from None
        start, end = parse_date(period_start, "period_start"), parse_date(period_end, "period_end")
        if not source.strip():
            raise ValidationError(
                "name the source of the figure", field="source", fix="e.g. the service monitor"
            )
        with workspace(request).lifecycle(principal) as lc:
            lc.record_ops_figure(principal, key, "uptime", share, start, end, source.strip())

    return _act(request, principal, key, "operations", values, act, "ops")
