"""The worker-information notice and the data-protection note of a use case, from its record.

Both say what Paceline measures about the work, at what aggregation, and who sees it: the
KPIs computed for the use case (cohort and team figures, weekly, groups under the minimum
size suppressed, person ids pseudonymised), the review items and who decides them, the EU AI
Act tier, the data categories and how long each kind of record is kept. The text is built
from the record and the workspace's settings only, so it changes when they change; the notice
issued to workers is stored as the hash of the exact text (``paceline governance notice --issue``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from paceline.domain.ai_act import TierDecision
from paceline.domain.kpis import KpiDefinition
from paceline.domain.redaction import is_sensitive
from paceline.domain.usecases import UseCase

KINDS = ("worker", "data-protection")


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for s in self.sections:
            lines += [f"## {s.heading}", ""]
            for p in s.paragraphs:
                lines += [p, ""]
            if s.bullets:
                lines += [f"- {b}" for b in s.bullets] + [""]
        return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class NoticeFacts:
    """What the notice needs besides the use case: settings, tier, KPIs, workflows and retention."""

    tier: TierDecision
    kpis: Sequence[KpiDefinition]
    min_group_size: int
    workflows: Sequence[str] = ()
    retention: dict[str, int | None] = field(default_factory=dict)  # table -> days (None: kept)
    readers: Sequence[str] = ()  # the roles that may read the use case's figures


def _what(uc: UseCase, facts: NoticeFacts) -> Section:
    goal = uc.goal or uc.title
    where = ", ".join(x for x in (uc.business_process, uc.department, uc.geography) if x)
    text = f"{goal}." + (f" It is used in {where}." if where else "")
    tier = facts.tier
    act = f"Under the EU AI Act it is classed as {tier.tier.value} risk ({tier.rule}): {tier.reason}."
    return Section("What the AI system does", (text, act))


def _measured(uc: UseCase, facts: NoticeFacts) -> Section:
    bullets = tuple(f"{k.title}: {k.description}" for k in facts.kpis)
    k = facts.min_group_size
    aggregation = (
        f"Figures are computed for the whole use case, for teams and for cohorts, by week or month. "
        f"Any group with fewer than {k} people is suppressed and shown as such. There is no "
        f"figure, ranking or leaderboard of an individual worker."
    )
    pseudonyms = (
        "Person identifiers are replaced by a keyed pseudonym when the data is loaded; the names "
        "behind them are not stored in Paceline's analytics."
    )
    return Section("What is measured, and at what aggregation", (aggregation, pseudonyms), bullets)


def _review(uc: UseCase, facts: NoticeFacts) -> Section:
    if not facts.workflows:
        return Section(
            "Human review", ("No Paceline workflow runs this use case's cases; no review items are kept.",)
        )
    names = ", ".join(facts.workflows)
    text = (
        f"The workflow(s) {names} show the AI's suggestion to a person, who accepts, edits, overrides or "
        "rejects it. Each decision is kept with what the reviewer was shown, as the record of human "
        "oversight and as labels to improve the model."
    )
    extra: tuple[str, ...] = ()
    if is_sensitive(c.value for c in uc.data_categories):
        extra = (
            "Because the use case handles health or biometric data, names, e-mail addresses, phone "
            "numbers, record and account numbers are redacted before review items are stored, and only "
            "reviewers with a grant for this use case and a current training completion may decide them.",
        )
    return Section("Human review", (text, *extra))


def _who(facts: NoticeFacts) -> Section:
    readers = ", ".join(facts.readers) or "no one yet"
    return Section(
        "Who sees it",
        (
            f"People holding these Paceline roles for this use case see its figures: {readers}.",
            "Reviewers see the items they decide. Security staff and auditors read the audit log of "
            "changes; nobody can change or delete it unnoticed.",
        ),
    )


def _kept(facts: NoticeFacts) -> Section:
    labels = {
        "cases": "cases the AI worked on",
        "review_tasks": "review decisions",
        "step_runs": "the AI's step journal",
    }
    bullets = tuple(
        f"{labels.get(t, t)}: {f'{d} days' if d else 'until a retention policy is set'}"
        for t, d in sorted(facts.retention.items())
        if t in labels
    )
    return Section("How long records are kept", ("The audit log is kept without end.",), bullets)


def _categories(uc: UseCase) -> str:
    return ", ".join(c.value for c in uc.data_categories) or "none recorded"


def worker_notice(uc: UseCase, facts: NoticeFacts) -> Notice:
    """The notice for the workers affected and their representatives (EU AI Act Art. 26(7))."""
    intro = Section(
        "Why you receive this",
        (
            f"{uc.title} uses AI in your work. You are told before it is used, what it does, what is "
            f"measured about the work and who sees it. Questions go to its business owner, {uc.owner}.",
        ),
    )
    sections = (intro, _what(uc, facts), _measured(uc, facts), _review(uc, facts), _who(facts), _kept(facts))
    return Notice("worker", f"Information for workers: {uc.title}", sections)


def data_protection_note(uc: UseCase, facts: NoticeFacts) -> Notice:
    """The data-protection note: purpose, data categories, recipients, safeguards and retention."""
    purpose = Section(
        "Purpose",
        (
            f"To run and evaluate the use case {uc.title} ({uc.key}): {uc.goal or uc.title}. "
            "Workforce figures serve the evaluation of the AI tool, "
            "not the assessment of individual workers.",
        ),
    )
    data = Section(
        "Data processed",
        (
            f"Data categories of the use case: {_categories(uc)}. "
            f"About {uc.people_affected} people are affected.",
        ),
    )
    safeguards = Section(
        "Safeguards",
        bullets=(
            "keyed pseudonyms instead of person identifiers in the analytics",
            f"no figure for a group of fewer than {facts.min_group_size} people",
            "role-based access; every change in a hash-chained audit log",
            *(
                (
                    "redaction of personal data in review items and label exports",
                    "certification-gated review access",
                )
                if is_sensitive(c.value for c in uc.data_categories)
                else ()
            ),
        ),
    )
    sections = (purpose, data, _measured(uc, facts), _who(facts), safeguards, _kept(facts))
    return Notice("data-protection", f"Data-protection note: {uc.title}", sections)


def build(kind: str, uc: UseCase, facts: NoticeFacts) -> Notice:
    return worker_notice(uc, facts) if kind == "worker" else data_protection_note(uc, facts)
