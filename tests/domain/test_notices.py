"""The worker notice and the data-protection note say what is measured, how aggregated, who sees it."""

from __future__ import annotations

from paceline.domain import ai_act
from paceline.domain.kpis import KPIS
from paceline.domain.notices import NoticeFacts, data_protection_note, worker_notice
from paceline.domain.usecases import DataCategory, UseCase

UC = UseCase(
    "clinical-documentation",
    "AI scribe",
    "dr-owner",
    business_process="visit notes",
    department="clinic",
    goal="Draft visit notes for clinicians to sign",
    data_categories=(DataCategory.HEALTH,),
    people_affected=40,
    ai_act=("worker_monitoring_evaluation",),
)
FACTS = NoticeFacts(
    tier=ai_act.classify(UC.ai_act),
    kpis=[k for k in KPIS.values() if k.people_based],
    min_group_size=7,
    workflows=["clinical-documentation"],
    retention={"cases": 365, "review_tasks": None},
    readers=["auditor", "business-owner", "program-manager"],
)


def test_the_worker_notice_from_the_record() -> None:
    md = worker_notice(UC, FACTS).to_markdown()
    assert md.startswith("# Information for workers: AI scribe\n")
    assert "Questions go to its business owner, dr-owner." in md
    assert (
        "fewer than 7 people is suppressed" in md
        and "no figure, ranking or leaderboard of an individual" in md
    )
    assert all(f"- {k.title}: " in md for k in FACTS.kpis)
    assert "auditor, business-owner, program-manager" in md
    assert "names, e-mail addresses, phone numbers" in md  # health data: redaction and certification
    assert (
        "- cases the AI worked on: 365 days" in md
        and "- review decisions: until a retention policy is set" in md
    )
    assert "classed as high risk (Annex III 4(b))" in md


def test_the_data_protection_note_lists_categories_and_safeguards() -> None:
    md = data_protection_note(UC, FACTS).to_markdown()
    assert "Data categories of the use case: health. About 40 people are affected." in md
    assert "- certification-gated review access" in md
    plain = UseCase("claims", "Claims", "bo", data_categories=(DataCategory.FINANCIAL,))
    plain_md = data_protection_note(plain, FACTS).to_markdown()
    assert "certification-gated" not in plain_md and "Data categories of the use case: financial." in plain_md
