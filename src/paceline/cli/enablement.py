"""``paceline enablement``: curricula, learning records, the competency matrix, champions, team goals,
frontline sessions, the change log and training-to-outcome estimates (phase 4).

The CLI acts as the workspace operator (an admin), like every other command.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.cli.program import _read_csv
from paceline.cli.usecases import FORMAT, read_doc
from paceline.domain.curricula import level_name
from paceline.errors import UsageError
from paceline.services.access import operator
from paceline.services.training_outcomes import OUTCOME_KPIS
from paceline.services.xapi import documents

enablement_app = typer.Typer(
    help="Phase 4: curricula, learning records, competency matrix, champions, goals, sessions.",
    no_args_is_help=True,
)
champion_app = typer.Typer(help="The champions network.", no_args_is_help=True)
goal_app = typer.Typer(help="Adoption and performance goals of teams.", no_args_is_help=True)
session_app = typer.Typer(help="Frontline review sessions.", no_args_is_help=True)
enablement_app.add_typer(champion_app, name="champion")
enablement_app.add_typer(goal_app, name="goal")
enablement_app.add_typer(session_app, name="session")
USE_CASE = typer.Option(..., "--use-case", help="The use case's key, e.g. claims-triage.")
CATALOGUE_EXAMPLE = (
    'e.g. {"competencies": [{"key": "verification", "title": "..."}], "courses": [{"key": "...", '
    '"title": "...", "kind": "micro-lesson", "minutes": 15, "grants": {"verification": 1}}], '
    '"curricula": [{"key": "...", "title": "...", "use_case": "...", "role": "...", "path": [...], '
    '"targets": {...}}]}'
)


def register(app: typer.Typer) -> None:
    app.add_typer(enablement_app, name="enablement")


def _day(value: str | None, name: str) -> date:
    if not value:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name} {value!r} is not a date", fix="write YYYY-MM-DD") from None


# --- catalogue ---------------------------------------------------------------------------
@enablement_app.command("catalogue")
@handles_errors
def catalogue(
    use_case: str | None = typer.Option(None, "--use-case", help="Only this use case's curricula."),
    fmt: Fmt = FORMAT,
) -> None:
    """Show the competencies, courses and curricula (learning paths with role targets)."""
    with open_workspace().enablement(readonly=True) as en:
        doc = en.catalogue_doc(operator(), use_case)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    table("Competencies", ["key", "title"], [[c["key"], c["title"]] for c in doc["competencies"]])
    table(
        "Courses",
        ["key", "kind", "minutes", "pass mark", "builds"],
        [
            [
                c["key"],
                c["kind"],
                c["minutes"],
                c["pass_mark"] if c["pass_mark"] is not None else "-",
                ", ".join(f"{k} {level_name(v)}" for k, v in c["grants"].items()),
            ]
            for c in doc["courses"]
        ],
    )
    table(
        "Curricula",
        ["key", "use case", "role", "path", "targets"],
        [
            [
                c["key"],
                c["use_case"],
                c["role"],
                " → ".join(c["path"]),
                ", ".join(f"{k} {level_name(v)}" for k, v in c["targets"].items()),
            ]
            for c in doc["curricula"]
        ],
    )


@enablement_app.command("define")
@handles_errors
def define(
    file: Path = typer.Argument(..., metavar="FILE", help="JSON or YAML: competencies, courses, curricula."),
    fmt: Fmt = FORMAT,
) -> None:
    """Add or replace competencies, courses and curricula, in that order, from one file."""
    doc = read_doc(file, CATALOGUE_EXAMPLE)
    if not isinstance(doc, dict) or not set(doc) <= {"competencies", "courses", "curricula"}:
        raise UsageError(
            f"{file}: expected an object with competencies, courses, curricula", fix=CATALOGUE_EXAMPLE
        )
    by, counts = operator(), {}
    with open_workspace().enablement(by) as en:
        for section, save in (
            ("competencies", en.save_competency),
            ("courses", en.save_course),
            ("curricula", en.save_curriculum),
        ):
            items = doc.get(section) or []
            if not isinstance(items, list):
                raise UsageError(f"{file}: {section} must be a list", fix=CATALOGUE_EXAMPLE)
            for item in items:
                save(by, item)
            counts[section] = len(items)
    if fmt is Fmt.json:
        emit_json({"file": str(file), "saved": counts})
        return
    out.print(", ".join(f"{n} {k}" for k, n in counts.items()) + " saved.")


# --- learning records ----------------------------------------------------------------------
def _quarantine(folder: Path, file: Path, problems: list[dict[str, Any]]) -> Path:
    """The problems as JSON Lines, like ingest's quarantine (owner-only)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)
    target = folder / f"learning_statements-{stamp}.jsonl"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for p in problems:
            fh.write(json.dumps({"file": str(file), **p}, default=str, ensure_ascii=False) + "\n")
    return target


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(
            f"{file}: cannot read the file ({exc.strerror})", fix="give a JSON, JSONL or CSV file"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{file}: not UTF-8 text", fix="export the statements as UTF-8 JSON") from None


@enablement_app.command("import")
@handles_errors
def import_records(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="xAPI statements (.json, .jsonl) or a CSV of records."
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Load learning records: xAPI statements or the training CSV. Exit 3 when some were quarantined."""
    ws = open_workspace()
    if file.suffix.lower() == ".csv":
        rows = _read_csv(file)
        report: dict[str, Any] = {"format": "csv", **ws.record_training(rows, file.name).to_dict()}
    elif file.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        text = _read_text(file)
        with ws.enablement(operator()) as en:
            report = {
                "format": "xapi",
                **en.import_xapi(operator(), documents(text), file.name[:200]).to_dict(),
            }
    else:
        raise UsageError(
            f"cannot tell the format of {file.name}", fix="give a .json/.jsonl (xAPI) or .csv file"
        )
    report["file"], report["quarantine_file"] = str(file), None
    if report["problems"]:
        report["quarantine_file"] = str(_quarantine(ws.settings.quarantine_dir, file, report["problems"]))
    if fmt is Fmt.json:
        emit_json(report)
    else:
        cols = ["rows read", "loaded", "duplicates", "ignored", "quarantined"]
        table(
            f"Learning records from {file.name}",
            cols,
            [
                [
                    report["rows_read"],
                    report["loaded"],
                    report["duplicates"],
                    report.get("ignored", 0),
                    report["quarantined"],
                ]
            ],
        )
        for note in report.get("notices", []):
            out.print(note)
        if report["quarantine_file"]:
            out.print(f"Quarantined rows: {report['quarantine_file']}")
    if report["problems"]:
        raise typer.Exit(3)


def _enter(person: str, course: str, verb: str, on: str | None, score: float | None, fmt: Fmt) -> None:
    with open_workspace().enablement(operator()) as en:
        doc = en.enter(operator(), person, course, verb, _day(on, "--on"), score)
    if fmt is Fmt.json:
        emit_json(doc)
    else:
        out.print(f"Recorded {doc['verb']} of {course} on {doc['occurred_at'][:10]}.")


@enablement_app.command("enroll")
@handles_errors
def enroll(
    person: str = typer.Argument(..., metavar="PERSON", help="The person's HR id (pseudonymised on entry)."),
    course: str = typer.Argument(..., metavar="COURSE"),
    on: str | None = typer.Option(None, "--on", help="Day of the enrolment (default today)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Enrol a person in a course."""
    _enter(person, course, "registered", on, None, fmt)


@enablement_app.command("complete")
@handles_errors
def complete(
    person: str = typer.Argument(..., metavar="PERSON", help="The person's HR id (pseudonymised on entry)."),
    course: str = typer.Argument(..., metavar="COURSE"),
    on: str | None = typer.Option(None, "--on", help="Day of the completion (default today)."),
    score: float | None = typer.Option(
        None, "--score", help="Assessment score 0..1 (judged by the pass mark)."
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Record that a person completed a course (with the assessment score, if any)."""
    _enter(person, course, "completed", on, score, fmt)


@enablement_app.command("link")
@handles_errors
def link(
    login: str = typer.Argument(..., metavar="LOGIN"),
    person: str = typer.Argument(..., metavar="PERSON", help="The person's HR id."),
) -> None:
    """Link a login to a person, so that user sees their own learning on 'My learning'."""
    with open_workspace().enablement(operator()) as en:
        en.link_learner(operator(), login, person)
    out.print(f"{login} now sees their own learning records.")


@enablement_app.command("learner")
@handles_errors
def learner(
    person: str = typer.Argument(..., metavar="PERSON", help="The person's HR id."),
    fmt: Fmt = FORMAT,
) -> None:
    """One person's learning (individual record: the people/HR role and the person only)."""
    with open_workspace().enablement(readonly=True) as en:
        doc = en.person_learning(operator(), person)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(f"Team {doc['team'] or '-'}, role {doc['role'] or '-'}")
    table(
        "Courses",
        ["course", "enrolled", "completed", "best score", "passed"],
        [
            [c["course"], c["enrolled_on"], c["completed_on"], c["best_score"], c["passed"]]
            for c in doc["courses"]
        ],
    )
    table(
        "Competencies",
        ["competency", "target", "reached", "gap"],
        [[s["competency"], s["target"], s["achieved"], s["gap"]] for s in doc["competencies"]],
    )


@enablement_app.command("matrix")
@handles_errors
def matrix(
    use_case: str | None = typer.Option(None, "--use-case", help="One use case's people (default: all)."),
    fmt: Fmt = FORMAT,
) -> None:
    """The competency matrix: per team and competency, the share meeting the role target."""
    with open_workspace().enablement(readonly=True) as en:
        doc = en.matrix(operator(), use_case)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    cells = {(c["team"], c["competency"]): c for c in doc["cells"]}

    def cell(team: str, comp: str) -> str:
        c = cells.get((team, comp))
        if c is None:
            return ""
        if c["suppressed"]:
            return f"<{doc['min_group_size']}"
        return f"{c['share_meeting']:.0%} (gap {c['mean_gap']:.1f})"

    table(
        "Competency matrix: share of people at their role's target",
        ["team", *doc["competencies"]],
        [[t, *(cell(t, c) for c in doc["competencies"])] for t in doc["teams"]],
    )


@enablement_app.command("outcomes")
@handles_errors
def outcomes(
    use_case: str = USE_CASE,
    kpi: list[str] = typer.Option(list(OUTCOME_KPIS), "--kpi", help="Outcome KPIs (repeat the option)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Training to outcomes: trained vs not-yet-trained people around their completion dates."""
    doc = open_workspace().training_outcomes(use_case, tuple(kpi), operator())
    if fmt is Fmt.json:
        emit_json(doc)
        return

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:+.1%}"

    rows = []
    for o in doc["outcomes"]:
        ci = o["ci"]
        rows.append(
            [
                o["kpi"],
                "-" if o["estimate"] is None else f"{o['estimate']:+.4g}",
                "-" if not ci else f"[{ci[0]:+.4g}, {ci[1]:+.4g}]",
                pct(o["relative"]),
                "-" if o["p_value"] is None else f"{o['p_value']:.3g}",
                o["people"]["trained"],
                o["people"]["not_trained"],
            ]
        )
    table(
        f"Training to outcomes: {use_case}",
        ["KPI", "effect", "95% CI", "relative", "p", "trained", "not trained"],
        rows,
    )


@enablement_app.command("changes")
@handles_errors
def changes(
    limit: int = typer.Option(50, "--limit", help="How many changes, newest first."),
    fmt: Fmt = FORMAT,
) -> None:
    """The change log of model and workflow updates (stage changes, flag changes)."""
    with open_workspace().enablement_network(readonly=True) as net:
        entries = net.change_log(operator(), limit)
    if fmt is Fmt.json:
        emit_json({"changes": entries})
        return
    table(
        "Changes",
        ["when", "kind", "subject", "what", "why", "by"],
        [[e["at"][:16], e["kind"], e["subject"], e["what"], e["reason"], e["by"]] for e in entries],
    )


# --- champions ------------------------------------------------------------------------------
@champion_app.command("list")
@handles_errors
def champion_list(use_case: str = USE_CASE, fmt: Fmt = FORMAT) -> None:
    """The champions of a use case, their teams' coverage and the sessions they held."""
    with open_workspace().enablement_network(readonly=True) as net:
        doc = net.champions(operator(), use_case)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    table(
        f"Champions of {use_case}",
        ["id", "team", "name", "since", "sessions held"],
        [[c["id"], c["team"], c["name"], c["since"], c["sessions_held"]] for c in doc["champions"]],
    )
    cov = doc["coverage"]
    share = "-" if cov["share"] is None else f"{cov['share']:.0%}"
    out.print(f"Coverage: {cov['covered']} of {cov['teams']} teams ({share}).")


@champion_app.command("add")
@handles_errors
def champion_add(
    use_case: str = USE_CASE,
    team: str = typer.Option(..., "--team"),
    person: str = typer.Option(..., "--person", help="The champion's HR id (pseudonymised)."),
    name: str = typer.Option(..., "--name", help="The name everyone sees (champions are a public role)."),
    since: str | None = typer.Option(None, "--since", help="YYYY-MM-DD (default today)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Name a champion for a team and use case."""
    doc = {
        "use_case": use_case,
        "team": team,
        "person_id": person,
        "name": name,
        "since": _day(since, "--since").isoformat(),
    }
    with open_workspace().enablement_network(operator()) as net:
        saved = net.add_champion(operator(), doc)
    emit_json(saved) if fmt is Fmt.json else out.print(f"Champion {saved['id']}: {name} for {team}.")


@champion_app.command("retire")
@handles_errors
def champion_retire(champion_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Retire a champion (their sessions stay on record)."""
    with open_workspace().enablement_network(operator()) as net:
        net.retire_champion(operator(), champion_id)
    out.print(f"Champion {champion_id} retired.")


# --- goals ------------------------------------------------------------------------------------
@goal_app.command("list")
@handles_errors
def goal_list(use_case: str = USE_CASE, fmt: Fmt = FORMAT) -> None:
    """The use case's team goals with their progress from the KPIs."""
    with open_workspace().enablement_network(readonly=True) as net:
        goals = net.goals(operator(), use_case)
    if fmt is Fmt.json:
        emit_json({"use_case": use_case, "goals": goals})
        return

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.3g}"

    table(
        f"Team goals of {use_case}",
        ["key", "team", "KPI", "target", "baseline", "now", "met", "due", "incentive"],
        [
            [
                g["key"],
                g["team"],
                g["kpi"],
                num(g["target"]),
                num(g["baseline"]),
                num(g["current"]),
                {True: "yes", False: "no", None: "-"}[g["met"]],
                g["due"],
                g["incentive"],
            ]
            for g in goals
        ],
    )


@goal_app.command("set")
@handles_errors
def goal_set(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="A goal (or a list): key, team, use_case, kpi, ..."
    ),
) -> None:
    """Add or replace team goals (a goal is for a team of at least min_group_size people)."""
    example = (
        'e.g. {"key": "claims-01-adoption", "team": "claims-team-01", "use_case": "claims-triage", '
        '"kpi": "adoption_rate", "kind": "adoption", "target": 0.7, "since": "2025-07-01", '
        '"due": "2025-12-31", "incentive": "team budget for the quarterly offsite"}'
    )
    doc = read_doc(file, example)
    docs = doc if isinstance(doc, list) else [doc]
    with open_workspace().enablement_network(operator()) as net:
        for d in docs:
            net.save_goal(operator(), d)
    out.print(f"Saved {len(docs)} goal(s).")


# --- sessions ---------------------------------------------------------------------------------
@session_app.command("list")
@handles_errors
def session_list(use_case: str = USE_CASE, fmt: Fmt = FORMAT) -> None:
    """The use case's frontline review sessions and the feedback captured."""
    with open_workspace().enablement_network(readonly=True) as net:
        doc = net.sessions(operator(), use_case)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    table(
        f"Frontline sessions of {use_case}",
        ["id", "day", "team", "status", "attendees", "feedback"],
        [
            [
                s["id"],
                s["scheduled_on"],
                s["team"] or "all",
                s["status"],
                s["attendees"],
                "; ".join(s["feedback"]),
            ]
            for s in doc["sessions"]
        ],
    )
    sm = doc["summary"]
    out.print(
        f"{sm['held']} held, {sm['planned']} planned ({sm['overdue']} overdue), next {sm['next_on'] or '-'}."
    )


@session_app.command("plan")
@handles_errors
def session_plan(
    use_case: str = USE_CASE,
    start: str = typer.Option(..., "--start", help="First session, YYYY-MM-DD."),
    until: str = typer.Option(..., "--until", help="Plan up to this day, YYYY-MM-DD."),
    team: str = typer.Option("", "--team", help="One team (default: every team of the use case)."),
    cadence: str | None = typer.Option(
        None, "--cadence", help="weekly or monthly (default: weekly up to phase 4, monthly at scale)."
    ),
    champion: int | None = typer.Option(None, "--champion", help="The champion who runs them (id)."),
    fmt: Fmt = FORMAT,
) -> None:
    """Plan review sessions on the use case's cadence."""
    with open_workspace().enablement_network(operator()) as net:
        doc = net.plan_sessions(
            operator(), use_case, _day(start, "--start"), _day(until, "--until"), team, cadence, champion
        )
    emit_json(doc) if fmt is Fmt.json else out.print(f"Planned {doc['planned']} {doc['cadence']} session(s).")


@session_app.command("record")
@handles_errors
def session_record(
    session_id: int = typer.Argument(..., metavar="ID"),
    held_on: str | None = typer.Option(None, "--held-on", help="YYYY-MM-DD (default today)."),
    attendees: int = typer.Option(0, "--attendees", min=0),
    feedback: list[str] = typer.Option([], "--feedback", help="A point the frontline raised (repeat)."),
    action: list[str] = typer.Option([], "--action", help="A follow-up action (repeat)."),
    cancelled: bool = typer.Option(False, "--cancelled", help="The session did not take place."),
) -> None:
    """Record a session: held, with the attendees and the feedback captured (or cancelled)."""
    doc: dict[str, Any] = (
        {"status": "cancelled"}
        if cancelled
        else {
            "status": "held",
            "held_on": _day(held_on, "--held-on").isoformat(),
            "attendees": attendees,
            "feedback": feedback,
            "actions": action,
        }
    )
    with open_workspace().enablement_network(operator()) as net:
        net.record_session(operator(), session_id, doc)
    out.print(f"Session {session_id} recorded as {doc['status']}.")
