"""Alert and incident pages: the alerts with their rules, the incidents with MTTR, and the
incident page (timeline, linked alerts, runbook, status, resolution, retrospective), from
which the framework's lifecycle steps are taken: request retraining of the model, or
deprecate one of its versions (through the model registry).

Each form POSTs to its own route (CSRF-checked), calls the library and redirects (303) back
with a short message; a refusal re-renders the page with the message, the field named and
the error's status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from paceline.domain.alerts import Severity as AlertSeverity
from paceline.domain.incidents import SEVERITY_MEANING, IncidentKind, Severity
from paceline.domain.model_registry import ALLOWED_MOVES, Stage
from paceline.domain.roles import Action
from paceline.errors import PacelineError
from paceline.services.access import Principal
from paceline.services.alerting import STATUS_FILTERS as ALERT_FILTERS
from paceline.services.alerting import may
from paceline.services.incidents import STATUS_FILTERS as INCIDENT_FILTERS
from paceline.services.model_registry import ModelRegistryService
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
FormSession = Annotated[Session, Depends(form_session)]
Text = Annotated[str, Form()]
RETRO_ROWS = 3  # action rows on the retrospective form
MTTR_DAYS = 90

DONE = {
    "ack": "The alert is acknowledged: it no longer escalates.",
    "opened": "The incident is open.",
    "status": "The status is changed.",
    "note": "The note is on the timeline.",
    "runbook": "The runbook is linked.",
    "severity": "The severity is changed.",
    "retro": "The retrospective is recorded.",
    "retrain": "Retraining is requested in the model registry.",
    "deprecate": "The deprecation is recorded in the model registry.",
}


def when(value: str | None) -> str:
    """An ISO timestamp as ``2026-03-02 14:05 UTC`` (or a dash)."""
    if not value:
        return "\u2013"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def form_data(request: Request) -> FormData:
    return await request.form()


def _message(exc: PacelineError) -> str:
    fix = exc.details.get("fix")
    return exc.message + (f" ({fix})" if fix and fix not in exc.message else "")


def _error(exc: PacelineError | None, form: str | None, values: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "error": _message(exc) if exc else None,
        "error_form": form,
        "error_field": exc.details.get("field") if exc else None,
        "values": values or {},
    }


# --- alerts -------------------------------------------------------------------------------------
def alerts_context(request: Request, principal: Principal) -> dict[str, Any]:
    q = request.query_params
    filters = {k: q.get(k) or None for k in ("use_case", "model", "severity")}
    status = q.get("status") or "active"
    with workspace(request).alerts(principal, readonly=True) as alerts:
        found = alerts.list(principal, status, filters["use_case"], filters["model"], filters["severity"])
        rules = alerts.rules(principal)
    for alert in found:
        alert["may_manage"] = may(principal, Action.INCIDENT_MANAGE, alert["use_case"])
    return {
        "alerts": found,
        "rules": rules,
        "status": status,
        "filters": filters,
        "statuses": ALERT_FILTERS,
        "severities": [s.value for s in AlertSeverity],
        "when": when,
        "done": DONE.get(q.get("done", "")),
        **_error(None, None, None),
    }


@router.get("/alerts")
def alerts_page(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.READ)
    return render(request, "alerts.html", alerts_context(request, principal))


def _on_alerts(request: Request, principal: Principal, action: Callable[[], str]) -> Response:
    try:
        target = action()
    except PacelineError as exc:
        context = alerts_context(request, principal) | _error(exc, "alerts", None)
        return render(request, "alerts.html", context, status_code=exc.http_status)
    return RedirectResponse(target, status_code=303)


@router.post("/alerts/{alert_id}/ack")
def acknowledge(
    request: Request, alert_id: int, principal: PagePrincipal, _s: FormSession, note: Text = ""
) -> Response:
    def act() -> str:
        with workspace(request).alerts(principal) as alerts:
            alerts.acknowledge(principal, alert_id, note)
        return f"/alerts?done=ack#alert-{alert_id}"

    return _on_alerts(request, principal, act)


@router.post("/alerts/{alert_id}/incident")
def open_from_alert(request: Request, alert_id: int, principal: PagePrincipal, _s: FormSession) -> Response:
    def act() -> str:
        with workspace(request).incidents(principal) as incidents:
            doc = incidents.open_from_alert(principal, alert_id)
        return f"/incidents/{doc['id']}?done=opened"

    return _on_alerts(request, principal, act)


# --- incidents ----------------------------------------------------------------------------------
def _mttr_period() -> tuple[datetime, datetime]:
    end = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(0), UTC)
    return end - timedelta(days=MTTR_DAYS), end


def incidents_context(request: Request, principal: Principal) -> dict[str, Any]:
    status = request.query_params.get("status") or "active"
    start, end = _mttr_period()
    with workspace(request).incidents(principal, readonly=True) as incidents:
        found = incidents.list(principal, status)
        mttr = incidents.mttr(principal, start, end).to_dict()
    return {
        "incidents": found,
        "status": status,
        "statuses": INCIDENT_FILTERS,
        "mttr": mttr,
        "mttr_days": MTTR_DAYS,
        "may_open": principal.can(Action.INCIDENT_MANAGE),
        "choices": _choices(),
        "when": when,
        "done": None,
        **_error(None, None, None),
    }


def _choices() -> dict[str, Any]:
    return {
        "severities": [(s.value, SEVERITY_MEANING[s]) for s in Severity],
        "kinds": [k.value for k in IncidentKind],
    }


@router.get("/incidents")
def incidents_page(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.READ)
    return render(request, "incidents.html", incidents_context(request, principal))


OPEN_FIELDS = ("title", "severity", "kind", "use_case", "model", "runbook_url", "description")


@router.post("/incidents")
def open_incident(
    request: Request, principal: PagePrincipal, _s: FormSession, form: Annotated[FormData, Depends(form_data)]
) -> Response:
    values = {k: str(form.get(k) or "").strip() for k in OPEN_FIELDS}
    doc: dict[str, Any] = {k: v for k, v in values.items() if v} | {
        "serious_incident": form.get("serious") == "on"
    }
    try:
        with workspace(request).incidents(principal) as incidents:
            opened = incidents.open(principal, doc)
    except PacelineError as exc:
        context = incidents_context(request, principal) | _error(exc, "open", values)
        return render(request, "incidents.html", context, status_code=exc.http_status)
    return RedirectResponse(f"/incidents/{opened['id']}?done=opened", status_code=303)


def _registry(request: Request, principal: Principal, model: str | None) -> dict[str, Any] | None:
    """The incident's model in the registry, with the versions that may move to deprecated."""
    if not model:
        return None
    with workspace(request).models(principal, readonly=True) as registry:
        try:
            found = registry.find(principal, model)
            if found is None:
                return {"registered": False, "name": model}
            versions = registry.show(principal, model)["versions"]
        except PacelineError:
            return None
    live = [v["version"] for v in versions if Stage.DEPRECATED in ALLOWED_MOVES[Stage(v["stage"])]]
    return {
        "registered": True,
        "name": model,
        "versions": live,
        "may_register": principal.can(Action.MODEL_REGISTER, found["use_case"]),
    }


