"""The deployment playbook: a pure, reproducible rendering of the use-case page document."""

from __future__ import annotations

import copy
from typing import Any

from paceline.domain import ai_act, portfolio, raci
from paceline.domain.phases import CHECKPOINTS, DELIVERABLES
from paceline.domain.usecases import Phase, UseCase, ValueInputs
from paceline.services.playbook import render_markdown, sections

JUSTIFICATION = "Committee accepted | the pilot data\nwas thin"


def page_doc() -> dict[str, Any]:
    """A use-case page document as ``ProgramService.page`` builds it, for a use case in phase 3."""
    uc = UseCase(
        key="claims-triage",
        title="Claims triage",
        owner="bo",
        business_process="claims intake",
        department="claims",
        goal="Halve the backlog",
        phase=Phase.SELECT,
        people_affected=60,
        value=ValueInputs(
            volume_per_year=1000,
            minutes_per_task=30,
            cost_per_hour=50,
            uplift_expected=0.2,
            uplift_high=0.3,
            annual_cost=1000,
        ),
        ai_act=("interacts_with_people",),
    )
    tier = ai_act.classify(uc.ai_act)
    signed = {
        "check": "business_case_approved",
        "by": "user:bo",
        "role": "business-owner",
        "at": "2025-03-01T10:00:00+00:00",
        "note": "board | ok",
    }
    return {
        "use_case": {
            **uc.to_dict(),
            "go_live": None,
            "ai_act_tier": tier.tier.value,
            "ai_act_rule": tier.rule,
        },
        "business_case": portfolio.business_case(uc).to_dict(),
        "ai_act": tier.to_dict(),
        "gate": {
            "move": "advance",
            "from_phase": 3,
            "to_phase": 4,
            "passed": False,
            "summary": "phase 3 → 4 blocked: 0 failed, 1 pending of 1 checks",
            "checks": [
                {
                    "rule": "technology_selected",
                    "title": "A technology option is selected",
                    "kind": "automated",
                    "status": "pending",
                    "reason": "0 option(s) assessed, none selected",
                    "evidence": [],
                    "roles": [],
                }
            ],
            "blocking": ["technology_selected"],
        },
        "history": [
            {
                "move": "advance",
                "from_phase": 1,
                "to_phase": 2,
                "passed": True,
                "overridden": False,
                "justification": "",
                "decided_by": "user:pm",
                "decided_at": "2025-02-01T09:00:00",
            },
            {
                "move": "advance",
                "from_phase": 2,
                "to_phase": 3,
                "passed": False,
                "overridden": True,
                "justification": JUSTIFICATION,
                "decided_by": "user:pm",
                "decided_at": "2025-03-02T09:00:00",
            },
        ],
        "deliverables": [
            {
                "key": d.key,
                "status": "done" if d.phase == 1 else "missing",
                "owner": d.owner_role.value,
                "link": "",
                "title": d.title,
                "phase": int(d.phase),
                "source": d.source,
            }
            for d in DELIVERABLES
        ],
        "checkpoints": [
            {
                "key": c.key,
                "title": c.title,
                "stage": c.stage.value,
                "roles": [r.value for r in c.roles],
                "before": int(c.before),
                "signoff": signed if c.key == "business_case_approved" else None,
            }
            for c in CHECKPOINTS
        ],
        "stakeholders": raci.stakeholder_map({"business-owner": ["bo"], "security": ["sec"]}),
        "requirements": [
            {
                "id": 1,
                "kind": "latency",
                "title": "p95",
                "target": "< 2 s",
                "measured": "1.4 s",
                "met": True,
                "verified_by": "user:ml",
            }
        ],
        "options": [],
        "risks": {"risks": [], "summary": {"sentence": "No live risks in the register."}},
        "reviews": [],
        "training": {
            "courses": [{"course": "basics", "enrolled": 3, "completed": 2, "assessed": 2, "passed": 1}]
        },
        "ops_figures": [],
        "pilots": [{"name": "claims-rct", "verdict": "adopt", "reasons": ["productivity is up 4%"]}],
    }


def test_the_same_page_gives_the_same_playbook() -> None:
    page = page_doc()
    first = render_markdown(page)
    assert render_markdown(copy.deepcopy(page)) == first
    assert page == page_doc(), "rendering does not change the page document"
    assert first.startswith("# Deployment playbook: Claims triage (claims-triage)\n")
    assert first.endswith("\n") and not first.endswith("\n\n") and "\n\n\n" not in first


def test_the_playbook_has_every_section_in_order() -> None:
    text = render_markdown(page_doc())
    titles = [s.title for s in sections(page_doc()).sections]
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == [f"{i}. {t}" for i, t in enumerate(titles, start=1)]
    assert titles[:3] == ["Business case", "EU AI Act obligations", "Roles and people"]
    assert "Current phase 3, Technology selection and architecture (status proposed)." in text
    assert "Goal: Halve the backlog" in text


def test_decisions_sign_offs_and_records_are_written_down() -> None:
    text = render_markdown(page_doc())
    assert "Risk tier limited (rule Art. 50(1))" in text
    assert "- Tell people they are interacting with an AI system" in text
    assert (
        "| 2025-03-02 | advance | 2 → 3 | user:pm | override | "
        "Committee accepted \\| the pilot data was thin |" in text
    )
    assert (
        "| Business case approved | approval | business-owner | "
        "user:bo (business-owner) on 2025-03-01 | board \\| ok |" in text
    )
    assert "| latency | p95 | < 2 s | 1.4 s | met |" in text
    assert "| basics | 3 | 2 | 2 | 1 |" in text
    assert "- claims-rct: adopt — productivity is up 4%" in text
    assert "- Phase 3, Technology selection and architecture: current" in text
    assert "| business-owner | bo | 1, 2, 4 | \u2013 |" in text


def test_every_table_row_has_as_many_cells_as_its_header() -> None:
    lines = render_markdown(page_doc()).splitlines()
    tables: list[list[str]] = []
    for line in lines:
        if line.startswith("|"):
            if not tables or not lines[lines.index(line) - 1].startswith("|"):
                tables.append([])
            tables[-1].append(line)
    assert len(tables) >= 5
    for table in tables:
        widths = {line.replace("\\|", "").count("|") for line in table}
        assert len(widths) == 1, table


def test_empty_sections_say_so() -> None:
    text = render_markdown(page_doc())
    assert "## 9. Technology\n\nNo option assessed.\n" in text
    assert "No live risks in the register." in text
    assert "Not live yet." in text
    page = page_doc() | {"history": [], "pilots": []}
    text = render_markdown(page)
    assert "No gate decision recorded yet." in text and "No pilot recorded." in text
