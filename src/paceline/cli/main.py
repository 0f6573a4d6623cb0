"""The ``paceline`` command. Each command parses options, calls the library, renders.

Errors raised by the library (:class:`paceline.errors.PacelineError`) become a
message on stderr with the fix, and the error's exit code (spec/interface.md).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from paceline.bootstrap import Workspace
from paceline.cli.alerts import register as register_alerts
from paceline.cli.audit import audit_app
from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.enablement import register as register_enablement
from paceline.cli.flags import register as register_flags
from paceline.cli.gates import register as register_gates
from paceline.cli.governance import register as register_governance
from paceline.cli.kpi import kpi_app
from paceline.cli.labels import register as register_labels
from paceline.cli.models import register as register_models
from paceline.cli.models import register_monitor as register_monitor_performance
from paceline.cli.monitor import monitor_app
from paceline.cli.output import emit_json, err, out, table
from paceline.cli.pilot import pilot_app
from paceline.cli.pilot_records import register as register_pilot_records
from paceline.cli.program import register as register_program
from paceline.cli.runtime import register as register_runtime
from paceline.cli.usecases import register as register_usecases
from paceline.domain.roles import Grant
from paceline.errors import UsageError

app = typer.Typer(
    help="Paceline: run an AI workforce program on measured evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
user_app = typer.Typer(help="Manage users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="Create API tokens for machines.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(kpi_app, name="kpi")
app.add_typer(monitor_app, name="monitor")
register_monitor_performance(monitor_app)
register_pilot_records(pilot_app)
app.add_typer(pilot_app, name="pilot")
register_usecases(app)
register_gates(app)
register_governance(app)
register_program(app)
register_flags(app)
register_runtime(app)
register_labels(app)
register_enablement(app)
register_models(app)
register_alerts(app)


@app.command()
@handles_errors
def init() -> None:
    """Create the workspace ($PACELINE_HOME or ./.paceline). Safe to run again."""
    existed = Workspace.exists()
    ws = Workspace.init()
    verb = "Using existing" if existed else "Created"
    out.print(f"{verb} workspace at {ws.home}")


@app.command()
@handles_errors
def ingest(
    table_name: str = typer.Argument(..., metavar="TABLE", help="Canonical table, e.g. task_events."),
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="CSV, Parquet or JSON Lines."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """Load files into a canonical table; bad rows go to a quarantine file."""
    ws = open_workspace()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(f"ingest {table_name}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        report = ws.ingest(table_name, files, progress=progress)
    if fmt is Fmt.json:
        emit_json(report.to_dict())
    else:
        _print_ingest(report.to_dict())
    raise typer.Exit(report.exit_code)


def _print_ingest(doc: dict[str, Any]) -> None:
    table(
        f"Ingest into {doc['table']}",
        ["rows read", "loaded", "duplicates", "quarantined"],
        [[f"{doc[k]:,}" for k in ("rows_read", "loaded", "duplicates", "quarantined")]],
    )
    if doc["reasons"]:
        table("Quarantined rows by reason", ["reason", "rows"], doc["reasons"].items())
        out.print(
            f"Quarantined rows are in {doc['quarantine_file']}: fix them and ingest that file's "
            "rows again (rows already loaded are skipped)."
        )
    for notice in doc["notices"]:
        out.print(f"Note: {notice}")


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError(
            "--password-stdin was given but standard input was empty",
            fix="echo 'a long passphrase' | paceline user add LOGIN --role ROLE --password-stdin",
        )
    return password


@user_app.command("add")
@handles_errors
def user_add(
    login: str = typer.Argument(..., help="Letters, digits and . _ @ - (at most 200)."),
    role: str = typer.Option(..., "--role", help="One of the roles in `paceline user roles`."),
    use_case: str | None = typer.Option(None, "--use-case", help="Limit the role to one use case."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read a password from stdin."),
) -> None:
    """Create a user with a role (and a password for the web)."""
    password = _read_password(password_stdin)
    with open_workspace().access() as access:
        from paceline.services.access import operator

        user = access.add_user(operator(), login, role, use_case, password)
    out.print(f"Created user {user.login} with role {role}" + (f" on {use_case}" if use_case else ""))


@user_app.command("grant")
@handles_errors
def user_grant(
    login: str = typer.Argument(..., help="An existing user."),
    role: str = typer.Option(..., "--role", help="One of the roles in `paceline user roles`."),
    use_case: str | None = typer.Option(None, "--use-case", help="Limit the role to one use case."),
) -> None:
    """Give an existing user another role."""
    from paceline.services.access import operator

    with open_workspace().access() as access:
        access.grant(operator(), login, role, use_case)
    out.print(f"Granted {role} to {login}" + (f" on {use_case}" if use_case else ""))


@user_app.command("list")
@handles_errors
def user_list(fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format.")) -> None:
    """List users and their roles."""
    from paceline.services.access import operator

    with open_workspace().access() as access:
        users = access.list_users(operator())
    rows = [{"login": u.login, "active": u.active, "roles": [_grant_doc(g) for g in u.grants]} for u in users]
    if fmt is Fmt.json:
        emit_json({"users": rows})
        return
    table("Users", ["login", "roles"], [[u.login, ", ".join(map(_grant_text, u.grants))] for u in users])


def _grant_doc(grant: Grant) -> dict[str, str | None]:
    return {"role": grant.role.value, "use_case": grant.use_case}


def _grant_text(grant: Grant) -> str:
    return grant.role.value + (f" ({grant.use_case})" if grant.use_case else "")


@user_app.command("roles")
def user_roles() -> None:
    """List the roles and what each may do."""
    from paceline.domain.roles import ROLE_ACTIONS

    table(
        "Roles",
        ["role", "actions"],
        [[r.value, ", ".join(sorted(a.value for a in acts))] for r, acts in ROLE_ACTIONS.items()],
    )


@token_app.command("create")
@handles_errors
def token_create(
    login: str = typer.Argument(..., help="The user the token acts as."),
    name: str = typer.Option("default", "--name", help="A label to tell tokens apart."),
) -> None:
    """Create an API token for LOGIN; it is printed once, on stdout."""
    from paceline.services.access import operator

    with open_workspace().access() as access:
        token = access.create_token(operator(), login, name)
    sys.stdout.write(token + "\n")
    err.print("Store this token now: it is not shown again. Send it as 'Authorization: Bearer <token>'.")


@app.command()
@handles_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    warm_interval: float = typer.Option(
        30.0,
        "--warm-interval",
        help="Seconds between checks for new data, to precompute the KPI overview; 0 turns it off.",
    ),
) -> None:
    """Serve the web app and the API."""
    import uvicorn

    from paceline.web.app import create_app

    ws = open_workspace()
    if warm_interval > 0:
        start_warmer(ws, warm_interval)
    out.print(f"Serving {ws.home} on http://{host}:{port}")
    uvicorn.run(create_app(ws), host=host, port=port, log_level="warning")


def start_warmer(ws: Workspace, interval: float) -> threading.Event:
    """A daemon thread that keeps the overview's cache fresh as new data is ingested.

    Returns an event that is set each time a pass has finished.
    """
    passed = threading.Event()

    def loop() -> None:
        while True:
            try:
                ws.warm_caches()
                passed.set()
            except Exception:  # a bad moment (a file being replaced) must not stop the server
                logging.getLogger(__name__).exception("warming the KPI cache failed; retrying")
            time.sleep(interval)

    threading.Thread(target=loop, name="paceline-cache-warmer", daemon=True).start()
    return passed


@app.command()
@handles_errors
def demo(
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Random seed (default 7); a seed always builds the same firm."
    ),
    no_serve: bool = typer.Option(False, "--no-serve", help="Build and print the summary, then exit."),
    reset: bool = typer.Option(
        False, "--reset", help="Delete the demo's data, warehouse and database first, then rebuild."
    ),
    scale: int | None = typer.Option(
        None, "--scale", min=1, help="Only write N task events as Parquet to --out (benchmarks)."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for --scale output."),
    people: int | None = typer.Option(
        None, "--people", help="Head count (default 800, at least 40): smaller for quick trials."
    ),
    months: int | None = typer.Option(None, "--months", help="Months of history (default 18, at least 3)."),
) -> None:
    """Build the demo firm, load it as a user would, print the summary and serve the dashboard."""
    from paceline.demo.params import FirmParams
    from paceline.demo.report import scale_line, summary_lines, summary_tables
    from paceline.demo.run import DEFAULT_SEED, run_demo
    from paceline.demo.scale import write_scale

    params, seed = FirmParams.sized(people, months), DEFAULT_SEED if seed is None else seed
    if scale is not None or out_dir is not None:
        if scale is None or out_dir is None:
            raise UsageError("--scale and --out go together", fix="paceline demo --scale 10000000 --out DIR")
        out.print(scale_line(write_scale(scale, out_dir, seed=seed, params=params)))
        return
    summary, created = run_demo(seed, params, reset=reset, say=lambda message: err.print(message))
    for line in summary_lines(summary, created):
        out.print(line)
    for title, columns, rows in summary_tables(summary):
        table(title, columns, rows)
    if not no_serve:
        err.print("Computing the dashboards (KPIs, model performance and drift) before serving ...")
        open_workspace().warm_caches()
        serve(host="127.0.0.1", port=8000, warm_interval=30.0)


def main() -> None:
    """Entry point of the ``paceline`` console script."""
    app()
