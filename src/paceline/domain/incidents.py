"""AI incidents: severity, the status flow, the retrospective, and time to resolve (MTTR).

Severity is operational, ``sev1`` (worst) to ``sev4``, because it decides who is woken up;
whether the incident is a *serious incident* in the sense of the EU AI Act (Art. 3(49):
death or serious harm to health, serious and irreversible disruption of critical
infrastructure, infringement of fundamental-rights obligations, serious harm to property
or the environment) is a separate flag, because it triggers reporting to the market
surveillance authority (Art. 73: no later than 15 days after becoming aware; sooner for
the gravest cases) whatever the operational severity.

The status moves ``open -> investigating -> mitigated -> resolved -> closed`` along
:data:`TRANSITIONS`; resolving needs a resolution, and closing a sev1/sev2 or serious
incident needs its retrospective (the framework's post-deployment "incident
retrospectives"). MTTR runs from detection (the first alert, or when it was noticed) to
resolution. Pure: time is passed in.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from paceline.errors import Conflict, ValidationError

URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
MAX_TITLE = 200
MAX_TEXT = 10_000
REPORT_DAYS = 15  # Art. 73(2) EU AI Act: the general deadline for reporting a serious incident


class Severity(StrEnum):
    SEV1 = "sev1"  # people harmed or wrong decisions at scale; stop or roll back now
    SEV2 = "sev2"  # a production model misbehaves for many cases; fix within the day
    SEV3 = "sev3"  # degraded quality or a contained failure; fix within the week
    SEV4 = "sev4"  # minor: cosmetic, or a near miss worth learning from


SEVERITY_MEANING: dict[Severity, str] = {
    Severity.SEV1: "people harmed or wrong decisions at scale; stop or roll back now",
    Severity.SEV2: "a production model misbehaves for many cases; fix within the day",
    Severity.SEV3: "degraded quality or a contained failure; fix within the week",
    Severity.SEV4: "minor, or a near miss worth learning from",
}
NEEDS_RETROSPECTIVE = frozenset({Severity.SEV1, Severity.SEV2})


class IncidentKind(StrEnum):
    MALFUNCTION = "malfunction"
    UNEXPECTED_BEHAVIOR = "unexpected_behavior"
    MODEL_DRIFT = "model_drift"
    PERFORMANCE_DEGRADATION = "performance_degradation"
    DATA_CORRUPTION = "data_corruption"
    MISUSE = "misuse"
    SECURITY_BREACH = "security_breach"
    OTHER = "other"


class IncidentStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"  # the harm is contained (rollback, kill switch); the cause is not fixed
    RESOLVED = "resolved"  # fixed; MTTR stops here
    CLOSED = "closed"  # the retrospective is done; nothing more happens


TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.OPEN: frozenset(
        {IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED}
    ),
    IncidentStatus.INVESTIGATING: frozenset({IncidentStatus.MITIGATED, IncidentStatus.RESOLVED}),
    IncidentStatus.MITIGATED: frozenset({IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED}),
    IncidentStatus.RESOLVED: frozenset({IncidentStatus.INVESTIGATING, IncidentStatus.CLOSED}),
    IncidentStatus.CLOSED: frozenset(),
}
ACTIVE = frozenset({IncidentStatus.OPEN, IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED})


class EntryKind(StrEnum):
    """What a timeline entry records."""

    OPENED = "opened"
    STATUS = "status"
    NOTE = "note"
    ALERT = "alert"  # an alert was linked
    RUNBOOK = "runbook"
    SEVERITY = "severity"
    RESOLUTION = "resolution"
    RETROSPECTIVE = "retrospective"
    ACTION = "action"  # a lifecycle step taken from the incident (retraining, deprecation)


def _invalid(message: str, name: str, fix: str) -> ValidationError:
    return ValidationError(message, field=name, fix=fix)


def _choice(kind: type[Any], value: Any, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise _invalid(f"{name} {value!r} is not one of: {choices}", name, f"use one of: {choices}") from None


def text_field(value: Any, name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise _invalid(f"{name} is empty", name, f"write the {name.replace('_', ' ')}")
    if len(text) > limit:
        raise _invalid(f"{name} is {len(text)} characters long", name, f"at most {limit}")
    return text


def runbook_url(value: Any) -> str:
    """An http(s) link to the runbook, or ``""``."""
    text = "" if value is None else str(value).strip()
    if text and not URL_RE.match(text):
        raise _invalid(
            f"runbook {text!r} is not an http(s) URL",
            "runbook_url",
            "e.g. https://wiki.example.com/runbooks/claims",
        )
    return text


# --- the retrospective -------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionItem:
    """A follow-up of the retrospective, with the person who owns it."""

    text: str
    owner: str
    due: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "owner": self.owner, "due": self.due.isoformat() if self.due else None}


@dataclass(frozen=True)
class Retrospective:
    what_happened: str
    impact: str
    root_cause: str
    actions: tuple[ActionItem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "what_happened": self.what_happened,
            "impact": self.impact,
            "root_cause": self.root_cause,
            "actions": [a.to_dict() for a in self.actions],
        }


def _action(doc: Any, n: int) -> ActionItem:
    name = f"actions[{n}]"
    if not isinstance(doc, dict):
        raise _invalid(f"{name} is not an object", name, '{"text": ..., "owner": ..., "due": "YYYY-MM-DD"}')
    due_text = str(doc.get("due") or "").strip()
    try:
        due = date.fromisoformat(due_text) if due_text else None
    except ValueError:
        raise _invalid(f"{name}.due {due_text!r} is not a date", f"{name}.due", "YYYY-MM-DD") from None
    return ActionItem(
        text_field(doc.get("text"), f"{name}.text", required=True, limit=2000),
        text_field(doc.get("owner"), f"{name}.owner", required=True, limit=200),
        due,
    )


def retrospective_from_dict(doc: Any) -> Retrospective:
    """Validate a retrospective: what happened, the impact, the root cause, and owned actions."""
    if not isinstance(doc, dict):
        raise _invalid("a retrospective is an object", "retrospective", "see docs/monitoring.md")
    actions = doc.get("actions") or []
    if not isinstance(actions, list) or not actions:
        raise _invalid(
            "a retrospective needs at least one action with an owner",
            "actions",
            "e.g. retrain on Q3 data (owner: ml-lead)",
        )
    return Retrospective(
        text_field(doc.get("what_happened"), "what_happened", required=True),
        text_field(doc.get("impact"), "impact", required=True),
        text_field(doc.get("root_cause"), "root_cause", required=True),
        tuple(_action(a, i) for i, a in enumerate(actions)),
    )


# --- the incident ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    severity: Severity
    kind: IncidentKind
    status: IncidentStatus
    detected_at: datetime
    opened_at: datetime
    opened_by: str
    description: str = ""
    serious_incident: bool = False
    use_case: str | None = None
    model: str | None = None
    workflow: str | None = None
    runbook_url: str = ""
    resolution: str = ""
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    retrospective: Retrospective | None = None
    owner: str = ""

    @property
    def report_due(self) -> date | None:
        """The Art. 73 reporting deadline of a serious incident (15 days after awareness)."""
        if not self.serious_incident:
            return None
        return (self.detected_at + timedelta(days=REPORT_DAYS)).date()

    def mttr_seconds(self) -> float | None:
        """Detection to resolution, or ``None`` while unresolved."""
        if self.resolved_at is None:
            return None
        return max(0.0, (self.resolved_at - self.detected_at).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        mttr = self.mttr_seconds()
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "severity": self.severity.value,
            "kind": self.kind.value,
            "serious_incident": self.serious_incident,
            "report_due": self.report_due.isoformat() if self.report_due else None,
            "status": self.status.value,
            "use_case": self.use_case,
            "model": self.model,
            "workflow": self.workflow,
            "owner": self.owner,
            "runbook_url": self.runbook_url,
            "resolution": self.resolution,
            "detected_at": self.detected_at.isoformat(),
            "opened_at": self.opened_at.isoformat(),
            "opened_by": self.opened_by,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "mttr_hours": None if mttr is None else mttr / 3600,
            "retrospective": self.retrospective.to_dict() if self.retrospective else None,
        }


@dataclass(frozen=True)
class NewIncident:
    """What opening an incident needs, validated (see :func:`new_incident`)."""

    title: str
    severity: Severity
    kind: IncidentKind
    description: str
    serious_incident: bool
    use_case: str | None
    model: str | None
    workflow: str | None
    runbook_url: str
    owner: str
    detected_at: datetime | None


OPEN_FIELDS = frozenset(
    {"title", "severity", "kind", "description", "serious_incident", "use_case", "model", "workflow",
     "runbook_url", "owner", "detected_at", "alerts"}
)  # fmt: skip


def _detected(value: Any, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        at = value
    else:
        try:
            at = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise _invalid(
                f"detected_at {value!r} is not a time",
                "detected_at",
                "ISO 8601, e.g. 2026-03-02T09:30:00+00:00",
            ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=now.tzinfo)
    if at > now:
        raise _invalid(
            f"detected_at {at.isoformat()} is in the future",
            "detected_at",
            "when it was noticed, at the latest now",
        )
    return at


def _name(value: Any, name: str) -> str | None:
    text = text_field(value, name, limit=120)
    return text or None


def new_incident(doc: dict[str, Any], now: datetime) -> NewIncident:
    """Validate the fields of a new incident; every error names its field."""
    if not isinstance(doc, dict):
        raise _invalid("an incident is an object of fields", "incident", "see docs/monitoring.md")
    unknown = sorted(set(doc) - OPEN_FIELDS)
    if unknown:
        raise _invalid(f"unknown field {unknown[0]!r}", unknown[0], f"use: {', '.join(sorted(OPEN_FIELDS))}")
    serious = doc.get("serious_incident", False)
    if not isinstance(serious, bool):
        raise _invalid(
            f"serious_incident {serious!r} is not true or false", "serious_incident", "true or false"
        )
    return NewIncident(
        title=text_field(doc.get("title"), "title", required=True, limit=MAX_TITLE),
        severity=_choice(Severity, doc.get("severity", Severity.SEV3.value), "severity"),
        kind=_choice(IncidentKind, doc.get("kind", IncidentKind.MALFUNCTION.value), "kind"),
        description=text_field(doc.get("description"), "description"),
        serious_incident=serious,
        use_case=_name(doc.get("use_case"), "use_case"),
        model=_name(doc.get("model"), "model"),
        workflow=_name(doc.get("workflow"), "workflow"),
        runbook_url=runbook_url(doc.get("runbook_url")),
        owner=text_field(doc.get("owner"), "owner", limit=200),
        detected_at=_detected(doc.get("detected_at"), now),
    )


def check_transition(incident: Incident, to: IncidentStatus, resolution: str = "") -> None:
    """Raise :class:`Conflict` unless *incident* may move to *to* now."""
    allowed = TRANSITIONS[incident.status]
    if to not in allowed:
        nexts = ", ".join(sorted(s.value for s in allowed)) or "none: it is closed"
        raise Conflict(
            f"incident {incident.id} is {incident.status.value}; it cannot become {to.value}",
            field="status",
            fix=f"next statuses: {nexts}",
        )
    if to is IncidentStatus.RESOLVED and not (resolution or incident.resolution).strip():
        raise _invalid(
            "resolving needs a resolution: what fixed it",
            "resolution",
            "e.g. rolled back to v3 and retrained",
        )
    if to is IncidentStatus.CLOSED and incident.retrospective is None and needs_retrospective(incident):
        raise Conflict(
            f"incident {incident.id} is {incident.severity.value}"
            + (" and serious" if incident.serious_incident else "")
            + ": close it after its retrospective",
            field="retrospective",
            fix="write the retrospective (what happened, impact, root cause, actions with owners)",
        )


def needs_retrospective(incident: Incident) -> bool:
    return incident.severity in NEEDS_RETROSPECTIVE or incident.serious_incident


# --- MTTR --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MttrSummary:
    """Time to resolve the incidents resolved in a period, overall and per severity (hours)."""

    start: datetime
    end: datetime
    resolved: int
    mean_hours: float | None
    median_hours: float | None
    by_severity: dict[str, dict[str, float | int | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "resolved": self.resolved,
            "mean_hours": self.mean_hours,
            "median_hours": self.median_hours,
            "by_severity": self.by_severity,
        }


def _stats(hours: list[float]) -> tuple[float | None, float | None]:
    if not hours:
        return None, None
    return statistics.fmean(hours), statistics.median(hours)


def mttr(incidents: Iterable[Incident], start: datetime, end: datetime) -> MttrSummary:
    """MTTR of the incidents resolved in ``[start, end)`` (a reopened one counts its last resolution)."""
    if end <= start:
        raise _invalid("the period ends before it starts", "until", "swap the dates")
    hours: dict[Severity, list[float]] = {s: [] for s in Severity}
    for incident in incidents:
        seconds = incident.mttr_seconds()
        if seconds is None or incident.resolved_at is None or not start <= incident.resolved_at < end:
            continue
        hours[incident.severity].append(seconds / 3600)
    every = [h for values in hours.values() for h in values]
    mean, median = _stats(every)
    by_severity: dict[str, dict[str, float | int | None]] = {}
    for severity, values in hours.items():
        if values:
            m, md = _stats(values)
            by_severity[severity.value] = {"resolved": len(values), "mean_hours": m, "median_hours": md}
    return MttrSummary(start, end, len(every), mean, median, by_severity)
