"""Alert rules and alerts: managing rules, evaluating readings, acknowledging, listing.

:meth:`AlertService.evaluate` judges readings from any monitor (:class:`paceline.domain.alerts.
Reading`) against the enabled rules and applies the changes in the caller's transaction: new
alerts, updates of open ones, escalations, reopenings, resolutions, and the notifications
they call for, queued in the outbox (sent afterwards by
:class:`paceline.services.alert_channels.NotificationDispatcher`). A rule sends to its own
channels, or when it names none to the workspace's.

Permissions: ``monitor.manage`` for rules and evaluation, ``incident.manage`` to acknowledge,
``workspace.read`` to read, each on the use case of the rule or alert. A rule or alert that
names no use case spans them all, so it needs a grant that is not limited to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from paceline.domain.alerts import (
    DEFAULT_RULES,
    RULE_FIELDS,
    AlertRule,
    AlertState,
    AlertStatus,
    Change,
    Channel,
    Event,
    Reading,
    Severity,
    applies,
    dedup_key,
    evaluate,
    rule_from_dict,
)
from paceline.domain.roles import Action, allowed
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal
from paceline.services.parsing import parse_choice

STATUS_FILTERS = ("open", "acknowledged", "resolved", "active", "all")  # active = open or acknowledged


class AlertRepository(Protocol):
    def rules(self) -> list[dict[str, Any]]: ...
    def get_rule(self, name: str) -> dict[str, Any] | None: ...
    def save_rule(self, rule: AlertRule, by: str, now: datetime) -> dict[str, Any]: ...
    def delete_rule(self, name: str) -> bool: ...
    def latest_alerts(self, keys: Sequence[str]) -> dict[str, AlertState]: ...
    def lock_for_evaluation(self) -> None: ...
    def add_alerts(self, values: Sequence[dict[str, Any]]) -> list[int]: ...
    def update_alerts(self, changes: dict[int, dict[str, Any]], seen: dict[int, int]) -> None: ...
    def alerts_by_id(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]: ...
    def update_alert(self, alert_id: int, values: dict[str, Any]) -> None: ...
    def get_alert(self, alert_id: int) -> dict[str, Any] | None: ...
    def list_alerts(
        self,
        statuses: Sequence[str] = (),
        use_case: str | None = None,
        model: str | None = None,
        severity: str | None = None,
        incident_id: int | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]: ...
    def enqueue(
        self, alert_id: int, event: str, channel: Channel, payload: dict[str, Any], now: datetime
    ) -> None: ...
    def notifications(self, alert_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]: ...


def may(by: Principal, action: Action, use_case: str | None) -> bool:
    """*action* on *use_case*; with no use case, only through a grant that covers every use case."""
    if use_case is None:
        return allowed([g for g in by.grants if g.use_case is None], action)
    return by.can(action, use_case)


def require(by: Principal, action: Action, use_case: str | None, what: str) -> None:
    if not may(by, action, use_case):
        where = f"use case {use_case!r}" if use_case else "every use case"
        raise PermissionDenied(
            f"{by.login} may not {action.value} on {where} ({what})",
            action=action.value,
            fix="ask an admin for a role that allows it (paceline user grant)",
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _rule(doc: dict[str, Any]) -> AlertRule:
    return rule_from_dict(
        {k: v for k, v in doc.items() if k in RULE_FIELDS and k not in ("window", "cooldown")}
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def payload(alert: dict[str, Any], event: Event, runbook_url: str = "") -> dict[str, Any]:
    """The notification body: the alert's stable id, the event, what fired where, and the rule's
    runbook link (``None`` when the rule names none), so whoever is paged knows what to do."""
    keys = (
        "rule", "signal", "severity", "status", "use_case", "model", "workflow", "value", "threshold",
        "comparison", "samples", "window_start", "window_end", "first_seen", "last_seen", "count", "message",
    )  # fmt: skip
    body = {"alert_id": alert["id"], "event": event.value, **{k: _iso(alert[k]) for k in keys}}
    return body | {"runbook_url": runbook_url or None}


@dataclass
class Evaluation:
    """What one evaluation did: the changes by event, and readings no rule judged."""

    readings: int
    changes: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {e.value: 0 for e in Event}
        for change in self.changes:
            counts[change["event"]] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "readings": self.readings,
            "counts": self.counts(),
            "changes": self.changes,
            "unmatched": self.unmatched,
        }


class AlertService:
    """Rules, evaluation and alerts; every write is permission-checked and audited by the store."""

    def __init__(self, repo: AlertRepository, default_channels: Sequence[Channel] = ()) -> None:
        self.repo = repo
        self.default_channels = tuple(default_channels)

    # --- rules -----------------------------------------------------------------------------
    def rules(self, by: Principal) -> list[dict[str, Any]]:
        return [
            _rule(d).to_dict() | _meta(d) for d in self.repo.rules() if may(by, Action.READ, d["use_case"])
        ]

    def rule(self, by: Principal, name: str) -> dict[str, Any]:
        doc = self.repo.get_rule(name)
        if doc is None or not may(by, Action.READ, doc["use_case"]):
            raise NotFound(f"no alert rule {name!r}", fix="list them with 'paceline alert rule list'")
        return _rule(doc).to_dict() | _meta(doc)

    def add_rule(self, by: Principal, doc: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        rule = rule_from_dict(doc)
        require(by, Action.MONITOR_MANAGE, rule.scope.use_case, f"alert rule {rule.name}")
        if self.repo.get_rule(rule.name) is not None:
            raise Conflict(
                f"an alert rule {rule.name!r} exists already",
                field="name",
                fix="choose another name or replace it",
            )
        saved = self.repo.save_rule(rule, by.actor, now or _utcnow())
        return rule.to_dict() | _meta(saved)

    def replace_rule(
        self, by: Principal, name: str, doc: dict[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        current = self.rule(by, name)
        require(by, Action.MONITOR_MANAGE, current["use_case"], f"alert rule {name}")
        rule = rule_from_dict({**doc, "name": name})
        require(by, Action.MONITOR_MANAGE, rule.scope.use_case, f"alert rule {name}")
        saved = self.repo.save_rule(rule, by.actor, now or _utcnow())
        return rule.to_dict() | _meta(saved)

    def remove_rule(self, by: Principal, name: str) -> None:
        """Delete a rule; its alerts stay (resolved ones as history, live ones until acknowledged)."""
        current = self.rule(by, name)
        require(by, Action.MONITOR_MANAGE, current["use_case"], f"alert rule {name}")
        self.repo.delete_rule(name)

    def add_default_rules(self, by: Principal, now: datetime | None = None) -> list[str]:
        """Add the starter rules that are missing (by name); the names added."""
        require(by, Action.MONITOR_MANAGE, None, "the default alert rules")
        added = []
        for doc in DEFAULT_RULES:
            if self.repo.get_rule(str(doc["name"])) is None:
                self.repo.save_rule(rule_from_dict(dict(doc)), by.actor, now or _utcnow())
                added.append(str(doc["name"]))
        return added

    def enabled_rules(self, by: Principal) -> list[AlertRule]:
        """Every enabled rule (for the monitor to know which signals and windows to compute)."""
        require(by, Action.MONITOR_MANAGE, None, "evaluating alert rules")
        return self._enabled()

    def _enabled(self) -> list[AlertRule]:
        return [r for r in (_rule(d) for d in self.repo.rules()) if r.enabled]

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(self, by: Principal, readings: Sequence[Reading], now: datetime | None = None) -> Evaluation:
        """Judge *readings* against the enabled rules and apply the changes (see the module docstring).

        Evaluations take turns (a lock on PostgreSQL, the write transaction on SQLite), and every
        change is written in one flush, so thousands of readings cost a few statements.
        """
        require(by, Action.MONITOR_MANAGE, None, "evaluating alert rules")
        at = now or _utcnow()
        self.repo.lock_for_evaluation()
        rules = self._enabled()
        keys = [dedup_key(rule, r.scope) for r in readings for rule in rules if applies(rule, r)]
        changes, unmatched = evaluate(rules, list(readings), self.repo.latest_alerts(keys), at)
        plan = _Plan()
        for change in changes:
            plan.add(change, at)
        ids = plan.write(self.repo)
        docs = self.repo.alerts_by_id(sorted(set(ids))) if changes else {}
        result = Evaluation(len(readings), unmatched=[r.to_dict() for r in unmatched])
        for change, alert_id in zip(changes, ids, strict=True):
            if change.notify:
                body = payload(docs[alert_id], change.event, change.rule.runbook_url)
                for channel in change.rule.channels or self.default_channels:
                    self.repo.enqueue(alert_id, change.event.value, channel, body, at)
            result.changes.append(
                {"alert_id": alert_id, "event": change.event.value, "message": change.message()}
            )
        return result

    # --- alerts ------------------------------------------------------------------------------
    def list(
        self,
        by: Principal,
        status: str = "active",
        use_case: str | None = None,
        model: str | None = None,
        severity: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Alerts *by* may read, newest sighting first; *status* one of :data:`STATUS_FILTERS`."""
        if status not in STATUS_FILTERS:
            raise ValidationError(
                f"status {status!r} is not one of: {', '.join(STATUS_FILTERS)}",
                field="status",
                fix=f"use one of: {', '.join(STATUS_FILTERS)}",
            )
        statuses = {"active": ("open", "acknowledged"), "all": ()}.get(status, (status,))
        if severity is not None:
            severity = parse_choice(Severity, severity, "severity").value
        found = self.repo.list_alerts(statuses, use_case or None, model or None, severity, limit=limit)
        visible = [a for a in found if may(by, Action.READ, a["use_case"])]
        return _with_delivery(self.repo, visible)

    def get(self, by: Principal, alert_id: int) -> dict[str, Any]:
        alert = self.repo.get_alert(alert_id)
        if alert is None or not may(by, Action.READ, alert["use_case"]):
            raise NotFound(f"no alert {alert_id}", fix="list them with 'paceline alert list'")
        return _with_delivery(self.repo, [alert], detail=True)[0]

    def acknowledge(
        self, by: Principal, alert_id: int, note: str = "", now: datetime | None = None
    ) -> dict[str, Any]:
        """Someone is on it: the alert stops escalating (it still resolves when the signal clears)."""
        alert = self.get(by, alert_id)
        require(by, Action.INCIDENT_MANAGE, alert["use_case"], f"alert {alert_id}")
        if alert["status"] != AlertStatus.OPEN.value:
            raise Conflict(f"alert {alert_id} is {alert['status']}", fix="only open alerts are acknowledged")
        values = {
            "status": AlertStatus.ACKNOWLEDGED.value,
            "acknowledged_by": by.actor,
            "acknowledged_at": now or _utcnow(),
            "ack_note": note.strip()[:2000],
        }
        self.repo.update_alert(alert_id, values)
        return self.get(by, alert_id)


