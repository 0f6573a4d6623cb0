"""``paceline pilot create|list|show``: the pilot's plan, recorded before it starts."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.domain.pilots import (
    Design,
    DurationEstimand,
    PilotSpec,
    Unit,
    parse_acceptance,
    parse_guardrail,
    parse_primary,
    validate,
)
from paceline.errors import UsageError
from paceline.services.access import operator
from paceline.services.parsing import parse_choice, parse_date
from paceline.services.pilots import PilotRecordView, spec_from_dict


def _spec_from_file(path: Path) -> PilotSpec:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path}: not a readable JSON file ({exc})", fix="see docs/pilots.md for an example"
        ) from None
    if not isinstance(doc, dict):
        raise UsageError(
            f"{path}: the file must hold one JSON object", fix="see docs/pilots.md for an example"
        )
    return spec_from_dict(doc)


def create(
    name: str = typer.Argument(..., help="A short id: lower-case letters, digits, . _ -"),
    use_case: str = typer.Option(None, "--use-case", help="The use case piloted."),
    hypothesis: str = typer.Option("", "--hypothesis", help="What the AI should change, and for whom."),
    design: str = typer.Option("randomised", "--design", help="randomised, did or staggered."),
    treatment: list[str] = typer.Option(
        [], "--treatment", help="Treated cohort from assignments (repeatable)."
    ),
    control: list[str] = typer.Option([], "--control", help="Control cohort from assignments (repeatable)."),
    start: str = typer.Option(None, "--start", help="First day of the pilot (YYYY-MM-DD)."),
    end: str = typer.Option(None, "--end", help="Last day of the pilot (YYYY-MM-DD)."),
    primary: list[str] = typer.Option(
        [], "--primary", help="KPI:PERCENT target effect, e.g. productivity:10."
    ),
    guardrail: list[str] = typer.Option([], "--guardrail", help="KPI:PERCENT non-inferiority margin."),
    accept: list[str] = typer.Option([], "--accept", help="Acceptance criterion KPI>=VALUE, e.g. esat>=3.5."),
    unit: str = typer.Option("person", "--unit", help="person or team: the unit of randomisation."),
    estimand: str = typer.Option("log", "--estimand", help="For durations: log, ratio_of_means or median."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    weekly_looks: int = typer.Option(
        0, "--weekly-looks", help="Planned weekly interim looks (sequential bounds)."
    ),
    baseline_start: str | None = typer.Option(None, "--baseline-start", help="First day of the baseline."),
    from_file: Path | None = typer.Option(None, "--from-file", help="Read the whole plan from a JSON file."),
) -> None:
    """Record a pilot's plan before it starts (hypothesis, KPIs, design, cohorts, criteria)."""
    if from_file is not None:
        spec = _spec_from_file(from_file)
    else:
        if not use_case or not start or not end:
            raise UsageError(
                "--use-case, --start and --end are required", fix="or give --from-file pilot.json"
            )
        spec = validate(
            PilotSpec(
                name=name,
                use_case=use_case,
                hypothesis=hypothesis,
                design=parse_choice(Design, design, "design"),
                treatment_cohorts=tuple(treatment),
                control_cohorts=tuple(control),
                start=parse_date(start, "start"),
                end=parse_date(end, "end"),
                primary=tuple(map(parse_primary, primary)),
                guardrails=tuple(map(parse_guardrail, guardrail)),
                acceptance=tuple(map(parse_acceptance, accept)),
                unit=parse_choice(Unit, unit, "unit"),
                duration_estimand=parse_choice(DurationEstimand, estimand, "estimand"),
                alpha=alpha,
                weekly_looks=weekly_looks,
                baseline_start=parse_date(baseline_start, "baseline_start") if baseline_start else None,
            )
        )
    with open_workspace().pilots() as pilots:
        record = pilots.create(operator(), spec)
    out.print(
        f"Recorded pilot {record.spec.name} ({record.spec.design}) for {record.spec.use_case}, "
        f"{record.spec.start} to {record.spec.end}."
    )


