"""A use case's deployment playbook: what was decided, signed, built and measured, in order.

The playbook is rendered from the use-case page document (``ProgramService.page``) and from
nothing else, so the same records always give the same playbook (no clock, no lookup): it
can be regenerated, diffed and archived. :func:`sections` gives its structure, which the web
page shows as HTML; :func:`render_markdown` writes the same sections as Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from paceline.domain.usecases import PHASE_TITLES, Phase

DASH = "\u2013"


@dataclass(frozen=True)
class Table:
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    """A numbered part of the playbook: paragraphs, then a list, then a table (each optional)."""

    title: str
    anchor: str
    text: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    table: Table | None = None
    empty: str = ""  # said when the section has nothing recorded


@dataclass(frozen=True)
class Playbook:
    title: str
    intro: tuple[str, ...]
    sections: tuple[Section, ...] = field(default_factory=tuple)


def _money(x: float | None) -> str:
    return DASH if x is None else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:.1f}%"


def _text(value: Any) -> str:
    return DASH if value is None or value == "" else str(value)


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table | None:
    body = tuple(tuple(_text(c) for c in row) for row in rows)
    return Table(tuple(head), body) if body else None


def _phase(n: int) -> str:
    return f"phase {n}, {PHASE_TITLES[Phase(n)]}"


def _summary(page: dict[str, Any]) -> tuple[str, ...]:
    uc = page["use_case"]
    facts = [
        f"Owner: {uc['owner']}",
        f"process: {_text(uc['business_process'])}",
        f"department: {_text(uc['department'])}",
        f"geography: {_text(uc['geography'])}",
        f"people affected: {uc['people_affected']}",
    ]
    lines = ["; ".join(facts) + "."]
    if uc.get("goal"):
        lines.append(f"Goal: {uc['goal']}")
    live = f", live since {uc['go_live']}" if uc.get("go_live") else ""
    lines.append(f"Current {_phase(uc['phase'])} (status {uc['status']}{live}).")
    if uc.get("data_categories"):
        lines.append(f"Data touched: {', '.join(uc['data_categories'])}.")
    return tuple(lines)


def _business_case(page: dict[str, Any]) -> Section:
    bc = page["business_case"]
    net, value = bc["value"]["net"], bc["value"]
    roi = f"{value['roi']:.1f}x the running cost" if value["roi"] is not None else DASH
    text = (
        f"Expected net value {_money(net['expected'])} a year (range {_money(net['low'])} to "
        f"{_money(net['high'])}) after a running cost of {_money(value['annual_cost'])}; return {roi}.",
        f"Data readiness {bc['readiness']['value']:.0f}/100, adoption feasibility "
        f"{bc['feasibility']['value']:.0f}/100, risk {bc['risk_score']}/25 ({bc['risk_level']}), "
        f"priority score {bc['priority']:,.0f}.",
    )
    return Section("Business case", "business-case", text, tuple(bc["reasons"]))


def _ai_act(page: dict[str, Any]) -> Section:
    act = page["ai_act"]
    text = (f"Risk tier {act['tier']} (rule {act['rule']}): {act['reason']}.",)
    return Section("EU AI Act obligations", "ai-act", text, tuple(act["obligations"]))


def _people(page: dict[str, Any]) -> Section:
    roles: dict[str, dict[str, Any]] = {}
    for row in page["stakeholders"]:
        entry = roles.setdefault(row["role"], {"people": row["people"], "R": [], "A": []})
        if row["raci"] in ("R", "A"):
            entry[row["raci"]].append(str(row["phase"]))
    rows = [
        (role, ", ".join(e["people"]) or "nobody named", ", ".join(e["A"]) or DASH, ", ".join(e["R"]) or DASH)
        for role, e in roles.items()
    ]
    table = _table(("Role", "People", "Accountable in phases", "Responsible in phases"), rows)
    return Section("Roles and people", "stakeholders", table=table)


def _phases(page: dict[str, Any]) -> Section:
    current = page["use_case"]["phase"]
    state = {-1: "done", 0: "current", 1: "ahead"}
    items = tuple(
        f"Phase {p}, {PHASE_TITLES[Phase(p)]}: {state[(p > current) - (p < current)]}" for p in range(1, 7)
    )
    rows = [
        (
            (t.get("decided_at") or "")[:10],
            t["move"],
            f"{t['from_phase']} → {t['to_phase']}",
            t.get("decided_by", ""),
            "override" if t["overridden"] else ("passed" if t["passed"] else DASH),
            t["justification"],
        )
        for t in page["history"]
    ]
    table = _table(("Date", "Move", "Phases", "By", "Gate", "Justification"), rows)
    text = () if rows else ("No gate decision recorded yet.",)
    return Section("Phases and gate decisions", "history", text, items, table)


def _deliverables(page: dict[str, Any]) -> Section:
    rows = [(d["phase"], d["title"], d["status"], d["owner"], d["link"]) for d in page["deliverables"]]
    return Section(
        "Deliverables",
        "deliverables",
        table=_table(("Phase", "Deliverable", "Status", "Owner", "Link"), rows),
    )


def _checkpoints(page: dict[str, Any]) -> Section:
    rows = []
    for c in page["checkpoints"]:
        s = c["signoff"]
        signed = f"{s['by']} ({s['role']}) on {s['at'][:10]}" if s else "not signed"
        rows.append((c["title"], c["stage"], " or ".join(c["roles"]), signed, s["note"] if s else ""))
    table = _table(("Checkpoint", "Stage", "Signed by role", "Signed", "Note"), rows)
    return Section("Change-control sign-offs", "checkpoints", table=table)


def _pilots(page: dict[str, Any]) -> Section:
    items = tuple(
        f"{p['name']}: {p['verdict'] or 'not judged yet'}"
        + (f" — {p['reasons'][0]}" if p.get("reasons") else "")
        for p in page["pilots"]
    )
    return Section("Pilots", "pilots", items=items, empty="No pilot recorded.")


def _requirements(page: dict[str, Any]) -> Section:
    rows = [
        (r["kind"], r["title"], r["target"], r["measured"], "met" if r["met"] else "not met")
        for r in page["requirements"]
    ]
    table = _table(("Kind", "Requirement", "Target", "Measured", "Met"), rows)
    return Section("Architecture requirements", "requirements", table=table, empty="No requirement recorded.")


def _technology(page: dict[str, Any]) -> Section:
    rows = [
        (
            o["rank"],
            o["name"] + (" (selected)" if o["selected"] else ""),
            o["kind"],
            f"{o['score']:.0f}/100",
            o["weakest"],
            _money(o["cost"]["total"]),
        )
        for o in page["options"]
    ]
    table = _table(("Rank", "Option", "Kind", "Score", "Weakest", "Annual cost"), rows)
    return Section("Technology", "technology", table=table, empty="No option assessed.")


def _risks(page: dict[str, Any]) -> Section:
    rows = [
        (
            r["title"],
            r["category"],
            f"{r['inherent_score']} ({r['inherent_level']})",
            f"{r['residual_score']} ({r['residual_level']})",
            r["status"],
            r["owner"],
            r["mitigation"],
        )
        for r in page["risks"]["risks"]
    ]
    head = ("Risk", "Category", "Inherent", "Residual", "Status", "Owner", "Mitigation")
    text = (page["risks"]["summary"]["sentence"],)
    return Section("Risks and mitigations", "risks", text, table=_table(head, rows))


def _training(page: dict[str, Any]) -> Section:
    rows = [
        (c["course"], c["enrolled"], c["completed"], c["assessed"], c["passed"])
        for c in page["training"]["courses"]
    ]
    table = _table(("Course", "Enrolled", "Completed", "Assessed", "Passed"), rows)
    return Section("Training", "training", table=table, empty="No learning records.")


def _operations(page: dict[str, Any]) -> Section:
    live = page["use_case"].get("go_live")
    text = (f"Go-live: {live}.",) if live else ()
    reviews = [
        (
            r["kind"],
            r["due"],
            (r.get("completed_at") or "")[:10] or "open",
            r.get("outcome"),
            r.get("summary"),
        )
        for r in page["reviews"]
    ]
    figures = [
        (f["metric"], _pct(f["value"]), f"{f['period_start']} to {f['period_end']}", f["source"])
        for f in page["ops_figures"]
    ]
    items = tuple(f"{m} {v} ({p}, {s})" for m, v, p, s in figures)
    table = _table(("Review", "Due", "Completed", "Outcome", "Summary"), reviews)
    return Section("Go-live, reviews and operations", "reviews", text, items, table, "Not live yet.")


def _next_gate(page: dict[str, Any]) -> Section:
    gate = page["gate"]
    rows = [(c["title"], c["status"], c["reason"]) for c in gate["checks"]]
    return Section(
        "Next gate", "gate", (gate["summary"] + ".",), table=_table(("Check", "Status", "Reason"), rows)
    )


def sections(page: dict[str, Any]) -> Playbook:
    """The playbook of the use case whose page document is *page*."""
    uc = page["use_case"]
    parts = (
        _business_case(page),
        _ai_act(page),
        _people(page),
        _phases(page),
        _deliverables(page),
        _checkpoints(page),
        _pilots(page),
        _requirements(page),
        _technology(page),
        _risks(page),
        _training(page),
        _operations(page),
        _next_gate(page),
    )
    return Playbook(f"Deployment playbook: {uc['title']} ({uc['key']})", _summary(page), parts)


def _cell(value: str) -> str:
    return " ".join(value.replace("|", "\\|").split())


def _markdown_table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in table.head) + " |", "|" + "---|" * len(table.head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return lines


def render_markdown(page: dict[str, Any]) -> str:
    """The playbook as Markdown: the same page document always gives the same text."""
    book = sections(page)
    lines = [f"# {book.title}", "", *(line for text in book.intro for line in (text, ""))]
    for number, section in enumerate(book.sections, start=1):
        lines += [f"## {number}. {section.title}", ""]
        for text in section.text:
            lines += [text, ""]
        if section.items:
            lines += [*(f"- {' '.join(item.split())}" for item in section.items), ""]
        if section.table is not None:
            lines += [*_markdown_table(section.table), ""]
        if not (section.text or section.items or section.table) and section.empty:
            lines += [section.empty, ""]
    return "\n".join(lines).rstrip("\n") + "\n"
