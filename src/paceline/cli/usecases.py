"""``paceline usecase``: the use-case inventory, its ranking, AI Act tier and stakeholders.

The CLI acts as the workspace operator (an admin), like every other command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.domain import ai_act, raci
from paceline.domain.portfolio import money
from paceline.domain.usecases import Phase
from paceline.errors import UsageError
from paceline.services.access import operator

usecase_app = typer.Typer(help="The use-case inventory: add, edit, rank and classify.", no_args_is_help=True)

FORMAT = typer.Option(Fmt.table, "--format", help="Output format.")
KEY = typer.Argument(..., metavar="KEY", help="The use case's key, e.g. claims-triage.")
OBJECTS = ("value", "readiness", "feasibility")  # fields that are objects: --set merges into them


# --- reading input ------------------------------------------------------------------
def read_doc(path: Path, example: str) -> Any:
    """The JSON (or YAML, by extension) document in *path*, or a :class:`UsageError` saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the file ({exc.strerror})", fix=example) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise UsageError(
                f"{path}: reading YAML needs PyYAML, which is not installed",
                fix="pip install pyyaml, or write the file as JSON",
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: not valid YAML ({exc})", fix=example) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})", fix=example) from None


def read_object(path: Path, example: str) -> dict[str, Any]:
    doc = read_doc(path, example)
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: the file must hold one object (field: value, ...)", fix=example)
    return doc


def _value(text: str) -> Any:
    """A --set value: JSON where it parses (numbers, lists, true/false), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``field=value`` pairs as a change document; ``value.volume_per_year=9000`` sets a nested field."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(
                f"--set {pair!r} is not FIELD=VALUE",
                fix="e.g. --set title='Claims triage' --set value.volume_per_year=120000",
            )
        head, dot, sub = name.partition(".")
        if dot:
            nested = changes.setdefault(head, {})
            if not isinstance(nested, dict):
                raise UsageError(
                    f"--set {head} is given both whole and by field", fix=f"use only {head}.FIELD"
                )
            nested[sub] = _value(text)
        else:
            changes[name] = _value(text)
    return changes


def _merged(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """*changes* with the object fields merged over the current ones (so one answer changes alone)."""
    out_doc = dict(changes)
    for name in OBJECTS:
        if isinstance(changes.get(name), dict) and isinstance(current.get(name), dict):
            out_doc[name] = {**current[name], **changes[name]}
    return out_doc


def _tier_text(rule: str, tier: str) -> str:
    return f"{tier} ({rule})" if rule else tier


# --- usecase ----------------------------------------------------------------------------
@usecase_app.command("add")
@handles_errors
def usecase_add(
    from_file: Path | None = typer.Option(None, "--from-file", help="Read the use case from JSON or YAML."),
    key: str | None = typer.Option(None, "--key", help="Lower-case letters, digits and '-'."),
    title: str | None = typer.Option(None, "--title", help="A short title."),
    owner: str | None = typer.Option(None, "--owner", help="Login of the accountable business owner."),
    business_process: str | None = typer.Option(None, "--business-process", help="The business process."),
    department: str | None = typer.Option(None, "--department", help="The department running it."),
    geography: str | None = typer.Option(None, "--geography", help="Where it runs, e.g. EU."),
    goal: str | None = typer.Option(None, "--goal", help="What it should achieve."),
    people: int | None = typer.Option(None, "--people-affected", help="How many people it affects."),
    data: list[str] = typer.Option([], "--data-category", help="Data it touches (repeatable)."),
    act: list[str] = typer.Option([], "--ai-act", help="An EU AI Act question answered yes (repeatable)."),
    sets: list[str] = typer.Option([], "--set", help="FIELD=VALUE, e.g. value.volume_per_year=120000."),
    fmt: Fmt = FORMAT,
) -> None:
    """Add a use case to the inventory, from a file or from options (see docs/portfolio.md)."""
    doc = read_object(from_file, "see docs/portfolio.md for the fields") if from_file else {}
    given = {
        "key": key,
        "title": title,
        "owner": owner,
        "business_process": business_process,
        "department": department,
        "geography": geography,
        "goal": goal,
        "people_affected": people,
        "data_categories": data or None,
        "ai_act": act or None,
    }
    doc = {**doc, **{k: v for k, v in given.items() if v is not None}}
    doc = {**doc, **_merged(doc, parse_sets(sets))}
    if not doc:
        raise UsageError("nothing to add", fix="give --from-file usecase.json, or --key, --title and --owner")
    by = operator()
    with open_workspace().lifecycle(by) as lc:
        uc = lc.create(by, doc)
        view = lc.view(by, uc.key)
    if fmt is Fmt.json:
        emit_json(view.to_dict())
        return
    tier = ai_act.classify(uc.ai_act)
    out.print(
        f"Added use case {uc.key} ({uc.title}), owner {uc.owner}, phase {int(uc.phase)} "
        f"({uc.phase.slug}); EU AI Act tier {_tier_text(tier.rule, tier.tier.value)}."
    )


@usecase_app.command("list")
@handles_errors
def usecase_list(fmt: Fmt = FORMAT) -> None:
    """The use cases in the inventory, by key."""
    by = operator()
    with open_workspace().lifecycle(by, readonly=True) as lc:
        cases = sorted(lc.list(by), key=lambda uc: uc.key)
    docs = []
    for uc in cases:
        tier = ai_act.classify(uc.ai_act)
        docs.append({**uc.to_dict(), "ai_act_tier": tier.tier.value, "ai_act_rule": tier.rule})
    if fmt is Fmt.json:
        emit_json({"use_cases": docs})
        return
    table(
        "Use cases",
        ["key", "title", "owner", "phase", "status", "AI Act tier"],
        [
            [
                d["key"],
                d["title"],
                d["owner"],
                f"{d['phase']} {d['phase_name']}",
                d["status"],
                d["ai_act_tier"],
            ]
            for d in docs
        ],
    )


@usecase_app.command("show")
@handles_errors
def usecase_show(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """A use case's page: phase, AI Act tier and rule, business case, and its next gate."""
    by = operator()
    with open_workspace().program(by, readonly=True) as program:
        page = program.page(by, key)
    if fmt is Fmt.json:
        emit_json(page)
        return
    uc, act, case, gate = page["use_case"], page["ai_act"], page["business_case"], page["gate"]
    out.print(f"[bold]{uc['key']}[/] — {uc['title']} ({uc['status']}), owner {uc['owner']}")
    out.print(
        f"Phase {uc['phase']} of 6 ({uc['phase_name']}): {Phase(uc['phase']).title}"
        + (f"; live since {uc['go_live']}" if uc["go_live"] else "")
    )
    out.print(f"EU AI Act tier: {_tier_text(act['rule'], act['tier'])} — {act['reason']}")
    _print_business_case(case)
    out.print(f"Next gate: {gate['summary']}")
    blocking = [c for c in gate["checks"] if c["status"] != "pass"]
    if blocking:
        table(None, ["status", "check", "reason"], [[c["status"], c["title"], c["reason"]] for c in blocking])


