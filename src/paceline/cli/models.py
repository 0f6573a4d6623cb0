"""``paceline model``: the model registry, and ``paceline monitor performance``.

A model belongs to a use case; its versions move candidate → canary → production →
deprecated → retired. Moves to canary or production wait for an approval by another person
holding ``model.approve``. The CLI acts as the workspace operator (an admin); ``--as LOGIN``
names the person acting, which the stage history records and the four-eyes rule compares.
Training files and label-store exports given by path are hashed (SHA-256) into the lineage.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.cli.usecases import parse_sets, read_object
from paceline.errors import UsageError, ValidationError
from paceline.services.access import Principal, operator
from paceline.services.model_registry import VersionIn
from paceline.services.parsing import parse_date

model_app = typer.Typer(
    help="The model registry: versions, stages and approvals, cards, schedules.", no_args_is_help=True
)

FORMAT = typer.Option(Fmt.table, "--format", help="Output format.")
MODEL = typer.Argument(..., metavar="MODEL", help="The model's name, e.g. claims-router.")
VERSION = typer.Argument(..., metavar="VERSION", help="The version label, e.g. 2.1.0.")
REASON = typer.Option(..., "--reason", help="Why (recorded in the stage history; at least 5 characters).")
AS = typer.Option(None, "--as", help="The person acting (recorded; approvals must come from someone else).")
CARD_EXAMPLE = 'a JSON object, e.g. {"purpose": "Route claims to a queue", "owners": ["claims-ml"]}'


def _who(login: str | None) -> Principal:
    return operator(login) if login else operator()


def _sha256(path: Path) -> str:
    try:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the file ({exc.strerror})", fix="check the path") from None
    return digest.hexdigest()


def _date(value: str | None, name: str) -> date | None:
    return parse_date(value, name) if value else None


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"--trained-at {value!r} is not a time", field="trained_at", fix="e.g. 2026-05-01T12:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _metrics(pairs: list[str]) -> dict[str, Any]:
    out_: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError(pair)
            out_[name.strip()] = float(text)
        except ValueError:
            raise UsageError(f"--metric {pair!r} is not NAME=NUMBER", fix="e.g. --metric f1=0.91") from None
    return out_


def _lineage(
    lineage_file: Path | None, ingest_ids: list[str], data: list[Path], exports: list[Path], until: str | None
) -> dict[str, Any]:
    doc = (
        read_object(lineage_file, "a JSON object with ingest_ids, files, label_exports")
        if lineage_file
        else {}
    )
    doc["ingest_ids"] = [*doc.get("ingest_ids", []), *ingest_ids]
    doc["files"] = [*doc.get("files", []), *({"path": str(p), "sha256": _sha256(p)} for p in data)]
    doc["label_exports"] = [
        *doc.get("label_exports", []),
        *({"path": str(p), "sha256": _sha256(p)} for p in exports),
    ]
    if until:
        doc["data_until"] = until
    return doc


def _artifact_hash(uri: str, given: str | None) -> str:
    if given:
        return given
    path = Path(uri.removeprefix("file://"))
    if path.is_file():
        return _sha256(path)
    raise UsageError(
        f"{uri} is not a local file, so its hash cannot be computed here",
        fix="pass --artifact-hash with the artifact's SHA-256",
    )


# --- register, list, show ----------------------------------------------------------------
@model_app.command("register")
@handles_errors
def model_register(
    model: str = MODEL,
    version: str | None = typer.Argument(None, metavar="[VERSION]", help="Register this version of it."),
    use_case: str | None = typer.Option(
        None, "--use-case", help="A new model's use case (in the inventory)."
    ),
    title: str = typer.Option("", "--title", help="A new model's title."),
    task: str = typer.Option("multiclass", "--task", help="A new model's task: binary or multiclass."),
    positive: str | None = typer.Option(None, "--positive", help="A binary model's positive class."),
    artifact: str | None = typer.Option(
        None, "--artifact", help="Where the version's artifact is (path or URI)."
    ),
    artifact_hash: str | None = typer.Option(
        None, "--artifact-hash", help="Its SHA-256 (computed for a local file)."
    ),
    ingest_id: list[str] = typer.Option(
        [], "--ingest-id", help="A warehouse ingest it was trained on (repeat)."
    ),
    data_file: list[Path] = typer.Option([], "--data-file", help="A training file (hashed; repeat)."),
    label_export: list[Path] = typer.Option(
        [], "--label-export", help="A label-store export (hashed; repeat)."
    ),
    lineage_file: Path | None = typer.Option(None, "--lineage", help="Lineage as a JSON file (merged)."),
    data_until: str | None = typer.Option(None, "--data-until", help="Time of the latest training row."),
    metric: list[str] = typer.Option([], "--metric", help="An evaluation figure NAME=NUMBER (repeat)."),
    trained_at: str | None = typer.Option(None, "--trained-at", help="When it was trained (default: now)."),
    card: Path | None = typer.Option(
        None, "--card", help="Its model card (JSON; default: the previous card)."
    ),
    deprecate_on: str | None = typer.Option(None, "--deprecate-on", help="Planned deprecation date."),
    retire_on: str | None = typer.Option(None, "--retire-on", help="Planned retirement date."),
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Register a model (with --use-case), or a version of it (with VERSION and --artifact)."""
    by, ws = _who(acting), open_workspace()
    with ws.models(by) as registry:
        if version is None or use_case is not None:
            if use_case is None:
                raise UsageError(f"model {model} needs its use case", fix="pass --use-case KEY")
            doc: dict[str, Any] = registry.register_model(by, model, use_case, title, task, positive)
        if version is not None:
            if not artifact:
                raise UsageError("a version needs its artifact", fix="pass --artifact PATH-or-URI")
            spec = VersionIn(
                version,
                artifact,
                _artifact_hash(artifact, artifact_hash),
                _lineage(lineage_file, ingest_id, data_file, label_export, data_until),
                _metrics(metric),
                _when(trained_at),
                read_object(card, CARD_EXAMPLE) if card else None,
                _date(deprecate_on, "deprecate_on"),
                _date(retire_on, "retire_on"),
            )
            doc = registry.register_version(by, model, spec)
    if fmt is Fmt.json:
        emit_json(doc)
    elif version is None:
        out.print(f"registered model [bold]{model}[/] ({doc['task']}) for {doc['use_case']}")
    else:
        out.print(f"registered [bold]{model} {version}[/] as a candidate")