@dataclass
class _Plan:
    """The changes of one evaluation, merged per alert, to be written in one go."""

    new: list[dict[str, Any]] = field(default_factory=list)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)
    targets: list[tuple[bool, int]] = field(default_factory=list)  # per change: (is new, index or id)
    current: dict[str, tuple[bool, int]] = field(default_factory=dict)

    def add(self, change: Change, now: datetime) -> None:
        values = _sighting(change, now)
        if change.event is Event.OPENED:
            self.new.append(values | _opening(change, now))
            where = (True, len(self.new) - 1)
        else:
            assert change.alert_id is not None
            where = self.current.get(change.key, (False, change.alert_id))
            values |= _transition(change, now)
            counted = 0 if change.event is Event.RESOLVED else 1
            if where[0]:
                self.new[where[1]].update(values)
                self.new[where[1]]["count"] += counted
            else:
                self.updates.setdefault(where[1], {}).update(values)
                self.seen[where[1]] = self.seen.get(where[1], 0) + counted
        self.current[change.key] = where
        self.targets.append(where)

    def write(self, repo: AlertRepository) -> list[int]:
        """Write the plan; the alert id of each change, in order."""
        created = repo.add_alerts(self.new)
        repo.update_alerts(self.updates, self.seen)
        return [created[i] if is_new else i for is_new, i in self.targets]


