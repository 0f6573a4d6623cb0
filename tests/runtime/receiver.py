"""A real downstream system for the runtime tests: an HTTP server on 127.0.0.1 in a thread.

It records every request's ``Idempotency-Key`` and ``X-Paceline-Case`` headers (in
arrival order, repeats included) and can answer every *fail_every*-th request with 503,
like a downstream service that fails intermittently.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    key: str | None
    case: str | None
    path: str
    body: Any
    status: int  # what the receiver answered


class Receiver:
    """``with Receiver(fail_every=3) as rx: ... rx.url ... rx.requests``."""

    def __init__(self, fail_every: int = 0, hook: Callable[[Received], None] | None = None) -> None:
        self.fail_every = fail_every
        self.hook = hook  # called with each request after it is recorded, before it is answered
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real service would offer
            wbufsize = -1  # headers and body in one segment: no Nagle/delayed-ACK 40 ms stall
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                received = receiver._record(
                    self.headers.get("Idempotency-Key"), self.headers.get("X-Paceline-Case"), self.path, body
                )
                if receiver.hook is not None:
                    receiver.hook(received)
                answer = json.dumps({"ok": received.status == 200}).encode()
                try:
                    self.send_response(received.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender died meanwhile (a crash test)
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/actions"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _record(self, key: str | None, case: str | None, path: str, body: Any) -> Received:
        with self._lock:
            self._count += 1
            failing = self.fail_every > 0 and self._count % self.fail_every == 0
            received = Received(key, case, path, body, 503 if failing else 200)
            self.requests.append(received)
            return received

    # --- what was received -------------------------------------------------------------
    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    def keys_by_case(self) -> dict[str | None, set[str | None]]:
        """Every case's distinct idempotency keys among accepted requests."""
        found: dict[str | None, set[str | None]] = defaultdict(set)
        for r in self.accepted():
            found[r.case].add(r.key)
        return dict(found)

    def repeats(self) -> int:
        """Accepted requests beyond the first of their key (re-sends with the same key)."""
        accepted = self.accepted()
        return len(accepted) - len({r.key for r in accepted})

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
