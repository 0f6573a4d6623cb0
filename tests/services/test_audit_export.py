"""The SIEM export: cursors, crash recovery, the three kinds of target, logins in the chain."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.errors import Conflict, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator
from paceline.services.audit_export import ExportFailed, parse_target
from tests.domain.test_audit_formats import parse_cef, parse_syslog, validate

OP = operator()
PASSWORD = "correct horse battery"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", audit_export_batch=3, audit_export_hostname="pl-test")
    with workspace.access() as access:
        for n in range(4):
            access.add_user(OP, f"user{n}", "reviewer", password=PASSWORD if n == 1 else None)
    yield workspace
    workspace.close()


def chain_length(ws: Workspace) -> int:
    return ws.verify_audit().entries


def seqs_in_file(path: Path) -> list[int]:
    return [json.loads(line)["metadata"]["sequence"] for line in path.read_text().splitlines()]


def add_user(ws: Workspace, login: str) -> None:
    with ws.access() as access:
        access.add_user(OP, login, "auditor")


def test_a_file_export_sends_each_entry_once_across_runs(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "siem" / "audit.jsonl"
    first = ws.audit_export().run(OP, "siem", f"file:{out}")
    assert first.first_seq == 1 and first.sent == first.last_seq
    again = ws.audit_export().run(OP, "siem", f"file:{out}")
    assert again.first_seq == first.last_seq + 1 and again.sent == 1  # only the first run's own entry
    add_user(ws, "late")
    third = ws.audit_export().run(OP, "siem", f"file:{out}")
    assert third.sent >= 2
    assert seqs_in_file(out) == list(range(1, third.last_seq + 1))
    for line in out.read_text().splitlines():
        validate(json.loads(line))
    nothing = ws.audit_export().run(OP, "siem", f"file:{out}")
    assert nothing.first_seq == third.last_seq + 1  # the third run's audit.export entry, nothing else


def test_a_crash_between_sending_and_moving_the_cursor_neither_duplicates_nor_skips(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "audit.jsonl"
    service = ws.audit_export()
    real_save, calls = service.store.save_cursor, {"n": 0}

    def crash_on_third(cursor: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # 1: the new cursor, 2: after batch 1, 3: after batch 2 (written!)
            raise KeyboardInterrupt("power cut")
        real_save(cursor)

    monkeypatch.setattr(service.store, "save_cursor", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        service.run(OP, "siem", f"file:{out}")
    assert seqs_in_file(out) == list(range(1, 7))  # batch 2 reached the file, the cursor says 3
    monkeypatch.undo()
    report = ws.audit_export().run(OP, "siem", f"file:{out}")
    assert report.repaired_bytes > 0 and report.first_seq == 4
    assert seqs_in_file(out) == list(range(1, report.last_seq + 1))


def test_a_half_written_line_is_cut_before_resuming(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "audit.cef"
    ws.audit_export().run(OP, "cef", f"file:{out}", "cef")
    with out.open("ab") as fh:
        fh.write(b"CEF:0|Paceline|Pace")  # a crash in the middle of a write
    report = ws.audit_export().run(OP, "cef", f"file:{out}", "cef")
    assert report.repaired_bytes == len(b"CEF:0|Paceline|Pace")
    lines = out.read_text().splitlines()
    assert [int(parse_cef(line)[1]["externalId"]) for line in lines] == list(range(1, report.last_seq + 1))


def test_a_shortened_export_file_is_refused(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    ws.audit_export().run(OP, "siem", f"file:{out}")
    out.write_text(out.read_text()[:10])
    with pytest.raises(Conflict, match="shorter"):
        ws.audit_export().run(OP, "siem", f"file:{out}")


def test_an_export_keeps_its_destination(ws: Workspace, tmp_path: Path) -> None:
    ws.audit_export().run(OP, "siem", f"file:{tmp_path / 'a.jsonl'}")
    with pytest.raises(Conflict, match="sends ocsf to file") as info:
        ws.audit_export().run(OP, "siem", f"file:{tmp_path / 'b.jsonl'}")
    assert "--reset" in info.value.details["fix"]
    report = ws.audit_export().run(OP, "siem", f"file:{tmp_path / 'b.jsonl'}", reset=True)
    assert report.first_seq == 1
    assert {c.name: c.target for c in ws.audit_export().cursors(OP)} == {
        "siem": f"file:{tmp_path / 'b.jsonl'}"
    }


@pytest.mark.parametrize(
    ("to", "form", "field"),
    [
        ("ftp://x", "ocsf", "to"),
        ("file:", "ocsf", "to"),
        ("syslog+udp://host", "ocsf", "to"),
        ("file:x.log", "xml", "format"),
        ("http://127.0.0.1:9/services/collector/event", "cef", "format"),
    ],
)
def test_bad_targets_and_formats_are_named(ws: Workspace, to: str, form: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ws.audit_export().run(OP, "siem", to, form)
    assert info.value.details["field"] == field


def test_bad_export_names_are_refused(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="export name"):
        ws.audit_export().run(OP, "no spaces", f"file:{tmp_path / 'x'}")


def test_exporting_needs_the_export_permission(ws: Workspace, tmp_path: Path) -> None:
    reviewer = Principal("r", (Grant(Role.REVIEWER),))
    with pytest.raises(PermissionDenied, match=r"audit\.export"):
        ws.audit_export().run(reviewer, "siem", f"file:{tmp_path / 'x'}")
    auditor = Principal("a", (Grant(Role.AUDITOR),))
    assert ws.audit_export().run(auditor, "siem", f"file:{tmp_path / 'x'}").sent > 0


# --- syslog over UDP and TCP ------------------------------------------------------------


class _Collected(list[bytes]):
    pass


@pytest.fixture
def udp_receiver() -> Iterator[tuple[int, _Collected]]:
    got = _Collected()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                got.append(sock.recv(65535))
            except TimeoutError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield sock.getsockname()[1], got
    stop.set()
    thread.join()
    sock.close()


def _wait_for(predicate: Any, seconds: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_syslog_over_udp_sends_one_rfc5424_datagram_per_entry(
    ws: Workspace, udp_receiver: tuple[int, _Collected]
) -> None:
    port, got = udp_receiver
    report = ws.audit_export().run(OP, "udp", f"syslog+udp://127.0.0.1:{port}", "syslog")
    _wait_for(lambda: len(got) >= report.sent)
    parsed = [parse_syslog(d.decode("utf-8")) for d in got]
    assert [int(p["sd"]["audit@32473"]["seq"]) for p in parsed] == list(range(1, report.last_seq + 1))
    assert all(p["host"] == "pl-test" and p["app"] == "paceline" for p in parsed)
    validate(json.loads(parsed[0]["msg"]))


class _FrameHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            length = b""
            while (ch := self.rfile.read(1)) not in (b" ", b""):
                length += ch
            if not length:
                return
            self.server.frames.append(self.rfile.read(int(length)))  # type: ignore[attr-defined]


def test_syslog_over_tcp_uses_octet_counting_and_can_carry_cef(ws: Workspace) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _FrameHandler)
    server.frames = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        report = ws.audit_export().run(OP, "tcp", f"syslog+tcp://127.0.0.1:{port}", "cef")
        frames: list[bytes] = server.frames  # type: ignore[attr-defined]
        _wait_for(lambda: len(frames) >= report.sent)
        messages = [parse_syslog(f.decode("utf-8")) for f in frames]
        assert [int(parse_cef(m["msg"])[1]["externalId"]) for m in messages] == list(
            range(1, report.last_seq + 1)
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_unreachable_syslog_tcp_target_fails_without_moving_the_cursor(ws: Workspace) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ExportFailed, match="cannot connect"):
        ws.audit_export().run(OP, "tcp", f"syslog+tcp://127.0.0.1:{port}", "syslog")
    assert ws.audit_export().store.load_cursor("tcp").last_seq == 0  # type: ignore[union-attr]


# --- Splunk HEC ---------------------------------------------------------------------------


class _Hec(HTTPServer):
    token = "hec-secret"
    fail_next = 0
    events: list[dict[str, Any]]


class _HecHandler(BaseHTTPRequestHandler):
    server: _Hec

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        if self.headers.get("Authorization") != f"Splunk {self.server.token}":
            self._answer(401, {"text": "Invalid token", "code": 4})
            return
        if self.server.fail_next:
            self.server.fail_next -= 1
            self._answer(503, {"text": "Server is busy", "code": 9})
            return
        decoder, pos = json.JSONDecoder(), 0
        while pos < len(body):  # HEC batches are concatenated JSON objects
            doc, pos = decoder.raw_decode(body, pos)
            self.server.events.append(doc)
        self._answer(200, {"text": "Success", "code": 0})

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def hec() -> Iterator[_Hec]:
    server = _Hec(("127.0.0.1", 0), _HecHandler)
    server.events = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_hec_export_survives_a_refused_batch(tmp_path: Path, hec: _Hec) -> None:
    ws = Workspace.init(tmp_path / "hws", audit_export_batch=2, audit_export_hec_token="hec-secret")
    try:
        with ws.access() as access:
            for n in range(3):
                access.add_user(OP, f"u{n}", "reviewer")
        url = f"http://127.0.0.1:{hec.server_address[1]}/services/collector/event"
        hec.fail_next = 1
        total = chain_length(ws)
        with pytest.raises(ExportFailed, match="503"):
            ws.audit_export().run(OP, "hec", url)
        assert hec.events == []
        report = ws.audit_export().run(OP, "hec", url)
        assert [e["event"]["metadata"]["sequence"] for e in hec.events] == list(range(1, total + 1))
        assert report.last_seq == total
        assert all(
            e["sourcetype"].startswith("ocsf:") and e["source"] == "paceline:audit" for e in hec.events
        )
        for envelope in hec.events:
            validate(envelope["event"])
    finally:
        ws.close()


def test_hec_with_a_wrong_token_is_an_export_failure(ws: Workspace, hec: _Hec) -> None:
    url = f"http://127.0.0.1:{hec.server_address[1]}/services/collector/event"
    with pytest.raises(ExportFailed, match="401"):
        ws.audit_export().run(OP, "hec", url)


def test_targets_parse() -> None:
    assert parse_target("syslog+tcp://siem.example:6514").port == 6514
    assert parse_target("https://siem.example/services/collector/event").kind == "http"
    assert parse_target("file:/var/log/x").location == "/var/log/x"


# --- logins in the chain ------------------------------------------------------------------


def auth_entries(ws: Workspace) -> list[dict[str, Any]]:
    return [e for e in ws.audit_entries(after=0, limit=1000) if e["entity"] == "authentication"]


def test_logins_are_audited_without_the_password(ws: Workspace) -> None:
    with ws.access() as access:
        assert access.try_login("user1", PASSWORD, "10.0.0.9") is not None
    with ws.access() as access:
        assert access.try_login("user1", "wrong password!", "10.0.0.9") is None
    with ws.access() as access:
        assert access.try_login("nobody", PASSWORD, None) is None
    entries = auth_entries(ws)
    assert [(e["action"], e["data"]["outcome"], e["data"].get("reason_code")) for e in entries] == [
        ("auth.login", "success", None),
        ("auth.login", "failure", "INVALID_CREDENTIALS"),
        ("auth.login", "failure", "USER_DOES_NOT_EXIST"),
    ]
    assert entries[0]["actor"] == "user:user1" and entries[0]["data"]["src_ip"] == "10.0.0.9"
    dump = json.dumps(ws.audit_entries(after=0, limit=1000))
    assert PASSWORD not in dump and "wrong password!" not in dump
    assert ws.verify_audit().ok


def test_token_failures_are_audited_without_the_token(ws: Workspace) -> None:
    with ws.access() as access:
        token = access.create_token(OP, "user2")
        principal, reason = access.check_token(token[:-2] + "xx")
        assert principal is None and reason == "INVALID_CREDENTIALS"
        access.audit_auth("auth.token", None, "token", reason, "127.0.0.1")
    entry = auth_entries(ws)[-1]
    assert entry["action"] == "auth.token" and entry["actor"] == "anonymous"
    assert token not in json.dumps(ws.audit_entries(after=0, limit=1000))
