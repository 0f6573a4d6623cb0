"""``paceline tech|risk|training|roi|playbook``: options, risks, learning records, ROI, the playbook.

The CLI acts as the workspace operator (an admin), like every other command.
"""

from __future__ import annotations

import csv
import enum
import html
import json
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.cli.usecases import FORMAT, KEY, read_doc, read_object
from paceline.domain.portfolio import money
from paceline.errors import UsageError
from paceline.services.access import operator
from paceline.services.playbook import Playbook, render_markdown, sections

tech_app = typer.Typer(help="Technology options of a use case: assess and select.", no_args_is_help=True)
risk_app = typer.Typer(help="A use case's risk register.", no_args_is_help=True)
training_app = typer.Typer(help="Learning records (phase 4).", no_args_is_help=True)


# --- tech -------------------------------------------------------------------------------
@tech_app.command("add")
@handles_errors
def tech_add(
    key: str = KEY,
    from_file: Path = typer.Option(..., "--from-file", help="An option (or a list of them), JSON or YAML."),
    fmt: Fmt = FORMAT,
) -> None:
    """Add or replace technology options (name, kind, scores 1..5 per criterion, notes, cost)."""
    example = 'e.g. {"name": "VendorA", "kind": "vendor", "scores": {"security": 4, ...}, "cost": {...}}'
    doc = read_doc(from_file, example)
    docs = doc if isinstance(doc, list) else [doc]
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise UsageError(f"{from_file}: the file must hold an option object or a list of them", fix=example)
    by = operator()
    with open_workspace().program(by) as program:
        for option in docs:
            options = program.save_option(by, key, option)
    if fmt is Fmt.json:
        emit_json({"use_case": key, "options": options})
        return
    out.print(f"Saved {len(docs)} option(s) for {key}.")
    _print_options(key, options)


def _print_options(key: str, options: list[dict[str, Any]]) -> None:
    table(
        f"Technology options of {key}",
        ["rank", "name", "kind", "score", "weakest", "cost a year", "selected"],
        [
            [
                o["rank"],
                o["name"],
                o["kind"],
                f"{o['score']:.1f}",
                o["weakest"],
                money(o["cost"]["total"]),
                "yes" if o["selected"] else "",
            ]
            for o in options
        ],
    )


