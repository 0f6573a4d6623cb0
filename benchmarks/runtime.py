"""The human-in-the-loop runtime: cases/s through the engine, and the review API's latency.

Usage:
    python benchmarks/runtime.py [--cases 1000] [--runs 3] [--review-share 0.1]
        [--postgres-url URL | --start-postgres] [--only sqlite|postgresql|api|profile ...]
        [--profile-postgres] [--worker-profile PATH]

Throughput: *cases* cases of the test workflow (``tests/runtime/flows.py``: four workflow
steps — extract, infer, rules, act — inside the engine's eight journaled steps; a share of
the cases, 10% by default, hits a rule and waits for a person) are started and held, then
released to worker processes (``tests/runtime/run_worker.py``, one thread each). A reviewer
thread claims and accepts review items through ``ReviewQueue`` as they appear, and the actions
are POSTed to an HTTP receiver on loopback with their idempotency keys. The clock runs from the
release until every case is completed and every action sent. SQLite (WAL, ``synchronous=NORMAL``)
runs one worker; PostgreSQL runs 2 and 4 workers, on ``--postgres-url`` (default
``$PACELINE_TEST_POSTGRES_URL``, which ``scripts/test-services.sh`` sets, on a server it starts
with ``fsync=off``) or, without one or with ``--start-postgres``, on a server this script starts
with PostgreSQL's default durability (as root it runs the server as the ``postgres`` user).

Review API: a workspace on SQLite with *reviewers* users (role reviewer, one API token each)
and their items waiting; ``paceline serve`` (uvicorn) on loopback; each reviewer is an httpx
client that claims an item (``POST /api/v1/reviews/claim``) and accepts it
(``POST /api/v1/reviews/{id}/decision``) until the queue is empty — once with a think time
(uniform 0.5-1.5 s before each call, people reading) and once back to back (saturation).

Profile: one worker's path in one process under cProfile (SQLite; PostgreSQL with
``--profile-postgres``), with the SQL statements per case.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.runtime: workflow, receiver, worker

import httpx
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.engine import make_url
from tests.runtime.flows import ExpenseCheck
from tests.runtime.receiver import Receiver

from paceline.runtime.engine import Runtime
from paceline.runtime.registry import Registry
from paceline.runtime.reviews import ReviewQueue
from paceline.storage.db import Store
from paceline.storage.runtime_models import CaseRow, OutboxRow

ROOT = Path(__file__).resolve().parents[1]
NO_WARM = ("--warm-interval", "0")
RUN_WORKER = ROOT / "tests" / "runtime" / "run_worker.py"
FAR = datetime(2100, 1, 1, tzinfo=UTC)
# DBOS 3.4 on this kind of machine, a simpler 3-step workflow (notes/stack.md): the goal is 2x.
DBOS = {"sqlite": (32.0, 62.0), "postgresql": (61.0, 90.0)}

SERVE = """
import sys
sys.path.insert(0, {root!r})
from paceline.runtime.registry import REGISTRY
from tests.runtime.flows import ExpenseCheck
REGISTRY.register(ExpenseCheck)
from paceline.cli.main import main
sys.argv = ["paceline", *sys.argv[1:]]
main()
"""


def registry() -> Registry:
    reg = Registry()
    reg.register(ExpenseCheck)
    return reg


def payload(i: int, review_share: float) -> dict[str, Any]:
    """A share of the cases is over the 1000 limit: a rule hit, so a person decides."""
    every = round(1 / review_share) if review_share > 0 else 0
    if every and i % every == 0:
        return {"amount": 1500 + i % 500, "category": "travel", "description": f"#{i}"}
    return {"amount": 10 + (i * 37) % 900, "category": ("travel", "meals")[i % 2], "description": f"#{i}"}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- databases ------------------------------------------------------------------------------------
@contextmanager
def sqlite_db() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="paceline-bench-")
    try:
        yield f"sqlite:///{tmp}/ops.db"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def postgres_db(server: str) -> Iterator[str]:
    """A fresh database on *server*, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextmanager
def own_postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on 127.0.0.1 with its default durability (fsync and
    synchronous_commit on), started as ``scripts/test-services.sh`` does (which turns fsync off)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise SystemExit("no PostgreSQL binaries (Debian package postgresql); pass --postgres-url")
    pg_bin = bins[-1].parent
    data = Path(tempfile.mkdtemp(prefix="paceline-bench-pg-"))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*cmd: str) -> None:
        subprocess.run([*as_pg, *cmd], check=True, capture_output=True)

    run(str(pg_bin / "initdb"), "-D", str(data / "data"), "-U", "paceline", "--auth=trust", "-E", "UTF8")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=200"
    run(
        str(pg_bin / "pg_ctl"),
        "-D",
        str(data / "data"),
        "-l",
        str(data / "server.log"),
        "-w",
        "-o",
        options,
        "start",
    )
    try:
        yield f"postgresql+psycopg://paceline@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_pg, str(pg_bin / "pg_ctl"), "-D", str(data / "data"), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