@model_app.command("list")
@handles_errors
def model_list(fmt: Fmt = FORMAT) -> None:
    """The models you may read, with their production version and stages."""
    by = operator()
    with open_workspace().models(readonly=True) as registry:
        models = registry.list(by)
    if fmt is Fmt.json:
        emit_json({"models": models})
        return
    rows = [
        [
            m["name"],
            m["use_case"],
            m["task"],
            m["production"] or "-",
            ", ".join(f"{n} {stage}" for stage, n in m["stages"].items() if n) or "none",
        ]
        for m in models
    ]
    table(None, ["model", "use case", "task", "production", "versions"], rows)


@model_app.command("show")
@handles_errors
def model_show(model: str = MODEL, fmt: Fmt = FORMAT) -> None:
    """A model's versions, stage history, requests, schedule and reminders."""
    by = operator()
    with open_workspace().models(readonly=True) as registry:
        doc = registry.show(by, model)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(f"[bold]{doc['name']}[/] — {doc['title']} ({doc['use_case']}, {doc['task']})")
    table(
        "Versions",
        ["version", "stage", "trained", "artifact", "card gaps", "deprecate on", "retire on"],
        [
            [
                v["version"],
                v["stage"],
                v["trained_at"][:10],
                v["artifact_uri"],
                ", ".join(v["card_gaps"]) or "-",
                v["deprecation_date"] or "",
                v["retirement_date"] or "",
            ]
            for v in doc["versions"]
        ],
    )
    table(
        "Stage history",
        ["when", "version", "from", "to", "cause", "requested by", "approved by", "reason"],
        [
            [
                h["changed_at"][:16],
                h["version"],
                h["from_stage"] or "",
                h["to_stage"],
                h["cause"],
                h["requested_by"],
                h["approved_by"] or "",
                h["reason"],
            ]
            for h in doc["history"]
        ],
    )
    pending = [a for a in doc["approvals"] if a["status"] == "pending"]
    if pending:
        table(
            "Pending requests",
            ["id", "version", "to", "requested by", "reason"],
            [[a["id"], a["version"], a["to_stage"], a["requested_by"], a["reason"]] for a in pending],
        )
    _print_reminders(doc["reminders"])


def _print_reminders(reminders: list[dict[str, Any]]) -> None:
    if not reminders:
        out.print("no reminders due")
        return
    table(
        "Reminders",
        ["status", "due", "model", "version", "what"],
        [[r["status"].upper(), r["due"], r["model"], r["version"], r["message"]] for r in reminders],
    )


