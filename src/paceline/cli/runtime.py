"""The human-in-the-loop runtime from the command line: workers, cases, the review queue, workflows.

``paceline worker`` runs the runtime's threads (cases, downstream actions, the review sweep and
the export of events to the warehouse) until SIGTERM or Ctrl+C; ``--until-idle`` stops once
nothing is due. The other commands start and read cases and list the review queue; like every
command, they act as the workspace operator (an admin).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.gates import review_app
from paceline.cli.output import emit_json, err, out, table
from paceline.errors import UsageError
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker, WorkerStats
from paceline.services.access import operator

case_app = typer.Typer(help="Cases of the runtime's workflows: start, show, list.", no_args_is_help=True)
workflow_app = typer.Typer(help="The registered runtime workflows.", no_args_is_help=True)

FORMAT = typer.Option(Fmt.table, "--format", help="Output format.")
PAYLOAD_EXAMPLE = '--payload \'{"amount": 120, "category": "travel"}\' or --payload @case.json'
REVIEW_STATUSES = ("open", "claimed", "done", "any")
MAX_ERRORS_SHOWN = 20


# --- the worker ---------------------------------------------------------------------------------
def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def stats_doc(name: str, concurrency: int, stats: WorkerStats) -> dict[str, Any]:
    return {
        "worker": name,
        "concurrency": concurrency,
        "cases": stats.cases,
        "actions": stats.actions,
        "exported": stats.exported,
        "loops": stats.loops,
        "errors": stats.errors[-MAX_ERRORS_SHOWN:],
        "error_count": len(stats.errors),
    }


def run_worker(worker: Worker, until_idle: bool) -> WorkerStats:
    """Run *worker*; SIGTERM and SIGINT stop it after the current step (a second one: at once)."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        return worker.run(until_idle=until_idle)
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def stop(signum: int, frame: FrameType | None) -> None:
        err.print(f"{signal.Signals(signum).name}: finishing the current steps, then stopping")
        worker.stop()
        signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)

    for sig in signals:
        signal.signal(sig, stop)
    try:
        return worker.run(until_idle=until_idle)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def worker(
    concurrency: int = typer.Option(
        1, "--concurrency", min=1, max=64, help="Threads in this process (cases run in parallel)."
    ),
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Stop once no case or action is due (batch runs, tests)."
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Run the runtime's workers: cases, downstream actions, review SLAs and the event export.

    Runs until SIGTERM or Ctrl+C, which let the current steps finish. Start as many processes as
    you like, on as many machines as share the database: leases keep them from doing work twice.
    """
    ws = open_workspace()
    name = worker_name()
    running = Worker(ws.runtime, name=name, concurrency=concurrency, export=ws.export_runtime_events)
    err.print(
        f"Worker {name}: {concurrency} thread(s) on {ws.home}; "
        + ("stops when idle" if until_idle else "Ctrl+C or SIGTERM stops it")
    )
    doc = stats_doc(name, concurrency, run_worker(running, until_idle))
    if fmt is Fmt.json:
        emit_json(doc)
        return
    table(
        f"Worker {name}",
        ["cases run", "actions sent", "events exported", "errors"],
        [[doc["cases"], doc["actions"], doc["exported"], doc["error_count"]]],
    )
    for message in doc["errors"]:
        err.print(f"error: {message}", highlight=False, markup=False)


# --- cases ---------------------------------------------------------------------------------------
def read_payload(value: str) -> Any:
    """``--payload``: JSON text, ``@FILE`` (a JSON file) or ``@-`` (JSON on standard input)."""
    if value.startswith("@"):
        where = value[1:]
        if where == "-":
            text, source = sys.stdin.read(), "standard input"
        else:
            try:
                text, source = Path(where).read_text(encoding="utf-8"), where
            except OSError as exc:
                raise UsageError(
                    f"{where}: cannot read the file ({exc.strerror})", fix=PAYLOAD_EXAMPLE
                ) from None
    else:
        text, source = value, "--payload"
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise UsageError(f"{source}: not valid JSON ({exc})", fix=PAYLOAD_EXAMPLE) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _case_rows(case: dict[str, Any]) -> list[list[Any]]:
    keys = ("id", "workflow", "workflow_version", "external_id", "status", "step", "variant", "attempts")
    rows = [[k, case[k]] for k in keys]
    rows += [[k, case[k]] for k in ("error", "created_at", "updated_at", "completed_at") if case.get(k)]
    return rows


@case_app.command("start")
@handles_errors
def case_start(
    workflow: str = typer.Argument(
        ..., metavar="WORKFLOW", help="A registered workflow (paceline workflow list)."
    ),
    external_id: str = typer.Argument(..., metavar="EXTERNAL_ID", help="The id in the source system."),
    payload: str = typer.Option(..., "--payload", help="The payload: JSON, @FILE or @- (standard input)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Start a case; the same external id again shows the existing case instead."""
    ws = open_workspace()
    case, created = ws.runtime.start(workflow, external_id, read_payload(payload), operator().actor)
    if fmt is Fmt.json:
        emit_json({**case, "created": created})
        return
    verb = "Started" if created else "Exists already:"
    out.print(f"{verb} case {case['id']} of {case['workflow']} ({case['external_id']}), {case['status']}.")
    if created:
        out.print("A worker runs it: paceline worker (or paceline worker --until-idle).")


@case_app.command("show")
@handles_errors
def case_show(
    case_id: str = typer.Argument(..., metavar="ID", help="The case id (paceline case list)."),
    fmt: Fmt = FORMAT,
) -> None:
    """One case: its status, the steps it ran and the actions it sent, with their idempotency keys."""
    case = open_workspace().runtime.case(case_id)
    if fmt is Fmt.json:
        emit_json(case)
        return
    table(f"Case {case['id']}", ["", "value"], _case_rows(case))
    if case["steps"]:
        table(
            "Steps",
            ["step", "status", "finished", "ms", "idempotency key"],
            [
                [s["step"], s["status"], s["finished_at"], f"{s['duration_ms']:.0f}", s["idempotency_key"]]
                for s in case["steps"]
            ],
        )
    if case["actions"]:
        table(
            "Actions",
            ["action", "status", "attempts", "target", "idempotency key", "last error"],
            [
                [a["action"], a["status"], a["attempts"], a["target"], a["idempotency_key"], a["last_error"]]
                for a in case["actions"]
            ],
        )
    if case["reviews"]:
        table(
            "Reviews",
            ["id", "kind", "status", "decision"],
            [[r["id"], r["kind"], r["status"], r["decision"]] for r in case["reviews"]],
        )


@case_app.command("list")
@handles_errors
def case_list(
    workflow: str | None = typer.Option(None, "--workflow", help="Only cases of this workflow."),
    status: str | None = typer.Option(
        None, "--status", help="running, awaiting_review, completed or failed."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many, newest first."),
    fmt: Fmt = FORMAT,
) -> None:
    """Cases, newest first."""
    runtime = open_workspace().runtime
    if workflow:
        runtime.registry.get(workflow)  # an unknown name is an error, not an empty list
    cases = runtime.cases(workflow, status, limit)
    if fmt is Fmt.json:
        emit_json({"cases": cases})
        return
    table(
        "Cases",
        ["id", "workflow", "external id", "status", "next step", "created"],
        [[c["id"], c["workflow"], c["external_id"], c["status"], c["step"], c["created_at"]] for c in cases],
    )


# --- the review queue (a command of ``paceline review``) ---------------------------------------------
def overdue(item: dict[str, Any], now: datetime) -> bool:
    return item["status"] != "done" and datetime.fromisoformat(item["due_at"]) < now


@review_app.command("queue")
@handles_errors
def review_queue(
    queue: str | None = typer.Option(None, "--queue", help="One queue, e.g. finance or finance:escalated."),
    status: str = typer.Option("open", "--status", help="open, claimed, done or any."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many, by due time."),
    fmt: Fmt = FORMAT,
) -> None:
    """The human-review queue of the runtime's cases, the most urgent first (decide in the web app)."""
    if status not in REVIEW_STATUSES:
        raise UsageError(
            f"--status {status!r} is not one of: {', '.join(REVIEW_STATUSES)}", fix="e.g. --status open"
        )
    items = ReviewQueue(open_workspace().runtime).items(None if status == "any" else status, queue, limit)
    now = datetime.now(UTC)
    items = [{**i, "overdue": overdue(i, now)} for i in items]
    if fmt is Fmt.json:
        emit_json({"reviews": items})
        return
    table(
        "Review items" + (f" in {queue}" if queue else ""),
        ["id", "queue", "workflow", "case", "kind", "confidence", "due", "status", "assignee"],
        [
            [
                i["id"],
                i["queue"],
                i["workflow"],
                i["shown"].get("external_id", i["case_id"]),
                i["kind"],
                i["shown"]["suggestion"]["confidence_band"],
                i["due_at"] + (" (overdue)" if i["overdue"] else ""),
                i["decision"] or i["status"],
                i["assignee"] or "",
            ]
            for i in items
        ],
    )


# --- workflows ---------------------------------------------------------------------------------
@workflow_app.command("list")
@handles_errors
def workflow_list(fmt: Fmt = FORMAT) -> None:
    """The registered workflows (in code or through the paceline.workflows entry points)."""
    registry = open_workspace().runtime.registry
    docs = [registry.get(name).describe() for name in registry.names()]
    if fmt is Fmt.json:
        emit_json({"workflows": docs})
        return
    table(
        "Workflows",
        ["name", "version", "title", "use case", "review queue"],
        [[d["name"], d["version"], d["title"], d["use_case"], d["queue"]] for d in docs],
    )


@workflow_app.command("show")
@handles_errors
def workflow_show(
    name: str = typer.Argument(..., metavar="NAME", help="A registered workflow."), fmt: Fmt = FORMAT
) -> None:
    """One workflow: its steps, payload fields, an example payload and its routing thresholds."""
    doc = open_workspace().runtime.registry.get(name).describe()
    if fmt is Fmt.json:
        emit_json(doc)
        return
    facts = [[k, doc[k]] for k in ("name", "version", "title", "use_case", "queue")]
    facts.append(["steps", " > ".join(doc["steps"])])
    facts += [[f"thresholds.{k}", v] for k, v in doc["thresholds"].items()]
    table(f"Workflow {doc['name']}", ["", "value"], facts)
    schema = doc["payload_schema"]
    required = set(schema.get("required", []))
    table(
        "Payload fields",
        ["field", "type", "required", "description"],
        [
            [field, spec.get("type", "any"), "yes" if field in required else "", spec.get("description", "")]
            for field, spec in schema.get("properties", {}).items()
        ],
    )
    out.print("Example payload: " + json.dumps(doc["example_payload"]), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("worker")(handles_errors(worker))
    app.add_typer(case_app, name="case")
    app.add_typer(workflow_app, name="workflow")
