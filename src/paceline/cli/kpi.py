"""``paceline kpi``: list, compute, compare and explain the workforce KPIs."""

from __future__ import annotations

import csv
import enum
import sys
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.domain.kpis import KPIS
from paceline.services.kpi_explain import Sides
from paceline.services.parsing import parse_date

kpi_app = typer.Typer(
    help="Workforce KPIs: definitions, values, changes and their causes.", no_args_is_help=True
)


class TableFmt(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


USE_CASE = typer.Option(None, "--use-case", help="Only this use case.")
BY = typer.Option(
    [],
    "--by",
    help="Split by a dimension (repeatable): use_case, team, ai_assisted, "
    "automation, priority, cohort, tenure_band, segment.",
)
SINCE = typer.Option(None, "--since", help="First day (YYYY-MM-DD, UTC), included.")
UNTIL = typer.Option(None, "--until", help="Last day (YYYY-MM-DD, UTC), included.")
STAT = typer.Option("mean", "--stat", help="For resolution_time: mean, median or p90.")


@kpi_app.command("list")
@handles_errors
def kpi_list(fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format.")) -> None:
    """The KPIs, their units, direction and whether they lead or lag."""
    docs = [
        {
            "kpi": k.name,
            "title": k.title,
            "unit": k.unit,
            "direction": k.direction.value,
            "indicator": k.indicator.value,
            "framework_kpi": k.framework_kpi,
            "sources": list(k.sources),
            "formula": k.formula,
            "dims": list(k.dims),
            "stats": [s.value for s in k.stats],
            "typical": k.typical.text if k.typical else None,
        }
        for k in KPIS.values()
    ]
    if fmt is Fmt.json:
        emit_json({"kpis": docs})
        return
    table(
        "KPIs",
        ["kpi", "unit", "direction", "indicator", "framework KPI"],
        [[d["kpi"], d["unit"], d["direction"], d["indicator"], d["framework_kpi"]] for d in docs],
    )


@kpi_app.command("compute")
@handles_errors
def kpi_compute(
    kpi: str = typer.Argument(..., help="A KPI from `paceline kpi list`."),
    use_case: str | None = USE_CASE,
    by: list[str] = BY,
    grain: str = typer.Option("total", "--grain", help="day, week, month, quarter or total."),
    since: str | None = SINCE,
    until: str | None = UNTIL,
    stat: str = STAT,
    fmt: TableFmt = typer.Option(TableFmt.table, "--format", help="Output format."),
) -> None:
    """Compute a KPI by period and group; groups under min_group_size people are suppressed."""
    result = open_workspace().kpi(
        kpi, use_case=use_case, by=by, grain=grain, since=since, until=until, stat=stat
    )
    doc = result.to_dict()
    if fmt is TableFmt.json:
        emit_json(doc)
    elif fmt is TableFmt.csv:
        _csv(doc["rows"], ["period_start", *doc["by"], "value", "n", "n_people", "suppressed"])
    else:
        columns = ["period_start", *doc["by"], "value", "n", "n_people"]
        table(
            f"{kpi} ({doc['unit']})",
            columns,
            [[*(r[c] for c in columns[:-3]), _shown(r), r["n"], r["n_people"]] for r in doc["rows"]],
        )


def _shown(row: dict[str, Any]) -> str:
    if row["suppressed"]:
        return "suppressed"
    value = row["value"]
    return "" if value is None else f"{value:.4g}"


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _sides(split: str | None, dim: str | None, baseline: str | None, current: str | None) -> Sides:
    return Sides(
        split=parse_date(split, "split") if split else None, dim=dim, baseline=baseline, current=current
    )


SPLIT = typer.Option(None, "--split", help="Compare before and from this date (YYYY-MM-DD).")
DIM = typer.Option(None, "--dim", help="Or compare two values of this dimension, e.g. cohort.")
BASELINE = typer.Option(None, "--baseline", help="The baseline value of --dim, e.g. control.")
CURRENT = typer.Option(None, "--current", help="The compared value of --dim, e.g. pilot.")


@kpi_app.command("compare")
@handles_errors
def kpi_compare(
    kpi: str = typer.Argument(..., help="A KPI from `paceline kpi list`."),
    split: str | None = SPLIT,
    dim: str | None = DIM,
    baseline: str | None = BASELINE,
    current: str | None = CURRENT,
    use_case: str | None = USE_CASE,
    by: list[str] = BY,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    stat: str = STAT,
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """The KPI before/after a date or for two cohorts, with the change and the typical range."""
    sides = _sides(split, dim, baseline, current)
    doc = (
        open_workspace()
        .kpi_compare(kpi, sides, use_case=use_case, by=by, since=since, until=until, stat=stat)
        .to_dict()
    )
    if fmt is Fmt.json:
        emit_json(doc)
        return
    cols = [*doc["by"], "baseline", "current", doc["change"]]
    table(
        f"{kpi}: {doc['baseline']} vs {doc['current']}",
        cols,
        [[*(r[d] for d in doc["by"]), *_pair(r)] for r in doc["rows"]],
    )
    if doc["typical"]:
        out.print(f"Typical: {doc['typical']['text']}.")


def _pair(row: dict[str, Any]) -> list[str]:
    if row["suppressed"]:
        return ["suppressed"] * 3
    return [_num(row["baseline"]), _num(row["current"]), _num(row["change"])]


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


@kpi_app.command("explain")
@handles_errors
def kpi_explain(
    kpi: str = typer.Argument(..., help="A KPI from `paceline kpi list`."),
    dim: str = typer.Option(..., "--by", help="The dimension to split the change by, e.g. team."),
    split: str | None = SPLIT,
    cohort_dim: str | None = typer.Option(None, "--dim", help="Or compare two values of this dimension."),
    baseline: str | None = BASELINE,
    current: str | None = CURRENT,
    use_case: str | None = USE_CASE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """Where a KPI change comes from: rate and mix effect per segment, ranked by contribution."""
    sides = _sides(split, cohort_dim, baseline, current)
    doc = open_workspace().kpi_explain(kpi, sides, dim, use_case=use_case, since=since, until=until).to_dict()
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(
        f"{kpi}: {_num(doc['baseline'])} ({doc['baseline_label']}) -> {_num(doc['current'])} "
        f"({doc['current_label']}), difference {_num(doc['difference'])} {doc['unit']}"
    )
    table(
        f"By {dim}, largest contribution first",
        ["segment", "rate effect", "mix effect", "contribution"],
        [
            [s["segment"], _num(s["rate_effect"]), _num(s["mix_effect"]), _num(s["contribution"])]
            for s in doc["segments"]
        ],
    )
    out.print(f"Not attributed (small groups, overlap): {_num(doc['not_attributed'])}")
