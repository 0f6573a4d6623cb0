"""A real SMTP server for the tests: it speaks enough of RFC 5321 on 127.0.0.1 (EHLO/HELO,
AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for :mod:`smtplib` to deliver to it, and keeps
every message it accepted. It can require a login and refuse given recipients.
"""

from __future__ import annotations

import base64
import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    raw: bytes
    authenticated_as: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Session:
    user: str | None = None
    sender: str = ""
    recipients: list[str] = field(default_factory=list)


def _address(arg: str) -> str:
    return arg.partition(":")[2].strip().strip("<>").split(" ")[0].strip("<>")


class SmtpSink:
    """``with SmtpSink(login=("u", "p")) as sink: ... sink.port ... sink.messages``."""

    def __init__(self, login: tuple[str, str] | None = None, refuse: tuple[str, ...] = ()) -> None:
        self.login, self.refuse = login, set(refuse)
        self.messages: list[Delivered] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")
                self.wfile.flush()

            def handle(self) -> None:
                session = _Session()
                self.reply("220 sink ESMTP ready")
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    verb, _, arg = raw.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
                    if not sink._command(self, session, verb.upper(), arg):
                        return

            def data(self) -> bytes:
                lines = []
                while True:
                    line = self.rfile.readline()
                    if line in (b".\r\n", b".\n", b""):
                        return b"".join(lines)
                    lines.append(line[1:] if line.startswith(b"..") else line)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _command(self, h: socketserver.StreamRequestHandler, s: _Session, verb: str, arg: str) -> bool:
        reply = h.reply  # type: ignore[attr-defined]
        if verb == "EHLO":
            reply("250-sink")
            reply("250-AUTH PLAIN" if self.login else "250-8BITMIME")
            reply("250 SMTPUTF8")
        elif verb in ("HELO", "NOOP", "RSET"):
            reply("250 ok")
        elif verb == "AUTH":
            s.user = self._auth(arg)
            reply("235 authenticated" if s.user else "535 bad credentials")
        elif verb == "MAIL":
            if self.login and s.user is None:
                reply("530 authentication required")
            else:
                s.sender, s.recipients = _address(arg), []
                reply("250 ok")
        elif verb == "RCPT":
            rcpt = _address(arg)
            if rcpt in self.refuse:
                reply("550 no such mailbox")
            else:
                s.recipients.append(rcpt)
                reply("250 ok")
        elif verb == "DATA":
            reply("354 end with .")
            body = h.data()  # type: ignore[attr-defined]
            with self._lock:
                self.messages.append(Delivered(s.sender, list(s.recipients), body, s.user))
            reply("250 queued")
        elif verb == "QUIT":
            reply("221 bye")
            return False
        else:
            reply("502 not implemented")
        return True

    def _auth(self, arg: str) -> str | None:
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() != "PLAIN" or self.login is None:
            return None
        try:
            _, user, password = base64.b64decode(initial).decode("utf-8").split("\0")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if (user, password) == self.login else None

    def start(self) -> SmtpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
