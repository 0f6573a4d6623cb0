"""The outbox dispatcher: sends each downstream action over HTTP with its idempotency key.

An action is marked sent only after the downstream system answered 2xx, so a crash between
sending and marking re-sends it later with the same ``Idempotency-Key`` header, which the
receiver uses to recognise the repeat. The outcomes of a batch are marked in one transaction,
each only while the dispatcher still holds the action's lease. Failures are retried with
exponential backoff (with a jitter derived from the key, so retries of many actions spread
out) up to a limit, after which the action is marked failed and shows on its case.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from paceline.domain.workflow import backoff
from paceline.runtime.engine import Runtime, utcnow
from paceline.storage.case_repo import CaseRepository


class Dispatcher:
    def __init__(self, runtime: Runtime, client: httpx.Client | None = None, timeout: float = 10.0) -> None:
        self.runtime = runtime
        self.client = client or httpx.Client(timeout=timeout)

    def dispatch(self, worker: str, limit: int = 16) -> int:
        """Send up to *limit* due actions, then record their outcomes in one transaction; the
        number attempted. Marking checks the claim's lease, so an action another dispatcher
        took over (this one stalled past the lease) is left to it."""
        cfg = self.runtime.config
        with self.runtime.store.write(f"worker:{worker}") as session:
            due = CaseRepository(session).claim_actions(utcnow(), cfg.action_lease, limit)
        if not due:
            return 0
        marks = [
            self._outcome(a, self._send(str(a["target"]), a["payload"], a["idempotency_key"], a["case_id"]))
            for a in due
        ]
        with self.runtime.store.write(f"worker:{worker}") as session:
            CaseRepository(session).mark_actions(marks)
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

    def _outcome(self, action: dict[str, Any], error: str | None) -> dict[str, Any]:
        """What to record for *action* after a send that failed with *error* (None: it went through)."""
        cfg, now, attempts = self.runtime.config, utcnow(), action["attempts"] + 1
        mark: dict[str, Any] = {
            "id": action["id"],
            "token": action["token"],
            "status": "pending",
            "attempts": attempts,
            "sent_at": None,
            "last_error": error,
            "next_attempt_at": action["next_attempt_at"],
        }
        if error is None:
            mark["status"], mark["sent_at"] = "sent", now
        elif attempts >= cfg.max_action_attempts:
            mark["status"] = "failed"
        else:
            wait = backoff(
                attempts, action["idempotency_key"], cfg.backoff_base_seconds, cfg.backoff_cap_seconds
            )
            mark["next_attempt_at"] = now + timedelta(seconds=wait)
        return mark

    def close(self) -> None:
        self.client.close()
