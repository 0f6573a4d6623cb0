"""``paceline flag``: release canaries, kill switches and the guardrail check.

Every change is a new version of the flag, written to the audit log with the reason given.
``flag guard`` exits 1 when a guardrail is breached (after rolling the canary back to 0%).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.domain.flags import Metric
from paceline.errors import UsageError
from paceline.runtime.flags import GuardrailMonitor
from paceline.services.access import operator

flag_app = typer.Typer(
    help="Feature flags: canary releases, kill switches, guardrails.", no_args_is_help=True
)
FORMAT = typer.Option(Fmt.table, "--format", help="Output format.")
REASON = typer.Option("", "--reason", help="Why: kept with the change in the audit log.")


def register(app: typer.Typer) -> None:
    app.add_typer(flag_app, name="flag")


def _canary(doc: dict[str, Any]) -> str:
    canary = doc.get("canary")
    return f"{canary['variant']} {canary['percent']:g}%" if canary else ""


def _show(doc: dict[str, Any], fmt: Fmt) -> None:
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(
        f"[bold]{doc['key']}[/] v{doc['version']}: {doc['state']}, default {doc['default_variant']}"
        + (f", canary {_canary(doc)}" if doc.get("canary") else "")
    )


@flag_app.command("list")
@handles_errors
def flag_list(fmt: Fmt = FORMAT) -> None:
    """List the flags with their rollout, version and last change."""
    flags = open_workspace().runtime.flags.list()
    if fmt is Fmt.json:
        emit_json({"flags": flags})
        return
    table(
        "Flags",
        ["key", "state", "default", "canary", "version", "changed by", "reason"],
        [
            [
                f["key"],
                f["state"],
                f["default_variant"],
                _canary(f),
                f["version"],
                f["updated_by"],
                f["reason"],
            ]
            for f in flags
        ],
    )


@flag_app.command("set")
@handles_errors
def flag_set(
    key: str = typer.Argument(..., metavar="release.WORKFLOW", help="The release flag of a workflow."),
    variant: str = typer.Option(..., "--variant", help="The canary variant (a model version)."),
    percent: float = typer.Option(..., "--percent", help="Share of new cases, 0-100 (0 stops the canary)."),
    reason: str = REASON,
    fmt: Fmt = FORMAT,
) -> None:
    """Roll a variant out to a percentage of a workflow's new cases (sticky per case)."""
    kind, _, workflow = key.partition(".")
    if kind != "release" or not workflow:
        raise UsageError(f"{key!r} is not a release flag", fix="paceline flag set release.WORKFLOW ...")
    doc = open_workspace().runtime.flags.set_release(workflow, variant, percent, operator().actor, reason)
    _show(doc, fmt)


@flag_app.command("put")
@handles_errors
def flag_put(
    key: str = typer.Argument(..., metavar="KEY", help="release.WORKFLOW or kill.WORKFLOW."),
    file: Path = typer.Argument(..., metavar="FILE", help="The flag as JSON (see docs/runtime.md)."),
    reason: str = REASON,
    fmt: Fmt = FORMAT,
) -> None:
    """Create or replace a flag from a JSON document (variants, canary, targeting, guardrails)."""
    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {exc}", fix="give a JSON file with the flag") from None
    doc = open_workspace().runtime.flags.put(key, body, operator().actor, reason)
    _show(doc, fmt)


@flag_app.command("kill")
@handles_errors
def flag_kill(
    workflow: str = typer.Argument(..., metavar="WORKFLOW", help="A registered workflow."),
    state: str = typer.Argument(..., metavar="STATE", help="on (every new routing goes to a person) or off."),
    reason: str = REASON,
    fmt: Fmt = FORMAT,
) -> None:
    """Turn a workflow's kill switch on (human-only path, suggestion hidden) or off."""
    if state not in ("on", "off"):
        raise UsageError(f"state must be on or off, not {state!r}", fix=f"paceline flag kill {workflow} on")
    doc = open_workspace().runtime.flags.set_kill(workflow, state == "on", operator().actor, reason)
    _show(doc, fmt)


@flag_app.command("guard")
@handles_errors
def flag_guard(
    workflow: str = typer.Argument(..., metavar="WORKFLOW", help="A workflow with a release flag."),
    fmt: Fmt = FORMAT,
) -> None:
    """Run the guardrail check now: per-variant metrics, breaches, rollback; exit 1 on a breach."""
    report = GuardrailMonitor(open_workspace().runtime.flags).check(workflow, actor=operator().actor)
    if fmt is Fmt.json:
        emit_json(report)
    else:
        canary = f"{report['canary']} at {report['percent']:g}%" if report["canary"] else "no canary"
        out.print(
            f"[bold]{report['flag']}[/]: control {report['control']}, {canary}, since {report['since']}"
        )
        columns = ["variant", "cases", "reviewed", *[m.value for m in Metric]]
        rows = [
            [v, m["cases"], m["reviewed"], *[_num(m[k.value]) for k in Metric]]
            for v, m in report["metrics"].items()
        ]
        table("Metrics by variant", columns, rows)
        for breach in report["breaches"]:
            out.print(f"BREACH: {breach['message']}")
        if report["rolled_back"]:
            out.print(f"Rolled {report['canary']} back to 0% (recorded in the audit log).")
        elif not report["breaches"]:
            out.print("No guardrail breached.")
    raise typer.Exit(1 if report["breaches"] else 0)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