def durability(server: str) -> str:
    admin = create_engine(server)
    with admin.connect() as conn:
        fsync, sync = (str(conn.execute(text(f"SHOW {k}")).scalar()) for k in ("fsync", "synchronous_commit"))
    admin.dispose()
    return f"fsync={fsync}" + ("" if sync == "on" else f", synchronous_commit={sync}")


# --- throughput -----------------------------------------------------------------------------------
def spawn_worker(url: str, name: str, action_url: str, profile: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    env["PACELINE_ACTION_URL_EXPENSE_CHECK"] = action_url
    if profile:  # the worker writes its cProfile stats to <profile>.<name> when it stops
        env["PACELINE_WORKER_PROFILE"] = profile
    return subprocess.Popen(
        [sys.executable, str(RUN_WORKER), url, "--name", name, "--lease", "30", "--backoff", "0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def reviewer(rt: Runtime, stop: threading.Event, decided: list[int]) -> None:
    """A person accepting each item as it appears (the review branch's latency is not the point)."""
    queue = ReviewQueue(rt)
    while not stop.is_set():
        item = queue.claim("bench-reviewer", ["finance"])
        if item is None:
            stop.wait(0.02)
            continue
        queue.decide(item["id"], "bench-reviewer", "accept")
        decided.append(item["id"])


def throughput_run(
    url: str, cases: int, workers: int, review_share: float, profile: str | None = None
) -> dict[str, float]:
    store = Store.open(url)
    rt = Runtime(store, registry())
    rt.start_many("expense-check", [(f"b{i}", payload(i, review_share)) for i in range(cases)], "bench")
    with store.write("bench") as session:  # held until the workers are up
        session.execute(update(CaseRow).values(next_run_at=FAR))
    procs: list[subprocess.Popen[str]] = []
    stop, decided = threading.Event(), []
    with Receiver() as rx:
        try:
            procs = [spawn_worker(url, f"bench{n}", rx.url, profile) for n in range(workers)]
            for p in procs:
                line = p.stdout.readline() if p.stdout else ""
                assert line.startswith("ready"), (line, p.stderr.read() if p.stderr else "")
            thread = threading.Thread(target=reviewer, args=(rt, stop, decided), daemon=True)
            thread.start()
            with store.write("bench") as session:
                session.execute(update(CaseRow).values(next_run_at=datetime.now(UTC)))
            t0 = time.perf_counter()
            while True:
                with store.read() as session:
                    done = session.scalar(
                        select(func.count()).select_from(CaseRow).where(CaseRow.status == "completed")
                    )
                    pending = session.scalar(
                        select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")
                    )
                if done == cases and pending == 0:
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
        finally:
            stop.set()
            for p in procs:
                p.send_signal(signal.SIGTERM)
            logs = [p.communicate(timeout=60)[0] for p in procs]
            store.dispose()
    assert all("errors=[]" in log for log in logs), logs
    assert len({r.key for r in rx.accepted()}) == cases, "an action is missing"
    return {"seconds": seconds, "cases_per_s": cases / seconds, "reviews": len(decided)}


def throughput(name: str, make_db: Callable[[], Any], args: argparse.Namespace, workers: int) -> float:
    runs = []
    for _ in range(args.runs):
        with make_db() as url:
            runs.append(throughput_run(url, args.cases, workers, args.review_share, args.worker_profile))
    rates = sorted(r["cases_per_s"] for r in runs)
    med = statistics.median(rates)
    print(
        f"{name:34} {med:8.1f} cases/s  (runs: {', '.join(f'{r:.1f}' for r in rates)}; "
        f"{runs[0]['reviews']} reviewed; load {load()})",
        flush=True,
    )
    return med


# --- where the time goes --------------------------------------------------------------------------
def profile(cases: int, review_share: float, make_db: Callable[[], Any] = sqlite_db) -> None:
    """One worker's path in one process under cProfile (SQLite, or the PostgreSQL server with
    ``--profile-postgres``), with the SQL statements counted by kind."""
    with make_db() as url, Receiver() as rx:
        store = Store.open(url)
        rt = Runtime(store, registry(), action_urls={"expense-check": rx.url})
        rt.start_many("expense-check", [(f"p{i}", payload(i, review_share)) for i in range(cases)], "bench")
        statements: Counter[str] = Counter()

        @event.listens_for(store.engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            words = statement.split(None, 3)
            kind = words[0].upper()
            table = next((w for w in words[1:] if w.upper() not in ("INTO", "FROM", "INSERT", "OR")), "")
            statements[f"{kind} {table if kind in ('INSERT', 'UPDATE') else ''}".strip()] += 1

        @event.listens_for(store.engine, "commit")
        def _commit(_conn: Any) -> None:
            statements["COMMIT"] += 1

        from paceline.runtime.dispatch import Dispatcher

        dispatcher, queue = Dispatcher(rt), ReviewQueue(rt)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        while True:
            busy = rt.run_due("prof", 8) + dispatcher.dispatch("prof", 8)
            item = queue.claim("prof-reviewer", ["finance"])
            if item is not None:
                queue.decide(item["id"], "prof-reviewer", "accept")
            elif busy == 0:
                break
        prof.disable()
        seconds = time.perf_counter() - t0
        dispatcher.close()
        store.dispose()
    rate = cases / seconds
    print(f"\nprofile: {cases} cases on {store.dialect} in one process, {rate:.1f} cases/s under cProfile")
    print("SQL per case: " + ", ".join(f"{k} {n / cases:.1f}" for k, n in statements.most_common()))
    for order, pattern, limit in (
        (
            "cumulative",
            r"paceline|sqlite3|psycopg|httpx/_client.py:\d+\(post\)|session.py:\d+\((commit|get|refresh)\)",
            30,
        ),
        ("tottime", "", 15),
    ):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).sort_stats(order)
        stats.print_stats(*([pattern] if pattern else []), limit)
        print(f"\nby {order} time:\n   ncalls" + out.getvalue().split("ncalls", 1)[-1].rstrip())


# --- review API latency ---------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def drive(base: str, tokens: list[str], think: float) -> tuple[dict[str, list[float]], float]:
    """Every reviewer connects and decides one item to warm the server up (not timed), then all
    start at once: (latencies, seconds)."""
    lat: dict[str, list[float]] = {"claim": [], "decide": [], "errors": []}
    warmed, ready = asyncio.Semaphore(0), asyncio.Event()

    async def one(token: str) -> None:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            (await client.get("/api/v1/reviews?limit=1")).raise_for_status()  # warm up, not timed:
            claimed = await client.post(
                "/api/v1/reviews/claim", json={"queues": ["finance"]}
            )  # one item each
            claimed.raise_for_status()
            decision = {"decision": "accept"}
            (
                await client.post(f"/api/v1/reviews/{claimed.json()['id']}/decision", json=decision)
            ).raise_for_status()
            warmed.release()
            await ready.wait()
            while True:
                if think:
                    await asyncio.sleep(random.uniform(0.5, 1.5) * think)
                t = time.perf_counter()
                r = await client.post("/api/v1/reviews/claim", json={"queues": ["finance"]})
                lat["claim"].append((time.perf_counter() - t) * 1000)
                if r.status_code == 204:
                    return
                if r.status_code != 200:
                    lat["errors"].append(r.status_code)
                    continue
                if think:
                    await asyncio.sleep(random.uniform(0.5, 1.5) * think)
                t = time.perf_counter()
                d = await client.post(
                    f"/api/v1/reviews/{r.json()['id']}/decision", json={"decision": "accept"}
                )
                lat["decide"].append((time.perf_counter() - t) * 1000)
                if d.status_code != 200:
                    lat["errors"].append(d.status_code)

    tasks = [asyncio.create_task(one(t)) for t in tokens]
    for _ in tokens:
        await warmed.acquire()
    ready.set()
    t0 = time.perf_counter()
    await asyncio.gather(*tasks)
    return lat, time.perf_counter() - t0


def review_api(reviewers: int, per_reviewer: int, think: float, database: str | None) -> dict[str, Any]:
    from paceline.bootstrap import Workspace
    from paceline.runtime.worker import Worker
    from paceline.services.access import operator

    tmp = Path(tempfile.mkdtemp(prefix="paceline-bench-api-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    env["PACELINE_HOME"] = str(tmp / "ws")
    if database:
        env["PACELINE_DATABASE_URL"] = database
    server: subprocess.Popen[str] | None = None
    try:
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("PACELINE_")}
        os.environ.update({k: v for k, v in env.items() if k.startswith("PACELINE_")})
        try:
            ws = Workspace.init(tmp / "ws")
        finally:
            for k in [k for k in os.environ if k.startswith("PACELINE_")]:
                del os.environ[k]
            os.environ.update(saved)
        tokens = []
        with ws.access() as access:
            for i in range(reviewers):
                access.add_user(operator(), f"rev{i}", "reviewer", use_case=ExpenseCheck.use_case)
                tokens.append(access.create_token(operator(), f"rev{i}", "bench"))
        rt = Runtime(ws.store, registry())
        for i in range(reviewers * (per_reviewer + 1)):  # + one each for the warm-up
            rt.start("expense-check", f"r{i}", payload(0, 1.0) | {"description": f"#{i}"}, "bench")
        Worker(rt, "prep", 1).run(until_idle=True)
        waiting = len(ReviewQueue(rt).items(limit=100_000))
        ws.close()
        assert waiting == reviewers * (per_reviewer + 1), waiting
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE.format(root=str(ROOT)), "serve", "--port", str(port), *NO_WARM],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "paceline serve did not start"
            time.sleep(0.2)
        lat, seconds = asyncio.run(drive(base, tokens, think))
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    both = lat["claim"] + lat["decide"]
    return {
        "requests": len(both),
        "per_s": len(both) / seconds,
        "errors": len(lat["errors"]),
        **{
            f"{k}_p{q}": percentile(lat[k] if k != "all" else both, q)
            for k in ("claim", "decide", "all")
            for q in (50, 99)
        },
    }


def review_latency(args: argparse.Namespace, db_label: str, make_db: Callable[[], Any] | None) -> None:
    for label, think in (("with think time", 1.0), ("back to back", 0.0)):
        runs = []
        for _ in range(args.runs):
            with make_db() if make_db else nullcontext() as url:
                runs.append(review_api(args.reviewers, args.items_per_reviewer, think, url))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"review API ({db_label}), {args.reviewers} reviewers {label}: p50 {med['all_p50']:.1f} ms, "
            f"p99 {med['all_p99']:.1f} ms (claim p50/p99 {med['claim_p50']:.1f}/{med['claim_p99']:.1f}, "
            f"decide {med['decide_p50']:.1f}/{med['decide_p99']:.1f}; {med['per_s']:.0f} req/s, "
            f"{int(med['errors'])} errors; p99 of runs {', '.join(str(round(r['all_p99'])) for r in runs)}; "
            f"load {load()})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--review-share", type=float, default=0.1)
    parser.add_argument("--postgres-url", default=os.environ.get("PACELINE_TEST_POSTGRES_URL"))
    parser.add_argument("--pg-workers", default="2,4")
    parser.add_argument(
        "--start-postgres",
        action="store_true",
        help="start a PostgreSQL server with its default durability even when a URL is set",
    )
    parser.add_argument("--api-postgres", action="store_true", help="also serve the review API on PostgreSQL")
    parser.add_argument(
        "--profile-postgres", action="store_true", help="profile on PostgreSQL instead of SQLite"
    )
    parser.add_argument(
        "--worker-profile",
        metavar="PATH",
        help="run each throughput worker under cProfile: stats in PATH.<worker>",
    )
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--items-per-reviewer", type=int, default=6)
    parser.add_argument("--only", choices=["sqlite", "postgresql", "api", "profile"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["sqlite", "postgresql", "api", "profile"])
    print(
        f"runtime benchmark: {args.cases} cases a run ({args.review_share:.0%} reviewed), median of "
        f"{args.runs} runs, {os.cpu_count()} cores, load {load()}",
        flush=True,
    )
    goal = {
        db: f"goal >= {2 * lo:.0f}-{2 * hi:.0f} (2x DBOS 3.4's {lo:.0f}-{hi:.0f})"
        for db, (lo, hi) in DBOS.items()
    }
    if "sqlite" in only:
        throughput("SQLite WAL, 1 worker", sqlite_db, args, 1)
        print(f"{'':34} {goal['sqlite']}")
    with ExitStack() as stack:
        server: str | None = None
        if "postgresql" in only or args.api_postgres or ("profile" in only and args.profile_postgres):
            server = args.postgres_url
            if args.start_postgres or not server:
                server = stack.enter_context(own_postgres())
        if "postgresql" in only and server:
            mode = durability(server)
            for n in (int(w) for w in args.pg_workers.split(",")):
                throughput(f"PostgreSQL ({mode}), {n} workers", partial(postgres_db, server), args, n)
            print(f"{'':34} {goal['postgresql']}")
        if "api" in only:
            review_latency(args, "SQLite", None)
            if args.api_postgres and server:
                review_latency(args, f"PostgreSQL {durability(server)}", partial(postgres_db, server))
            print(f"{'':34} goal: review API p99 < 50 ms")
        if "profile" in only and args.profile_postgres and server:
            profile(min(args.cases, 500), args.review_share, partial(postgres_db, server))
    if "profile" in only and not args.profile_postgres:
        profile(min(args.cases, 500), args.review_share)


if __name__ == "__main__":
    main()
