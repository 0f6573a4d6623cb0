"""``paceline governance``: frameworks and controls, evidence, findings, management reviews and the
compliance & risk score (KPI 8). ``governance score`` exits 1 when the score is red, like a failed check.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.cli.usecases import FORMAT
from paceline.errors import ValidationError
from paceline.services.access import operator
from paceline.services.governance import builtin_catalogues

governance_app = typer.Typer(
    help="Frameworks, controls, evidence, audit findings, management reviews, the compliance score.",
    no_args_is_help=True,
)
USE_CASE = typer.Option(None, "--use-case", help="A use case's key; without it the program.")
ACTION_HELP = "An action as 'what|owner|YYYY-MM-DD' (the due date is optional); repeat for more."


def _actions(items: list[str]) -> list[dict[str, Any]]:
    out_ = []
    for i, text in enumerate(items):
        parts = [p.strip() for p in text.split("|")]
        if len(parts) not in (2, 3):
            raise ValidationError(
                f"--action {text!r} is not 'what|owner|due'",
                field=f"actions[{i}]",
                fix="e.g. 'Publish the policy|cio|2026-03-31'",
            )
        out_.append({"action": parts[0], "owner": parts[1], "due": parts[2] if len(parts) == 3 else None})
    return out_


@governance_app.command("catalogues")
@handles_errors
def catalogues(fmt: Fmt = FORMAT) -> None:
    """The built-in control catalogues a workspace can adopt."""
    names = sorted(builtin_catalogues())
    if fmt is Fmt.json:
        emit_json({"catalogues": names})
    else:
        table(None, ["catalogue"], [[n] for n in names])


@governance_app.command("adopt")
@handles_errors
def adopt(
    name: str = typer.Argument(..., help="A built-in catalogue, e.g. nist-ai-rmf."), fmt: Fmt = FORMAT
) -> None:
    """Adopt a built-in catalogue (running it again changes nothing)."""
    by = operator()
    with open_workspace().governance(by) as gov:
        _counts(gov.adopt(by, name), fmt)


@governance_app.command("import")
@handles_errors
def import_file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A framework as YAML or JSON."),
    fmt: Fmt = FORMAT,
) -> None:
    """Import a firm's own framework or controls (idempotent: the same file twice changes nothing)."""
    by = operator()
    with open_workspace().governance(by) as gov:
        _counts(gov.import_text(by, path.read_text(encoding="utf-8"), path.name), fmt)


def _counts(doc: dict[str, Any], fmt: Fmt) -> None:
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(
        f"[bold]{doc['framework']}[/]: {doc['controls']} controls — {doc['created']} created, "
        f"{doc['updated']} updated, {doc['unchanged']} unchanged, {doc['removed']} removed"
    )


@governance_app.command("frameworks")
@handles_errors
def frameworks(fmt: Fmt = FORMAT) -> None:
    """The adopted and imported frameworks."""
    by = operator()
    with open_workspace().governance(by, readonly=True) as gov:
        docs = [f.to_dict(with_controls=False) for f in gov.frameworks(by)]
    if fmt is Fmt.json:
        emit_json({"frameworks": docs})
    else:
        table(
            None,
            ["key", "title", "version", "controls"],
            [[d["key"], d["title"], d["version"], d["control_count"]] for d in docs],
        )


@governance_app.command("controls")
@handles_errors
def controls(
    use_case: str = typer.Argument(..., metavar="KEY", help="The use case's key."),
    state: str | None = typer.Option(None, "--state", help="Only met, open or expired controls."),
    fmt: Fmt = FORMAT,
) -> None:
    """The controls that apply to a use case, with their status and current evidence."""
    by = operator()
    with open_workspace().governance(by, readonly=True) as gov:
        statuses = gov.statuses(by, use_case, date.today())
        summary = gov.summary(statuses)
    docs = [s.to_dict(date.today()) for s in statuses if state is None or s.state.value == state]
    if fmt is Fmt.json:
        emit_json({"use_case": use_case, "summary": summary, "controls": docs})
        return
    out.print(f"[bold]{use_case}[/]: {summary['met']} of {summary['applicable']} applicable controls met")
    table(
        None,
        ["state", "control", "title", "until"],
        [[d["state"], d["ref"], d["title"], d["current_until"] or ""] for d in docs],
    )