# --- cards, stages, schedules ---------------------------------------------------------------
@model_app.command("card")
@handles_errors
def model_card(
    model: str = MODEL,
    version: str = VERSION,
    file: Path | None = typer.Option(None, "--file", help="Card fields as a JSON (or YAML) file."),
    sets: list[str] = typer.Option([], "--set", help="FIELD=VALUE, e.g. --set purpose='Route claims'."),
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Show a version's model card, or change its fields (--file, --set)."""
    by, ws = _who(acting), open_workspace()
    changes = {**(read_object(file, CARD_EXAMPLE) if file else {}), **parse_sets(sets)}
    if changes:
        with ws.models(by) as registry:
            doc = registry.update_card(by, model, version, changes)
    else:
        with ws.models(readonly=True) as registry:
            found = next((v for v in registry.show(by, model)["versions"] if v["version"] == version), None)
        if found is None:
            raise UsageError(f"model {model} has no version {version!r}", fix=f"paceline model show {model}")
        doc = {"model": model, "version": version, "card": found["card"], "gaps": found["card_gaps"]}
    if fmt is Fmt.json:
        emit_json(doc)
        return
    table(
        None,
        ["field", "value"],
        [[k, ", ".join(v) if isinstance(v, list) else v] for k, v in doc["card"].items()],
    )
    out.print(
        "complete" if not doc["gaps"] else f"missing before canary/production: {', '.join(doc['gaps'])}"
    )


def _print_change(doc: dict[str, Any], fmt: Fmt) -> None:
    if fmt is Fmt.json:
        emit_json(doc)
        return
    if doc["status"] == "pending":
        a = doc["approval"]
        out.print(
            f"asked to move {doc['model']} {doc['version']} to {a['to_stage']}: request {a['id']} "
            f"waits for an approval (paceline model approve {a['id']} --as SOMEONE-ELSE)"
        )
        return
    for move in doc.get("moves", []):
        out.print(f"{doc['model']} {move['version']}: {move['from']} → {move['to']} ({move['cause']})")
    if doc["status"] == "rejected":
        out.print(f"rejected request {doc['approval_id']} for {doc['model']} {doc['version']}")


@model_app.command("promote")
@handles_errors
def model_promote(
    model: str = MODEL,
    version: str = VERSION,
    to: str = typer.Option(
        ..., "--to", help="canary or production (approval needed), or candidate (roll back)."
    ),
    reason: str = REASON,
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Ask to move a version to canary or production (or roll a canary back to candidate)."""
    by = _who(acting)
    with open_workspace().models(by) as registry:
        _print_change(registry.request_stage(by, model, version, to, reason), fmt)


@model_app.command("approve")
@handles_errors
def model_approve(
    request: int = typer.Argument(
        ..., metavar="REQUEST", help="The stage request's id (model show lists it)."
    ),
    note: str = typer.Option("", "--note", help="A note for the record."),
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Approve a stage request (not your own) and apply it; a new production version demotes the old."""
    by = _who(acting)
    with open_workspace().models(by) as registry:
        _print_change(registry.approve(by, request, note), fmt)


@model_app.command("reject")
@handles_errors
def model_reject(
    request: int = typer.Argument(..., metavar="REQUEST", help="The stage request's id."),
    note: str = typer.Option(..., "--note", help="Why it is rejected."),
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Reject a stage request."""
    by = _who(acting)
    with open_workspace().models(by) as registry:
        _print_change(registry.reject(by, request, note), fmt)


def _end_of_life(
    stage: str, model: str, version: str, reason: str, on: str | None, acting: str | None, fmt: Fmt
) -> None:
    by = _who(acting)
    with open_workspace().models(by) as registry:
        if on:
            day = parse_date(on, "on")
            dates = {"deprecation": day} if stage == "deprecated" else {"retirement": day}
            doc = registry.set_dates(by, model, version, **dates)
            if fmt is Fmt.json:
                emit_json(doc)
            else:
                out.print(f"{model} {version} is planned to be {stage} on {day} (reminders come before)")
            return
        _print_change(registry.request_stage(by, model, version, stage, reason), fmt)


ON = typer.Option(None, "--on", help="Plan it for this date (YYYY-MM-DD) instead of doing it now.")


@model_app.command("deprecate")
@handles_errors
def model_deprecate(
    model: str = MODEL,
    version: str = VERSION,
    reason: str = REASON,
    on: str | None = ON,
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Deprecate a version now (a production version leaves service), or plan it with --on."""
    _end_of_life("deprecated", model, version, reason, on, acting, fmt)


@model_app.command("retire")
@handles_errors
def model_retire(
    model: str = MODEL,
    version: str = VERSION,
    reason: str = REASON,
    on: str | None = ON,
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Retire a version now (final), or plan it with --on."""
    _end_of_life("retired", model, version, reason, on, acting, fmt)


@model_app.command("schedule")
@handles_errors
def model_schedule(
    model: str = MODEL,
    every: int = typer.Option(..., "--every", help="Retrain every N days from the last training."),
    remind: int = typer.Option(7, "--remind", help="Remind this many days before it is due."),
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Set the model's retraining schedule."""
    by = _who(acting)
    with open_workspace().models(by) as registry:
        doc = registry.set_schedule(by, model, every, remind)
    if fmt is Fmt.json:
        emit_json(doc)
    else:
        out.print(f"{model}: retrain every {every} days, reminder {remind} days ahead")


@model_app.command("reminders")
@handles_errors
def model_reminders(
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    today: str | None = typer.Option(None, "--today", help="The day to judge on (default: today)."),
    ahead: int = typer.Option(7, "--ahead", min=0, help="Days ahead for deprecation and retirement dates."),
    fmt: Fmt = FORMAT,
) -> None:
    """Retraining, deprecation and retirement reminders that are due or overdue; exit 1 if any is overdue."""
    by = operator()
    day = _date(today, "today") or date.today()
    with open_workspace().models(readonly=True) as registry:
        found = registry.reminders(by, day, model, ahead)
    if fmt is Fmt.json:
        emit_json({"today": day.isoformat(), "reminders": found})
    else:
        _print_reminders(found)
    raise typer.Exit(1 if any(r["status"] == "overdue" for r in found) else 0)


@model_app.command("retrain")
@handles_errors
def model_retrain(
    model: str = MODEL,
    reason: str = REASON,
    version: str | None = typer.Option(None, "--version", help="The version that needs replacing."),
    incident: int | None = typer.Option(None, "--incident", help="The incident this comes from."),
    acting: str | None = AS,
    fmt: Fmt = FORMAT,
) -> None:
    """Record a retraining request (closed when the next version is registered)."""
    by = _who(acting)
    with open_workspace().models(by) as registry:
        doc = registry.request_retraining(by, model, reason, version, incident)
    if fmt is Fmt.json:
        emit_json(doc)
    else:
        out.print(f"retraining of {model} requested (request {doc['id']})")


# --- monitor performance ---------------------------------------------------------------------
def _n(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _performance_rows(doc: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for r in doc["rows"]:
        real, est = r["realized"] or {}, r["estimated"]
        ece = (real.get("calibration") or {}).get("ece")
        rows.append(
            [
                r["period_start"] or "all",
                r["segment"] or "",
                r["n"],
                f"{r['n_labeled']} ({_n(r['label_coverage'], 2)})",
                _n(real.get("accuracy")),
                _n(real.get("precision")),
                _n(real.get("recall")),
                _n(real.get("f1")),
                _n(real.get("auc")),
                _n(real.get("brier")),
                _n(ece),
                f"{_n(est['accuracy'])}±{_n(est['accuracy_se'])}" if est["accuracy"] is not None else "",
                _n(est["f1"]),
            ]
        )
    return rows


def performance_command(
    model: str = typer.Option(..., "--model", help="The model (registered, or named in the predictions)."),
    by: str = typer.Option("week", "--by", help="Period: day, week, month, quarter or total."),
    segment: str | None = typer.Option(None, "--segment", help="use_case, model_version or features.<key>."),
    since: str | None = typer.Option(None, "--since", help="First day of predictions (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Last day of predictions (YYYY-MM-DD)."),
    positive: str | None = typer.Option(None, "--positive", help="The positive class (binary models)."),
    bins: int = typer.Option(10, "--bins", help="Calibration bins (equal width)."),
    exact_auc: bool = typer.Option(
        True, "--exact-auc/--binned-auc-only", help="Also the exact AUC (a sort)."
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Precision, recall, F1, AUC, calibration per period and segment; estimates where labels are missing."""
    options: dict[str, Any] = {
        "grain": by,
        "segment": segment,
        "since": since,
        "until": until,
        "bins": bins,
        "exact_auc": exact_auc,
    }
    if positive:
        options["positive"] = positive
    doc = open_workspace().model_performance(model, **options)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(f"[bold]{doc['model']}[/] ({doc['task']}; calibration of {doc['calibration_target']})")
    columns = [
        "period",
        "segment",
        "n",
        "labeled",
        "accuracy",
        "precision",
        "recall",
        "F1",
        "AUC",
        "Brier",
        "ECE",
        "est. accuracy",
        "est. F1",
    ]
    table(None, columns, _performance_rows(doc))
    out.print("est. = estimated from confidence (CBPE): assumes calibrated confidence and no concept drift.")
    if doc["override_rate"]:
        table(
            "Review override rate (edits, overrides, rejections among judged reviews)",
            ["period", "judged", "overridden", "rate"],
            [
                [r["period_start"] or "all", r["judged"], r["overridden"], _n(r["override_rate"])]
                for r in doc["override_rate"]
            ],
        )


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


def register_monitor(monitor_app: typer.Typer) -> None:
    """Add ``performance`` to the ``monitor`` sub-app."""
    monitor_app.command("performance")(handles_errors(performance_command))
