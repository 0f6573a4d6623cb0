"""``paceline alert`` and ``paceline incident``: alert rules, alerts, and incidents.

``alert evaluate`` is what a cron job or the worker runs: it computes the readings Paceline
can compute (plus any given in a JSON Lines file), judges them by the enabled rules, and
sends the due notifications; it exits 1 when a notification failed for good. The CLI acts
as the workspace operator (an admin), like every other command.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.cli.usecases import read_object
from paceline.domain.alerts import Reading, reading_from_dict
from paceline.errors import UsageError, ValidationError
from paceline.services.access import operator
from paceline.services.parsing import parse_date

alert_app = typer.Typer(help="Alert rules and alerts: evaluate, list, acknowledge.", no_args_is_help=True)
rule_app = typer.Typer(
    help="Alert rules: what is watched, when it fires, where it goes.", no_args_is_help=True
)
incident_app = typer.Typer(
    help="Incidents: open, follow, resolve, learn (retrospective), MTTR.", no_args_is_help=True
)
alert_app.add_typer(rule_app, name="rule")

FORMAT = typer.Option(Fmt.table, "--format", help="Output format.")
INCIDENT = typer.Argument(..., metavar="ID", help="The incident's number.")


def register(app: typer.Typer) -> None:
    app.add_typer(alert_app, name="alert")
    app.add_typer(incident_app, name="incident")


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _scope(doc: dict[str, Any]) -> str:
    names = (("use_case", "use case"), ("model", "model"), ("workflow", "workflow"))
    return ", ".join(f"{label} {doc[k]}" for k, label in names if doc.get(k)) or "all"


# --- rules -----------------------------------------------------------------------------------
@rule_app.command("add")
@handles_errors
def rule_add(
    name: str = typer.Argument("", metavar="[NAME]", help="The rule's name (not needed with --defaults)."),
    signal: str = typer.Option("", "--signal", help="e.g. error_rate, performance:f1, column_drift:amount."),
    above: float | None = typer.Option(None, "--above", help="Fire when the value is above this."),
    below: float | None = typer.Option(None, "--below", help="Fire when the value is below this."),
    window: str = typer.Option("1h", "--window", help="Period a reading covers: 15m, 1h, 7d ..."),
    min_samples: int = typer.Option(1, "--min-samples", help="Fewer samples decide nothing."),
    severity: str = typer.Option("warning", "--severity", help="info, warning or critical."),
    cooldown: str = typer.Option(
        "1h", "--cooldown", help="Escalate an unacknowledged alert after this (0: never)."
    ),
    use_case: str | None = typer.Option(None, "--use-case", help="Only this use case."),
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    workflow: str | None = typer.Option(None, "--workflow", help="Only this workflow."),
    webhooks: list[str] = typer.Option([], "--webhook", help="POST notifications here (repeatable)."),
    emails: list[str] = typer.Option([], "--email", help="E-mail notifications here (repeatable)."),
    smtp_host: str | None = typer.Option(
        None, "--smtp-host", help="SMTP server of the e-mails (else settings)."
    ),
    smtp_port: int | None = typer.Option(None, "--smtp-port", help="Its port."),
    description: str = typer.Option("", "--description", help="What the alert means and what to do."),
    runbook: str = typer.Option("", "--runbook", help="Link to the rule's runbook (http/https)."),
    disabled: bool = typer.Option(False, "--disabled", help="Store the rule switched off."),
    defaults: bool = typer.Option(False, "--defaults", help="Add the starter rules that are missing."),
    fmt: Fmt = FORMAT,
) -> None:
    """Add an alert rule, or with --defaults the starter rules (docs/monitoring.md)."""
    ws = open_workspace()
    if defaults:
        with ws.alerts(operator()) as alerts:
            added = alerts.add_default_rules(operator())
        emit_json({"added": added}) if fmt is Fmt.json else out.print(
            f"Added {len(added)} rule(s): {', '.join(added) or 'none'}"
        )
        return
    if not name:
        raise UsageError("name the rule", fix="paceline alert rule add NAME --signal error_rate --above 0.05")
    channels: list[dict[str, Any]] = [{"kind": "webhook", "target": url} for url in webhooks]
    if emails:
        channels.append(
            {"kind": "email", "target": ",".join(emails), "smtp_host": smtp_host, "smtp_port": smtp_port}
        )
    doc = {
        "name": name,
        "signal": signal,
        "above": above,
        "below": below,
        "window": window,
        "min_samples": min_samples,
        "severity": severity,
        "cooldown": cooldown,
        "use_case": use_case,
        "model": model,
        "workflow": workflow,
        "channels": channels,
        "description": description,
        "runbook_url": runbook,
        "enabled": not disabled,
    }
    with ws.alerts(operator()) as alerts:
        rule = alerts.add_rule(operator(), doc)
    if fmt is Fmt.json:
        emit_json(rule)
        return
    out.print(f"Added rule [bold]{rule['name']}[/]: {_describe(rule)}")
    if rule["runbook_url"]:
        out.print(f"Runbook: {rule['runbook_url']}")


def _describe(rule: dict[str, Any]) -> str:
    return (
        f"{rule['signal']} {rule['comparison']} {rule['threshold']:g} over {rule['window']}"
        f" (n >= {rule['min_samples']}), {rule['severity']}, for {_scope(rule)}"
    )


@rule_app.command("list")
@handles_errors
def rule_list(fmt: Fmt = FORMAT) -> None:
    """List the alert rules."""
    with open_workspace().alerts(operator(), readonly=True) as alerts:
        rules = alerts.rules(operator())
    if fmt is Fmt.json:
        emit_json({"rules": rules})
        return
    columns = [
        "name",
        "signal",
        "fires when",
        "window",
        "min n",
        "severity",
        "cooldown",
        "scope",
        "channels",
        "on",
    ]
    rows = [
        [
            r["name"],
            r["signal"],
            f"{r['comparison']} {r['threshold']:g}",
            r["window"],
            r["min_samples"],
            r["severity"],
            r["cooldown"],
            _scope(r),
            ", ".join(c["target"] for c in r["channels"]) or "workspace",
            "yes" if r["enabled"] else "no",
        ]
        for r in rules
    ]
    table("Alert rules", columns, rows)


@rule_app.command("remove")
@handles_errors
def rule_remove(name: str = typer.Argument(..., metavar="NAME", help="The rule to delete.")) -> None:
    """Delete an alert rule (its alerts stay as history)."""
    with open_workspace().alerts(operator()) as alerts:
        alerts.remove_rule(operator(), name)
    out.print(f"Removed rule {name}")


# --- alerts ------------------------------------------------------------------------------------
@alert_app.command("list")
@handles_errors
def alert_list(
    status: str = typer.Option("active", "--status", help="active, open, acknowledged, resolved or all."),
    use_case: str | None = typer.Option(None, "--use-case", help="Only this use case."),
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    severity: str | None = typer.Option(None, "--severity", help="info, warning or critical."),
    fmt: Fmt = FORMAT,
) -> None:
    """List alerts, the latest sighting first."""
    with open_workspace().alerts(operator(), readonly=True) as alerts:
        found = alerts.list(operator(), status, use_case, model, severity)
    if fmt is Fmt.json:
        emit_json({"alerts": found})
        return
    columns = [
        "id",
        "status",
        "severity",
        "rule",
        "scope",
        "value",
        "count",
        "last seen",
        "incident",
        "delivery",
    ]
    rows = [
        [
            a["id"],
            a["status"],
            a["severity"],
            a["rule"],
            _scope(a),
            _num(a["value"]),
            a["count"],
            a["last_seen"][:16],
            a["incident_id"] or "",
            _delivery(a["delivery"]),
        ]
        for a in found
    ]
    table(f"Alerts ({status})", columns, rows)


def _delivery(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "-"


@alert_app.command("ack")
@handles_errors
def alert_ack(
    alert_id: int = typer.Argument(..., metavar="ID", help="The alert's number."),
    note: str = typer.Option("", "--note", help="Who is on it, what is being checked."),
) -> None:
    """Acknowledge an open alert: someone is on it, so it stops escalating."""
    with open_workspace().alerts(operator()) as alerts:
        alert = alerts.acknowledge(operator(), alert_id, note)
    out.print(f"Alert {alert['id']} acknowledged ({alert['rule']}, {_scope(alert)})")


def read_readings(path: Path) -> list[Reading]:
    """Readings from a JSON Lines file; a bad line is named with its number and field."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read the file ({exc.strerror})", fix="give a JSON Lines file"
        ) from None
    readings = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            readings.append(reading_from_dict(json.loads(line)))
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: not JSON ({exc})", fix="one JSON object per line") from None
        except ValidationError as exc:
            raise ValidationError(f"{path}:{number}: {exc.message}", **exc.details) from None
    return readings