def incident_context(request: Request, principal: Principal, incident_id: int) -> dict[str, Any]:
    with workspace(request).incidents(principal, readonly=True) as incidents:
        doc = incidents.get(principal, incident_id)
    return {
        "i": doc,
        "registry": _registry(request, principal, doc["model"]),
        "choices": _choices(),
        "retro_rows": range(RETRO_ROWS),
        "when": when,
        "done": DONE.get(request.query_params.get("done", "")),
        **_error(None, None, None),
    }


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: int, principal: PagePrincipal) -> Response:
    return render(request, "incident.html", incident_context(request, principal, incident_id))


def _act(
    request: Request,
    principal: Principal,
    incident_id: int,
    form: str,
    values: dict[str, Any],
    action: Callable[[], object],
    done: str,
) -> Response:
    """Run *action*; redirect to the incident with *done*, or re-render it with the error."""
    try:
        action()
    except PacelineError as exc:
        context = incident_context(request, principal, incident_id) | _error(exc, form, values)
        return render(request, "incident.html", context, status_code=exc.http_status)
    return RedirectResponse(f"/incidents/{incident_id}?done={done}#{form}", status_code=303)


@router.post("/incidents/{incident_id}/status")
def set_status(
    request: Request,
    incident_id: int,
    principal: PagePrincipal,
    _s: FormSession,
    status: Text = "",
    note: Text = "",
    resolution: Text = "",
) -> Response:
    def act() -> object:
        with workspace(request).incidents(principal) as incidents:
            return incidents.set_status(principal, incident_id, status, note, resolution)

    values = {"status": status, "note": note, "resolution": resolution}
    return _act(request, principal, incident_id, "status", values, act, "status")


