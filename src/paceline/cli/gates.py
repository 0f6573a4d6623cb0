"""``paceline gate|review|requirement|ops``: the lifecycle's evidence and its gates.

``gate check`` exits 1 when the next gate would not pass, like any failed check; ``gate advance``
does too, naming the failing checks, unless an admin overrides it with a written justification.
"""

from __future__ import annotations

from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.cli.usecases import FORMAT, KEY
from paceline.services.access import operator
from paceline.services.gate_service import GateBlocked
from paceline.services.parsing import parse_date

gate_app = typer.Typer(help="Phase gates: check, advance, send back, sign off.", no_args_is_help=True)
review_app = typer.Typer(help="Go-live and the 30/60/90-day reviews.", no_args_is_help=True)
requirement_app = typer.Typer(help="Architecture requirements (phase 3).", no_args_is_help=True)
ops_app = typer.Typer(help="Operations figures (phase 5), e.g. uptime.", no_args_is_help=True)

JUSTIFICATION = "Why, and who accepts the risk (at least 20 characters)."


# --- gate -------------------------------------------------------------------------------
def _print_checks(decision: dict[str, Any], only_blocking: bool = False) -> None:
    checks = [c for c in decision["checks"] if not only_blocking or c["status"] != "pass"]
    table(
        None,
        ["status", "check", "kind", "reason"],
        [[c["status"].upper(), c["title"], c["kind"], c["reason"]] for c in checks],
    )


