"""SQLAlchemy side of alerting and incidents: rules, alerts, the notification outbox, incidents
and their timelines, and the runtime figures the monitor reads (failed cases, review decisions,
review SLAs, model-call cost), each aggregated in the database per workflow.

Implements :class:`paceline.services.alerting.AlertRepository`,
:class:`paceline.services.alerting.NotificationRepository`,
:class:`paceline.services.incidents.IncidentRepository` and
:class:`paceline.services.monitor_readings.RuntimeFigures`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from paceline.domain.alert_channels import Channel
from paceline.domain.alerts import AlertRule, AlertState, AlertStatus, Severity
from paceline.domain.flags import OVERRIDING
from paceline.storage.alert_models import (
    AlertNotificationRow,
    AlertRow,
    AlertRuleRow,
    IncidentEntryRow,
    IncidentRow,
)
from paceline.storage.audit import record_event
from paceline.storage.runtime_models import CaseRow, OutboxRow, ReviewTaskRow, StepRunRow

CHUNK = 500  # keys per IN (...) list
EVALUATION_LOCK = 727402  # the advisory lock of alert evaluation (the migrations take 727401)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for UTC columns: make them comparable."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _doc(row: Any) -> dict[str, Any]:
    out = {c.name: getattr(row, c.name) for c in row.__table__.columns}
    return {k: aware(v) if isinstance(v, datetime) else v for k, v in out.items()}


def _apply(row: AlertRow, values: dict[str, Any], seen: int) -> None:
    for key, value in values.items():
        setattr(row, key, value)
    row.count += seen
    if "status" in values:
        row.open_key = None if values["status"] == AlertStatus.RESOLVED.value else row.dedup_key


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


class SqlAlertRepository:
    """Rules, alerts and the notification outbox."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- rules -----------------------------------------------------------------------------
    def _rule_row(self, name: str) -> AlertRuleRow | None:
        return self.session.scalars(select(AlertRuleRow).where(AlertRuleRow.name == name)).first()

    def rules(self) -> list[dict[str, Any]]:
        return [_doc(r) for r in self.session.scalars(select(AlertRuleRow).order_by(AlertRuleRow.name))]

    def get_rule(self, name: str) -> dict[str, Any] | None:
        row = self._rule_row(name)
        return None if row is None else _doc(row)

    def save_rule(self, rule: AlertRule, by: str, now: datetime) -> dict[str, Any]:
        row = self._rule_row(rule.name)
        if row is None:
            row = AlertRuleRow(name=rule.name, created_by=by, created_at=now)
            self.session.add(row)
        row.signal, row.comparison, row.threshold = str(rule.signal), rule.comparison.value, rule.threshold
        row.window_seconds, row.min_samples = rule.window_seconds, rule.min_samples
        row.severity, row.cooldown_seconds = rule.severity.value, rule.cooldown_seconds
        row.use_case, row.model, row.workflow = rule.scope.use_case, rule.scope.model, rule.scope.workflow
        row.channels = [c.to_dict() for c in rule.channels]
        row.enabled, row.description, row.updated_at = rule.enabled, rule.description, now
        row.runbook_url = rule.runbook_url
        self.session.flush()
        return _doc(row)

    def delete_rule(self, name: str) -> bool:
        row = self._rule_row(name)
        if row is None:
            return False
        self.session.delete(row)
        self.session.flush()
        return True

    # --- alerts ----------------------------------------------------------------------------
    def latest_alerts(self, keys: Iterable[str]) -> dict[str, AlertState]:
        """The latest alert of each de-duplication key (by id), for the keys that have one."""
        found: dict[str, AlertState] = {}
        for part in _chunks(sorted(set(keys))):
            stmt = select(AlertRow).where(AlertRow.dedup_key.in_(list(part))).order_by(AlertRow.id)
            for row in self.session.scalars(stmt):
                found[row.dedup_key] = AlertState(
                    row.id,
                    AlertStatus(row.status),
                    Severity(row.severity),
                    aware(row.first_seen) or row.first_seen,
                    aware(row.last_notified_at),
                    aware(row.resolved_at),
                )
        return found

    def lock_for_evaluation(self) -> None:
        """Evaluations take turns: on PostgreSQL a transaction lock (SQLite's write transaction
        already excludes other writers), so two never open the same alert twice."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVALUATION_LOCK})

    def add_alerts(self, values: Sequence[dict[str, Any]]) -> list[int]:
        """Insert alerts in one flush; their ids in order."""
        rows = []
        for doc in values:
            live = doc["status"] != AlertStatus.RESOLVED.value
            rows.append(AlertRow(**doc, open_key=doc["dedup_key"] if live else None, ack_note=""))
        self.session.add_all(rows)
        self.session.flush()
        return [int(r.id) for r in rows]

    def _rows(self, ids: Sequence[int]) -> dict[int, AlertRow]:
        found: dict[int, AlertRow] = {}
        for i in range(0, len(ids), CHUNK):
            stmt = select(AlertRow).where(AlertRow.id.in_(list(ids[i : i + CHUNK])))
            found.update((r.id, r) for r in self.session.scalars(stmt))
        return found

    def update_alerts(self, changes: dict[int, dict[str, Any]], seen: dict[int, int]) -> None:
        """Change alerts (and add *seen* sightings to their count) in one flush."""
        rows = self._rows(sorted(changes))
        for alert_id, values in changes.items():
            _apply(rows[alert_id], values, seen.get(alert_id, 0))
        self.session.flush()

    def update_alert(self, alert_id: int, values: dict[str, Any]) -> None:
        row = self.session.get(AlertRow, alert_id)
        if row is not None:
            _apply(row, values, 0)
            self.session.flush()

    def alerts_by_id(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        return {i: _doc(row) for i, row in self._rows(list(ids)).items()}

    def get_alert(self, alert_id: int) -> dict[str, Any] | None:
        row = self.session.get(AlertRow, alert_id)
        return None if row is None else _doc(row)

    def list_alerts(
        self,
        statuses: Sequence[str] = (),
        use_case: str | None = None,
        model: str | None = None,
        severity: str | None = None,
        incident_id: int | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        stmt = select(AlertRow).order_by(AlertRow.last_seen.desc(), AlertRow.id.desc()).limit(limit)
        if statuses:
            stmt = stmt.where(AlertRow.status.in_(list(statuses)))
        for column, value in (
            (AlertRow.use_case, use_case),
            (AlertRow.model, model),
            (AlertRow.severity, severity),
            (AlertRow.incident_id, incident_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        return [_doc(r) for r in self.session.scalars(stmt)]

    # --- notifications -----------------------------------------------------------------------
    def enqueue(
        self, alert_id: int, event: str, channel: Channel, payload: dict[str, Any], now: datetime
    ) -> None:
        self.session.add(
            AlertNotificationRow(
                alert_id=alert_id,
                event=event,
                channel=channel.kind.value,
                target=channel.target,
                smtp_host=channel.smtp_host,
                smtp_port=channel.smtp_port,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def notifications(self, alert_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        if alert_ids:
            stmt = (
                select(AlertNotificationRow)
                .where(AlertNotificationRow.alert_id.in_(list(alert_ids)))
                .order_by(AlertNotificationRow.id)
            )
            for row in self.session.scalars(stmt):
                out[row.alert_id].append(_doc(row))
        return dict(out)

    def claim_notifications(self, now: datetime, lease: timedelta, limit: int) -> list[dict[str, Any]]:
        """Lease up to *limit* due notifications (pending, due, not leased by a live sender)."""
        n = AlertNotificationRow
        stmt = (
            select(n)
            .where(
                n.status == "pending",
                n.next_attempt_at <= now,
                or_(n.lease_expires_at.is_(None), n.lease_expires_at < now),
            )
            .order_by(n.next_attempt_at, n.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(self.session.scalars(stmt))
        for row in rows:
            row.lease_expires_at = now + lease
        self.session.flush()
        return [_doc(r) for r in rows]

    def finish_notification(
        self, notification_id: int, attempts: int, error: str | None, retry_at: datetime | None, now: datetime
    ) -> None:
        """Record an attempt: sent, to be retried at *retry_at*, or failed for good (audited)."""
        row = self.session.get(AlertNotificationRow, notification_id)
        if row is None:
            return
        row.attempts, row.lease_expires_at, row.last_error = attempts, None, error
        if error is None:
            row.status, row.sent_at = "sent", now
        elif retry_at is not None:
            row.next_attempt_at = retry_at
        else:
            row.status = "failed"
            record_event(
                self.session,
                "notify_failed",
                "alerts",
                str(row.alert_id),
                {
                    "event": row.event,
                    "channel": row.channel,
                    "target": row.target,
                    "attempts": attempts,
                    "error": error,
                },
            )
        self.session.flush()


class SqlIncidentRepository:
    """Incidents, their timelines, and the alerts linked to them."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_incident(self, values: dict[str, Any]) -> int:
        row = IncidentRow(**values)
        self.session.add(row)
        self.session.flush()
        return int(row.id)

    def get_incident(self, incident_id: int) -> dict[str, Any] | None:
        row = self.session.get(IncidentRow, incident_id)
        return None if row is None else _doc(row)

    def update_incident(self, incident_id: int, values: dict[str, Any]) -> None:
        row = self.session.get(IncidentRow, incident_id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)
            self.session.flush()

    def list_incidents(
        self, statuses: Sequence[str] = (), use_case: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        stmt = select(IncidentRow).order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc()).limit(limit)
        if statuses:
            stmt = stmt.where(IncidentRow.status.in_(list(statuses)))
        if use_case is not None:
            stmt = stmt.where(IncidentRow.use_case == use_case)
        return [_doc(r) for r in self.session.scalars(stmt)]

    def resolved_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        stmt = select(IncidentRow).where(IncidentRow.resolved_at >= start, IncidentRow.resolved_at < end)
        return [_doc(r) for r in self.session.scalars(stmt)]

    def add_entry(
        self, incident_id: int, kind: str, text: str, data: dict[str, Any], by: str, at: datetime
    ) -> None:
        self.session.add(
            IncidentEntryRow(incident_id=incident_id, kind=kind, text=text, data=data, by=by, at=at)
        )
        self.session.flush()

    def entries(self, incident_id: int) -> list[dict[str, Any]]:
        stmt = (
            select(IncidentEntryRow)
            .where(IncidentEntryRow.incident_id == incident_id)
            .order_by(IncidentEntryRow.id)
        )
        return [_doc(r) for r in self.session.scalars(stmt)]

    def get_alert(self, alert_id: int) -> dict[str, Any] | None:
        row = self.session.get(AlertRow, alert_id)
        return None if row is None else _doc(row)

    def link_alert(self, alert_id: int, incident_id: int) -> None:
        row = self.session.get(AlertRow, alert_id)
        if row is not None:
            row.incident_id = incident_id
            self.session.flush()

    def rule_runbook(self, name: str) -> str:
        """The runbook link of the alert rule *name* (``""`` when it names none or is gone)."""
        url = self.session.scalar(select(AlertRuleRow.runbook_url).where(AlertRuleRow.name == name))
        return url or ""

    def alerts_of(self, incident_id: int) -> list[dict[str, Any]]:
        stmt = select(AlertRow).where(AlertRow.incident_id == incident_id).order_by(AlertRow.id)
        return [_doc(r) for r in self.session.scalars(stmt)]


