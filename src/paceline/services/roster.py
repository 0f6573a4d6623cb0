"""Who the learners are, read from the warehouse: team and job role from ``people``, use cases
and AI switch-on days from ``assignments``, recent use of AI suggestions from ``usage_events``.

These are small per-person tables (one row per person, or per person and use case) that stay
inside the enablement services: what leaves them is aggregated by team with the small-group
rule, or shown to the person themself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from paceline.domain.enablement import Learner

DECISIONS = ("suggestion_accepted", "suggestion_edited", "suggestion_rejected")
RECENT_WEEKS = 4


@dataclass(frozen=True)
class Assignment:
    person_id: str
    use_case: str
    eligible_from: date | None
    ai_enabled_from: date | None


def learners(con: Any) -> dict[str, Learner]:
    """Every person in ``people`` or ``assignments``, with their team, role and use cases."""
    people = con.table("people").select("person_id", "team", "role").to_pyarrow().to_pylist()
    out = {r["person_id"]: Learner(r["person_id"], r["team"], r["role"]) for r in people}
    for a in assignments(con):
        known = out.get(a.person_id) or Learner(a.person_id, None, None)
        if a.use_case not in known.use_cases:
            known = Learner(known.person_id, known.team, known.role, (*known.use_cases, a.use_case))
        out[a.person_id] = known
    return out


def assignments(con: Any, use_case: str | None = None) -> list[Assignment]:
    """One row per person and use case: the first eligible day and the first AI switch-on day."""
    a = con.table("assignments")
    if use_case is not None:
        a = a.filter(a.use_case == use_case)
    rows = (
        a.group_by(["person_id", "use_case"])
        .aggregate(eligible_from=a.eligible_from.min(), ai_enabled_from=a.ai_enabled_from.min())
        .to_pyarrow()
        .to_pylist()
    )
    return [Assignment(r["person_id"], r["use_case"], r["eligible_from"], r["ai_enabled_from"]) for r in rows]


def recent_users(con: Any, use_case: str, weeks: int = RECENT_WEEKS) -> set[str] | None:
    """People who decided on an AI suggestion in the last *weeks* of the use case's usage data.

    None when the use case has no usage data at all (use cannot be told, rather than zero).
    """
    u = con.table("usage_events")
    u = u.filter((u.use_case == use_case) & u.action.isin(list(DECISIONS)))
    last = u.occurred_at.max().to_pyarrow().as_py()
    if last is None:
        return None
    since = last.date() - timedelta(weeks=weeks)
    recent = u.filter(u.occurred_at.date() > since).select("person_id").distinct()
    return set(recent.to_pyarrow().column(0).to_pylist())


def team_sizes(people: dict[str, Learner], use_case: str | None = None) -> dict[str, int]:
    """People per team (of one use case's people, when given)."""
    out: dict[str, int] = {}
    for person in people.values():
        if person.team is None or (use_case is not None and use_case not in person.use_cases):
            continue
        out[person.team] = out.get(person.team, 0) + 1
    return out