@tech_app.command("list")
@handles_errors
def tech_list(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """The assessed options, best first, with their annual cost at the use case's volume."""
    by = operator()
    with open_workspace().program(by, readonly=True) as program:
        options = program.options(by, key)
    if fmt is Fmt.json:
        emit_json({"use_case": key, "options": options})
        return
    _print_options(key, options)


@tech_app.command("select")
@handles_errors
def tech_select(
    key: str = KEY, name: str = typer.Argument(..., metavar="NAME", help="An assessed option's name.")
) -> None:
    """Choose an option; its annual cost becomes the use case's running cost."""
    by = operator()
    with open_workspace().program(by) as program:
        doc = program.select_option(by, key, name)
    out.print(f"Selected {name} for {key}; running cost now {money(doc['value']['annual_cost'])} a year.")


# --- risk -------------------------------------------------------------------------------
@risk_app.command("list")
@handles_errors
def risk_list(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """The risk register, with inherent and residual ratings."""
    by = operator()
    with open_workspace().program(by, readonly=True) as program:
        doc = program.risks(by, key)
    if fmt is Fmt.json:
        emit_json({"use_case": key, **doc})
        return
    table(
        f"Risks of {key}",
        ["key", "title", "category", "status", "owner", "inherent", "residual"],
        [
            [
                r["key"],
                r["title"],
                r["category"],
                r["status"],
                r["owner"],
                f"{r['inherent_score']} {r['inherent_level']}",
                f"{r['residual_score']} {r['residual_level']}",
            ]
            for r in doc["risks"]
        ],
    )
    out.print(doc["summary"]["sentence"])


@risk_app.command("set")
@handles_errors
def risk_set(
    key: str = KEY,
    from_file: Path | None = typer.Option(None, "--from-file", help="A risk object, JSON or YAML."),
    risk_key: str | None = typer.Option(None, "--key", help="The risk's key (an existing one is edited)."),
    title: str | None = typer.Option(None, "--title", help="A short title (for a new risk)."),
    category: str | None = typer.Option(None, "--category", help="data, adoption, privacy, model, ..."),
    status: str | None = typer.Option(None, "--status", help="open, mitigating, accepted or closed."),
    owner: str | None = typer.Option(None, "--owner", help="A role or a login."),
    mitigation: str | None = typer.Option(None, "--mitigation", help="What reduces it."),
    description: str | None = typer.Option(None, "--description", help="What could happen."),
    inherent_likelihood: int | None = typer.Option(None, "--inherent-likelihood", help="1..5."),
    inherent_impact: int | None = typer.Option(None, "--inherent-impact", help="1..5."),
    residual_likelihood: int | None = typer.Option(None, "--residual-likelihood", help="1..5."),
    residual_impact: int | None = typer.Option(None, "--residual-impact", help="1..5."),
    fmt: Fmt = FORMAT,
) -> None:
    """Add a risk or change one (only the fields given change)."""
    doc = read_object(from_file, 'e.g. {"key": "model-drift", "residual_likelihood": 2}') if from_file else {}
    given = {
        "key": risk_key,
        "title": title,
        "category": category,
        "status": status,
        "owner": owner,
        "mitigation": mitigation,
        "description": description,
        "inherent_likelihood": inherent_likelihood,
        "inherent_impact": inherent_impact,
        "residual_likelihood": residual_likelihood,
        "residual_impact": residual_impact,
    }
    doc = {**doc, **{k: v for k, v in given.items() if v is not None}}
    if not doc.get("key"):
        raise UsageError("which risk? --key is required", fix="list them with 'paceline risk list KEY'")
    by = operator()
    with open_workspace().program(by) as program:
        risk = program.save_risk(by, key, doc)
    if fmt is Fmt.json:
        emit_json(risk)
        return
    out.print(
        f"Saved risk {risk['key']} of {key}: {risk['status']}, residual {risk['residual_score']} "
        f"({risk['residual_level']})."
    )


# --- training ---------------------------------------------------------------------------
def _read_csv(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                raise UsageError(f"{path}: the file is empty", fix="the first line names the columns")
            return [{k: v for k, v in row.items() if k is not None} for row in reader]
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the file ({exc.strerror})", fix="give a CSV file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: not a readable CSV file ({exc})", fix="save it as UTF-8 CSV") from None


def _quarantine(folder: Path, path: Path, rows: list[dict[str, Any]], problems: list[dict[str, Any]]) -> Path:
    """The bad rows as JSON Lines, like ingest's quarantine (the file holds raw ids: owner-only)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)
    target = folder / f"training_records-{stamp}.jsonl"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for p in problems:
            line = {"file": str(path), **p, "record": rows[p["row"] - 1]}
            fh.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
    return target


@training_app.command("import")
@handles_errors
def training_import(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="CSV: record_id, person_id, course, enrolled_on, ..."
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Load learning records; bad rows go to a quarantine file (exit 3), good ones load."""
    rows = _read_csv(file)
    ws = open_workspace()
    report = ws.record_training(rows, file.name)
    doc = {"file": str(file), **report.to_dict(), "quarantine_file": None}
    if report.problems:
        doc["quarantine_file"] = str(_quarantine(ws.settings.quarantine_dir, file, rows, report.problems))
    if fmt is Fmt.json:
        emit_json(doc)
    else:
        table(
            f"Training records from {file.name}",
            ["rows read", "loaded", "duplicates", "quarantined"],
            [[doc["rows_read"], doc["loaded"], doc["duplicates"], doc["quarantined"]]],
        )
        if report.problems:
            table(
                "Rows not loaded",
                ["row", "column", "value", "reason"],
                [[p["row"], p["column"], p["value"], p["reason"]] for p in report.problems],
            )
            out.print(
                f"The bad rows are in {doc['quarantine_file']}: fix them in {file.name} and import it "
                "again (records already loaded are skipped)."
            )
    raise typer.Exit(3 if report.problems else 0)


# --- ROI --------------------------------------------------------------------------------
@handles_errors
def roi(
    key: str | None = typer.Argument(None, metavar="KEY", help="One use case; without it, the program."),
    fmt: Fmt = FORMAT,
) -> None:
    """Measured ROI of a use case by month, or the program's roll-up across use cases."""
    by = operator()
    with open_workspace().program(by, readonly=True) as program:
        doc = program.roi(by, key) if key else program.program_roi(by)
    if fmt is Fmt.json:
        emit_json({"use_case": key, **doc} if key else doc)
        return
    if key and doc["points"]:
        rows = [
            [p["period_start"], _m(p["benefit"]), _m(p["cost"]), _m(p["cumulative_net"]), _pct(p["roi"])]
            for p in doc["points"]
        ]
        table(f"ROI of {key} by month", ["month", "benefit", "cost", "cumulative net", "ROI"], rows)
    elif not key:
        rows = [
            [k, _m(t["benefit"]), _m(t["cost"]), _m(t["net"]), _pct(t["roi"])]
            for k, t in doc["use_cases"].items()
        ]
        p = doc["program"]
        rows.append(["program", _m(p["benefit"]), _m(p["cost"]), _m(p["net"]), _pct(p["roi"])])
        table("Program ROI", ["use case", "benefit", "cost", "net", "ROI"], rows)
    out.print(doc["sentence"])


def _m(x: float) -> str:
    return f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.0%}"


# --- playbook ---------------------------------------------------------------------------
class BookFmt(enum.StrEnum):
    md = "md"
    html = "html"


def _html(book: Playbook) -> str:
    """The playbook as one standalone HTML document (the web page's structure, without its frame)."""
    e = html.escape
    parts = [
        '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">',
        f"<title>{e(book.title)}</title></head>\n<body>\n<h1>{e(book.title)}</h1>",
        *(f"<p>{e(t)}</p>" for t in book.intro),
    ]
    for number, s in enumerate(book.sections, start=1):
        parts.append(f'<section id="{e(s.anchor)}">\n<h2>{number}. {e(s.title)}</h2>')
        parts += [f"<p>{e(t)}</p>" for t in s.text]
        if s.items:
            parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in s.items) + "</ul>")
        if s.table is not None:
            head = "".join(f'<th scope="col">{e(h)}</th>' for h in s.table.head)
            cells = ("".join(f"<td>{e(c)}</td>" for c in row) for row in s.table.rows)
            rows = "".join(f"<tr>{c}</tr>" for c in cells)
            parts.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{rows}</tbody>\n</table>")
        if not (s.text or s.items or s.table) and s.empty:
            parts.append(f"<p>{e(s.empty)}</p>")
        parts.append("</section>")
    return "\n".join([*parts, "</body>\n</html>"]) + "\n"


@handles_errors
def playbook(
    key: str = KEY,
    fmt: BookFmt = typer.Option(BookFmt.md, "--format", help="Output format."),
    output: Path | None = typer.Option(None, "--output", help="Write to this file instead of stdout."),
) -> None:
    """A use case's deployment playbook: what was decided, signed, built and measured."""
    by = operator()
    with open_workspace().program(by, readonly=True) as program:
        page = program.page(by, key)
    text = render_markdown(page) if fmt is BookFmt.md else _html(sections(page))
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"{output}: cannot write the file ({exc.strerror})", fix="choose a writable path"
        ) from None
    out.print(f"Wrote the playbook of {key} to {output}.")


def register(app: typer.Typer) -> None:
    app.add_typer(tech_app, name="tech")
    app.add_typer(risk_app, name="risk")
    app.add_typer(training_app, name="training")
    app.command("roi")(roi)
    app.command("playbook")(playbook)