@governance_app.command("score")
@handles_errors
def score(
    use_case: str | None = USE_CASE,
    weeks: int = typer.Option(12, "--weeks", min=0, max=104),
    fmt: Fmt = FORMAT,
) -> None:
    """The compliance & risk score with its components and what to fix first; exit 1 when red."""
    by = operator()
    with open_workspace().compliance(by) as comp:
        doc = comp.score(by, use_case, date.today(), weeks)
    if fmt is Fmt.json:
        emit_json(doc)
    else:
        value = "\u2013" if doc["value"] is None else f"{doc['value']:.1f}"
        out.print(f"[bold]{use_case or 'program'}[/]: score {value} ({doc['status']})")
        for reason in doc["red_reasons"]:
            out.print(f"  red: {reason}")
        table(
            "components",
            ["component", "value", "weight", "detail"],
            [
                [c["key"], "\u2013" if c["value"] is None else f"{c['value']:.2f}", c["weight"], c["detail"]]
                for c in doc["components"]
            ],
        )
        table(
            "fix first",
            ["#", "fix", "gain"],
            [[i + 1, f["action"], f"+{f['gain']:.2f}"] for i, f in enumerate(doc["fixes"])],
        )
    raise typer.Exit(1 if doc["status"] == "red" else 0)


@governance_app.command("upload")
@handles_errors
def upload(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The document."),
    title: str = typer.Option(..., "--title"),
    owner: str = typer.Option(..., "--owner", help="Who owns the document."),
    dated: str = typer.Option(date.today().isoformat(), "--dated", help="When it was produced (YYYY-MM-DD)."),
    expires: str | None = typer.Option(None, "--expires", help="YYYY-MM-DD; default: the control's max age."),
    use_case: str | None = typer.Option(None, "--use-case", help="The use case; without it program-wide."),
    control: str | None = typer.Option(None, "--control", help="framework/id, e.g. iso-42001/A.2.2"),
    fmt: Fmt = FORMAT,
) -> None:
    """Upload a document as evidence (stored in the workspace under its SHA-256)."""
    by = operator()
    ws = open_workspace()
    content = path.read_bytes()
    with ws.governance(by) as gov:
        doc = gov.upload(by, content, path.name, title, owner, dated, use_case, control, expires)
    if fmt is Fmt.json:
        emit_json(doc)
    else:
        out.print(f"document {doc['id']} stored, sha256 {doc['sha256']}")


@governance_app.command("finding")
@handles_errors
def finding(
    title: str = typer.Option(..., "--title"),
    severity: str = typer.Option(..., "--severity", help="low, medium, high or critical"),
    owner: str = typer.Option(..., "--owner"),
    use_case: str | None = typer.Option(None, "--use-case"),
    control: str | None = typer.Option(None, "--control"),
    due: str | None = typer.Option(None, "--due", help="YYYY-MM-DD"),
    action: list[str] = typer.Option([], "--action", help=ACTION_HELP),
    fmt: Fmt = FORMAT,
) -> None:
    """Record an internal-audit finding with its owner, due date and actions."""
    by = operator()
    body = {
        "title": title,
        "severity": severity,
        "owner": owner,
        "use_case": use_case,
        "control": control,
        "due": due,
        "actions": _actions(action),
    }
    with open_workspace().governance(by) as gov:
        doc = gov.raise_finding(by, body)
    emit_json(doc) if fmt is Fmt.json else out.print(f"finding {doc['id']} recorded")


@governance_app.command("close-finding")
@handles_errors
def close_finding(
    finding_id: int = typer.Argument(...),
    on: str = typer.Option(date.today().isoformat(), "--on", help="YYYY-MM-DD"),
    fmt: Fmt = FORMAT,
) -> None:
    """Close an audit finding."""
    by = operator()
    with open_workspace().governance(by) as gov:
        doc = gov.update_finding(by, finding_id, {"closed_on": on})
    emit_json(doc) if fmt is Fmt.json else out.print(f"finding {finding_id} closed on {doc['closed_on']}")


@governance_app.command("findings")
@handles_errors
def findings(use_case: str | None = USE_CASE, fmt: Fmt = FORMAT) -> None:
    """Audit findings with their severity, owner, due date and status."""
    by = operator()
    with open_workspace().governance(by, readonly=True) as gov:
        docs = gov.findings(by, use_case)
    if fmt is Fmt.json:
        emit_json({"findings": docs})
    else:
        rows = [
            [
                d["id"],
                d["severity"],
                d["title"],
                d["use_case"] or "program",
                d["owner"],
                d["due"] or "",
                d["closed_on"] or "open",
            ]
            for d in docs
        ]
        table(None, ["#", "severity", "finding", "use case", "owner", "due", "closed"], rows)


