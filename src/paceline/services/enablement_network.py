"""The people side of enablement: champions per team, team goals with their progress from the KPIs,
frontline review sessions on a schedule, and the change log every stakeholder may read.

Writes need ``training.record`` (the people/HR role, program managers); reads need read access
to the use case. A goal is refused for a team of fewer than ``min_group_size`` people of the
use case: a goal of so small a team would be an individual target in all but name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Protocol

from paceline.domain import enablement_fields, frontline
from paceline.domain.enablement import coverage, goal_met, goal_progress, parse_champion, parse_goal
from paceline.domain.kpis import Grain
from paceline.domain.roles import Action
from paceline.domain.usecases import Phase
from paceline.errors import NotFound, ValidationError
from paceline.services import roster
from paceline.services.access import Principal
from paceline.services.kpi import KpiResult
from paceline.services.kpi_frames import KpiQuery

RunKpi = Callable[[KpiQuery], KpiResult]


class NetworkRepository(Protocol):
    def champions(self, use_case: str | None = None) -> list[dict[str, Any]]: ...
    def save_champion(self, doc: dict[str, Any], by: str) -> dict[str, Any]: ...
    def retire_champion(self, champion_id: int, by: str) -> bool: ...
    def goals(self, use_case: str | None = None) -> list[dict[str, Any]]: ...
    def save_goal(self, doc: dict[str, Any], by: str) -> None: ...
    def sessions(self, use_case: str | None = None) -> list[dict[str, Any]]: ...
    def plan_sessions(
        self, use_case: str, team: str, days: list[date], cadence: str, champion_id: int | None, by: str
    ) -> int: ...
    def review_session(self, session_id: int) -> dict[str, Any] | None: ...
    def record_session(self, session_id: int, doc: dict[str, Any], by: str) -> dict[str, Any] | None: ...
    def change_entries(self, entities: tuple[str, ...], limit: int) -> list[dict[str, Any]]: ...


class NetworkService:
    def __init__(
        self,
        repo: NetworkRepository,
        con: Callable[[], Any],
        run_kpi: RunKpi,
        pseudonymise: Callable[[str], str],
        phase_of: Callable[[str], Phase | None],
        min_group_size: int,
    ) -> None:
        self.repo, self._con, self.run_kpi = repo, con, run_kpi
        self.pseudonymise, self.phase_of, self.k = pseudonymise, phase_of, min_group_size

    def _teams(self, use_case: str) -> dict[str, int]:
        return roster.team_sizes(roster.learners(self._con()), use_case)

    # --- champions --------------------------------------------------------------------------
    def champions(self, by: Principal, use_case: str) -> dict[str, Any]:
        """The champions of a use case, the share of its teams they cover, and the sessions they held."""
        by.require(Action.READ, use_case)
        found = self.repo.champions(use_case)
        held: dict[int, int] = {}
        for s in self.repo.sessions(use_case):
            if s["status"] == "held" and s["champion_id"] is not None:
                held[s["champion_id"]] = held.get(s["champion_id"], 0) + 1
        rows = [
            {k: c[k] for k in ("id", "team", "use_case", "name", "since")}
            | {"sessions_held": held.get(c["id"], 0)}
            for c in found
        ]
        return {
            "use_case": use_case,
            "champions": rows,
            "coverage": coverage(self._teams(use_case), [c["team"] for c in found]).to_dict(),
        }

    def add_champion(self, by: Principal, doc: Any) -> dict[str, Any]:
        by.require(Action.TRAINING_RECORD)
        parsed = parse_champion(doc)
        teams = self._teams(parsed["use_case"])
        if teams and parsed["team"] not in teams:
            raise ValidationError(
                f"team {parsed['team']!r} has nobody assigned to {parsed['use_case']}",
                field="team",
                fix=f"use one of: {', '.join(sorted(teams))}",
            )
        parsed["person_id"] = self.pseudonymise(parsed["person_id"])
        saved = self.repo.save_champion(parsed, by.actor)
        return {k: saved[k] for k in ("id", "team", "use_case", "name", "since")}

    def retire_champion(self, by: Principal, champion_id: int) -> None:
        by.require(Action.TRAINING_RECORD)
        if not self.repo.retire_champion(champion_id, by.actor):
            raise NotFound(f"no active champion {champion_id}", fix="list them with enablement champions")

    # --- team goals ---------------------------------------------------------------------------
    def save_goal(self, by: Principal, doc: Any) -> dict[str, Any]:
        by.require(Action.TRAINING_RECORD)
        goal = parse_goal(doc)
        size = self._teams(goal["use_case"]).get(goal["team"], 0)
        if size < self.k:
            raise ValidationError(
                f"team {goal['team']!r} has {size} people in {goal['use_case']}: a goal needs a team of at "
                f"least {self.k} (min_group_size), or it would be an individual target",
                field="team",
                fix="set the goal for a larger team, or for the whole unit",
            )
        self.repo.save_goal(goal, by.actor)
        return _goal_doc(goal)

    def goals(self, by: Principal, use_case: str, today: date | None = None) -> list[dict[str, Any]]:
        """Each team goal with the team's KPI now, at its baseline, progress and whether it is met."""
        by.require(Action.READ, use_case)
        today = today or date.today()
        out = []
        for g in self.repo.goals(use_case):
            since, due = date.fromisoformat(g["since"]), date.fromisoformat(g["due"])
            span = due - since
            current = self._team_kpi(g, since, min(due, today))
            baseline = self._team_kpi(g, since - span, since - timedelta(days=1))
            out.append(
                _goal_doc(g)
                | {
                    "current": current,
                    "baseline": baseline,
                    "progress": goal_progress(g["kpi"], baseline, g["target"], current),
                    "met": goal_met(g["kpi"], g["target"], current),
                    "open": today <= due,
                }
            )
        return out

    def _team_kpi(self, goal: dict[str, Any], since: date, until: date) -> float | None:
        if until < since:
            return None
        query = KpiQuery(
            goal["kpi"], goal["use_case"], (), Grain.TOTAL, since, until, filters={"team": goal["team"]}
        )
        rows = [r for r in self.run_kpi(query).rows if not r["suppressed"] and r["value"] is not None]
        return float(rows[0]["value"]) if rows else None

    # --- frontline review sessions ---------------------------------------------------------------
    def plan_sessions(
        self,
        by: Principal,
        use_case: str,
        start: date,
        until: date,
        team: str = "",
        cadence: str | None = None,
        champion_id: int | None = None,
    ) -> dict[str, Any]:
        """Plan sessions weekly while the use case is piloted and enabled, monthly at scale (or as given)."""
        by.require(Action.TRAINING_RECORD)
        phase = self.phase_of(use_case)
        if cadence is None:
            rhythm = frontline.cadence_for(phase or Phase.PILOT)
        else:
            rhythm = enablement_fields.choice({"cadence": cadence}, "cadence", frontline.Cadence)
        if champion_id is not None and champion_id not in {c["id"] for c in self.repo.champions(use_case)}:
            raise NotFound(f"no active champion {champion_id} for {use_case}", field="champion")
        days = frontline.schedule(start, until, rhythm)
        added = self.repo.plan_sessions(use_case, team, days, rhythm.value, champion_id, by.actor)
        return {
            "use_case": use_case,
            "team": team,
            "cadence": rhythm.value,
            "planned": added,
            "days": len(days),
        }

    def record_session(self, by: Principal, session_id: int, doc: Any) -> dict[str, Any]:
        by.require(Action.TRAINING_RECORD)
        if self.repo.review_session(session_id) is None:
            raise NotFound(f"no session {session_id}", fix="list them with enablement sessions")
        result = self.repo.record_session(session_id, frontline.parse_session_result(doc), by.actor)
        assert result is not None
        return result

    def sessions(self, by: Principal, use_case: str, today: date | None = None) -> dict[str, Any]:
        by.require(Action.READ, use_case)
        found = self.repo.sessions(use_case)
        summary = frontline.summarise_sessions(found, today or date.today())
        return {"use_case": use_case, "summary": summary.to_dict(), "sessions": found}

    # --- the change log ------------------------------------------------------------------------
    def change_log(self, by: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """Model stage changes and workflow flag changes, newest first, in plain words."""
        by.require(Action.READ)
        if not 1 <= limit <= 1000:
            raise ValidationError(f"limit {limit} is out of range", field="limit", fix="give 1 to 1000")
        entries = self.repo.change_entries(frontline.CHANGE_ENTITIES, limit)
        return [c.to_dict() for e in entries if (c := frontline.change_entry(e)) is not None]


def _goal_doc(g: dict[str, Any]) -> dict[str, Any]:
    out = {k: g[k] for k in ("key", "team", "use_case", "kpi", "kind", "target", "incentive")}
    out |= {k: g[k].isoformat() if isinstance(g[k], date) else g[k] for k in ("since", "due")}
    return out
