"""``paceline monitor``: model monitoring from the command line.

Each command parses its options, calls the library and renders. Add further
monitoring commands (e.g. ``monitor performance``) to :data:`monitor_app` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from paceline.analytics.drift import DriftPolicy, DriftReport, Method
from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.errors import CheckFailed, UsageError
from paceline.services.drift import drift
from paceline.services.parsing import parse_choice

monitor_app = typer.Typer(
    help="Model monitoring: drift of inputs, predictions and scores.", no_args_is_help=True
)


def _names(text: str | None) -> list[str] | None:
    """``a,b , c`` as ``["a", "b", "c"]`` (None when the option was not given)."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(
            f"{text!r} names no column", fix="give names separated by commas, e.g. --columns a,b"
        )
    return names


def _pair(start: str | None, end: str | None, name: str) -> tuple[str, str] | None:
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise UsageError(
            f"--{name}-start and --{name}-end go together",
            fix=f"give both days, e.g. --{name}-start 2026-01-01 --{name}-end 2026-01-28",
        )
    return start, end


def _policy(
    numeric_method: str,
    categorical_method: str,
    psi: float,
    ks: float,
    wasserstein: float | None,
    alpha: float,
) -> DriftPolicy:
    return DriftPolicy(
        numeric_method=parse_choice(Method, numeric_method, "numeric-method"),
        categorical_method=parse_choice(Method, categorical_method, "categorical-method"),
        psi=psi,
        ks=ks,
        wasserstein=wasserstein,
        alpha=alpha,
    )