def _sighting(change: Change, now: datetime) -> dict[str, Any]:
    reading = change.reading
    values: dict[str, Any] = {
        "value": reading.value,
        "samples": reading.samples,
        "window_start": reading.window_start,
        "window_end": reading.window_end,
        "last_seen": now,
    }
    if change.event is not Event.RESOLVED:  # a resolved alert keeps the message of its firing
        values["message"] = change.message()
    return values


def _opening(change: Change, now: datetime) -> dict[str, Any]:
    return {
        "rule": change.rule.name,
        "dedup_key": change.key,
        "signal": str(change.reading.signal),
        **change.reading.scope.to_dict(),
        "severity": change.severity.value,
        "status": AlertStatus.OPEN.value,
        "comparison": change.rule.comparison.value,
        "threshold": change.rule.threshold,
        "first_seen": now,
        "last_notified_at": now if change.notify else None,
        "count": 1,
    }


def _with_delivery(
    repo: AlertRepository, alerts: list[dict[str, Any]], detail: bool = False
) -> list[dict[str, Any]]:
    """Alerts as documents, with their rule's runbook link (``""`` for none) and how their
    notifications fared (and with *detail*, each one)."""
    sent = repo.notifications([a["id"] for a in alerts])
    runbooks = {r["name"]: r["runbook_url"] or "" for r in repo.rules()} if alerts else {}
    out = []
    for alert in alerts:
        items = sent.get(alert["id"], [])
        delivery = {s: sum(1 for n in items if n["status"] == s) for s in ("pending", "sent", "failed")}
        doc = {k: _iso(v) for k, v in alert.items() if k not in ("open_key", "dedup_key")} | {
            "runbook_url": runbooks.get(alert["rule"], ""),
            "delivery": delivery,
        }
        if detail:
            doc["notifications"] = [_notification(n) for n in items]
        out.append(doc)
    return out


def _transition(change: Change, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"severity": change.severity.value}
    if change.notify:
        values["last_notified_at"] = now
    if change.event is Event.RESOLVED:
        values |= {"status": AlertStatus.RESOLVED.value, "resolved_at": now}
    elif change.event is Event.REOPENED:
        values |= {
            "status": AlertStatus.OPEN.value,
            "resolved_at": None,
            "acknowledged_by": None,
            "acknowledged_at": None,
        }
    return values


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(doc[k]) for k in ("created_by", "created_at", "updated_at")}


def _notification(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "event", "channel", "target", "status", "attempts", "last_error", "created_at", "sent_at")
    return {k: _iso(doc[k]) for k in keys} | {"next_attempt_at": _iso(doc["next_attempt_at"])}