@alert_app.command("evaluate")
@handles_errors
def alert_evaluate(
    readings: Path | None = typer.Option(
        None, "--readings", help="More readings, as JSON Lines (docs/monitoring.md)."
    ),
    compute: bool = typer.Option(
        True, "--compute/--no-compute", help="Compute the runtime and latency readings."
    ),
    notify: bool = typer.Option(True, "--notify/--no-notify", help="Send the due notifications."),
    fmt: Fmt = FORMAT,
) -> None:
    """Judge the readings by the enabled rules and send notifications (run it from cron or the worker)."""
    extra = read_readings(readings) if readings is not None else []
    result = open_workspace().evaluate_alerts(operator(), extra, compute=compute, notify=notify)
    failed = bool(result["delivery"] and result["delivery"]["failed"])
    if fmt is Fmt.json:
        emit_json(result)
    else:
        counts = ", ".join(f"{n} {event}" for event, n in result["counts"].items() if n) or "no change"
        out.print(f"{result['readings']} reading(s): {counts}")
        for change in result["changes"]:
            out.print(f"  alert {change['alert_id']} {change['event']}: {change['message']}")
        if result["unmatched"]:
            out.print(f"{len(result['unmatched'])} reading(s) matched no rule (signal, scope or window)")
        if result["delivery"] is not None:
            d = result["delivery"]
            out.print(f"Notifications: {d['sent']} sent, {d['retrying']} to retry, {d['failed']} failed")
            for error in d["errors"]:
                out.print(f"FAILED: {error}")
    raise typer.Exit(1 if failed else 0)


