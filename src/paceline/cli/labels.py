"""``paceline labels``: the label store of the review queue: export it, measure agreement.

``export`` writes every decided review (what the reviewer was shown, the suggestion, the
final output, decision, reason code and JSON Patch) as JSON Lines, Parquet, or Label Studio
tasks; ``--for-training`` keeps the corrections plus a seeded sample of accepts.
``agreement`` shows Cohen's and Fleiss' kappa between reviewers of the same cases and
between the model and reviewers. Like every command, they act as the workspace operator.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.errors import UsageError
from paceline.runtime.labels import LabelStore, write_jsonl, write_parquet

labels_app = typer.Typer(help="The label store of the review queue: export, agreement.", no_args_is_help=True)


class LabelFormat(enum.StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"
    label_studio = "label-studio"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@labels_app.command("export")
@handles_errors
def labels_export(
    fmt: LabelFormat = typer.Option(LabelFormat.jsonl, "--format", help="File format."),
    output: Path = typer.Option(..., "--output", help="The file to write (replaced if it exists)."),
    workflow: str | None = typer.Option(None, "--workflow", help="Only this workflow's decisions."),
    for_training: bool = typer.Option(
        False, "--for-training", help="Only edits and overrides plus a sample of accepts (jsonl, parquet)."
    ),
    accept_share: float = typer.Option(
        0.2, "--accept-share", min=0.0, max=1.0, help="With --for-training: share of accepts sampled."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="With --for-training: the sample's seed."),
) -> None:
    """Write every decided review (or the retraining selection) to a file."""
    store = LabelStore(open_workspace().store)
    if for_training:
        if fmt is LabelFormat.label_studio:
            raise UsageError(
                "--for-training writes rows for retraining, not Label Studio tasks",
                fix="use --format jsonl or --format parquet",
            )
        rows = store.training_selection(workflow, accept_share, seed)
        (write_jsonl if fmt is LabelFormat.jsonl else write_parquet)(rows, output)
        corrections = sum(r["selected_as"] == "correction" for r in rows)
        out.print(
            f"Wrote {len(rows):,} rows to {output}: {corrections:,} corrections and "
            f"{len(rows) - corrections:,} sampled accepts (share {accept_share}, seed {seed})."
        )
        return
    written = store.export(fmt.value, output, workflow)
    what = "Label Studio tasks (one per case)" if fmt is LabelFormat.label_studio else "decided reviews"
    out.print(f"Wrote {written:,} {what} to {output}.")


@labels_app.command("agreement")
@handles_errors
def labels_agreement(
    workflow: str | None = typer.Option(None, "--workflow", help="Only this workflow."),
    min_pair_items: int = typer.Option(
        5, "--min-pair-items", min=1, help="Show a pair of raters from this many shared cases."
    ),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """Agreement between reviewers of the same cases, and between the model and reviewers."""
    reports = LabelStore(open_workspace().store).agreement(workflow, min_pair_items)
    if fmt is Fmt.json:
        emit_json(reports)
        return
    if not reports:
        out.print("No decided reviews yet: agreement needs decisions in the review queue.")
        return
    rows: list[list[Any]] = []
    for r in reports:
        model = r["model_vs_human"] or {}
        rows.append(
            [
                r["workflow"],
                r["field"],
                f"{r['items']:,}",
                f"{r['multi_rated_items']:,}",
                _num(r["human_fleiss_kappa"]),
                _num(model.get("cohen_kappa")),
                _num(model.get("percent_agreement")),
            ]
        )
    table(
        "Agreement: Fleiss' kappa between people, Cohen's kappa of the model with people",
        ["workflow", "field", "cases", "twice+", "people", "model", "model agrees"],
        rows,
    )
    pairs = [(r["workflow"], r["field"], p) for r in reports for p in r["pairs"]]
    if pairs:
        table(
            "Pairs of reviewers (Cohen's kappa on their shared cases)",
            ["workflow", "field", "reviewers", "cases", "kappa", "agree"],
            [
                [
                    w,
                    f,
                    " & ".join(p["raters"]),
                    p["items"],
                    _num(p["cohen_kappa"]),
                    _num(p["percent_agreement"]),
                ]
                for w, f, p in pairs
            ],
        )
    out.print(
        "Model agreement counts what people decided after seeing the suggestion, so it leans "
        "towards the model (anchoring); people's agreement needs cases reviewed twice."
    )


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