def list_pilots(
    use_case: str | None = typer.Option(None, "--use-case", help="Only this use case."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """The recorded pilots, newest first."""
    with open_workspace().pilots(readonly=True) as pilots:
        records = pilots.list(operator(), use_case)
    if fmt is Fmt.json:
        emit_json({"pilots": [r.to_dict() for r in records]})
        return
    table(
        "Pilots",
        ["name", "use case", "design", "start", "end", "status"],
        [[r.spec.name, r.spec.use_case, r.spec.design, r.spec.start, r.spec.end, r.status] for r in records],
    )


def show(
    name: str = typer.Argument(..., help="The pilot's name."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """One pilot's plan."""
    with open_workspace().pilots(readonly=True) as pilots:
        record = pilots.get(operator(), name)
    if fmt is Fmt.json:
        emit_json(record.to_dict())
        return
    _print_plan(record)


def _print_plan(record: PilotRecordView) -> None:
    s = record.spec
    out.print(
        f"[bold]{s.name}[/] ({record.status}) — {s.use_case}, {s.design} by {s.unit}, {s.start} to {s.end}"
    )
    out.print(f"Hypothesis: {s.hypothesis}")
    out.print(
        f"Treatment: {', '.join(s.treatment_cohorts)}; control: {', '.join(s.control_cohorts) or 'none'}"
    )
    table("Primary KPIs", ["kpi", "target effect %"], [[p.kpi, p.target_effect_pct] for p in s.primary])
    if s.guardrails:
        table("Guardrails", ["kpi", "margin %"], [[g.kpi, g.margin_pct] for g in s.guardrails])
    if s.acceptance:
        table("Acceptance criteria", ["kpi", "at least"], [[a.kpi, a.minimum] for a in s.acceptance])


def plan(
    name: str = typer.Argument(..., help="The pilot's name."),
    power: float = typer.Option(0.8, "--power", help="The chance to detect the target effect."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
) -> None:
    """What a recorded pilot can detect: MDE, power for its targets, and the weeks they need."""
    doc = open_workspace().plan_pilot(name, power)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(
        f"{doc['pilot']}: {doc['n_treatment']} treated and {doc['n_control']} control people, "
        f"{doc['weeks']} weeks; baseline {doc['baseline'][0]} to {doc['baseline'][1]}"
    )
    rows = [
        [
            k["kpi"],
            _pct(k.get("target_effect_pct")),
            _pct(k.get("mde_pct")),
            _pct(k.get("mde_pct_cuped")),
            _pct(None if k.get("power_for_target") is None else 100 * k["power_for_target"]),
            k.get("weeks_for_target") or k.get("note", ""),
        ]
        for k in doc["kpis"]
    ]
    table(
        f"Minimum detectable effects at {doc['power']:.0%} power, alpha {doc['alpha']}",
        ["kpi", "target", "MDE", "MDE with CUPED", "power for target", "weeks for target"],
        rows,
    )


def evaluate_recorded_command(name: str, fmt: Fmt) -> None:
    """``pilot evaluate --pilot NAME``: the verdict and every KPI's estimate."""
    doc = open_workspace().evaluate_recorded_pilot(name)
    if fmt is Fmt.json:
        emit_json(doc)
        return
    out.print(
        f"[bold]{doc['pilot']}[/]: verdict [bold]{doc['verdict']}[/] "
        f"({doc['people']['treatment']} treated, {doc['people']['control']} control people)"
    )
    for reason in doc["reasons"]:
        mark = {True: "met", False: "NOT met"}.get(reason["met"], "not conclusive")
        out.print(f"- {reason['criterion']}: {mark}. {reason['text']}")
    table(
        "Effects",
        ["kpi", "role", "effect", "95% interval", "p-value", "method"],
        [
            [
                k["kpi"],
                k["role"],
                _pct(None if k["relative_lift"] is None else 100 * k["relative_lift"]),
                _interval(k.get("relative_ci")),
                "" if k["p_value"] is None else f"{k['p_value']:.3g}",
                f"{k['design']}, {k['se_method']}",
            ]
            for k in doc["kpis"]
        ],
    )


def _interval(ci: list[float | None] | None) -> str:
    if not ci or None in ci:
        return ""
    low, high = ci
    assert low is not None and high is not None
    return f"{100 * low:+.1f}% to {100 * high:+.1f}%"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}%"


def register(app: typer.Typer) -> None:
    """Add the record commands to the ``pilot`` command group."""
    app.command("create")(handles_errors(create))
    app.command("list")(handles_errors(list_pilots))
    app.command("show")(handles_errors(show))
    app.command("plan")(handles_errors(plan))