def _print_business_case(case: dict[str, Any]) -> None:
    value = case["value"]
    net = value["net"]
    roi = value["roi"]
    table(
        "Business case",
        ["measure", "value"],
        [
            ["net value a year (expected)", money(net["expected"])],
            ["net value a year (range)", f"{money(net['low'])} to {money(net['high'])}"],
            ["running cost a year", money(value["annual_cost"])],
            ["return on cost", "" if roi is None else f"{roi:.0%}"],
            ["data readiness", f"{case['readiness']['value']:.0f}/100"],
            ["adoption feasibility", f"{case['feasibility']['value']:.0f}/100"],
            ["risk", f"{case['risk_score']}/25 ({case['risk_level']})"],
            ["priority", money(case["priority"])],
        ],
    )
    for reason in case["reasons"]:
        out.print(f"- {reason}")


@usecase_app.command("edit")
@handles_errors
def usecase_edit(
    key: str = KEY,
    sets: list[str] = typer.Option(
        [], "--set", help="FIELD=VALUE (repeatable), e.g. readiness.data_available=3."
    ),
    from_file: Path | None = typer.Option(None, "--from-file", help="Read the changes from JSON or YAML."),
    fmt: Fmt = FORMAT,
) -> None:
    """Change fields of a use case; objects (value, readiness, feasibility) merge field by field."""
    changes = read_object(from_file, "a JSON object of the fields to change") if from_file else {}
    changes = {**changes, **parse_sets(sets)}
    if not changes:
        raise UsageError("nothing to change", fix="give --set FIELD=VALUE or --from-file changes.json")
    by = operator()
    with open_workspace().lifecycle(by) as lc:
        current = lc.get(by, key).to_dict()
        uc = lc.update(by, key, _merged(current, changes))
        view = lc.view(by, uc.key)
    if fmt is Fmt.json:
        emit_json(view.to_dict())
        return
    out.print(f"Updated use case {uc.key}: {', '.join(sorted(changes))}.")