# --- incidents -------------------------------------------------------------------------------
@incident_app.command("open")
@handles_errors
def incident_open(
    title: str = typer.Option("", "--title", help="What is wrong (taken from the alert if omitted)."),
    severity: str | None = typer.Option(None, "--severity", help="sev1 (worst) .. sev4; default sev3."),
    kind: str | None = typer.Option(
        None, "--kind", help="malfunction, model_drift, performance_degradation, ..."
    ),
    alerts: list[int] = typer.Option([], "--alert", help="Open it for this alert (repeatable)."),
    use_case: str | None = typer.Option(None, "--use-case", help="The use case affected."),
    model: str | None = typer.Option(None, "--model", help="The model affected."),
    serious: bool = typer.Option(
        False, "--serious", help="A serious incident in the sense of the EU AI Act."
    ),
    runbook: str = typer.Option(
        "", "--runbook", help="Link to the runbook (http/https; default: the alert's rule's)."
    ),
    description: str = typer.Option("", "--description", help="What was seen, by whom."),
    detected_at: str | None = typer.Option(None, "--detected-at", help="When it was noticed (ISO 8601)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Open an incident by hand, or for one or more alerts."""
    doc: dict[str, Any] = {
        "title": title,
        "severity": severity,
        "kind": kind,
        "use_case": use_case,
        "model": model,
        "serious_incident": serious,
        "runbook_url": runbook,
        "description": description,
        "detected_at": detected_at,
    }
    doc = {k: v for k, v in doc.items() if v not in (None, "")} | {"serious_incident": serious}
    with open_workspace().incidents(operator()) as incidents:
        if alerts and not title:
            found = incidents.open_from_alert(operator(), alerts[0], doc | {"alerts": alerts})
        else:
            found = incidents.open(operator(), doc | {"alerts": alerts})
    _show(found, fmt)


def _show(doc: dict[str, Any], fmt: Fmt) -> None:
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(f"[bold]Incident {doc['id']}[/] {doc['severity']} {doc['status']}: {doc['title']}")
    facts = [f"{_scope(doc)}", f"detected {doc['detected_at'][:16]}", f"opened by {doc['opened_by']}"]
    if doc["serious_incident"]:
        facts.append(f"SERIOUS incident: report by {doc['report_due']}")
    if doc["mttr_hours"] is not None:
        facts.append(f"resolved in {doc['mttr_hours']:.2f} h")
    out.print(" · ".join(facts))
    if doc["runbook_url"]:
        out.print(f"Runbook: {doc['runbook_url']}")
    if doc["resolution"]:
        out.print(f"Resolution: {doc['resolution']}")
    for alert in doc.get("alerts", []):
        out.print(f"  alert {alert['id']} ({alert['status']}): {alert['message']}")
    for entry in doc.get("timeline", []):
        out.print(f"  {entry['at'][:16]} {entry['by']} [{entry['kind']}] {entry['text']}")
    if doc.get("next_statuses"):
        out.print(f"Next: {', '.join(doc['next_statuses'])}")


@incident_app.command("list")
@handles_errors
def incident_list(
    status: str = typer.Option("active", "--status", help="active, all, or one status."),
    use_case: str | None = typer.Option(None, "--use-case", help="Only this use case."),
    since: str | None = typer.Option(None, "--since", help="MTTR period start (default: 90 days ago)."),
    until: str | None = typer.Option(None, "--until", help="MTTR period end, inclusive (default: today)."),
    fmt: Fmt = FORMAT,
) -> None:
    """List incidents, and the MTTR of those resolved in the period."""
    today = datetime.now(UTC).date()
    end_day = parse_date(until, "until") if until else today
    start_day = parse_date(since, "since") if since else end_day - timedelta(days=90)
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    with open_workspace().incidents(operator(), readonly=True) as incidents:
        found = incidents.list(operator(), status, use_case)
        summary = incidents.mttr(operator(), start, end).to_dict()
    if fmt is Fmt.json:
        emit_json({"incidents": found, "mttr": summary})
        return
    columns = ["id", "severity", "status", "title", "scope", "detected", "resolved in (h)", "serious"]
    rows = [
        [
            i["id"],
            i["severity"],
            i["status"],
            i["title"],
            _scope(i),
            i["detected_at"][:16],
            "" if i["mttr_hours"] is None else f"{i['mttr_hours']:.2f}",
            "yes" if i["serious_incident"] else "",
        ]
        for i in found
    ]
    table(f"Incidents ({status})", columns, rows)
    mean = "-" if summary["mean_hours"] is None else f"{summary['mean_hours']:.2f} h"
    median = "-" if summary["median_hours"] is None else f"{summary['median_hours']:.2f} h"
    out.print(f"MTTR {start_day} to {end_day}: {summary['resolved']} resolved, mean {mean}, median {median}")


@incident_app.command("show")
@handles_errors
def incident_show(incident_id: int = INCIDENT, fmt: Fmt = FORMAT) -> None:
    """Show an incident with its timeline and linked alerts."""
    with open_workspace().incidents(operator(), readonly=True) as incidents:
        _show(incidents.get(operator(), incident_id), fmt)


@incident_app.command("update")
@handles_errors
def incident_update(
    incident_id: int = INCIDENT,
    status: str | None = typer.Option(None, "--status", help="investigating, mitigated, resolved, closed."),
    note: str = typer.Option("", "--note", help="A line for the timeline."),
    runbook: str | None = typer.Option(None, "--runbook", help="Link the runbook."),
    severity: str | None = typer.Option(None, "--severity", help="Change the severity (sev1..sev4)."),
    serious: bool | None = typer.Option(None, "--serious/--not-serious", help="EU AI Act serious incident."),
    link_alert: list[int] = typer.Option([], "--link-alert", help="Add an alert (repeatable)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Change an incident: status, severity, runbook, linked alerts; or add a note."""
    by = operator()
    with open_workspace().incidents(by) as incidents:
        doc = incidents.get(by, incident_id)
        if severity or serious is not None:
            doc = incidents.set_severity(by, incident_id, severity or doc["severity"], serious)
        if runbook:
            doc = incidents.set_runbook(by, incident_id, runbook)
        for alert_id in link_alert:
            doc = incidents.link_alert(by, incident_id, alert_id)
        if status:
            doc = incidents.set_status(by, incident_id, status, note)
        elif note:
            doc = incidents.add_note(by, incident_id, note)
    _show(doc, fmt)


@incident_app.command("resolve")
@handles_errors
def incident_resolve(
    incident_id: int = INCIDENT,
    resolution: str = typer.Option(..., "--resolution", help="What fixed it."),
    fmt: Fmt = FORMAT,
) -> None:
    """Resolve an incident (MTTR stops here)."""
    with open_workspace().incidents(operator()) as incidents:
        _show(incidents.resolve(operator(), incident_id, resolution), fmt)


RETRO_EXAMPLE = (
    '{"what_happened": "...", "impact": "...", "root_cause": "...", '
    '"actions": [{"text": "...", "owner": "...", "due": "2026-04-01"}]}'
)


def _action(text: str) -> dict[str, Any]:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) not in (2, 3):
        raise UsageError(
            f"--action {text!r} is not TEXT|OWNER[|DUE]",
            fix='--action "retrain on March data|ml-lead|2026-04-01"',
        )
    return {"text": parts[0], "owner": parts[1], "due": parts[2] if len(parts) == 3 else None}


@incident_app.command("retro")
@handles_errors
def incident_retro(
    incident_id: int = INCIDENT,
    file: Path | None = typer.Option(None, "--file", help="The retrospective as JSON."),
    what: str = typer.Option("", "--what", help="What happened."),
    impact: str = typer.Option("", "--impact", help="Who and what was affected, how much."),
    root_cause: str = typer.Option("", "--root-cause", help="Why it happened."),
    actions: list[str] = typer.Option([], "--action", help="TEXT|OWNER[|DUE] (repeatable)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Write the retrospective of a resolved incident: what happened, impact, root cause, actions."""
    if file is not None:
        doc = read_object(file, f"e.g. {RETRO_EXAMPLE}")
    else:
        doc = {
            "what_happened": what,
            "impact": impact,
            "root_cause": root_cause,
            "actions": [_action(a) for a in actions],
        }
    with open_workspace().incidents(operator()) as incidents:
        _show(incidents.write_retrospective(operator(), incident_id, doc), fmt)
