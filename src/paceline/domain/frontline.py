"""Frontline review sessions on a schedule, and the change log every stakeholder reads.

The framework asks for review sessions "weekly during pilot, monthly at scale" with the
frontline's feedback captured, and for change logs of model updates that stakeholders can
read. :func:`cadence_for` picks the rhythm from the use case's phase and :func:`schedule`
lays the dates out; :func:`change_entry` turns an audit-log entry about a model stage or a
workflow flag into a plain sentence (the audit log itself is for auditors only).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from paceline.domain import enablement_fields as f
from paceline.domain.usecases import Phase
from paceline.errors import ValidationError

MAX_SESSIONS = 260  # five years of weekly sessions in one plan


class Cadence(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class SessionStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


def cadence_for(phase: Phase) -> Cadence:
    """Weekly while the use case is piloted and people are enabled; monthly once it runs at scale."""
    return Cadence.WEEKLY if phase <= Phase.ENABLE else Cadence.MONTHLY


def _add_month(day: date) -> date:
    month = day.month % 12 + 1
    year = day.year + (day.month == 12)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule(start: date, until: date, cadence: Cadence) -> list[date]:
    """Session dates from *start* to *until* (both included), every week or every month."""
    if until < start:
        raise ValidationError(
            f"until {until} is before start {start}", field="until", fix="give an end on or after the start"
        )
    out: list[date] = []
    day = start
    while day <= until:
        out.append(day)
        if len(out) > MAX_SESSIONS:
            raise ValidationError(
                f"{len(out)} sessions is more than one plan holds ({MAX_SESSIONS})",
                field="until",
                fix="plan a shorter period",
            )
        day = day + timedelta(weeks=1) if cadence is Cadence.WEEKLY else _add_month(day)
    return out


SESSION_RESULT_FIELDS = ("held_on", "attendees", "feedback", "actions", "status")


def parse_session_result(doc: Any) -> dict[str, Any]:
    """What happened at a session: held (with attendees and the feedback captured) or cancelled."""
    f.unknown_fields(doc, SESSION_RESULT_FIELDS, "session result")
    status = f.choice(doc, "status", SessionStatus, SessionStatus.HELD)
    if status is SessionStatus.PLANNED:
        raise f.bad("status", status.value, "is not a result", "use held or cancelled")
    feedback = f.strings(doc, "feedback", f.NOTE_LIMIT)
    if status is SessionStatus.HELD and not feedback:
        raise f.bad(
            "feedback", doc.get("feedback"), "is empty", "capture at least one point the frontline raised"
        )
    return {
        "status": status.value,
        "held_on": f.day(doc, "held_on", status is SessionStatus.HELD),
        "attendees": f.whole(doc, "attendees", 0, 100_000, 0),
        "feedback": list(feedback),
        "actions": list(f.strings(doc, "actions", f.NOTE_LIMIT)),
    }


@dataclass(frozen=True)
class SessionSummary:
    planned: int
    held: int
    cancelled: int
    overdue: int  # planned sessions whose day has passed without a result
    next_on: date | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "held": self.held,
            "cancelled": self.cancelled,
            "overdue": self.overdue,
            "next_on": self.next_on.isoformat() if self.next_on else None,
        }


def summarise_sessions(sessions: list[dict[str, Any]], today: date) -> SessionSummary:
    """Counts by status, the overdue ones, and the next planned day."""
    planned = [date.fromisoformat(str(s["scheduled_on"])[:10]) for s in sessions if s["status"] == "planned"]
    upcoming = sorted(d for d in planned if d >= today)
    return SessionSummary(
        planned=len(planned),
        held=sum(s["status"] == "held" for s in sessions),
        cancelled=sum(s["status"] == "cancelled" for s in sessions),
        overdue=sum(d < today for d in planned),
        next_on=upcoming[0] if upcoming else None,
    )


# --- the change log ------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One model or workflow update, as every stakeholder may read it."""

    seq: int
    at: str
    kind: str  # "model" | "workflow"
    subject: str
    what: str
    reason: str
    by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "subject": self.subject,
            "what": self.what,
            "reason": self.reason,
            "by": self.by,
        }


CHANGE_ENTITIES = ("flags", "model_stage_changes")
FLAG_FIELDS = ("state", "default_variant", "canary_variant", "canary_percent", "targeting", "guardrails")


def _new(data: dict[str, Any], name: str) -> Any:
    value = data.get(name)
    return value.get("new") if isinstance(value, dict) and "new" in value else value


def _flag_change(entry: dict[str, Any]) -> tuple[str, str]:
    data = entry["data"] or {}
    if entry["action"] == "create":
        state, variant = data.get("state"), data.get("default_variant")
        return f"flag created ({state}, default {variant})", str(data.get("reason") or "")
    if entry["action"] == "delete":
        return "flag removed", ""
    parts = []
    for name in FLAG_FIELDS:
        value = data.get(name)
        if isinstance(value, dict) and "new" in value:
            parts.append(f"{name.replace('_', ' ')} {_short(value.get('old'))} → {_short(value.get('new'))}")
    return ("; ".join(parts) or "settings changed"), str(_new(data, "reason") or "")


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def change_entry(entry: dict[str, Any]) -> Change | None:
    """The change-log line of an audit entry about a flag or a model stage (None for others)."""
    seq, at, by = int(entry["seq"]), str(entry["at"]), str(entry["actor"])
    if entry["entity"] == "flags":
        what, reason = _flag_change(entry)
        return Change(seq, at, "workflow", str(entry["entity_id"]), what, reason, by)
    if entry["entity"] == "model_stage_changes" and entry["action"] == "create":
        d = entry["data"] or {}
        source = d.get("from_stage") or "new"
        what = f"version {d.get('version')}: {source} → {d.get('to_stage')} ({d.get('cause', '')})"
        return Change(seq, at, "model", str(d.get("model")), what, str(d.get("reason") or ""), by)
    return None
