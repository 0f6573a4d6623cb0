"""The alerting and incident API under /api/v1: alert rules, alerts, evaluation, incidents.

Each handler opens the library's service for the principal and lets it decide: permissions
(403), unknown records (404), bad fields (422, naming the field), a clash such as a second
rule of one name or a status the incident cannot take next (409).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from paceline.domain.alerts import reading_from_dict
from paceline.errors import ValidationError
from paceline.services.access import Principal
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.schemas import ErrorOut

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {
        "model": ErrorOut,
        "description": "No such rule, alert or incident (or not visible to the principal)",
    },
    409: {"model": ErrorOut, "description": "A clash: the name is taken, or the status cannot come next"},
}
router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=RESPONSES)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]

RULE_EXAMPLE = {
    "name": "claims-f1-low",
    "signal": "performance:f1",
    "below": 0.7,
    "window": "7d",
    "min_samples": 50,
    "severity": "warning",
    "cooldown": "1d",
    "model": "claims-router",
    "channels": [{"kind": "webhook", "target": "https://hooks.example.com/paceline"}],
    "description": "F1 on the week's labelled predictions fell below 0.7.",
    "runbook_url": "https://wiki.example.com/runbooks/claims-f1-low",
}
READING_EXAMPLE = {
    "signal": "drift_share",
    "model": "claims-router",
    "use_case": "claims-triage",
    "value": 0.42,
    "window_start": "2026-02-23T00:00:00+00:00",
    "window_end": "2026-03-02T00:00:00+00:00",
    "samples": 12000,
}
INCIDENT_EXAMPLE = {
    "title": "Claims router sends motor claims to the property queue",
    "severity": "sev2",
    "kind": "performance_degradation",
    "use_case": "claims-triage",
    "model": "claims-router",
    "alerts": [12],
    "runbook_url": "https://wiki.example.com/runbooks/claims-router",
}
RETRO_EXAMPLE = {
    "what_happened": "F1 fell to 0.52 after the March tariff change",
    "impact": "412 claims routed to the wrong queue over two days",
    "root_cause": "The new tariff codes were absent from the training data",
    "actions": [{"text": "Retrain with March data", "owner": "ml-lead", "due": "2026-03-20"}],
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AckIn(Strict):
    note: str = ""


class EvaluateIn(Strict):
    readings: list[dict[str, Any]] = Field(default_factory=list, description="Readings from other monitors")
    compute: bool = Field(True, description="Also compute the runtime and latency readings")
    notify: bool = Field(True, description="Send the due notifications afterwards")


class StatusIn(Strict):
    status: str = Field(description="investigating, mitigated, resolved or closed")
    note: str = ""
    resolution: str = Field("", description="What fixed it (needed to resolve)")


class NoteIn(Strict):
    text: str


class RunbookIn(Strict):
    url: str


class SeverityIn(Strict):
    severity: str = Field(description="sev1 (worst) .. sev4")
    serious_incident: bool | None = Field(None, description="A serious incident under the EU AI Act")


class ResolveIn(Strict):
    resolution: str


class LinkIn(Strict):
    alert_id: int


class FromAlertIn(Strict):
    title: str | None = None
    severity: str | None = None
    kind: str | None = None
    serious_incident: bool | None = None
    runbook_url: str | None = Field(None, description="The runbook (default: the alert's rule's)")
    description: str | None = None


# --- rules ---------------------------------------------------------------------------------
@router.get("/alert-rules", summary="The alert rules the principal may read")
def list_rules(request: Request, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).alerts(principal, readonly=True) as alerts:
        return {"rules": alerts.rules(principal)}


@router.post("/alert-rules", status_code=201, summary="Add an alert rule (needs monitor.manage)")
def add_rule(
    request: Request, principal: ApiPrincipal, body: Annotated[dict[str, Any], Body(examples=[RULE_EXAMPLE])]
) -> dict[str, Any]:
    with workspace(request).alerts(principal) as alerts:
        return alerts.add_rule(principal, body)


@router.get("/alert-rules/{name}", summary="One alert rule")
def show_rule(request: Request, name: str, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).alerts(principal, readonly=True) as alerts:
        return alerts.rule(principal, name)


@router.put("/alert-rules/{name}", summary="Replace an alert rule (the name stays)")
def replace_rule(
    request: Request,
    name: str,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[RULE_EXAMPLE])],
) -> dict[str, Any]:
    with workspace(request).alerts(principal) as alerts:
        return alerts.replace_rule(principal, name, body)


@router.delete("/alert-rules/{name}", status_code=204, summary="Delete an alert rule (its alerts stay)")
def remove_rule(request: Request, name: str, principal: ApiPrincipal) -> Response:
    with workspace(request).alerts(principal) as alerts:
        alerts.remove_rule(principal, name)
    return Response(status_code=204)


# --- alerts --------------------------------------------------------------------------------
@router.get("/alerts", summary="Alerts, the latest sighting first")
def list_alerts(
    request: Request,
    principal: ApiPrincipal,
    status: Annotated[str, Query(description="active, open, acknowledged, resolved or all")] = "active",
    use_case: str | None = None,
    model: str | None = None,
    severity: str | None = None,
) -> dict[str, Any]:
    with workspace(request).alerts(principal, readonly=True) as alerts:
        return {"alerts": alerts.list(principal, status, use_case, model, severity)}


@router.get("/alerts/{alert_id}", summary="One alert with its notifications")
def show_alert(request: Request, alert_id: int, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).alerts(principal, readonly=True) as alerts:
        return alerts.get(principal, alert_id)


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an open alert (needs incident.manage)")
def acknowledge(
    request: Request, alert_id: int, principal: ApiPrincipal, body: Annotated[AckIn | None, Body()] = None
) -> dict[str, Any]:
    with workspace(request).alerts(principal) as alerts:
        return alerts.acknowledge(principal, alert_id, body.note if body else "")


@router.post("/alerts/evaluate", summary="Judge readings by the rules and notify (needs monitor.manage)")
def evaluate(
    request: Request,
    principal: ApiPrincipal,
    body: Annotated[EvaluateIn | None, Body(examples=[{"readings": [READING_EXAMPLE]}])] = None,
) -> dict[str, Any]:
    given = body or EvaluateIn()
    readings = []
    for n, doc in enumerate(given.readings):
        try:
            readings.append(reading_from_dict(doc))
        except ValidationError as exc:
            raise ValidationError(f"readings[{n}]: {exc.message}", **exc.details) from None
    return workspace(request).evaluate_alerts(principal, readings, compute=given.compute, notify=given.notify)


@router.post(
    "/alerts/{alert_id}/incident",
    status_code=201,
    summary="Open an incident for an alert (needs incident.manage)",
)
def open_from_alert(
    request: Request,
    alert_id: int,
    principal: ApiPrincipal,
    body: Annotated[FromAlertIn | None, Body()] = None,
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True) if body else {}
    with workspace(request).incidents(principal) as incidents:
        return incidents.open_from_alert(principal, alert_id, changes)


# --- incidents -------------------------------------------------------------------------------
def _period(since: date | None, until: date | None) -> tuple[datetime, datetime]:
    """[since, until] as whole UTC days (default: the last 90 days)."""
    end_day = until or datetime.now(UTC).date()
    start_day = since or end_day - timedelta(days=90)
    return datetime.combine(start_day, time(0), UTC), datetime.combine(
        end_day + timedelta(days=1), time(0), UTC
    )


@router.get("/incidents", summary="Incidents, newest first")
def list_incidents(
    request: Request,
    principal: ApiPrincipal,
    status: Annotated[str, Query(description="active, all, or one status")] = "active",
    use_case: str | None = None,
) -> dict[str, Any]:
    with workspace(request).incidents(principal, readonly=True) as incidents:
        return {"incidents": incidents.list(principal, status, use_case)}


@router.get("/incidents/mttr", summary="MTTR of the incidents resolved in a period (default: 90 days)")
def incident_mttr(
    request: Request, principal: ApiPrincipal, since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    start, end = _period(since, until)
    with workspace(request).incidents(principal, readonly=True) as incidents:
        return incidents.mttr(principal, start, end).to_dict()


@router.post("/incidents", status_code=201, summary="Open an incident (needs incident.manage)")
def open_incident(
    request: Request,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[INCIDENT_EXAMPLE])],
) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.open(principal, body)


@router.get("/incidents/{incident_id}", summary="One incident with its timeline and alerts")
def show_incident(request: Request, incident_id: int, principal: ApiPrincipal) -> dict[str, Any]:
    with workspace(request).incidents(principal, readonly=True) as incidents:
        return incidents.get(principal, incident_id)


@router.post("/incidents/{incident_id}/status", summary="Move the incident along its status flow")
def set_status(request: Request, incident_id: int, principal: ApiPrincipal, body: StatusIn) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.set_status(principal, incident_id, body.status, body.note, body.resolution)


@router.post("/incidents/{incident_id}/resolve", summary="Resolve the incident with its resolution")
def resolve(request: Request, incident_id: int, principal: ApiPrincipal, body: ResolveIn) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.resolve(principal, incident_id, body.resolution)


@router.post("/incidents/{incident_id}/notes", status_code=201, summary="Add a note to the timeline")
def add_note(request: Request, incident_id: int, principal: ApiPrincipal, body: NoteIn) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.add_note(principal, incident_id, body.text)


@router.put("/incidents/{incident_id}/runbook", summary="Link the runbook")
def set_runbook(
    request: Request, incident_id: int, principal: ApiPrincipal, body: RunbookIn
) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.set_runbook(principal, incident_id, body.url)


@router.put("/incidents/{incident_id}/severity", summary="Change the severity or the serious-incident flag")
def set_severity(
    request: Request, incident_id: int, principal: ApiPrincipal, body: SeverityIn
) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.set_severity(principal, incident_id, body.severity, body.serious_incident)


@router.post("/incidents/{incident_id}/alerts", summary="Link another alert to the incident")
def link_alert(request: Request, incident_id: int, principal: ApiPrincipal, body: LinkIn) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.link_alert(principal, incident_id, body.alert_id)


@router.put(
    "/incidents/{incident_id}/retrospective", summary="Write the retrospective of a resolved incident"
)
def write_retrospective(
    request: Request,
    incident_id: int,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body(examples=[RETRO_EXAMPLE])],
) -> dict[str, Any]:
    with workspace(request).incidents(principal) as incidents:
        return incidents.write_retrospective(principal, incident_id, body)
