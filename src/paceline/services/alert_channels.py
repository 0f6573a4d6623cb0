"""Delivering alert notifications: a webhook (HTTP POST of JSON) and e-mail (SMTP).

Notifications wait in an outbox written in the same transaction as the alert change, so a
crash never loses one. :class:`NotificationDispatcher` leases the due ones, sends each
outside any database transaction, and records the outcome: sent; or failed and retried with
exponential backoff; or, after the last attempt, failed for good, which is written to the
audit log and shown with the alert, so no failure passes silently. Every message carries
the alert's stable ``alert_id`` and the ``event`` (opened, escalated, reopened, resolved);
webhook receivers get an ``Idempotency-Key`` header that is the same on every retry.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import httpx

from paceline.domain.alert_channels import Channel, ChannelKind, email, webhook
from paceline.domain.workflow import backoff

LEASE = timedelta(minutes=5)


class NotifyError(Exception):
    """A channel refused or could not take a notification (the message is recorded)."""


class Sender(Protocol):
    def send(self, notification: dict[str, Any]) -> None: ...


class NotificationRepository(Protocol):
    def claim_notifications(self, now: datetime, lease: timedelta, limit: int) -> list[dict[str, Any]]: ...
    def finish_notification(
        self, notification_id: int, attempts: int, error: str | None, retry_at: datetime | None, now: datetime
    ) -> None: ...


def idempotency_key(notification: dict[str, Any]) -> str:
    """The same on every retry of one notification; different for each event of an alert."""
    return f"paceline-alert-{notification['alert_id']}-{notification['id']}"


class WebhookSender:
    """POSTs the payload as JSON; any 2xx answer counts as delivered."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(self, notification: dict[str, Any]) -> None:
        headers = {
            "Idempotency-Key": idempotency_key(notification),
            "X-Paceline-Alert": str(notification["alert_id"]),
            "X-Paceline-Event": str(notification["event"]),
        }
        try:
            response = self.client.post(notification["target"], json=notification["payload"], headers=headers)
        except httpx.HTTPError as exc:
            raise NotifyError(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"HTTP {response.status_code}: {response.text[:200]}")


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    sender: str = "paceline@localhost"
    timeout: float = 10.0


def email_message(notification: dict[str, Any], sender: str) -> EmailMessage:
    """A plain-text message: the subject says severity, event, rule and where; the body the rest."""
    doc = notification["payload"]
    where = ", ".join(f"{k} {doc[k]}" for k in ("use_case", "model", "workflow") if doc.get(k)) or "all"
    message = EmailMessage()
    message["Subject"] = f"[Paceline] {doc['severity'].upper()} alert {doc['event']}: {doc['rule']} ({where})"
    message["From"] = sender
    message["To"] = notification["target"]
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=idempotency_key(notification))
    message["X-Paceline-Alert"] = str(doc["alert_id"])
    message["X-Paceline-Event"] = str(doc["event"])
    lines = [doc["message"], ""]
    lines += [f"{k}: {doc[k]}" for k in sorted(doc) if k != "message" and doc[k] is not None]
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailSender:
    """Sends through SMTP: the channel's host and port if it names them, else the settings';
    STARTTLS and login when the settings ask for them."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, notification: dict[str, Any]) -> None:
        cfg = self.settings
        host = notification.get("smtp_host") or cfg.host
        if not host:
            raise NotifyError("no SMTP host: set smtp_host in the settings or on the rule's e-mail channel")
        port = int(notification.get("smtp_port") or cfg.port)
        message = email_message(notification, cfg.sender)
        try:
            with smtplib.SMTP(host, port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.user:
                    smtp.login(cfg.user, cfg.password or "")
                refused = smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise NotifyError(f"SMTP {host}:{port} refused: {', '.join(sorted(refused))}")


def senders(smtp: SmtpSettings, client: httpx.Client) -> dict[ChannelKind, Sender]:
    """The real senders: webhooks through *client*, e-mail through SMTP."""
    return {ChannelKind.WEBHOOK: WebhookSender(client), ChannelKind.EMAIL: EmailSender(smtp)}


def global_channels(webhook_url: str | None, email_to: str | None) -> tuple[Channel, ...]:
    """The workspace's default channels (settings ``alert_webhook_url`` and ``alert_email_to``)."""
    channels: list[Channel] = []
    if webhook_url:
        channels.append(webhook(webhook_url, "alert_webhook_url"))
    if email_to:
        channels.append(email(email_to, name="alert_email_to"))
    return tuple(channels)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed, "errors": self.errors}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NotificationDispatcher:
    """Sends due notifications with retries and backoff (see the module docstring)."""

    def __init__(
        self,
        open_repo: Callable[[], AbstractContextManager[NotificationRepository]],
        senders: dict[ChannelKind, Sender],
        max_attempts: int = 5,
        backoff_seconds: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.open_repo, self.senders = open_repo, senders
        self.max_attempts, self.backoff_seconds, self.clock = max_attempts, backoff_seconds, clock

    def deliver_due(self, batch: int = 100) -> DeliveryReport:
        """Send every notification due when the call starts, *batch* at a time; what was sent,
        will be retried (later calls), or failed for good."""
        report = DeliveryReport()
        cutoff, attempted = self.clock(), set()
        while True:
            with self.open_repo() as repo:
                due = [n for n in repo.claim_notifications(cutoff, LEASE, batch) if n["id"] not in attempted]
            if not due:
                return report
            for item in due:
                attempted.add(item["id"])
                self._attempt(item, report)

    def _attempt(self, item: dict[str, Any], report: DeliveryReport) -> None:
        error = self._send(item)
        attempts, now, retry_at = item["attempts"] + 1, self.clock(), None
        if error is None:
            report.sent += 1
        elif attempts < self.max_attempts:
            wait = backoff(attempts, str(item["id"]), self.backoff_seconds, self.backoff_seconds * 64)
            retry_at = now + timedelta(seconds=wait)
            report.retrying += 1
        else:
            report.failed += 1
            report.errors.append(f"alert {item['alert_id']} {item['event']} via {item['channel']}: {error}")
        with self.open_repo() as repo:
            repo.finish_notification(item["id"], attempts, error, retry_at, now)

    def _send(self, item: dict[str, Any]) -> str | None:
        sender = self.senders.get(ChannelKind(item["channel"]))
        if sender is None:
            return f"no sender for {item['channel']} notifications"
        try:
            sender.send(item)
        except NotifyError as exc:
            return str(exc)[:2000]
        return None
