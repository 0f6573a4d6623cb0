"""Incidents: opened from an alert or by hand, moved through their status flow with a timeline,
resolved with a resolution, closed after a retrospective; MTTR over a period.

Every change writes a timeline entry (who, when, what) in the same transaction as the change,
and the store audits both. Permissions: ``incident.manage`` on the incident's use case to
change it, ``workspace.read`` to read it; an incident that names no use case needs a grant
that covers every use case. The rules of the flow are in :mod:`paceline.domain.incidents`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from paceline.domain.incidents import (
    ACTIVE,
    SEVERITY_MEANING,
    TRANSITIONS,
    EntryKind,
    Incident,
    IncidentKind,
    IncidentStatus,
    MttrSummary,
    Severity,
    check_transition,
    mttr,
    new_incident,
    retrospective_from_dict,
    runbook_url,
    text_field,
)
from paceline.domain.roles import Action
from paceline.errors import Conflict, NotFound, ValidationError
from paceline.services.access import Principal
from paceline.services.alerting import may, require
from paceline.services.parsing import parse_choice

STATUS_FILTERS = ("active", "all", *(s.value for s in IncidentStatus))
SIGNAL_KINDS = {
    "drift_share": IncidentKind.MODEL_DRIFT,
    "column_drift": IncidentKind.MODEL_DRIFT,
    "performance": IncidentKind.PERFORMANCE_DEGRADATION,
    "override_rate": IncidentKind.PERFORMANCE_DEGRADATION,
}
ALERT_SEVERITIES = {"critical": Severity.SEV2, "warning": Severity.SEV3, "info": Severity.SEV4}


class IncidentRepository(Protocol):
    def add_incident(self, values: dict[str, Any]) -> int: ...
    def get_incident(self, incident_id: int) -> dict[str, Any] | None: ...
    def update_incident(self, incident_id: int, values: dict[str, Any]) -> None: ...
    def list_incidents(
        self, statuses: Sequence[str] = (), use_case: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]: ...
    def resolved_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]: ...
    def add_entry(
        self, incident_id: int, kind: str, text: str, data: dict[str, Any], by: str, at: datetime
    ) -> None: ...
    def entries(self, incident_id: int) -> list[dict[str, Any]]: ...
    def get_alert(self, alert_id: int) -> dict[str, Any] | None: ...
    def rule_runbook(self, name: str) -> str: ...
    def link_alert(self, alert_id: int, incident_id: int) -> None: ...
    def alerts_of(self, incident_id: int) -> list[dict[str, Any]]: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def incident_of(doc: dict[str, Any]) -> Incident:
    """The domain incident of a stored row."""
    retro = doc.get("retrospective")
    return Incident(
        id=doc["id"],
        title=doc["title"],
        severity=Severity(doc["severity"]),
        kind=IncidentKind(doc["kind"]),
        status=IncidentStatus(doc["status"]),
        detected_at=doc["detected_at"],
        opened_at=doc["opened_at"],
        opened_by=doc["opened_by"],
        description=doc["description"],
        serious_incident=doc["serious_incident"],
        use_case=doc["use_case"],
        model=doc["model"],
        workflow=doc["workflow"],
        runbook_url=doc["runbook_url"],
        resolution=doc["resolution"],
        resolved_at=doc["resolved_at"],
        closed_at=doc["closed_at"],
        retrospective=retrospective_from_dict(retro) if retro else None,
        owner=doc["owner"],
    )


def from_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """The fields of an incident opened from *alert* (the person may change them)."""
    kind = SIGNAL_KINDS.get(str(alert["signal"]).partition(":")[0], IncidentKind.MALFUNCTION)
    return {
        "title": str(alert["message"])[:200],
        "severity": ALERT_SEVERITIES.get(alert["severity"], Severity.SEV3).value,
        "kind": kind.value,
        "use_case": alert["use_case"],
        "model": alert["model"],
        "workflow": alert["workflow"],
        "alerts": [alert["id"]],
    }


class IncidentService:
    def __init__(self, repo: IncidentRepository, clock: Callable[[], datetime] = _utcnow) -> None:
        self.repo, self.clock = repo, clock

    # --- reading ---------------------------------------------------------------------------
    def _stored(self, by: Principal, incident_id: int) -> Incident:
        doc = self.repo.get_incident(incident_id)
        if doc is None or not may(by, Action.READ, doc["use_case"]):
            raise NotFound(f"no incident {incident_id}", fix="list them with 'paceline incident list'")
        return incident_of(doc)

    def _manage(self, by: Principal, incident_id: int) -> Incident:
        incident = self._stored(by, incident_id)
        require(by, Action.INCIDENT_MANAGE, incident.use_case, f"incident {incident_id}")
        return incident

    def get(self, by: Principal, incident_id: int) -> dict[str, Any]:
        """The incident with its timeline, linked alerts, next statuses and reporting deadline."""
        incident = self._stored(by, incident_id)
        entries = [
            {k: _iso(v) for k, v in e.items() if k != "incident_id"} for e in self.repo.entries(incident_id)
        ]
        alerts = [
            {
                k: _iso(a[k])
                for k in ("id", "rule", "signal", "severity", "status", "value", "first_seen", "message")
            }
            for a in self.repo.alerts_of(incident_id)
        ]
        return incident.to_dict() | {
            "severity_meaning": SEVERITY_MEANING[incident.severity],
            "next_statuses": sorted(s.value for s in TRANSITIONS[incident.status]),
            "timeline": entries,
            "alerts": alerts,
            "may_manage": may(by, Action.INCIDENT_MANAGE, incident.use_case),
        }

    def list(
        self, by: Principal, status: str = "active", use_case: str | None = None
    ) -> list[dict[str, Any]]:
        if status not in STATUS_FILTERS:
            raise ValidationError(
                f"status {status!r} is not one of: {', '.join(STATUS_FILTERS)}",
                field="status",
                fix=f"use one of: {', '.join(STATUS_FILTERS)}",
            )
        statuses = {"active": tuple(s.value for s in ACTIVE), "all": ()}.get(status, (status,))
        docs = self.repo.list_incidents(statuses, use_case or None)
        return [incident_of(d).to_dict() for d in docs if may(by, Action.READ, d["use_case"])]

    def mttr(self, by: Principal, start: datetime, end: datetime) -> MttrSummary:
        """MTTR of the incidents *by* may read that were resolved in ``[start, end)``."""
        by.require(Action.READ)
        docs = [d for d in self.repo.resolved_between(start, end) if may(by, Action.READ, d["use_case"])]
        return mttr([incident_of(d) for d in docs], start, end)

    # --- opening -----------------------------------------------------------------------------
    def open(self, by: Principal, doc: dict[str, Any]) -> dict[str, Any]:
        """Open an incident by hand, or with ``alerts`` linked (detection = the first alert; the
        runbook, unless given, the link of the first of their rules that names one)."""
        now = self.clock()
        fields = new_incident(doc, now)
        alerts = [self._alert(by, a) for a in _alert_ids(doc.get("alerts"))]
        use_case = fields.use_case or next((a["use_case"] for a in alerts if a["use_case"]), None)
        require(by, Action.INCIDENT_MANAGE, use_case, "opening an incident")
        first_alert = min((a["first_seen"] for a in alerts), default=None)
        detected = fields.detected_at or first_alert or now
        runbook = fields.runbook_url or next(
            (url for url in (self.repo.rule_runbook(a["rule"]) for a in alerts) if url), ""
        )
        values = {
            "title": fields.title,
            "description": fields.description,
            "kind": fields.kind.value,
            "severity": fields.severity.value,
            "serious_incident": fields.serious_incident,
            "status": IncidentStatus.OPEN.value,
            "use_case": use_case,
            "model": fields.model or next((a["model"] for a in alerts if a["model"]), None),
            "workflow": fields.workflow or next((a["workflow"] for a in alerts if a["workflow"]), None),
            "owner": fields.owner or by.login,
            "runbook_url": runbook,
            "resolution": "",
            "retrospective": None,
            "detected_at": detected,
            "opened_at": now,
            "opened_by": by.actor,
            "updated_at": now,
        }
        incident_id = self.repo.add_incident(values)
        self._entry(
            incident_id, EntryKind.OPENED, f"opened as {fields.severity.value}: {fields.title}", by, now
        )
        for alert in alerts:
            self._link(by, incident_id, alert, now)
        return self.get(by, incident_id)

    def open_from_alert(
        self, by: Principal, alert_id: int, changes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Open an incident for an alert, its fields taken from the alert (and the runbook from its
        rule) unless *changes* say otherwise."""
        alert = self._alert(by, alert_id)
        return self.open(
            by, from_alert(alert) | {k: v for k, v in (changes or {}).items() if v not in (None, "")}
        )

    def _alert(self, by: Principal, alert_id: int) -> dict[str, Any]:
        alert = self.repo.get_alert(alert_id)
        if alert is None or not may(by, Action.READ, alert["use_case"]):
            raise NotFound(f"no alert {alert_id}", field="alerts", fix="list them with 'paceline alert list'")
        if alert["incident_id"] is not None:
            raise Conflict(
                f"alert {alert_id} belongs to incident {alert['incident_id']} already",
                field="alerts",
                fix=f"add to incident {alert['incident_id']} instead",
            )
        return alert

    def _link(self, by: Principal, incident_id: int, alert: dict[str, Any], now: datetime) -> None:
        self.repo.link_alert(alert["id"], incident_id)
        data = {"alert_id": alert["id"], "rule": alert["rule"]}
        self._entry(
            incident_id, EntryKind.ALERT, f"alert {alert['id']} linked: {alert['message']}", by, now, data
        )

    def link_alert(self, by: Principal, incident_id: int, alert_id: int) -> dict[str, Any]:
        incident = self._manage(by, incident_id)
        _not_closed(incident)
        self._link(by, incident_id, self._alert(by, alert_id), self.clock())
        return self.get(by, incident_id)

    # --- changing ----------------------------------------------------------------------------
    def set_status(
        self, by: Principal, incident_id: int, status: str, note: str = "", resolution: str = ""
    ) -> dict[str, Any]:
        """Move along the status flow; resolving records the resolution, reopening clears the time."""
        incident = self._manage(by, incident_id)
        to = parse_choice(IncidentStatus, status, "status")
        resolution = text_field(resolution, "resolution")
        check_transition(incident, to, resolution)
        now = self.clock()
        values: dict[str, Any] = {"status": to.value, "updated_at": now}
        if to is IncidentStatus.RESOLVED:
            values |= {"resolved_at": now, "resolution": resolution or incident.resolution}
        elif to is IncidentStatus.CLOSED:
            values["closed_at"] = now
        elif incident.status is IncidentStatus.RESOLVED:  # reopened: MTTR counts the next resolution
            values["resolved_at"] = None
        self.repo.update_incident(incident_id, values)
        text = f"{incident.status.value} → {to.value}" + (f": {note.strip()}" if note.strip() else "")
        self._entry(
            incident_id, EntryKind.STATUS, text, by, now, {"from": incident.status.value, "to": to.value}
        )
        if to is IncidentStatus.RESOLVED:
            self._entry(incident_id, EntryKind.RESOLUTION, values["resolution"], by, now)
        return self.get(by, incident_id)

    def resolve(self, by: Principal, incident_id: int, resolution: str) -> dict[str, Any]:
        if not str(resolution or "").strip():
            raise ValidationError(
                "resolving needs a resolution: what fixed it",
                field="resolution",
                fix="e.g. rolled back to v3",
            )
        return self.set_status(by, incident_id, IncidentStatus.RESOLVED.value, resolution=resolution)

    def add_note(self, by: Principal, incident_id: int, text: str) -> dict[str, Any]:
        _not_closed(self._manage(by, incident_id))
        note = text_field(text, "note", required=True)
        self._entry(incident_id, EntryKind.NOTE, note, by, self.clock())
        return self.get(by, incident_id)

    def set_runbook(self, by: Principal, incident_id: int, url: str) -> dict[str, Any]:
        incident = self._manage(by, incident_id)
        _not_closed(incident)
        link = runbook_url(url)
        if not link:
            raise ValidationError("give the runbook's link", field="runbook_url", fix="an http(s) URL")
        now = self.clock()
        self.repo.update_incident(incident_id, {"runbook_url": link, "updated_at": now})
        self._entry(incident_id, EntryKind.RUNBOOK, link, by, now)
        return self.get(by, incident_id)

    def set_severity(
        self, by: Principal, incident_id: int, severity: str, serious_incident: bool | None = None
    ) -> dict[str, Any]:
        incident = self._manage(by, incident_id)
        _not_closed(incident)
        level = parse_choice(Severity, severity, "severity")
        serious = incident.serious_incident if serious_incident is None else serious_incident
        if (level, serious) == (incident.severity, incident.serious_incident):
            return self.get(by, incident_id)
        now = self.clock()
        self.repo.update_incident(
            incident_id, {"severity": level.value, "serious_incident": serious, "updated_at": now}
        )
        text = f"{incident.severity.value} → {level.value}" + (
            " · serious incident (EU AI Act)" if serious else ""
        )
        self._entry(
            incident_id, EntryKind.SEVERITY, text, by, now, {"severity": level.value, "serious": serious}
        )
        return self.get(by, incident_id)

    def write_retrospective(self, by: Principal, incident_id: int, doc: dict[str, Any]) -> dict[str, Any]:
        """What happened, the impact, the root cause, actions with owners; once resolved."""
        incident = self._manage(by, incident_id)
        if incident.status is not IncidentStatus.RESOLVED:
            raise Conflict(
                f"incident {incident_id} is {incident.status.value}: a retrospective follows the resolution",
                field="status",
                fix="resolve it first" if incident.status is not IncidentStatus.CLOSED else "it is closed",
            )
        retro = retrospective_from_dict(doc)
        now = self.clock()
        self.repo.update_incident(incident_id, {"retrospective": retro.to_dict(), "updated_at": now})
        owners = ", ".join(sorted({a.owner for a in retro.actions}))
        text = f"retrospective written: {len(retro.actions)} action(s), owners {owners}"
        self._entry(incident_id, EntryKind.RETROSPECTIVE, text, by, now)
        return self.get(by, incident_id)

    def record_action(self, by: Principal, incident_id: int, text: str, data: dict[str, Any]) -> None:
        """A lifecycle step taken from the incident (a retraining request, a deprecation)."""
        incident = self._manage(by, incident_id)
        _not_closed(incident)
        self._entry(
            incident_id, EntryKind.ACTION, text_field(text, "action", required=True), by, self.clock(), data
        )

    def model_for_action(self, by: Principal, incident_id: int) -> str:
        """The incident's model, once *by* may take a lifecycle step (retraining, deprecation) from it."""
        incident = self._manage(by, incident_id)
        _not_closed(incident)
        if not incident.model:
            raise ValidationError(
                f"incident {incident_id} names no model",
                field="model",
                fix="set the model when opening the incident",
            )
        return incident.model

    def _entry(
        self,
        incident_id: int,
        kind: EntryKind,
        text: str,
        by: Principal,
        at: datetime,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.repo.add_entry(incident_id, kind.value, text, data or {}, by.actor, at)


def _not_closed(incident: Incident) -> None:
    if incident.status is IncidentStatus.CLOSED:
        raise Conflict(f"incident {incident.id} is closed", fix="open a new incident")


def _alert_ids(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        try:
            ids.append(int(item))
        except (TypeError, ValueError):
            raise ValidationError(
                f"alert id {item!r} is not a number", field="alerts", fix="e.g. [12]"
            ) from None
    return sorted(set(ids))