@monitor_app.command("drift")
@handles_errors
def drift_command(
    reference: Path | None = typer.Option(None, "--reference", help="Reference data: a CSV or Parquet file."),
    current: Path | None = typer.Option(None, "--current", help="Current data: a CSV or Parquet file."),
    columns: str | None = typer.Option(None, "--columns", help="Columns to compare, A,B,... (default: all)."),
    categorical: str | None = typer.Option(
        None, "--categorical", help="Compare these numeric columns as categories, A,B,..."
    ),
    model: str | None = typer.Option(None, "--model", help="Instead of files: this model's predictions."),
    version: str | None = typer.Option(None, "--model-version", help="Only this version of --model."),
    features: str | None = typer.Option(None, "--features", help="With --model: feature keys, A,B,..."),
    reference_start: str | None = typer.Option(None, "--reference-start", help="First reference day (UTC)."),
    reference_end: str | None = typer.Option(None, "--reference-end", help="Last reference day, included."),
    current_start: str | None = typer.Option(
        None, "--current-start", help="First day of one current window."
    ),
    current_end: str | None = typer.Option(None, "--current-end", help="Last day of it, included."),
    current_every: str = typer.Option("7d", "--current-every", help="Rolling current windows: 7d, 1w, 24h."),
    latest: int | None = typer.Option(
        None, "--latest", min=1, help="With --model: only the latest N rolling windows (default: all)."
    ),
    numeric_method: str = typer.Option("psi", "--numeric-method", help="psi, ks, wasserstein or ks_test."),
    categorical_method: str = typer.Option("psi", "--categorical-method", help="psi or chi2."),
    psi: float = typer.Option(0.2, "--psi-threshold", help="Drifted when PSI is at least this."),
    ks: float = typer.Option(0.1, "--ks-threshold", help="With --numeric-method ks."),
    wasserstein: float | None = typer.Option(
        None, "--wasserstein-threshold", help="With --numeric-method wasserstein (in the column's unit)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Tests: p below alpha / (columns tested)."),
    fail_on_drift: bool = typer.Option(False, "--fail-on-drift", help="Exit 1 when any column drifted."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """Compare a current distribution with a reference, column by column (PSI, KS, Wasserstein, χ²).

    Two files (--reference, --current), or a model's predictions (--model): its features,
    prediction and score in a reference window against rolling current windows.
    """
    policy = _policy(numeric_method, categorical_method, psi, ks, wasserstein, alpha)
    forced = _names(categorical) or ()
    window_options = {
        "--model-version": version,
        "--features": features,
        "--reference-start": reference_start,
        "--reference-end": reference_end,
        "--current-start": current_start,
        "--current-end": current_end,
        "--latest": latest,
    }
    if model is None:
        _only_with_model(window_options)
        if reference is None or current is None:
            raise UsageError(
                "give --reference and --current files, or --model",
                fix="paceline monitor drift --reference ref.parquet --current cur.parquet",
            )
        reports = [drift(reference, current, _names(columns), categorical=forced, policy=policy)]
        _emit_one(reports[0], fmt)
    else:
        if reference is not None or current is not None or columns is not None:
            raise UsageError(
                "--model compares a model's predictions: it takes no --reference, --current or --columns",
                fix="use --features to choose feature keys, or drop --model to compare files",
            )
        reports = open_workspace().drift_windows(
            model,
            reference=_pair(reference_start, reference_end, "reference"),
            current=_pair(current_start, current_end, "current"),
            every=current_every,
            features=_names(features),
            categorical=forced,
            version=version,
            policy=policy,
            latest=latest,
        )
        _emit_windows(model, reports, fmt)
    _maybe_fail(fail_on_drift, reports)


def _only_with_model(options: dict[str, str | int | None]) -> None:
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise UsageError(
            f"{given[0]} goes with --model (drift over a model's predictions)",
            fix=f"add --model NAME, or drop {given[0]} to compare the two files",
        )


def _maybe_fail(fail: bool, reports: list[DriftReport]) -> None:
    drifted = sorted({c for r in reports for c in r.drifted_columns})
    if fail and drifted:
        raise CheckFailed(f"drift in {', '.join(drifted)}", fix="look at the columns above")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _rule(method: Method, threshold: float | None, policy: DriftPolicy) -> str:
    """The decision rule in words, e.g. ``psi ≥ 0.2`` or ``ks_test p < 0.0025 and ks ≥ 0.05``."""
    if method is Method.MISSING:
        return "values on one side only"
    if method is Method.KS_TEST:
        return f"ks_test p < {_fmt(threshold)} and ks ≥ {_fmt(policy.min_ks)}"
    if method is Method.CHI2:
        return f"chi2 p < {_fmt(threshold)} and Cramér's V ≥ {_fmt(policy.min_cramers_v)}"
    return f"{method.value} ≥ {_fmt(threshold)}"


def _column_rows(report: DriftReport) -> list[list[Any]]:
    return [
        [
            c.column + ("" if c.kind.value == "numeric" else " (cat)"),
            _fmt(c.psi),
            _fmt(c.ks),
            _fmt(c.ks_p_value),
            _fmt(c.wasserstein),
            _fmt(c.chi2_p_value),
            f"{c.missing_share:.1%}",
            "yes" if c.drifted else "no",
        ]
        for c in report.columns
    ]


HEADERS = ["column", "psi", "ks", "ks p", "wasserstein", "χ² p", "missing", "drifted"]


def _emit_one(report: DriftReport, fmt: Fmt) -> None:
    if fmt is Fmt.json:
        emit_json(report.to_dict())
        return
    drifted = len(report.drifted_columns)
    title = (
        f"Drift: {report.current_rows:,} current vs {report.reference_rows:,} reference rows; "
        f"{drifted} of {len(report.columns)} columns drifted"
    )
    table(title, HEADERS, _column_rows(report))
    rules = sorted(
        {f"{_rule(c.method, c.threshold, report.policy)} ({c.kind.value})" for c in report.columns}
    )
    out.print("Drifted when: " + "; ".join(rules))
    for name, why in report.skipped.items():
        out.print(f"Left out {name}: {why}")


def _emit_windows(model: str, reports: list[DriftReport], fmt: Fmt) -> None:
    if fmt is Fmt.json:
        emit_json({"model": model, "windows": [r.to_dict() for r in reports]})
        return
    if not reports:
        out.print(f"No current window of {model} holds predictions.")
        return
    ref = (reports[0].windows or {}).get("reference", {})
    rows = [
        [
            (r.windows or {})["current"]["start"][:10],
            (r.windows or {})["current"]["end"][:10],
            f"{r.current_rows:,}",
            f"{r.drifted_share:.0%}",
            ", ".join(r.drifted_columns) or "-",
        ]
        for r in reports
    ]
    table(
        f"Drift of {model} against {ref.get('start', '')[:10]} to {ref.get('end', '')[:10]} "
        f"({reports[0].reference_rows:,} predictions)",
        ["from", "until (excl.)", "predictions", "drifted share", "drifted columns"],
        rows,
    )
    _emit_one(reports[-1], fmt)