@usecase_app.command("rank")
@handles_errors
def usecase_rank(fmt: Fmt = FORMAT) -> None:
    """The prioritised portfolio: risk-adjusted value x readiness x feasibility, prohibited last."""
    by = operator()
    with open_workspace().program(by, readonly=True) as program:
        ranked = program.portfolio(by)
    if fmt is Fmt.json:
        emit_json({"portfolio": ranked})
        return
    table(
        "Portfolio by priority",
        ["rank", "use case", "phase", "priority", "net value", "readiness", "feasibility", "risk", "AI Act"],
        [
            [
                c["rank"],
                c["use_case"],
                c["phase"],
                money(c["priority"]),
                money(c["value"]["net"]["expected"]),
                f"{c['readiness']['value']:.0f}",
                f"{c['feasibility']['value']:.0f}",
                f"{c['risk_score']} {c['risk_level']}",
                _tier_text(c["ai_act_rule"], c["ai_act_tier"]),
            ]
            for c in ranked
        ],
    )


@usecase_app.command("tier")
@handles_errors
def usecase_tier(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """The EU AI Act tier: the rule that decided it, why, and the obligations that follow."""
    by = operator()
    with open_workspace().lifecycle(by, readonly=True) as lc:
        uc = lc.get(by, key)
    decision = ai_act.classify(uc.ai_act)
    if fmt is Fmt.json:
        emit_json({"use_case": uc.key, **decision.to_dict()})
        return
    out.print(f"[bold]{uc.key}[/]: EU AI Act tier [bold]{decision.tier.value}[/]")
    out.print(f"Rule: {decision.rule or 'none matched'}")
    out.print(f"Reason: {decision.reason}")
    if decision.fired:
        table(
            "Matched rules",
            ["rule", "tier", "practice"],
            [[f.rule, f.tier.value, f.practice] for f in decision.fired],
        )
    out.print("Obligations:")
    for line in decision.obligations:
        out.print(f"- {line}")
    out.print("This is decision support, not legal advice: a lawyer confirms a high or borderline tier.")


@usecase_app.command("assign")
@handles_errors
def usecase_assign(
    key: str = KEY,
    role: str = typer.Option(..., "--role", help="A framework role, e.g. data-engineer."),
    person: str = typer.Option(..., "--person", help="A login or a name."),
) -> None:
    """Name a person for a role on the use case (the stakeholder map)."""
    by = operator()
    with open_workspace().lifecycle(by) as lc:
        lc.assign(by, key, role, person)
    out.print(f"{person.strip()} is {role} on {key}.")


@usecase_app.command("unassign")
@handles_errors
def usecase_unassign(
    key: str = KEY,
    role: str = typer.Option(..., "--role", help="The role the person holds."),
    person: str = typer.Option(..., "--person", help="A login or a name."),
) -> None:
    """Remove a person from a role on the use case."""
    by = operator()
    with open_workspace().lifecycle(by) as lc:
        lc.unassign(by, key, role, person)
    out.print(f"{person} is no longer {role} on {key}.")


@usecase_app.command("stakeholders")
@handles_errors
def usecase_stakeholders(key: str = KEY, fmt: Fmt = FORMAT) -> None:
    """Who holds each role, and the phases where a Responsible or Accountable role has nobody."""
    by = operator()
    with open_workspace().lifecycle(by, readonly=True) as lc:
        lc.get(by, key)
        assigned = lc.repo.stakeholders(key)
    rows = raci.stakeholder_map(assigned)
    if fmt is Fmt.json:
        emit_json({"use_case": key, "assigned": {r: list(p) for r, p in assigned.items()}, "map": rows})
        return
    roles = dict.fromkeys(r["role"] for r in rows)
    table(
        f"Stakeholders of {key}",
        ["role", "people", "responsible in phases", "accountable in phases"],
        [
            [
                role,
                ", ".join(assigned.get(role, ())) or "nobody",
                ", ".join(str(r["phase"]) for r in rows if r["role"] == role and r["raci"] == "R"),
                ", ".join(str(r["phase"]) for r in rows if r["role"] == role and r["raci"] == "A"),
            ]
            for role in roles
        ],
    )
    gaps = [r for r in rows if r["unstaffed"]]
    if gaps:
        out.print(
            "Unstaffed: "
            + "; ".join(f"phase {r['phase']} {r['role']} ({r['raci_name']})" for r in gaps)
            + f". Fix: paceline usecase assign {key} --role ROLE --person NAME"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(usecase_app, name="usecase")
