"""The model registry: models, versions and their stages, approvals, cards, schedules, retraining.

Permissions follow the model's use case: ``model.register`` (ML engineers, admins) registers
models and versions, edits cards and schedules, asks for stage changes and retraining;
``model.approve`` (business owners, program managers, security, admins) approves or rejects a
move to canary or production, and never one they asked for themselves; ``workspace.read``
reads. Rules of stages, cards and reminders are in :mod:`paceline.domain.model_registry`;
storage is reached through :class:`ModelRepository`, whose rows are audited (each change is a
chained audit entry in the same transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from paceline.domain import model_registry as reg
from paceline.domain.model_registry import Cause, ModelCard, Move, Schedule, Stage, Task
from paceline.domain.roles import Action
from paceline.errors import Conflict, NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal
from paceline.services.parsing import parse_choice

MAX_REASON = 2_000


class ModelRepository(Protocol):
    def use_case_exists(self, key: str) -> bool: ...
    def get_model(self, name: str) -> dict[str, Any] | None: ...
    def list_models(self) -> list[dict[str, Any]]: ...
    def add_model(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def versions(self, model: str) -> list[dict[str, Any]]: ...
    def get_version(self, model: str, version: str) -> dict[str, Any] | None: ...
    def add_version(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def set_stage(self, model: str, version: str, stage: str, at: datetime) -> None: ...
    def set_dates(
        self, model: str, version: str, deprecation: date | None, retirement: date | None
    ) -> None: ...
    def add_stage_change(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def stage_changes(self, model: str) -> list[dict[str, Any]]: ...
    def add_approval(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def get_approval(self, approval_id: int) -> dict[str, Any] | None: ...
    def approvals(self, model: str) -> list[dict[str, Any]]: ...
    def decide_approval(self, approval_id: int, status: str, by: str, at: datetime, note: str) -> None: ...
    def card(self, model: str, version: str) -> dict[str, Any] | None: ...
    def save_card(self, model: str, version: str, card: dict[str, Any], by: str, at: datetime) -> int: ...
    def schedule(self, model: str) -> dict[str, Any] | None: ...
    def save_schedule(
        self, model: str, every_days: int, remind_days_before: int, by: str, at: datetime
    ) -> None: ...
    def add_retraining_request(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def retraining_requests(self, model: str) -> list[dict[str, Any]]: ...
    def close_retraining_requests(self, model: str) -> int: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _reason(text: str, field: str = "reason") -> str:
    """A reason for the record: 5 to 2,000 characters (the error names *field*)."""
    cleaned = (text or "").strip()
    if len(cleaned) < 5:
        raise ValidationError(
            f"say why (at least 5 characters in {field}): it goes into the record",
            field=field,
            fix='e.g. "holdout F1 0.91 vs 0.87; canary clean for 2 weeks"',
        )
    if len(cleaned) > MAX_REASON:
        raise ValidationError(
            f"the {field} is {len(cleaned)} characters long", field=field, fix=f"keep it under {MAX_REASON}"
        )
    return cleaned


@dataclass(frozen=True)
class VersionIn:
    """What registering a version needs: the artifact, its training data and its metrics."""

    version: str
    artifact_uri: str
    artifact_hash: str
    lineage: Mapping[str, Any]
    metrics: Mapping[str, Any]
    trained_at: datetime | None = None
    card: Mapping[str, Any] | None = None  # None: copy the previous version's card
    deprecation_date: date | None = None
    retirement_date: date | None = None


class ModelRegistryService:
    """Reads and changes the registry; every change is permission-checked and audited."""

    def __init__(self, repo: ModelRepository, clock: Callable[[], datetime] = _utcnow) -> None:
        self.repo = repo
        self.clock = clock

    # --- lookups and permissions ----------------------------------------------------------
    def _model(self, by: Principal, name: str, action: Action = Action.READ) -> dict[str, Any]:
        found = self.repo.get_model(name)
        if found is None:
            raise NotFound(f"no model {name!r}", fix="list them with 'paceline model list'")
        by.require(Action.READ, found["use_case"])
        by.require(action, found["use_case"])
        return found

    def _version(self, model: str, version: str) -> dict[str, Any]:
        found = self.repo.get_version(model, version)
        if found is None:
            known = ", ".join(v["version"] for v in self.repo.versions(model)) or "none yet"
            raise NotFound(f"model {model} has no version {version!r}", fix=f"its versions: {known}")
        return found

    def _stages(self, model: str) -> dict[str, Stage]:
        return {v["version"]: Stage(v["stage"]) for v in self.repo.versions(model)}

    def model_info(self, by: Principal, name: str) -> dict[str, Any]:
        """The model's row (use case, task, positive label) after a read check."""
        return self._model(by, name)

    def find(self, by: Principal, name: str) -> dict[str, Any] | None:
        """The model's row if it is registered (after a read check), else None."""
        return self._model(by, name) if self.repo.get_model(name) is not None else None

    # --- registering ---------------------------------------------------------------------
    def register_model(
        self,
        by: Principal,
        name: str,
        use_case: str,
        title: str = "",
        task: str = "multiclass",
        positive_label: str | None = None,
    ) -> dict[str, Any]:
        """Add a model of a use case in the inventory (``binary`` models name their positive class)."""
        reg.check_name(name)
        by.require(Action.MODEL_REGISTER, use_case)
        kind = parse_choice(Task, task, "task")
        if kind is Task.BINARY and not (positive_label or "").strip():
            raise ValidationError(
                "a binary model needs its positive class",
                field="positive_label",
                fix="e.g. --positive failure",
            )
        if kind is Task.MULTICLASS and positive_label:
            raise ValidationError(
                "only binary models have a positive class", field="positive_label", fix="leave it out"
            )
        if not self.repo.use_case_exists(use_case):
            raise NotFound(
                f"no use case {use_case!r} in the inventory", fix="add it with 'paceline usecase add'"
            )
        if self.repo.get_model(name) is not None:
            raise Conflict(f"a model {name!r} exists already", fix="register a new version of it instead")
        doc = {
            "name": name,
            "use_case": use_case,
            "title": (title or name).strip()[:200],
            "task": kind.value,
            "positive_label": positive_label.strip() if positive_label else None,
            "created_by": by.actor,
            "created_at": self.clock(),
        }
        return self.repo.add_model(doc)

    def register_version(self, by: Principal, model: str, spec: VersionIn) -> dict[str, Any]:
        """Add a trained version as a candidate, with its lineage, metrics and card."""
        found = self._model(by, model, Action.MODEL_REGISTER)
        version = reg.check_version(spec.version)
        if self.repo.get_version(model, version) is not None:
            raise Conflict(f"{model} {version} is registered already", fix="use a new version label")
        if not spec.artifact_uri.strip():
            raise ValidationError(
                "name where the artifact is",
                field="artifact_uri",
                fix="e.g. s3://models/claims-router/2.1.0.joblib",
            )
        lineage = reg.parse_lineage(spec.lineage)
        metrics = reg.parse_metrics(spec.metrics)
        self._check_dates(spec.deprecation_date, spec.retirement_date)
        now = self.clock()
        trained = spec.trained_at or now
        if trained.tzinfo is None:
            raise ValidationError(
                "trained_at needs a time zone", field="trained_at", fix="e.g. 2026-05-01T12:00:00+00:00"
            )
        previous = self._latest_card(model)
        card = reg.parse_card(spec.card) if spec.card is not None else previous
        row = self.repo.add_version(
            {
                "model": model,
                "version": version,
                "use_case": found["use_case"],
                "stage": Stage.CANDIDATE.value,
                "artifact_uri": spec.artifact_uri.strip(),
                "artifact_hash": reg.check_sha256(spec.artifact_hash, "artifact_hash"),
                "lineage": lineage.to_dict(),
                "metrics": metrics,
                "trained_at": trained,
                "deprecation_date": spec.deprecation_date,
                "retirement_date": spec.retirement_date,
                "created_by": by.actor,
                "created_at": now,
                "stage_changed_at": now,
            }
        )
        self.repo.save_card(model, version, card.to_dict(), by.actor, now)
        self._record(
            model,
            Move(version, Stage.CANDIDATE, Stage.CANDIDATE, Cause.REGISTERED),
            by.actor,
            None,
            "registered",
            None,
            first=True,
        )
        self.repo.close_retraining_requests(model)
        return row

    def _latest_card(self, model: str) -> ModelCard:
        versions = sorted(self.repo.versions(model), key=lambda v: v["created_at"])
        for v in reversed(versions):
            stored = self.repo.card(model, v["version"])
            if stored is not None:
                return reg.parse_card(stored["card"])
        return ModelCard()

    @staticmethod
    def _check_dates(deprecation: date | None, retirement: date | None) -> None:
        if deprecation and retirement and retirement < deprecation:
            raise ValidationError(
                f"retirement ({retirement}) comes before deprecation ({deprecation})",
                field="retirement_date",
                fix="retire on or after the deprecation date",
            )

    # --- cards and schedules --------------------------------------------------------------
    def update_card(
        self, by: Principal, model: str, version: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change fields of a version's card; returns the card with what it still lacks."""
        self._model(by, model, Action.MODEL_REGISTER)
        self._version(model, version)
        stored = self.repo.card(model, version)
        card = reg.parse_card(changes, reg.parse_card(stored["card"]) if stored else None)
        revision = self.repo.save_card(model, version, card.to_dict(), by.actor, self.clock())
        return {
            "model": model,
            "version": version,
            "revision": revision,
            "card": card.to_dict(),
            "gaps": reg.card_gaps(card),
        }

    def set_schedule(
        self, by: Principal, model: str, every_days: int, remind_days_before: int = 7
    ) -> dict[str, Any]:
        self._model(by, model, Action.MODEL_REGISTER)
        schedule = Schedule(every_days, remind_days_before)
        self.repo.save_schedule(
            model, schedule.every_days, schedule.remind_days_before, by.actor, self.clock()
        )
        return {
            "model": model,
            "every_days": schedule.every_days,
            "remind_days_before": schedule.remind_days_before,
        }

    def set_dates(
        self,
        by: Principal,
        model: str,
        version: str,
        deprecation: date | None = None,
        retirement: date | None = None,
    ) -> dict[str, Any]:
        """Plan a version's deprecation and retirement dates (reminders come from them)."""
        self._model(by, model, Action.MODEL_REGISTER)
        current = self._version(model, version)
        dep = deprecation or (
            date.fromisoformat(current["deprecation_date"]) if current["deprecation_date"] else None
        )
        ret = retirement or (
            date.fromisoformat(current["retirement_date"]) if current["retirement_date"] else None
        )
        self._check_dates(dep, ret)
        self.repo.set_dates(model, version, dep, ret)
        return self._version(model, version)

    # --- stage changes --------------------------------------------------------------------
    def request_stage(
        self, by: Principal, model: str, version: str, target: str, reason: str
    ) -> dict[str, Any]:
        """Move a version, or ask for the move when it needs an approval (canary, production)."""
        self._model(by, model, Action.MODEL_REGISTER)
        row = self._version(model, version)
        stage, to = Stage(row["stage"]), reg.parse_stage(target)
        why = _reason(reason)
        reg.check_move(version, stage, to)
        if not reg.needs_approval(to):
            moves = self._apply(model, version, to, Cause.DIRECT, by.actor, None, why, None)
            return {"model": model, "version": version, "status": "applied", "moves": moves}
        self._require_card(model, version, to)
        if any(a["status"] == "pending" and a["version"] == version for a in self.repo.approvals(model)):
            raise Conflict(
                f"{model} {version} already has a pending stage request",
                fix="approve or reject it first ('paceline model show' lists it)",
            )
        approval = self.repo.add_approval(
            {
                "model": model,
                "version": version,
                "from_stage": stage.value,
                "to_stage": to.value,
                "status": "pending",
                "reason": why,
                "requested_by": by.actor,
                "requested_at": self.clock(),
                "decision_note": "",
            }
        )
        return {"model": model, "version": version, "status": "pending", "approval": approval}

    def _require_card(self, model: str, version: str, to: Stage) -> None:
        stored = self.repo.card(model, version)
        gaps = reg.card_gaps(reg.parse_card(stored["card"]) if stored else ModelCard())
        if gaps:
            raise ValidationError(
                f"{model} {version} cannot go to {to.value}: its model card lacks {', '.join(gaps)}",
                field="card",
                fix=f"fill them in: paceline model card {model} {version} --set {gaps[0]}=...",
            )

    def _approval(
        self, by: Principal, approval_id: int, model: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        found = self.repo.get_approval(approval_id)
        if found is None or (model is not None and found["model"] != model):
            raise NotFound(
                f"no stage request {approval_id}", fix="'paceline model show MODEL' lists its requests"
            )
        owner = self._model(by, found["model"], Action.MODEL_APPROVE)
        if found["status"] != "pending":
            raise Conflict(
                f"stage request {approval_id} is {found['status']} already", fix="ask for the move again"
            )
        return found, owner

    def approve(
        self, by: Principal, approval_id: int, note: str = "", model: str | None = None
    ) -> dict[str, Any]:
        """Approve a pending request (not one's own) and apply it, with the demotion it causes.

        With *model*, the request must be one of that model's (the API's path names it).
        """
        request, _ = self._approval(by, approval_id, model)
        problem = reg.approval_problem(request["requested_by"], by.actor)
        if problem:
            raise PermissionDenied(
                problem, action=Action.MODEL_APPROVE.value, fix="ask another person who holds model.approve"
            )
        model, version = request["model"], request["version"]
        current = Stage(self._version(model, version)["stage"])
        if current.value != request["from_stage"]:
            raise Conflict(
                f"{model} {version} moved to {current.value} since the request ({request['from_stage']})",
                fix="reject this request and ask again",
            )
        to = Stage(request["to_stage"])
        self._require_card(model, version, to)
        now = self.clock()
        self.repo.decide_approval(approval_id, "approved", by.actor, now, note.strip())
        moves = self._apply(
            model,
            version,
            to,
            Cause.APPROVED,
            request["requested_by"],
            by.actor,
            request["reason"],
            approval_id,
        )
        return {
            "model": model,
            "version": version,
            "status": "approved",
            "approval_id": approval_id,
            "moves": moves,
        }

    def reject(self, by: Principal, approval_id: int, note: str, model: str | None = None) -> dict[str, Any]:
        request, _ = self._approval(by, approval_id, model)
        self.repo.decide_approval(approval_id, "rejected", by.actor, self.clock(), _reason(note, "note"))
        return {
            "model": request["model"],
            "version": request["version"],
            "status": "rejected",
            "approval_id": approval_id,
        }

    def deprecate(self, by: Principal, model: str, version: str, reason: str) -> dict[str, Any]:
        return self.request_stage(by, model, version, Stage.DEPRECATED.value, reason)

    def retire(self, by: Principal, model: str, version: str, reason: str) -> dict[str, Any]:
        return self.request_stage(by, model, version, Stage.RETIRED.value, reason)

    def _apply(
        self,
        model: str,
        version: str,
        to: Stage,
        cause: Cause,
        requested_by: str,
        approved_by: str | None,
        reason: str,
        approval_id: int | None,
    ) -> list[dict[str, Any]]:
        moves = reg.plan_moves(self._stages(model), version, to, cause)
        for move in moves:
            why = reason if move.version == version else f"superseded by {version} in production"
            self._record(model, move, requested_by, approved_by, why, approval_id)
        return [
            {"version": m.version, "from": m.from_stage.value, "to": m.to_stage.value, "cause": m.cause.value}
            for m in moves
        ]

    def _record(
        self,
        model: str,
        move: Move,
        requested_by: str,
        approved_by: str | None,
        reason: str,
        approval_id: int | None,
        first: bool = False,
    ) -> None:
        now = self.clock()
        if not first:
            self.repo.set_stage(model, move.version, move.to_stage.value, now)
        self.repo.add_stage_change(
            {
                "model": model,
                "version": move.version,
                "from_stage": None if first else move.from_stage.value,
                "to_stage": move.to_stage.value,
                "cause": move.cause.value,
                "approval_id": approval_id,
                "requested_by": requested_by,
                "approved_by": approved_by,
                "reason": reason,
                "changed_at": now,
            }
        )

    # --- retraining -----------------------------------------------------------------------
    def request_retraining(
        self,
        by: Principal,
        model: str,
        reason: str,
        version: str | None = None,
        incident_id: int | None = None,
    ) -> dict[str, Any]:
        """Record that the model should be retrained (from a schedule, an alert or an incident)."""
        self._model(by, model, Action.MODEL_REGISTER)
        if version is not None:
            self._version(model, version)
        if incident_id is not None and (
            isinstance(incident_id, bool) or not isinstance(incident_id, int) or incident_id < 1
        ):
            raise ValidationError(
                f"incident id {incident_id!r} is not valid", field="incident_id", fix="a positive number"
            )
        return self.repo.add_retraining_request(
            {
                "model": model,
                "version": version,
                "incident_id": incident_id,
                "reason": _reason(reason),
                "status": "open",
                "requested_by": by.actor,
                "requested_at": self.clock(),
            }
        )

    # --- reading ------------------------------------------------------------------------
    def reminders(
        self, by: Principal, today: date, model: str | None = None, ahead: int = 7
    ) -> list[dict[str, Any]]:
        """Retraining, deprecation and retirement reminders due or overdue on *today*."""
        names = [model] if model else [m["name"] for m in self.list(by)]
        found: list[reg.Reminder] = []
        for name in names:
            self._model(by, name)
            found += self._reminders(name, today, ahead)
        return [r.to_dict() for r in sorted(found, key=lambda r: (r.due, r.model, r.version))]

    def _reminders(self, model: str, today: date, ahead: int) -> list[reg.Reminder]:
        stored = self.repo.schedule(model)
        schedule = Schedule(stored["retrain_every_days"], stored["remind_days_before"]) if stored else None
        dates = [
            reg.VersionDates(
                v["version"],
                Stage(v["stage"]),
                datetime.fromisoformat(v["trained_at"]).date(),
                date.fromisoformat(v["deprecation_date"]) if v["deprecation_date"] else None,
                date.fromisoformat(v["retirement_date"]) if v["retirement_date"] else None,
            )
            for v in self.repo.versions(model)
        ]
        return reg.reminders(model, dates, schedule, today, ahead)

    def show(self, by: Principal, model: str, today: date | None = None) -> dict[str, Any]:
        """The model with its versions (and cards), stage history, requests, schedule and reminders."""
        found = self._model(by, model)
        versions = []
        for v in self.repo.versions(model):
            stored = self.repo.card(model, v["version"])
            card = reg.parse_card(stored["card"]) if stored else ModelCard()
            versions.append(
                {
                    **v,
                    "card": card.to_dict(),
                    "card_gaps": reg.card_gaps(card),
                    "card_revision": stored["revision"] if stored else 0,
                }
            )
        stages = {v["version"]: Stage(v["stage"]) for v in versions}
        return {
            **found,
            "production": reg.production_version(stages.items()),
            "versions": versions,
            "history": self.repo.stage_changes(model),
            "approvals": self.repo.approvals(model),
            "schedule": self.repo.schedule(model),
            "reminders": [r.to_dict() for r in self._reminders(model, today or self.clock().date(), 7)],
            "retraining_requests": self.repo.retraining_requests(model),
        }

    def list(self, by: Principal) -> list[dict[str, Any]]:
        """Every model the principal may read, with its production version and version count."""
        out = []
        for m in self.repo.list_models():
            if not by.can(Action.READ, m["use_case"]):
                continue
            stages = self._stages(m["name"])
            counts = {s.value: sum(1 for x in stages.values() if x is s) for s in Stage}
            out.append(
                {
                    **m,
                    "production": reg.production_version(stages.items()),
                    "versions": len(stages),
                    "stages": counts,
                }
            )
        return out
