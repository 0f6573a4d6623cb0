"""Where alert notifications go: a webhook, or e-mail addresses (with an optional SMTP server).

Validated here, as part of a rule document; delivering is :mod:`paceline.services.alert_channels`.
SMTP credentials are never part of a channel: they come from the workspace settings only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from paceline.errors import ValidationError

EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


def _invalid(message: str, name: str, fix: str) -> ValidationError:
    return ValidationError(message, field=name, fix=fix)


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class Channel:
    """Where a rule's notifications go: a webhook URL, or e-mail addresses (and optionally the
    SMTP host and port, else the workspace's). SMTP credentials come from the settings only."""

    kind: ChannelKind
    target: str  # the URL, or comma-separated addresses
    smtp_host: str | None = None
    smtp_port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": self.kind.value, "target": self.target}
        if self.kind is ChannelKind.EMAIL:
            doc |= {"smtp_host": self.smtp_host, "smtp_port": self.smtp_port}
        return doc

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.target.split(",") if a.strip())


def webhook(url: Any, name: str = "webhook") -> Channel:
    text = str(url).strip()
    if not URL_RE.match(text):
        raise _invalid(
            f"{name} {text!r} is not an http(s) URL", name, "e.g. https://hooks.example.com/paceline"
        )
    return Channel(ChannelKind.WEBHOOK, text)


def email(to: Any, host: Any = None, port: Any = None, name: str = "email") -> Channel:
    items = to if isinstance(to, list) else str(to).split(",")
    addresses = [str(a).strip() for a in items if str(a).strip()]
    bad = [a for a in addresses if not EMAIL_RE.match(a)]
    if not addresses or bad:
        shown = bad[0] if bad else ""
        raise _invalid(f"{name} address {shown!r} is not an e-mail address", name, "e.g. oncall@example.com")
    number = None if port in (None, "") else _port(port)
    host_text = str(host).strip() if host else None
    return Channel(ChannelKind.EMAIL, ",".join(addresses), host_text or None, number)


def _port(value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _invalid(f"smtp_port {value!r} is not a port", "smtp_port", "e.g. 587 or 25")
    return int(text)


def channel_from_dict(doc: Any, name: str = "channels") -> Channel:
    if not isinstance(doc, dict):
        raise _invalid(f"{name}: {doc!r} is not an object", name, '{"kind": "webhook", "target": URL}')
    kind = doc.get("kind")
    if kind == ChannelKind.WEBHOOK.value:
        return webhook(doc.get("target", doc.get("url", "")), name)
    if kind == ChannelKind.EMAIL.value:
        return email(doc.get("target", doc.get("to", "")), doc.get("smtp_host"), doc.get("smtp_port"), name)
    raise _invalid(f"{name}: kind {kind!r} is not webhook or email", name, "use webhook or email")
