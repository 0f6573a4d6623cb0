"""Tables of alerting and incidents: alert rules, alerts, their notifications, incidents and
the incidents' timelines.

Rules, alerts, incidents and timeline entries are audited. An alert's repeated sightings
(count, last value, window) are bookkeeping left out of its audit entries, so the log
records what people care about: opened, escalated, acknowledged, resolved, linked.
``open_key`` holds the de-duplication key while the alert is not resolved and NULL after,
so the unique constraint allows one live alert per (rule, scope) on every database.
Notifications are an outbox (like the runtime's): operational detail, not audited, but a
delivery that failed for good is written to the audit log by the repository.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paceline.storage.models import Audited, Base

UC = 80  # a use-case key
NAME = 120  # a model or workflow name
WHO = 200  # an actor
KEY = 400  # a de-duplication key: rule name and scope


class AlertRuleRow(Base, Audited):
    """A rule (the validated :class:`paceline.domain.alerts.AlertRule`, flattened)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    signal: Mapped[str] = mapped_column(String(160))
    comparison: Mapped[str] = mapped_column(String(10))
    threshold: Mapped[float] = mapped_column(Float)
    window_seconds: Mapped[int] = mapped_column(Integer)
    min_samples: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(20))
    cooldown_seconds: Mapped[int] = mapped_column(Integer)
    use_case: Mapped[str | None] = mapped_column(String(UC), nullable=True, index=True)
    model: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    workflow: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    channels: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(WHO))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    runbook_url: Mapped[str] = mapped_column(Text, default="", server_default="")  # since 0011


class AlertRow(Base, Audited):
    """One alert: a (rule, scope) whose condition held, from first sighting to resolution."""

    __tablename__ = "alerts"
    __audit_ignore__ = ("value", "samples", "window_start", "window_end", "last_seen", "count", "message")
    __table_args__ = (
        UniqueConstraint("open_key", name="uq_alert_open_key"),
        Index("ix_alerts_status", "status", "last_seen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(80), index=True)
    dedup_key: Mapped[str] = mapped_column(String(KEY), index=True)
    open_key: Mapped[str | None] = mapped_column(String(KEY), nullable=True)
    signal: Mapped[str] = mapped_column(String(160))
    use_case: Mapped[str | None] = mapped_column(String(UC), nullable=True, index=True)
    model: Mapped[str | None] = mapped_column(String(NAME), nullable=True, index=True)
    workflow: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    comparison: Mapped[str] = mapped_column(String(10))
    threshold: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(WHO), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ack_note: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class AlertNotificationRow(Base):
    """One message about an alert to one channel, sent with retries (an outbox row)."""

    __tablename__ = "alert_notifications"
    __table_args__ = (Index("ix_alert_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(Integer, index=True)
    event: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))  # webhook | email
    target: Mapped[str] = mapped_column(Text)
    smtp_host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    smtp_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IncidentRow(Base, Audited):
    """An incident (:class:`paceline.domain.incidents.Incident`); the retrospective as JSON."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    serious_incident: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))
    use_case: Mapped[str | None] = mapped_column(String(UC), nullable=True, index=True)
    model: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    workflow: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    owner: Mapped[str] = mapped_column(String(WHO))
    runbook_url: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(Text)
    retrospective: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_by: Mapped[str] = mapped_column(String(WHO))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IncidentEntryRow(Base, Audited):
    """One line of an incident's timeline (append-only)."""

    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    by: Mapped[str] = mapped_column(String(WHO))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
