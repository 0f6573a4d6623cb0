"""``paceline worker``: threads that run due cases, send due actions and sweep the review queue.

Several worker processes (and threads) share the work through the leases and claims of the
store; a worker that dies leaves its leases to expire, and another takes its cases over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from paceline.runtime.dispatch import Dispatcher
from paceline.runtime.engine import Runtime
from paceline.runtime.flags import GuardrailMonitor
from paceline.runtime.reviews import ReviewQueue


@dataclass
class WorkerStats:
    cases: int = 0
    actions: int = 0
    exported: int = 0
    loops: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    """One worker identity running *concurrency* threads until :meth:`stop` (or idle, with ``until_idle``)."""

    def __init__(
        self,
        runtime: Runtime,
        name: str,
        concurrency: int = 1,
        export: Callable[[], int] | None = None,
        batch: int = 8,
        idle_sleep: float = 0.2,
        sweep_every: float = 5.0,
    ) -> None:
        self.runtime, self.name, self.concurrency = runtime, name, concurrency
        self.export, self.batch, self.idle_sleep, self.sweep_every = export, batch, idle_sleep, sweep_every
        self.dispatcher = Dispatcher(runtime)
        self.queue = ReviewQueue(runtime)
        self.guard = GuardrailMonitor(runtime.flags)  # canary guardrails, at most once a minute
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()

    def _tick(self, thread_name: str) -> int:
        cases = self.runtime.run_due(thread_name, self.batch)
        actions = self.dispatcher.dispatch(thread_name, self.batch)
        with self._lock:
            self.stats.cases += cases
            self.stats.actions += actions
            self.stats.loops += 1
        return cases + actions

    def _housekeeping(self) -> None:
        self.queue.sweep()
        self.guard.run_due()
        if self.export is not None:
            exported = self.export()
            with self._lock:
                self.stats.exported += exported

    def _loop(self, index: int, until_idle: bool) -> None:
        thread_name = f"{self.name}-{index}"
        last_sweep = 0.0
        while not self._stop.is_set():
            try:
                busy = self._tick(thread_name)
                if index == 0 and time.monotonic() - last_sweep > self.sweep_every:
                    self._housekeeping()
                    last_sweep = time.monotonic()
            except Exception as exc:  # keep serving: a broken case must not stop the worker
                with self._lock:
                    self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                busy = 0
            if busy == 0:
                if until_idle:
                    return
                self._stop.wait(self.idle_sleep)

    def run(self, until_idle: bool = False) -> WorkerStats:
        """Run the threads; with *until_idle*, return once nothing is due (tests, batch runs)."""
        threads = [
            threading.Thread(target=self._loop, args=(i, until_idle), daemon=True)
            for i in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if until_idle:
            self._housekeeping()
        self.dispatcher.close()
        return self.stats
