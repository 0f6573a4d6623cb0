"""Pilot records: creating, reading and listing pilots, with permission checks.

Storage is reached through :class:`PilotRepository`; the record is the validated
:class:`PilotSpec`, so every surface (CLI, API, web form) enforces the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from paceline.domain.pilots import (
    Acceptance,
    Design,
    DurationEstimand,
    Guardrail,
    PilotSpec,
    PrimaryKpi,
    Unit,
    validate,
)
from paceline.domain.roles import Action
from paceline.errors import Conflict, NotFound, ValidationError
from paceline.services.access import Principal
from paceline.services.parsing import parse_choice, parse_date


@dataclass(frozen=True)
class PilotRecordView:
    """A stored pilot: its plan, status and who created it."""

    spec: PilotSpec
    status: str
    created_by: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.spec.to_dict(),
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }


class PilotRepository(Protocol):
    def get(self, name: str) -> PilotRecordView | None: ...
    def add(self, spec: PilotSpec, created_by: str) -> PilotRecordView: ...
    def list(self, use_case: str | None) -> list[PilotRecordView]: ...
    def set_status(self, name: str, status: str) -> None: ...


def spec_from_dict(doc: dict[str, Any]) -> PilotSpec:
    """A :class:`PilotSpec` from its JSON form (API bodies, stored records), validated."""
    try:
        spec = PilotSpec(
            name=str(doc["name"]),
            use_case=str(doc["use_case"]),
            hypothesis=str(doc.get("hypothesis", "")),
            design=parse_choice(Design, doc.get("design", "randomised"), "design"),
            treatment_cohorts=tuple(doc.get("treatment_cohorts", ())),
            control_cohorts=tuple(doc.get("control_cohorts", ())),
            start=_day(doc.get("start"), "start"),
            end=_day(doc.get("end"), "end"),
            primary=tuple(
                PrimaryKpi(p["kpi"], float(p["target_effect_pct"])) for p in doc.get("primary", ())
            ),
            guardrails=tuple(Guardrail(g["kpi"], float(g["margin_pct"])) for g in doc.get("guardrails", ())),
            acceptance=tuple(Acceptance(a["kpi"], float(a["minimum"])) for a in doc.get("acceptance", ())),
            unit=parse_choice(Unit, doc.get("unit", "person"), "unit"),
            duration_estimand=parse_choice(
                DurationEstimand, doc.get("duration_estimand", "log"), "duration_estimand"
            ),
            alpha=float(doc.get("alpha", 0.05)),
            weekly_looks=int(doc.get("weekly_looks", 0)),
            baseline_start=_day(doc["baseline_start"], "baseline_start")
            if doc.get("baseline_start")
            else None,
            notes=str(doc.get("notes", "")),
        )
    except KeyError as exc:
        raise ValidationError(
            f"{exc.args[0]} is required",
            field=str(exc.args[0]),
            fix="see docs/pilots.md for the fields of a pilot",
        ) from None
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"the pilot is not well formed: {exc}", fix="see docs/pilots.md") from None
    return validate(spec)


def _day(value: Any, name: str) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValidationError(f"{name} is required", field=name, fix="write dates as YYYY-MM-DD")
    return parse_date(value, name)


class PilotService:
    """Create and read pilots; writing needs ``pilot.manage`` on the pilot's use case."""

    def __init__(self, repo: PilotRepository) -> None:
        self.repo = repo

    def create(self, by: Principal, spec: PilotSpec) -> PilotRecordView:
        by.require(Action.PILOT_MANAGE, spec.use_case)
        validate(spec)
        if self.repo.get(spec.name) is not None:
            raise Conflict(f"a pilot named {spec.name!r} exists already", fix="choose another name")
        return self.repo.add(spec, by.actor)

    def get(self, by: Principal, name: str) -> PilotRecordView:
        found = self.repo.get(name)
        if found is None:
            raise NotFound(f"no pilot {name!r}", fix="list them with 'paceline pilot list'")
        by.require(Action.READ, found.spec.use_case)
        return found

    def record_evaluation(self, by: Principal, name: str, verdict: str) -> None:
        """Mark the pilot evaluated with its latest verdict (audited like every change)."""
        by.require(Action.PILOT_MANAGE, self.get(by, name).spec.use_case)
        self.repo.set_status(name, f"evaluated: {verdict}")

    def list(self, by: Principal, use_case: str | None = None) -> list[PilotRecordView]:
        return [p for p in self.repo.list(use_case) if by.can(Action.READ, p.spec.use_case)]
