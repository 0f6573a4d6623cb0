"""Run a runtime Worker over the test workflow until killed: the worker process of the crash tests.

Usage: python tests/runtime/run_worker.py DATABASE_URL [--name w1] [--lease 2] [--concurrency 1]

With ``PACELINE_WORKER_PROFILE=PATH`` (and one thread) the worker runs under cProfile and writes
its stats to ``PATH.<name>`` when it stops (``benchmarks/runtime.py --worker-profile PATH``).

The lease (seconds, also ``PACELINE_TEST_WORKER_LEASE``) applies to case claims and to
outbox claims, so a short one lets another worker take a dead worker's work over quickly.
Actions go to ``PACELINE_ACTION_URL_EXPENSE_CHECK`` as in production. SIGTERM stops the
worker cleanly; SIGKILL is what the tests use to crash it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for tests.*

from paceline.runtime.engine import Runtime, RuntimeConfig
from paceline.runtime.registry import Registry
from paceline.runtime.worker import Worker
from paceline.storage.db import Store
from tests.runtime.flows import ExpenseCheck


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("--name", default=f"worker-{os.getpid()}")
    parser.add_argument(
        "--lease", type=float, default=float(os.environ.get("PACELINE_TEST_WORKER_LEASE", 30))
    )
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--backoff", type=float, default=0.05, help="retry backoff base, seconds")
    args = parser.parse_args()

    registry = Registry()
    registry.register(ExpenseCheck)
    lease = timedelta(seconds=args.lease)
    config = RuntimeConfig(lease=lease, action_lease=lease, backoff_base_seconds=args.backoff)
    store = Store.open(args.database_url)
    worker = Worker(Runtime(store, registry, config), args.name, args.concurrency, batch=args.batch)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    print(f"ready {args.name}", flush=True)
    profile_to = os.environ.get("PACELINE_WORKER_PROFILE")  # a path: cProfile stats of the worker's thread
    profiler = cProfile.Profile() if profile_to and args.concurrency == 1 else None
    if profiler is not None:
        worker_loop = worker._loop

        def profiled(index: int, until_idle: bool) -> None:
            profiler.enable()
            try:
                worker_loop(index, until_idle)
            finally:
                profiler.disable()

        worker._loop = profiled  # type: ignore[method-assign]
    stats = worker.run()
    if profiler is not None and profile_to:
        profiler.dump_stats(f"{profile_to}.{args.name}")
    store.dispose()
    print(f"stopped {args.name}: cases={stats.cases} actions={stats.actions} errors={stats.errors[:5]}")


if __name__ == "__main__":
    main()
