"""Export the audit chain to a SIEM, incrementally from a stored cursor.

Each named export keeps a cursor: the last chain position sent and, for a file,
the byte offset written. A run reads the entries after the cursor in batches,
sends a batch, then commits the cursor. A crash between the two is repaired on
the next run: a file is cut back to the committed offset before anything is
appended (so no entry is written twice or skipped), and a network batch is sent
again with the same event ids (``metadata.uid = paceline-audit-<seq>``), which a
collector can use to drop the one repeated batch.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from paceline.domain import audit_formats as fmt
from paceline.domain.audit_formats import AuditRecord, Origin, Pseudonym
from paceline.domain.roles import Action
from paceline.errors import Conflict, PacelineError, ValidationError
from paceline.services.access import Principal

DEFAULT_BATCH = 500
NAME_HELP = "letters, digits, '.', '_' and '-' (at most 80)"


class ExportFailed(PacelineError):
    """The SIEM endpoint refused or could not be reached; the cursor was not moved."""

    code = "export_failed"
    http_status = 502
    exit_code = 1


class ExportFormat(StrEnum):
    OCSF = "ocsf"
    CEF = "cef"
    SYSLOG = "syslog"


@dataclass(frozen=True)
class ExportCursor:
    """How far a named export got: its last sent chain position and file offset."""

    name: str
    target: str
    format: str
    last_seq: int = 0
    file_offset: int = 0


@dataclass(frozen=True)
class ExportReport:
    name: str
    target: str
    format: str
    sent: int
    first_seq: int | None
    last_seq: int
    repaired_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "format": self.format,
            "sent": self.sent,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "repaired_bytes": self.repaired_bytes,
        }


class AuditExportStore(Protocol):
    """What the exporter needs from storage; each method is its own transaction."""

    def entries_after(self, seq: int, limit: int) -> list[AuditRecord]: ...
    def load_cursor(self, name: str) -> ExportCursor | None: ...
    def save_cursor(self, cursor: ExportCursor) -> None: ...
    def list_cursors(self) -> list[ExportCursor]: ...
    def record_run(self, actor: str, report: ExportReport) -> None: ...


class Sink(Protocol):
    """Where rendered events go. ``send`` returns the new file offset (0 for networks)."""

    def prepare(self, cursor: ExportCursor) -> int: ...
    def send(self, events: Sequence[dict[str, Any]]) -> int: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Target:
    """A parsed ``--to``: ``file:PATH``, ``syslog+udp://HOST:PORT``, ``syslog+tcp://…`` or an HTTP URL."""

    kind: str
    location: str
    host: str = ""
    port: int = 0


def parse_target(spec: str) -> Target:
    """The target named by *spec*, or a :class:`ValidationError` that shows the forms."""
    forms = "use file:PATH, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT or https://HOST/services/collector/event"
    if spec.startswith("file:"):
        path = spec[len("file:") :]
        if not path:
            raise ValidationError("the file target has no path", field="to", fix=forms)
        return Target("file", path)
    parts = urlsplit(spec)
    if parts.scheme in ("syslog+udp", "syslog+tcp", "http", "https"):
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname:
            raise ValidationError(f"target {spec!r} has no host", field="to", fix=forms)
        if parts.scheme.startswith("syslog"):
            if port is None:
                raise ValidationError(f"target {spec!r} has no port", field="to", fix=forms)
            return Target(parts.scheme.removeprefix("syslog+"), spec, parts.hostname, port)
        return Target("http", spec, parts.hostname, port or 0)
    raise ValidationError(f"unknown export target {spec!r}", field="to", fix=forms)


def _render(event: dict[str, Any], form: ExportFormat, hostname: str) -> str:
    if form is ExportFormat.OCSF:
        return fmt.to_json_line(event)
    if form is ExportFormat.CEF:
        return fmt.to_cef(event)
    return fmt.to_syslog(event, fmt.to_json_line(event), hostname)


