"""The demo summary as plain tables (title, columns, rows) for a front end to render.

Keeping the wording and number formats here lets the CLI stay a thin renderer
and keeps what ``paceline demo`` prints testable without a terminal.
"""

from __future__ import annotations

from typing import Any

from paceline.demo.run import DemoSummary
from paceline.demo.scale import ScaleReport

Grid = tuple[str, list[str], list[list[str]]]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pair(values: tuple[float | None, float | None], fmt: str = "num", digits: int = 2) -> str:
    if fmt == "pct":
        return f"{_pct(values[0])} → {_pct(values[1])}"
    return f"{_num(values[0], digits)} → {_num(values[1], digits)}"


def summary_tables(summary: DemoSummary) -> list[Grid]:
    """What was built, the headline numbers, the models and the logins."""
    built = [[name, f"{rows:,}"] for name, rows in summary.rows.items()]
    built.append(["(quarantined)", f"{summary.quarantined:,}"])
    use = [
        [
            h.use_case,
            f"{h.tasks:,}",
            f"{h.people:,}",
            _pct(h.adoption_end),
            _pct(h.ai_share_end),
            _pct(h.automation_end),
        ]
        for h in summary.headlines
    ]
    kpis = [
        [
            h.use_case,
            _pair(h.productivity),
            _pair(h.effort_minutes, digits=1),
            _pair(h.error_rate, "pct"),
            _pair(h.resolution_hours, digits=1),
        ]
        for h in summary.headlines
    ]
    return [
        (f"Demo firm (seed {summary.seed}): rows loaded", ["table", "rows"], built),
        (
            "AI at the end of the program (adoption: last month; the rest: last quarter)",
            ["use case", "tasks", "people", "adoption", "AI-assisted", "automated"],
            use,
        ),
        (
            "KPIs, baseline months → last quarter",
            ["use case", "units/person-day", "minutes/task", "error rate", "hours to resolve (median)"],
            kpis,
        ),
        (
            "Monitored models",
            ["model", "predictions", "accuracy (last month)"],
            [[m.model, f"{m.predictions:,}", _pct(m.accuracy_end)] for m in summary.models],
        ),
        (
            "Pilots, evaluated per person against their control cohorts (verdict: adopt, extend, stop)",
            ["pilot", "design", "primary KPI", "effect", "95% interval", "verdict"],
            [_pilot_row(p) for p in summary.pilots],
        ),
        (
            f"Demo logins (password: {summary.password})",
            ["login", "role", "scope"],
            [[x.login, x.role, x.use_case or "all use cases"] for x in summary.logins],
        ),
    ]


def summary_lines(summary: DemoSummary, created: bool) -> list[str]:
    """The sentences around the tables: where, how long, and the audit check."""
    where = (
        f"Built the demo firm in {summary.home}"
        if created
        else f"A demo firm already exists in {summary.home}"
    )
    lines = [f"{where}: {summary.people:,} people over {summary.months} months, seed {summary.seed}."]
    if created:
        s = summary.seconds
        lines.append(
            f"Took {s['total']:.1f} s: generate {s['generate']:.1f} s, write {s['write']:.1f} s, "
            f"ingest {s['ingest']:.1f} s, summary {s['summary']:.1f} s."
        )
    else:
        lines.append("Nothing was changed. Run 'paceline demo --reset' to rebuild it.")
    state = "intact" if summary.audit_ok else "BROKEN"
    lines.append(f"Audit log {state}: {summary.audit_entries:,} entries.")
    return lines


def scale_line(report: ScaleReport) -> str:
    """One sentence on what ``--scale`` wrote and how fast."""
    return (
        f"Wrote {report.rows:,} task events to {report.path} in {report.seconds:.1f} s "
        f"({report.rows_per_second:,.0f} rows/s, {report.slices} slices)."
    )


def _pilot_row(p: dict[str, Any]) -> list[str]:
    lift, ci = p.get("relative_lift"), p.get("relative_ci") or [None, None]
    shown = "" if lift is None else f"{100 * lift:+.1f}%"
    interval = "" if None in ci else f"{100 * ci[0]:+.1f}% to {100 * ci[1]:+.1f}%"
    return [p["pilot"], p["design"], p["kpi"], shown, interval, p["verdict"]]
