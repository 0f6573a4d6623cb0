"""Import speed of xAPI statements: Paceline's loader against a plain json loop + executemany.

Usage: python benchmarks/xapi_import.py [--statements 100000] [--repeat 3]

Both read the same JSON Lines text (statements of 2,000 people in 20 courses). Paceline's
import checks every statement (ids, actor, verb, object, score, time), pseudonymises the person,
skips known statement ids and writes batches to the workspace's SQLite store with one audited
import record. The baseline parses each line with ``json.loads``, takes the same fields without
checking them, and inserts them with one ``executemany`` into a plain SQLite table. A second
Paceline import of the same file (everything a duplicate) shows the cost of idempotency.
Prints the median seconds and statements per second of each.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from paceline.services.xapi import documents

VERBS = ("registered", "completed", "passed", "failed", "experienced")


def statements(n: int) -> str:
    lines = []
    for i in range(n):
        verb = VERBS[i % len(VERBS)]
        doc = {
            "id": str(uuid.UUID(int=i + 1)),
            "actor": {"account": {"homePage": "https://lms.example", "name": f"emp-{i % 2000:04d}"}},
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": f"https://lms.example/courses/course-{i % 20}"},
            "timestamp": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
        }
        if verb in ("passed", "failed"):
            doc["result"] = {"score": {"scaled": round((i % 100) / 100, 2)}, "success": verb == "passed"}
        lines.append(json.dumps(doc))
    return "\n".join(lines) + "\n"


def paceline_import(text: str, home: Path) -> tuple[float, float, dict[str, int]]:
    ws = Workspace.init(home)
    op = operator()
    try:
        start = time.perf_counter()
        with ws.enablement(op) as en:
            first = en.import_xapi(op, documents(text), "bench").to_dict()
        middle = time.perf_counter()
        with ws.enablement(op) as en:
            again = en.import_xapi(op, documents(text), "bench").to_dict()
        end = time.perf_counter()
    finally:
        ws.close()
    counts = {k: first[k] for k in ("rows_read", "loaded", "ignored", "quarantined")}
    assert again["duplicates"] == first["loaded"]
    return middle - start, end - middle, counts


def baseline(text: str, path: Path) -> float:
    start = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE statements (statement_id TEXT UNIQUE, person TEXT, course TEXT, verb TEXT, "
        "occurred_at TEXT, score REAL, success INTEGER)"
    )
    rows = []
    for line in text.splitlines():
        doc = json.loads(line)
        score = doc.get("result", {}).get("score", {}).get("scaled")
        rows.append(
            (
                doc["id"],
                doc["actor"]["account"]["name"],
                doc["object"]["id"].rsplit("/", 1)[-1],
                doc["verb"]["id"].rsplit("/", 1)[-1],
                doc["timestamp"],
                score,
                doc.get("result", {}).get("success"),
            )
        )
    with con:
        con.executemany("INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    text = statements(args.statements)
    first, again, plain = [], [], []
    counts: dict[str, int] = {}
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            a, b, counts = paceline_import(text, Path(tmp) / "ws")
            first.append(a)
            again.append(b)
            plain.append(baseline(text, Path(tmp) / f"plain-{i}.db"))
    n = args.statements
    print(f"{n} statements ({counts}), median of {args.repeat} runs")
    for name, runs in (
        ("paceline import (checked, pseudonymised, audited)", first),
        ("paceline import again (all duplicates)", again),
        ("plain json loop + executemany", plain),
    ):
        median = statistics.median(runs)
        print(f"| {name} | {median:.2f} s | {n / median:,.0f} statements/s |")


if __name__ == "__main__":
    main()