class FileSink:
    """Appends one line per event; cuts back uncommitted bytes left by a crash first."""

    def __init__(self, path: Path, form: ExportFormat, hostname: str) -> None:
        self.path, self.form, self.hostname = path, form, hostname
        self.offset = 0

    def prepare(self, cursor: ExportCursor) -> int:
        """Truncate to the committed offset; returns how many uncommitted bytes were cut."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = self.path.stat().st_size if self.path.exists() else 0
        if size < cursor.file_offset and size > 0:
            raise Conflict(
                f"{self.path} is shorter ({size} bytes) than the export wrote ({cursor.file_offset})",
                fix="move the file aside (a new file is started) or reset the export with --reset",
            )
        committed = cursor.file_offset if size else 0
        with self.path.open("ab") as fh:
            fh.truncate(committed)
        self.offset = committed
        return size - committed if size > committed else 0

    def send(self, events: Sequence[dict[str, Any]]) -> int:
        data = "".join(_render(e, self.form, self.hostname) + "\n" for e in events).encode("utf-8")
        with self.path.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.offset += len(data)
        return self.offset

    def close(self) -> None:
        return None


class SyslogSink:
    """RFC 5424 messages over UDP (one datagram each) or TCP (RFC 6587 octet counting)."""

    def __init__(self, target: Target, form: ExportFormat, hostname: str, timeout: float) -> None:
        self.target, self.form, self.hostname, self.timeout = target, form, hostname, timeout
        self.sock: socket.socket | None = None

    def prepare(self, cursor: ExportCursor) -> int:
        kind = socket.SOCK_DGRAM if self.target.kind == "udp" else socket.SOCK_STREAM
        try:
            self.sock = (
                socket.create_connection((self.target.host, self.target.port), self.timeout)
                if kind == socket.SOCK_STREAM
                else socket.socket(socket.AF_INET, kind)
            )
        except OSError as exc:
            raise ExportFailed(
                f"cannot connect to {self.target.location}: {exc}",
                fix="check that the syslog receiver is running and reachable",
            ) from None
        return 0

    def _message(self, event: dict[str, Any]) -> str:
        body = fmt.to_cef(event) if self.form is ExportFormat.CEF else fmt.to_json_line(event)
        return fmt.to_syslog(event, body, self.hostname)

    def send(self, events: Sequence[dict[str, Any]]) -> int:
        assert self.sock is not None
        try:
            for event in events:
                message = self._message(event)
                if self.target.kind == "udp":
                    self.sock.sendto(message.encode("utf-8"), (self.target.host, self.target.port))
                else:
                    self.sock.sendall(fmt.octet_frame(message))
        except OSError as exc:
            raise ExportFailed(
                f"sending to {self.target.location} failed: {exc}",
                fix="check the syslog receiver, then run the export again",
            ) from None
        return 0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class HecSink:
    """Splunk HTTP Event Collector: the batch's events in one POST, in HEC's JSON envelope."""

    def __init__(
        self,
        target: Target,
        token: str | None,
        hostname: str,
        timeout: float,
        client: httpx.Client | None = None,
    ) -> None:
        self.target, self.hostname = target, hostname
        headers = {"Authorization": f"Splunk {token}"} if token else {}
        self.client = client or httpx.Client(timeout=timeout, headers=headers)

    def prepare(self, cursor: ExportCursor) -> int:
        return 0

    def send(self, events: Sequence[dict[str, Any]]) -> int:
        body = "".join(fmt.to_json_line(fmt.hec_event(e, self.hostname)) for e in events)
        try:
            response = self.client.post(
                self.target.location,
                content=body.encode("utf-8"),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ExportFailed(
                f"cannot reach {self.target.location}: {exc}",
                fix="check the collector URL and that it is running",
            ) from None
        if response.status_code != 200:
            raise ExportFailed(
                f"the collector at {self.target.location} answered {response.status_code}: "
                f"{response.text[:200]}",
                fix="check the HEC token (PACELINE_AUDIT_EXPORT_HEC_TOKEN) and the URL",
            )
        return 0

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class ExportOptions:
    """Settings the exporter uses (from the workspace settings)."""

    hostname: str
    product_version: str
    hec_token: str | None = None
    timeout_seconds: float = 10.0
    batch: int = DEFAULT_BATCH


SinkFactory = Callable[[Target, ExportFormat], Sink]


class AuditExportService:
    """Runs named exports; permission: ``audit.export``."""

    def __init__(
        self,
        store: AuditExportStore,
        pseudonym: Pseudonym,
        options: ExportOptions,
        sink_factory: SinkFactory | None = None,
    ) -> None:
        self.store, self.pseudonym, self.options = store, pseudonym, options
        self.sink_factory = sink_factory or self._default_sink

    def _default_sink(self, target: Target, form: ExportFormat) -> Sink:
        host, timeout = self.options.hostname, self.options.timeout_seconds
        if target.kind == "file":
            return FileSink(Path(target.location), form, host)
        if target.kind in ("udp", "tcp"):
            return SyslogSink(target, form, host, timeout)
        if form is not ExportFormat.OCSF:
            raise ValidationError(
                f"an HTTP collector takes OCSF events in HEC JSON, not {form.value}",
                field="format",
                fix="use --format ocsf with an HTTP target",
            )
        return HecSink(target, self.options.hec_token, host, timeout)

    @property
    def origin(self) -> Origin:
        return Origin(self.options.hostname, self.options.product_version)

    def events(self, records: Sequence[AuditRecord]) -> list[dict[str, Any]]:
        """The OCSF events of *records* (the one mapping every format renders)."""
        return [fmt.to_ocsf(r, self.origin, self.pseudonym) for r in records]

    def render(self, records: Sequence[AuditRecord], form: str) -> list[str]:
        """*records* rendered as lines of *form* (for downloads; no cursor involved)."""
        chosen = parse_format(form)
        return [_render(e, chosen, self.options.hostname) for e in self.events(records)]

    def cursors(self, by: Principal) -> list[ExportCursor]:
        by.require(Action.AUDIT_EXPORT)
        return self.store.list_cursors()

    def run(
        self,
        by: Principal,
        name: str,
        to: str,
        form: str = "ocsf",
        *,
        reset: bool = False,
        limit: int | None = None,
    ) -> ExportReport:
        """Send every entry after the cursor of export *name* to *to*; move the cursor per batch."""
        by.require(Action.AUDIT_EXPORT)
        _check_name(name)
        target, chosen = parse_target(to), parse_format(form)
        cursor = self._cursor(name, to, chosen, reset)
        sink = self.sink_factory(target, chosen)
        try:
            repaired = sink.prepare(cursor)
            report = self._pump(sink, cursor, limit)
        finally:
            sink.close()
        report = replace(report, repaired_bytes=repaired)
        if report.sent:
            self.store.record_run(by.actor, report)
        return report

    def _cursor(self, name: str, to: str, form: ExportFormat, reset: bool) -> ExportCursor:
        found = self.store.load_cursor(name)
        if found is None or reset:
            cursor = ExportCursor(name, to, form.value)
            self.store.save_cursor(cursor)
            return cursor
        if (found.target, found.format) != (to, form.value):
            raise Conflict(
                f"export {name!r} sends {found.format} to {found.target}, not {form.value} to {to}",
                fix="use another --name for a second destination, or --reset to start this one over",
            )
        return found

    def _pump(self, sink: Sink, cursor: ExportCursor, limit: int | None) -> ExportReport:
        sent, first = 0, None
        while limit is None or sent < limit:
            size = self.options.batch if limit is None else min(self.options.batch, limit - sent)
            records = self.store.entries_after(cursor.last_seq, size)
            if not records:
                break
            offset = sink.send(self.events(records))
            cursor = replace(cursor, last_seq=records[-1].seq, file_offset=offset)
            self.store.save_cursor(cursor)
            first = records[0].seq if first is None else first
            sent += len(records)
        return ExportReport(cursor.name, cursor.target, cursor.format, sent, first, cursor.last_seq, 0)


def parse_format(value: str) -> ExportFormat:
    try:
        return ExportFormat(value)
    except ValueError:
        names = ", ".join(f.value for f in ExportFormat)
        raise ValidationError(
            f"unknown export format {value!r}; use one of: {names}", field="format"
        ) from None


def _check_name(name: str) -> None:
    if not name or len(name) > 80 or not all(ch.isalnum() or ch in "._-" for ch in name):
        raise ValidationError(f"export name {name!r} is not valid: use {NAME_HELP}", field="name")
