"""The outbox dispatcher: sends each downstream action over HTTP with its idempotency key.

An action is marked sent only after the downstream system answered 2xx, so a crash between
sending and marking re-sends it later with the same ``Idempotency-Key`` header, which the
receiver uses to recognise the repeat. Failures are retried with exponential backoff (with a
jitter derived from the key, so retries of many actions spread out) up to a limit, after
which the action is marked failed and shows on its case.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from paceline.domain.workflow import backoff
from paceline.runtime.engine import Runtime, utcnow
from paceline.storage.case_repo import CaseRepository
from paceline.storage.runtime_models import OutboxRow


class Dispatcher:
    def __init__(self, runtime: Runtime, client: httpx.Client | None = None, timeout: float = 10.0) -> None:
        self.runtime = runtime
        self.client = client or httpx.Client(timeout=timeout)

    def dispatch(self, worker: str, limit: int = 16) -> int:
        """Send up to *limit* due actions; the number attempted."""
        cfg = self.runtime.config
        with self.runtime.store.write(f"worker:{worker}") as session:
            due = [
                (a.id, a.target, a.payload, a.idempotency_key, a.attempts, a.case_id)
                for a in CaseRepository(session).claim_actions(utcnow(), cfg.action_lease, limit)
            ]
        for action_id, target, payload, key, attempts, case_id in due:
            error = self._send(str(target), payload, key, case_id)
            self._mark(action_id, key, attempts + 1, error)
        return len(due)

    def _send(self, url: str, payload: Any, key: str, case_id: str) -> str | None:
        try:
            response = self.client.post(
                url, json=payload, headers={"Idempotency-Key": key, "X-Paceline-Case": case_id}
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def _mark(self, action_id: int, key: str, attempts: int, error: str | None) -> None:
        cfg, now = self.runtime.config, utcnow()
        values: dict[str, Any] = {"attempts": attempts, "lease_expires_at": None}
        if error is None:
            values |= {"status": "sent", "sent_at": now, "last_error": None}
        elif attempts >= cfg.max_action_attempts:
            values |= {"status": "failed", "last_error": error}
        else:
            wait = backoff(attempts, key, cfg.backoff_base_seconds, cfg.backoff_cap_seconds)
            values |= {"last_error": error, "next_attempt_at": now + timedelta(seconds=wait)}
        with self.runtime.store.write("system:dispatcher") as session:
            session.execute(update(OutboxRow).where(OutboxRow.id == action_id).values(**values))

    def close(self) -> None:
        self.client.close()
