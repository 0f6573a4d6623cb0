"""``paceline pilot``: evaluate a pilot from a table with a column mapping."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors
from paceline.cli.output import emit_json, out, table
from paceline.cli.pilot_records import evaluate_recorded_command
from paceline.errors import UsageError
from paceline.services.pilot_data import evaluate_pilot

pilot_app = typer.Typer(help="Pilots: estimates, intervals and checks for AI pilots.", no_args_is_help=True)


class DesignOpt(enum.StrEnum):
    auto = "auto"
    ab = "ab"
    did = "did"


class TransformOpt(enum.StrEnum):
    log = "log"


@pilot_app.command("evaluate")
@handles_errors
def pilot_evaluate(
    pilot: str | None = typer.Option(None, "--pilot", help="A recorded pilot, judged on the warehouse."),
    data: Path | None = typer.Option(None, "--data", help="CSV or Parquet file, one row per observation."),
    outcome: str | None = typer.Option(None, "--outcome", help="Outcome column (numeric or boolean)."),
    group: str | None = typer.Option(None, "--group", help="Column that tells the arms apart."),
    treated: str | None = typer.Option(None, "--treated", help="Value of --group for the treatment arm."),
    unit: str | None = typer.Option(None, "--unit", help="The independent unit, e.g. the employee column."),
    period: str | None = typer.Option(None, "--period", help="Period column (then the design is did)."),
    post: str | None = typer.Option(None, "--post", help="First post value of --period (or the post value)."),
    transform: TransformOpt | None = typer.Option(None, "--transform", help="log: compare geometric means."),
    covariate: str | None = typer.Option(None, "--covariate", help="Pre-period covariate (ab designs)."),
    design: DesignOpt = typer.Option(DesignOpt.auto, "--design", help="auto, ab or did."),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence level of the interval."),
    se: str = typer.Option("auto", "--se", help="Override the SE method, e.g. cluster_CR1, HC3."),
    expected_share: float = typer.Option(0.5, "--expected-share", help="Planned treatment share (SRM)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """Estimate the effect of a pilot with its interval, p-value and checks (exit 1 if a check fails).

    With --pilot NAME, every KPI of the recorded plan is estimated from the warehouse and the
    verdict (adopt, extend, stop) is given with a reason per criterion.
    """
    if pilot is not None:
        if data is not None:
            raise UsageError("give --pilot or --data, not both", fix="paceline pilot evaluate --pilot NAME")
        evaluate_recorded_command(pilot, fmt)
        return
    if data is None or outcome is None or group is None or treated is None:
        raise UsageError(
            "give the data to evaluate and its mapping",
            fix="pass --data FILE --outcome COL --group COL --treated VALUE",
        )
    result = evaluate_pilot(
        data,
        outcome=outcome,
        group=group,
        treated=treated,
        unit=unit,
        period=period,
        post=post,
        transform=transform.value if transform else None,
        covariate=covariate,
        alpha=alpha,
        design=design.value,
        se=se,
        expected_share=expected_share,
    )
    doc = result.to_dict()
    if fmt is Fmt.json:
        emit_json(doc)
    else:
        _print(doc)
    if not result.ok:
        raise typer.Exit(1)


def _print(doc: dict[str, Any]) -> None:
    level = f"{1 - doc['alpha']:.0%}"
    rows = [
        ["design", doc["design"]],
        ["estimate", _num(doc["estimate"])],
        [f"{level} interval", _pair(doc["ci"])],
        ["p-value", _num(doc["p_value"])],
        ["relative lift", _pct(doc["relative_lift"])],
        [f"{level} interval (relative)", _pair(doc["relative_ci"], pct=True)],
        ["standard error", f"{_num(doc['se'])} ({doc['se_method']}, df {_num(doc['df']) or 'normal'})"],
        ["observations", f"{doc['n_obs']:,}"],
        ["units", f"{doc['n_units']['treatment']:,} treatment, {doc['n_units']['control']:,} control"],
    ]
    table(f"Pilot evaluation: {doc['outcome']}", ["", "value"], rows)
    table(
        "Checks",
        ["check", "status", "detail"],
        [[c["name"], c["status"], c["detail"]] for c in doc["checks"]],
    )
    if any(c["status"] == "fail" for c in doc["checks"]):
        out.print("A check failed: the data do not support an estimate (see above).")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.2%}"


def _pair(pair: list[float | None] | None, pct: bool = False) -> str:
    if not pair:
        return ""
    fmt = _pct if pct else _num
    return f"[{fmt(pair[0])}, {fmt(pair[1])}]"