class SqlRuntimeFigures:
    """What the runtime did in a window, per workflow, counted by the database."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def case_outcomes(self, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """Per workflow, of the cases created in the window that ended: how many, how many failed,
        and how many completed but their downstream action failed for good."""
        in_window = and_(CaseRow.created_at >= start, CaseRow.created_at < end)
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"ended": 0, "failed": 0, "action_failed": 0})
        ended = (
            select(CaseRow.workflow, CaseRow.status, func.count())
            .where(in_window, CaseRow.status.in_(["completed", "failed"]))
            .group_by(CaseRow.workflow, CaseRow.status)
        )
        for workflow, status, count in self.session.execute(ended):
            out[workflow]["ended"] += int(count)
            if status == "failed":
                out[workflow]["failed"] += int(count)
        actions = (
            select(CaseRow.workflow, func.count(func.distinct(CaseRow.id)))
            .join(OutboxRow, OutboxRow.case_id == CaseRow.id)
            .where(in_window, CaseRow.status == "completed", OutboxRow.status == "failed")
            .group_by(CaseRow.workflow)
        )
        for workflow, count in self.session.execute(actions):
            out[workflow]["action_failed"] += int(count)
        return dict(out)

    def review_decisions(self, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """Per workflow, review items decided in the window and those decided edit/override/reject."""
        t = ReviewTaskRow
        stmt = (
            select(t.workflow, t.decision, func.count())
            .where(t.status == "done", t.decided_at >= start, t.decided_at < end)
            .group_by(t.workflow, t.decision)
        )
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"decided": 0, "overridden": 0})
        for workflow, decision, count in self.session.execute(stmt):
            out[workflow]["decided"] += int(count)
            if decision in OVERRIDING:
                out[workflow]["overridden"] += int(count)
        return dict(out)

    def review_sla(self, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """Per workflow, review items due in the window (up to *end*) and those breached: decided
        after their due time, or still undecided once it passed."""
        t = ReviewTaskRow
        breached = or_(
            and_(t.decided_at.is_(None), t.due_at < end),
            t.decided_at > t.due_at,
        )
        stmt = (
            select(t.workflow, func.count(), func.sum(case((breached, 1), else_=0)))
            .where(t.due_at >= start, t.due_at < end)
            .group_by(t.workflow)
        )
        return {
            workflow: {"due": int(count), "breached": int(late or 0)}
            for workflow, count, late in self.session.execute(stmt)
        }

    def case_costs(self, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
        """Per workflow, model calls of cases created in the window and their summed cost
        (``paceline.cost`` in the call's attributes; a call without one costs 0)."""
        stmt = (
            select(CaseRow.workflow, StepRunRow.output)
            .join(StepRunRow, StepRunRow.case_id == CaseRow.id)
            .where(CaseRow.created_at >= start, CaseRow.created_at < end, StepRunRow.step == "infer")
        )
        out: dict[str, dict[str, float]] = defaultdict(lambda: {"calls": 0.0, "cost": 0.0})
        for workflow, output in self.session.execute(stmt):
            cost = _cost(output)
            out[workflow]["calls"] += 1
            out[workflow]["cost"] += cost
        return dict(out)


def _cost(output: Any) -> float:
    """The ``paceline.cost`` attribute of a journaled model call, or 0."""
    call = output.get("call") if isinstance(output, dict) else None
    attributes = call.get("attributes") if isinstance(call, dict) else None
    cost = attributes.get("paceline.cost") if isinstance(attributes, dict) else None
    return float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else 0.0