@governance_app.command("management-review")
@handles_errors
def management_review(
    title: str = typer.Option(..., "--title"),
    attendee: list[str] = typer.Option([], "--attendee", help="Repeat for each attendee."),
    decisions: str = typer.Option("", "--decisions"),
    held_on: str = typer.Option(date.today().isoformat(), "--held-on", help="YYYY-MM-DD"),
    action: list[str] = typer.Option([], "--action", help=ACTION_HELP),
    fmt: Fmt = FORMAT,
) -> None:
    """Record a management review with its decisions and the actions and their owners."""
    by = operator()
    body = {
        "title": title,
        "attendees": attendee,
        "decisions": decisions,
        "held_on": held_on,
        "actions": _actions(action),
    }
    with open_workspace().governance(by) as gov:
        doc = gov.record_management_review(by, body)
    emit_json(doc) if fmt is Fmt.json else out.print(f"management review {doc['id']} recorded")


@governance_app.command("notice")
@handles_errors
def notice(
    key: str = typer.Argument(..., metavar="KEY", help="The use case's key."),
    kind: str = typer.Option("worker", "--kind", help="worker or data-protection"),
    output: Path | None = typer.Option(None, "--out", help="Write the Markdown here instead of printing it."),
    issue: bool = typer.Option(False, "--issue", help="Record that this text was issued (evidence)."),
) -> None:
    """The worker-information notice or data-protection note of a use case, as Markdown."""
    by = operator()
    with open_workspace().governance(by, readonly=not issue) as gov:
        text = gov.notice(by, key, kind).to_markdown()
        issued = gov.issue_notice(by, key, kind) if issue else None
    if output is not None:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        typer.echo(text, nl=False)
    if issued is not None:
        out.print(f"issued on {issued['issued_on']}, sha256 {issued['sha256']}")


retention_app = typer.Typer(help="Retention policies per table and the deletion job.", no_args_is_help=True)


@retention_app.command("list")
@handles_errors
def retention_list(fmt: Fmt = FORMAT) -> None:
    """Every table with a retention job, its floor and its policy (audit entries are never deleted)."""
    by = operator()
    with open_workspace().retention(by, readonly=True) as ret:
        rows = ret.tables(by)
    if fmt is Fmt.json:
        emit_json({"tables": rows})
        return
    table(
        None,
        ["table", "days", "floor", "deletes"],
        [[r["table"], r["days"] or "kept", r["floor_days"] or "never", r["deletes"]] for r in rows],
    )


@retention_app.command("set")
@handles_errors
def retention_set(
    name: str = typer.Argument(..., metavar="TABLE", help="e.g. cases, review_tasks, event_outbox"),
    days: int = typer.Argument(..., help="Keep rows this many days."),
    fmt: Fmt = FORMAT,
) -> None:
    """Set how long a table keeps its rows (at least its floor: six months for the runtime's logs)."""
    by = operator()
    with open_workspace().retention(by) as ret:
        doc = ret.set_policy(by, name, days)
    emit_json(doc) if fmt is Fmt.json else out.print(
        f"{name}: rows older than {days} days are deleted by 'paceline retention run'"
    )


@retention_app.command("run")
@handles_errors
def retention_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be deleted; delete nothing."),
    fmt: Fmt = FORMAT,
) -> None:
    """Delete the rows older than each table's policy and record what was deleted when."""
    from datetime import UTC, datetime

    by = operator()
    with open_workspace().retention(by) as ret:
        rows = ret.run(by, datetime.now(UTC), dry_run)
    if fmt is Fmt.json:
        emit_json({"dry_run": dry_run, "runs": rows})
        return
    verb = "would delete" if dry_run else "deleted"
    table(
        None, ["table", verb, "older than"], [[r["table_name"], r["deleted"], r["cutoff"][:19]] for r in rows]
    )


@retention_app.command("runs")
@handles_errors
def retention_runs(limit: int = typer.Option(50, "--limit", min=1, max=10_000), fmt: Fmt = FORMAT) -> None:
    """What past deletion runs deleted, newest first."""
    by = operator()
    with open_workspace().retention(by, readonly=True) as ret:
        rows = ret.runs(by, limit)
    if fmt is Fmt.json:
        emit_json({"runs": rows})
        return
    table(
        None,
        ["ran at", "table", "deleted", "older than", "by"],
        [[r["ran_at"][:19], r["table_name"], r["deleted"], r["cutoff"][:19], r["ran_by"]] for r in rows],
    )


def register(app: typer.Typer) -> None:
    app.add_typer(governance_app, name="governance")
    app.add_typer(retention_app, name="retention")