@gate_app.command("check")
@handles_errors
def gate_check(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """Run the next gate's checks without moving the use case: exit 0 if it would pass, 1 if not."""
    by = operator()
    with open_workspace().gates(by, readonly=True) as gates:
        decision = gates.evaluate(by, key).to_dict()
    if fmt is Fmt.json:
        emit_json({"use_case": key, **decision})
    else:
        out.print(f"[bold]{key}[/]: {decision['summary']}")
        _print_checks(decision)
    raise typer.Exit(0 if decision["passed"] else 1)


@gate_app.command("advance")
@handles_errors
def gate_advance(
    key: str = KEY,
    justification: str | None = typer.Option(
        None,
        "--justification",
        help="Override a blocked gate (admins and program managers). " + JUSTIFICATION,
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Pass the gate to the next phase (phase 6: recertify); exit 1 naming the failing checks if blocked."""
    by = operator()
    try:
        with open_workspace().gates(by) as gates:
            doc = gates.advance(by, key, justification)
    except GateBlocked as blocked:
        decision = blocked.details["gate"]
        if fmt is Fmt.json:
            emit_json({"use_case": key, **decision})
        else:
            out.print(f"[bold]{key}[/]: the checks that do not pass")
            _print_checks(decision, only_blocking=True)
        raise
    if fmt is Fmt.json:
        emit_json(doc)
        return
    _print_move(key, doc)


def _print_move(key: str, doc: dict[str, Any]) -> None:
    if doc["move"] == "recertify":
        head = f"{key}: phase {doc['to_phase']} recertified"
    else:
        head = f"{key}: moved from phase {doc['from_phase']} to {doc['to_phase']} ({doc['move']})"
    out.print(head + ".")
    if doc["overridden"]:
        failing = [c for c in doc["checks"] if c["status"] != "pass"]
        out.print(f"Overridden by {doc['decided_by']} although {len(failing)} check(s) did not pass:")
        for c in failing:
            out.print(f"- {c['title']} ({c['status']}): {c['reason']}")
    if doc["justification"]:
        out.print(f"Justification: {doc['justification']}")


@gate_app.command("send-back")
@handles_errors
def gate_send_back(
    key: str = KEY,
    justification: str = typer.Option(..., "--justification", help=JUSTIFICATION),
) -> None:
    """Return the use case to the previous phase (e.g. after a failed review)."""
    by = operator()
    with open_workspace().gates(by) as gates:
        doc = gates.send_back(by, key, justification)
    _print_move(key, doc)


@gate_app.command("history")
@handles_errors
def gate_history(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """Every gate decision of a use case, oldest first, with overrides and their justification."""
    by = operator()
    with open_workspace().gates(by, readonly=True) as gates:
        rows = gates.history(by, key)
    if fmt is Fmt.json:
        emit_json({"use_case": key, "history": rows})
        return
    table(
        f"Gate history of {key}",
        ["when", "move", "phases", "result", "by", "justification"],
        [
            [
                r["decided_at"][:19],
                r["move"],
                f"{r['from_phase']} → {r['to_phase']}",
                "overridden" if r["overridden"] else ("passed" if r["passed"] else ""),
                r["decided_by"],
                r["justification"],
            ]
            for r in rows
        ],
    )


@gate_app.command("signoff")
@handles_errors
def gate_signoff(
    key: str = KEY,
    check: str = typer.Argument(..., metavar="CHECK", help="A checkpoint, e.g. security_review."),
    note: str = typer.Option("", "--note", help="What was checked, or where the record is."),
) -> None:
    """Sign off a change-control checkpoint (as the operator, an admin)."""
    by = operator()
    with open_workspace().lifecycle(by) as lc:
        signed = lc.sign_off(by, key, check, note)
    out.print(f"Signed off {check} for {key} as {signed.role} ({signed.by}).")


@gate_app.command("deliverable")
@handles_errors
def gate_deliverable(
    key: str = KEY,
    item: str = typer.Argument(
        ..., metavar="DELIVERABLE", help="A document deliverable, e.g. api_integrations."
    ),
    status: str = typer.Option(..., "--status", help="missing, draft, in_review or done."),
    link: str = typer.Option("", "--link", help="The document's URL (required when done)."),
    owner: str = typer.Option("", "--owner", help="Who owns it (default: the operator)."),
    note: str = typer.Option("", "--note", help="A remark."),
) -> None:
    """Record a document deliverable's status (record deliverables follow from the data)."""
    by = operator()
    with open_workspace().lifecycle(by) as lc:
        lc.set_deliverable(by, key, item, status, owner, link, note)
    out.print(f"{item} of {key} is {status}" + (f": {link}" if link else "") + ".")


# --- reviews ----------------------------------------------------------------------------
@review_app.command("golive")
@handles_errors
def review_golive(
    key: str = KEY, day: str = typer.Argument(..., metavar="DATE", help="Go-live day, YYYY-MM-DD.")
) -> None:
    """Record the go-live date and schedule the 30, 60 and 90-day reviews."""
    by = operator()
    with open_workspace().program(by) as program:
        reviews = program.go_live(by, key, parse_date(day, "date"))
    out.print(
        f"{key} went live on {day}; reviews due " + ", ".join(f"{r['kind']} {r['due']}" for r in reviews)
    )


@review_app.command("list")
@handles_errors
def review_list(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """The scheduled reviews and their outcomes."""
    by = operator()
    with open_workspace().program(by, readonly=True) as program:
        program.records.get(by, key)
        reviews = program.repo.reviews(key)
    if fmt is Fmt.json:
        emit_json({"use_case": key, "reviews": reviews})
        return
    table(
        f"Reviews of {key}",
        ["review", "due", "outcome", "summary", "actions"],
        [[r["kind"], r["due"], r["outcome"] or "open", r["summary"], r["actions"]] for r in reviews],
    )


@review_app.command("complete")
@handles_errors
def review_complete(
    key: str = KEY,
    kind: str = typer.Argument(..., metavar="KIND", help="day30, day60 or day90."),
    actions: str = typer.Option("", "--actions", help="What will be done about the findings."),
    fmt: Fmt = FORMAT,
) -> None:
    """Hold a review: actual KPIs against the pilot's targets, the outcome, and the actions agreed."""
    by = operator()
    with open_workspace().program(by) as program:
        doc = program.complete_review(by, key, kind, actions)
    if fmt is Fmt.json:
        emit_json({"use_case": key, "kind": kind, **doc})
        return
    out.print(f"{key} {kind} review: [bold]{doc['outcome']}[/]. {doc['summary']}")
    if doc["comparisons"]:
        table(
            None,
            ["kpi", "target met", "comparison"],
            [
                [c["kpi"], {True: "yes", False: "no"}.get(c["met"], "unknown"), c["sentence"]]
                for c in doc["comparisons"]
            ],
        )


# --- requirements and operations ----------------------------------------------------------
@requirement_app.command("add")
@handles_errors
def requirement_add(
    key: str = KEY,
    kind: str = typer.Option(..., "--kind", help="latency, security or interoperability."),
    title: str = typer.Option(..., "--title", help="What is required."),
    target: str = typer.Option(..., "--target", help="The target, e.g. 'p95 < 2 s'."),
    measured: str = typer.Option("", "--measured", help="What was measured or verified."),
    met: bool = typer.Option(False, "--met", help="The target is met (needs --measured)."),
    requirement_id: int = typer.Option(0, "--id", help="Update this requirement instead of adding one."),
) -> None:
    """Record an architecture requirement and, once verified, whether it is met."""
    by = operator()
    with open_workspace().lifecycle(by) as lc:
        req = lc.record_requirement(by, key, kind, title, target, measured, met, requirement_id)
    state = "met" if req.met else "not met yet"
    out.print(f"Requirement {req.id} of {key} ({req.kind}): {req.title}, target {req.target}: {state}.")


@ops_app.command("record")
@handles_errors
def ops_record(
    key: str = KEY,
    metric: str = typer.Option(..., "--metric", help="The figure, e.g. uptime."),
    value: float = typer.Option(..., "--value", help="A share, e.g. 0.998 for 99.8%."),
    start: str = typer.Option(..., "--start", help="First day of the period, YYYY-MM-DD."),
    end: str = typer.Option(..., "--end", help="Last day of the period, YYYY-MM-DD."),
    source: str = typer.Option(..., "--source", help="Where the figure comes from, e.g. the monitor."),
) -> None:
    """Record an operations figure for a period."""
    by = operator()
    first, last = parse_date(start, "start"), parse_date(end, "end")
    with open_workspace().lifecycle(by) as lc:
        lc.record_ops_figure(by, key, metric, value, first, last, source)
    out.print(f"Recorded {metric} {value} for {key}, {first} to {last} ({source}).")


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
    app.add_typer(review_app, name="review")
    app.add_typer(requirement_app, name="requirement")
    app.add_typer(ops_app, name="ops")