@router.post("/incidents/{incident_id}/notes")
def add_note(
    request: Request, incident_id: int, principal: PagePrincipal, _s: FormSession, text: Text = ""
) -> Response:
    def act() -> object:
        with workspace(request).incidents(principal) as incidents:
            return incidents.add_note(principal, incident_id, text)

    return _act(request, principal, incident_id, "note", {"text": text}, act, "note")


@router.post("/incidents/{incident_id}/runbook")
def set_runbook(
    request: Request, incident_id: int, principal: PagePrincipal, _s: FormSession, url: Text = ""
) -> Response:
    def act() -> object:
        with workspace(request).incidents(principal) as incidents:
            return incidents.set_runbook(principal, incident_id, url)

    return _act(request, principal, incident_id, "runbook", {"url": url}, act, "runbook")


@router.post("/incidents/{incident_id}/severity")
def set_severity(
    request: Request,
    incident_id: int,
    principal: PagePrincipal,
    _s: FormSession,
    severity: Text = "",
    serious: Text = "",
) -> Response:
    def act() -> object:
        with workspace(request).incidents(principal) as incidents:
            return incidents.set_severity(principal, incident_id, severity, serious == "on")

    return _act(request, principal, incident_id, "severity", {"severity": severity}, act, "severity")


@router.post("/incidents/{incident_id}/retrospective")
def write_retrospective(
    request: Request,
    incident_id: int,
    principal: PagePrincipal,
    _s: FormSession,
    form: Annotated[FormData, Depends(form_data)],
) -> Response:
    values = {k: str(v) for k, v in form.items()}
    actions = []
    for n in range(RETRO_ROWS):
        row = {k: values.get(f"action_{k}_{n}", "").strip() for k in ("text", "owner", "due")}
        if row["text"] or row["owner"]:
            actions.append(row)
    doc = {k: values.get(k, "") for k in ("what_happened", "impact", "root_cause")} | {"actions": actions}

    def act() -> object:
        with workspace(request).incidents(principal) as incidents:
            return incidents.write_retrospective(principal, incident_id, doc)

    return _act(request, principal, incident_id, "retrospective", values, act, "retro")


# --- the framework's lifecycle steps, taken from an incident -------------------------------------------
def _lifecycle_step(
    request: Request,
    principal: Principal,
    incident_id: int,
    step: Callable[[ModelRegistryService, str], tuple[str, dict[str, Any]]],
) -> None:
    """Check the incident may take a step, take it in the model registry, then put it on the timeline."""
    with workspace(request).incidents(principal, readonly=True) as incidents:
        model = incidents.model_for_action(principal, incident_id)
    with workspace(request).models(principal) as registry:
        text, data = step(registry, model)
    with workspace(request).incidents(principal) as incidents:
        incidents.record_action(principal, incident_id, text, data)


@router.post("/incidents/{incident_id}/retrain")
def request_retraining(
    request: Request, incident_id: int, principal: PagePrincipal, _s: FormSession, reason: Text = ""
) -> Response:
    def step(registry: ModelRegistryService, model: str) -> tuple[str, dict[str, Any]]:
        made = registry.request_retraining(principal, model, reason, incident_id=incident_id)
        text = f"retraining of {model} requested (request {made['id']}): {reason.strip()}"
        return text, {"model": model, "retraining_request": made["id"]}

    def act() -> None:
        _lifecycle_step(request, principal, incident_id, step)

    return _act(request, principal, incident_id, "lifecycle", {"reason": reason}, act, "retrain")


@router.post("/incidents/{incident_id}/deprecate")
def deprecate_version(
    request: Request,
    incident_id: int,
    principal: PagePrincipal,
    _s: FormSession,
    version: Text = "",
    deprecate_reason: Text = "",
) -> Response:
    def step(registry: ModelRegistryService, model: str) -> tuple[str, dict[str, Any]]:
        moved = registry.deprecate(principal, model, version, deprecate_reason)
        text = f"{model} {version} deprecated ({moved['status']}): {deprecate_reason.strip()}"
        return text, {"model": model, "version": version, "stage": "deprecated", "status": moved["status"]}

    def act() -> None:
        _lifecycle_step(request, principal, incident_id, step)

    values = {"version": version, "deprecate_reason": deprecate_reason}
    return _act(request, principal, incident_id, "lifecycle", values, act, "deprecate")
