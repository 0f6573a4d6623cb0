"""Latency of the KPI overview and a KPI detail page over a large workspace.

Usage: python benchmarks/pages.py [--rows 10000000] [--requests 50]

Serves the benchmark workspace of kpis.py with `paceline serve` in its own process,
logs in through the form, and times each page over HTTP on 127.0.0.1: the first
request after the data changed (cold: the KPIs are computed) and then --requests
more (warm: served from the result cache until new data arrives).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from kpis import prepare

PAGES = {"overview": "/kpis", "detail": "/kpis/error_rate?by=team&grain=week"}
LOGIN, PASSWORD = "bench", "benchmark passphrase"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_user(home: Path) -> None:
    from paceline.bootstrap import Workspace
    from paceline.errors import Conflict
    from paceline.services.access import operator

    ws = Workspace.open(home)
    try:
        with ws.access() as access:
            access.add_user(operator(), LOGIN, "admin", password=PASSWORD)
    except Conflict:
        pass
    shutil.rmtree(home / "cache", ignore_errors=True)  # start cold


def _login(client: httpx.Client) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    client.post("/login", data={"login": LOGIN, "password": PASSWORD, "csrf_token": token.group(1)})


def _time(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    return elapsed * 1000


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    home = prepare(args.rows)
    _ensure_user(home)
    port = _free_port()
    env = {**os.environ, "PACELINE_HOME": str(home)}
    # --warm-interval 0: measure the cold request itself, not the background refresh of the cache
    paceline = str(Path(sys.executable).parent / "paceline")
    command = [paceline, "serve", "--port", str(port), "--warm-interval", "0"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=600) as client:
            for _ in range(200):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            _login(client)
            print(f"page latency over {args.rows:,} task events, {args.requests} warm requests each")
            print(f"{'':10} {'cold ms':>9} {'p50 ms':>8} {'p95 ms':>8}")
            for name, url in PAGES.items():
                cold = _time(client, url)
                warm = [_time(client, url) for _ in range(args.requests)]
                print(f"{name:10} {cold:9.0f} {_pct(warm, 50):8.1f} {_pct(warm, 95):8.1f}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
