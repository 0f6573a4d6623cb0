"""Feature flags over the store: an OpenFeature provider, releases, kill switches, guardrails.

The runtime evaluates flags through the OpenFeature evaluation API (``openfeature-sdk``):
:class:`StoreProvider` implements the provider interface over the ``flags`` table with the
pure rules of :mod:`paceline.domain.flags`, so a flagd, Unleash or GrowthBook provider can
replace it without touching the engine. The client is bound to the provider instance rather
than registered in the SDK's process-wide registry, so two workspaces in one process (tests,
notebooks) never evaluate each other's flags.

* ``release.<workflow>``: evaluated once per case, at the trigger, with the case id as the
  targeting key; the variant is stored on the case (and the evaluation in
  ``flag_assignments``), so retries, crashes and replays keep it.
* ``kill.<workflow>``: evaluated at the route step; ``on`` sends the case to a person with
  the model's suggestion hidden (the human-only path). An evaluation error counts as on.
* :class:`GuardrailMonitor` measures each variant's cases since the canary started and sets
  the canary to 0% when a guardrail is breached, with the reason in the audit log.

Every evaluation is described with the OpenTelemetry ``feature_flag.*`` attribute names of
the ``feature_flag.evaluation`` event (semantic conventions, release candidate).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, FlagResolutionDetails
from openfeature.provider import AbstractProvider, FeatureProvider, Metadata, ProviderStatus
from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from paceline.domain.flags import (
    BASELINE,
    OVERRIDING,
    Breach,
    Context,
    Flag,
    FlagKind,
    Reason,
    VariantSample,
    evaluate,
    judge_guardrails,
    kill_key,
    parse_flag,
    release_key,
)
from paceline.domain.roles import Role
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.runtime.registry import Registry
from paceline.services.access import Principal
from paceline.storage.audit import record_event
from paceline.storage.case_repo import aware, iso
from paceline.storage.db import Store
from paceline.storage.flag_models import FlagAssignmentRow, FlagRow
from paceline.storage.runtime_models import CaseRow, OutboxRow, ReviewTaskRow, StepRunRow

PROVIDER_NAME = "paceline"
EVENT_NAME = "feature_flag.evaluation"
FLAG_ROLES = frozenset({Role.ADMIN, Role.ML_ENGINEER})
GUARD_ACTOR = "system:guardrail"
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def require_flag_manager(principal: Principal) -> None:
    """Changing flags (and running the guardrail check, which may roll back) is for admins and
    ML engineers with a program-wide grant."""
    if not any(g.role in FLAG_ROLES and g.use_case is None for g in principal.grants):
        raise PermissionDenied(
            f"{principal.login} may not change feature flags",
            action="flag.manage",
            fix="ask an admin for the admin or ml-engineer role (paceline user grant)",
        )


def hide_suggestion(shown: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer sees on the human-only path (kill switch on): no suggestion to anchor on.

    The suggestion keeps its field names with blank (null) values, so a review form still asks
    for each field; confidence, rationale and sources are withheld, the band reads ``hidden``
    and the item says ``human_only: true``. The model's output stays in the case's journal
    (its infer step) for a later comparison with what the person decided.
    """
    output = dict(shown["suggestion"]["output"])
    hidden: dict[str, Any] = {
        "output": dict.fromkeys(output),
        "confidence": 0.0,
        "confidence_band": "hidden",
        "rationale": [],
        "sources": [],
        "hidden": True,
    }
    return shown | {"suggestion": hidden, "human_only": True}


# --- rows <-> domain -----------------------------------------------------------------------------
FLAGS = cast(Table, FlagRow.__table__)
ASSIGNMENTS = cast(Table, FlagAssignmentRow.__table__)


def _flag(row: FlagRow | Row[Any]) -> Flag:
    doc = {
        "state": row.state,
        "variants": list(row.variants),
        "default_variant": row.default_variant,
        "canary": (
            {"variant": row.canary_variant, "percent": row.canary_percent} if row.canary_variant else None
        ),
        "targeting": list(row.targeting),
        "guardrails": list(row.guardrails) or None,
    }
    return parse_flag(doc, row.key, row.version)


def flag_doc(row: FlagRow) -> dict[str, Any]:
    return _flag(row).to_dict() | {
        "canary_since": iso(row.canary_since),
        "reason": row.reason,
        "updated_by": row.updated_by,
        "updated_at": iso(row.updated_at),
    }


# --- the OpenFeature provider --------------------------------------------------------------------
CACHE_SECONDS = 1.0  # how long a provider trusts the flag definitions it read without checking


class _Changes:
    """Flag changes committed by this process: a provider that read the definitions before the
    latest one reads them again, so a change is seen at once by every evaluation in the process."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.count += 1


CHANGES = _Changes()


@dataclass(frozen=True)
class _Snapshot:
    """The flag definitions as read at one moment, with what tells whether they are still current."""

    flags: dict[str, Flag]
    stamp: tuple[int, int]  # (number of flags, sum of their versions): every change moves it
    local: int  # CHANGES.count before the read
    checked_at: float  # time.monotonic() when the store last confirmed them


def _stamp_of(versions: Sequence[int]) -> tuple[int, int]:
    return len(versions), sum(versions)


class StoreProvider(AbstractProvider):
    """OpenFeature provider over the ``flags`` table, with the definitions cached per process.

    The table is small (two flags per workflow) and read whole. The copy is trusted for
    ``ttl`` seconds (:data:`CACHE_SECONDS`), dropped at once when this process changes a flag,
    and checked by every worker batch: :meth:`refresh`, in the claim's transaction, compares the
    flags' count and version sum with the copy's (every change bumps a version) and re-reads
    them only if they differ. So a kill switch turned on anywhere acts on every case a worker
    claims afterwards, and on a trigger within ``ttl`` seconds, without a read per evaluation.

    A missing ``release.*`` or ``kill.*`` flag resolves to the code's default with reason
    ``DEFAULT`` (every workflow implicitly has both); other unknown keys are
    ``FLAG_NOT_FOUND``. Release flags are strings, kill switches booleans.
    """

    def __init__(self, store: Store, ttl: float = CACHE_SECONDS) -> None:
        super().__init__()
        self.store, self.ttl = store, ttl
        self._snapshot: _Snapshot | None = None
        self.reads = 0  # how often the definitions were read from the store

    def get_metadata(self) -> Metadata:
        return Metadata(name=PROVIDER_NAME)

    def load(self, session: Session) -> dict[str, Flag]:
        """Read every flag definition in *session* and keep them."""
        local = CHANGES.count  # taken first: a change committed during the read is caught next time
        rows = session.execute(select(FLAGS)).all()
        flags = {r.key: _flag(r) for r in rows}
        self._snapshot = _Snapshot(flags, _stamp_of([r.version for r in rows]), local, time.monotonic())
        self.reads += 1
        return flags

    def refresh(self, session: Session) -> None:
        """Check the kept definitions against the store in *session* (one aggregate query) and
        read them again only if a flag changed."""
        snapshot, local = self._snapshot, CHANGES.count
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(FLAGS.c.version), 0))
        ).one()
        if snapshot is None or snapshot.local != local or snapshot.stamp != (int(count), int(total)):
            self.load(session)
        else:
            self._snapshot = replace(snapshot, checked_at=time.monotonic())

    def definitions(self) -> dict[str, Flag]:
        """The flag definitions: the kept copy while it is current, else read now."""
        snapshot = self._snapshot
        if (
            snapshot is not None
            and snapshot.local == CHANGES.count
            and time.monotonic() - snapshot.checked_at < self.ttl
        ):
            return snapshot.flags
        with self.store.read() as session:
            return self.load(session)

    def _resolve(
        self, key: str, default: Any, context: EvaluationContext | None, kind: FlagKind
    ) -> FlagResolutionDetails[Any]:
        flag = self.definitions().get(key)
        if flag is None:
            if key.startswith(f"{kind.value}."):
                return FlagResolutionDetails(
                    default, reason=Reason.DEFAULT.value, variant=_default_variant(kind, default)
                )
            return FlagResolutionDetails(
                default,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                reason=Reason.ERROR.value,
                error_message=f"no flag {key!r}",
            )
        if flag.kind is not kind:
            return FlagResolutionDetails(
                default,
                error_code=ErrorCode.TYPE_MISMATCH,
                reason=Reason.ERROR.value,
                error_message=f"{key} is a {flag.kind.value} flag",
            )
        ctx = Context(context.targeting_key if context else None, dict(context.attributes) if context else {})
        variant, reason = evaluate(flag, ctx)
        metadata = {"version": str(flag.version)}
        if reason is Reason.ERROR:
            return FlagResolutionDetails(
                default,
                error_code=ErrorCode.TARGETING_KEY_MISSING,
                reason=reason.value,
                error_message="a canary split needs a targeting key (the case id)",
                flag_metadata=metadata,
            )
        return FlagResolutionDetails(
            flag.value(variant), reason=reason.value, variant=variant, flag_metadata=metadata
        )

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, FlagKind.KILL)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, FlagKind.RELEASE)

    def _mismatch(self, flag_key: str, default_value: Any) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(
            default_value,
            error_code=ErrorCode.TYPE_MISMATCH,
            reason=Reason.ERROR.value,
            error_message=f"{flag_key}: paceline flags are strings (release) or booleans (kill)",
        )

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._mismatch(flag_key, default_value)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._mismatch(flag_key, default_value)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Any,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Any]:
        return self._mismatch(flag_key, default_value)


def _default_variant(kind: FlagKind, default: Any) -> str:
    if kind is FlagKind.KILL:
        return "on" if default else "off"
    return str(default)


class BoundClient(OpenFeatureClient):
    """An OpenFeature client evaluating through one provider instance (hooks, context merging
    and error handling are the SDK's), instead of the provider registered for a domain."""

    def __init__(self, provider: FeatureProvider) -> None:
        super().__init__(domain=None, version=None)
        self._provider = provider

    @property
    def provider(self) -> FeatureProvider:
        return self._provider

    def get_provider_status(self) -> ProviderStatus:
        return ProviderStatus.READY


# --- evaluation results ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FlagResult:
    """One evaluation: the value, its variant and reason, and its ``feature_flag.*`` attributes."""

    key: str
    value: Any
    variant: str
    reason: str
    version: int | None
    attributes: dict[str, Any]

    @property
    def failed(self) -> bool:
        return self.reason == Reason.ERROR.value


def otel_attributes(
    details: FlagEvaluationDetails[Any], context_id: str | None, provider: str = PROVIDER_NAME
) -> dict[str, Any]:
    """The attributes of an OTel ``feature_flag.evaluation`` event for *details*."""
    attrs: dict[str, Any] = {
        "feature_flag.key": details.flag_key,
        "feature_flag.provider.name": provider,
        "feature_flag.result.reason": str(details.reason or "UNKNOWN").lower(),
        "feature_flag.result.value": details.value,
    }
    if details.variant:
        attrs["feature_flag.result.variant"] = details.variant
    if context_id:
        attrs["feature_flag.context.id"] = context_id
    version = details.flag_metadata.get("version")
    if version is not None:
        attrs["feature_flag.version"] = str(version)
    if details.error_code:
        attrs["error.type"] = str(details.error_code).lower()
        if details.error_message:
            attrs["error.message"] = details.error_message
    return attrs


def _context(workflow: str, case_id: str, attributes: Mapping[str, Any] | None) -> EvaluationContext:
    """The case id as targeting key; the payload's scalar fields and the workflow as attributes."""
    scalars = {k: v for k, v in (attributes or {}).items() if isinstance(v, (str, int, float, bool))}
    return EvaluationContext(case_id, {**scalars, "workflow": workflow})


# --- the service -----------------------------------------------------------------------------------
class FlagService:
    """Evaluate, list and change flags; every change is a versioned, audited row update."""

    def __init__(
        self, store: Store, registry: Registry | None = None, provider: FeatureProvider | None = None
    ) -> None:
        self.store, self.registry = store, registry
        self.provider = provider or StoreProvider(store)
        self.client = BoundClient(self.provider)

    # --- evaluation ----------------------------------------------------------------------------
    def _result(self, details: FlagEvaluationDetails[Any], case_id: str, fallback: str) -> FlagResult:
        version = details.flag_metadata.get("version")
        attrs = otel_attributes(details, case_id, self.provider.get_metadata().name)
        log.debug(EVENT_NAME, extra={"otel_attributes": attrs})
        return FlagResult(
            details.flag_key,
            details.value,
            details.variant or fallback,
            str(details.reason or "UNKNOWN"),
            None if version is None else int(version),
            attrs,
        )

    def release(self, workflow: str, case_id: str, attributes: Mapping[str, Any] | None = None) -> FlagResult:
        """The model variant for a new case of *workflow* (``baseline`` when no flag says else)."""
        details = self.client.get_string_details(
            release_key(workflow), BASELINE, _context(workflow, case_id, attributes)
        )
        result = self._result(details, case_id, str(details.value))
        if result.failed:  # e.g. a store hiccup: the case runs the baseline, and says why
            return FlagResult(
                result.key, BASELINE, BASELINE, result.reason, result.version, result.attributes
            )
        return result

    def kill(self, workflow: str, case_id: str, attributes: Mapping[str, Any] | None = None) -> FlagResult:
        """Whether *workflow*'s kill switch sends this case to the human-only path."""
        details = self.client.get_boolean_details(
            kill_key(workflow), False, _context(workflow, case_id, attributes)
        )
        result = self._result(details, case_id, "on" if details.value else "off")
        if result.failed:  # fail safe: when the switch cannot be read, a person decides
            return FlagResult(result.key, True, "on", result.reason, result.version, result.attributes)
        return result

    def record_assignment(self, session: Session, result: FlagResult, case_id: str) -> None:
        """Keep *result* as the case's sticky assignment (in the case's own transaction)."""
        session.add(
            FlagAssignmentRow(
                flag_key=result.key,
                targeting_key=case_id,
                variant=result.variant,
                reason=result.reason,
                flag_version=result.version,
                attributes=result.attributes,
                evaluated_at=utcnow(),
            )
        )

    def record_assignments(self, session: Session, results: Sequence[tuple[FlagResult, str]]) -> None:
        """Keep several cases' sticky assignments (``(result, case id)``) with one statement."""
        if results:
            now = utcnow()
            session.execute(
                insert(ASSIGNMENTS),
                [
                    {
                        "flag_key": r.key,
                        "targeting_key": case_id,
                        "variant": r.variant,
                        "reason": r.reason,
                        "flag_version": r.version,
                        "attributes": r.attributes,
                        "evaluated_at": now,
                    }
                    for r, case_id in results
                ],
            )

    def assignments(self, session: Session, wanted: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """The stored evaluation attributes of several cases' assignments, read in *session*:
        *wanted* maps each case id to its flag key; cases without an assignment are left out."""
        if not wanted:
            return {}
        a = ASSIGNMENTS.c
        stmt = select(a.targeting_key, a.flag_key, a.attributes).where(
            a.targeting_key.in_(list(wanted)), a.flag_key.in_(sorted(set(wanted.values())))
        )
        return {case: dict(attrs) for case, key, attrs in session.execute(stmt) if wanted.get(case) == key}

    def refresh(self, session: Session) -> None:
        """Bring the provider's copy of the flags up to date in *session* (a worker's claim), if
        the provider keeps one."""
        if isinstance(self.provider, StoreProvider):
            self.provider.refresh(session)

    def assignment(self, key: str, case_id: str) -> dict[str, Any] | None:
        """The stored evaluation attributes of *case_id*'s assignment on *key*, if any."""
        with self.store.read() as session:
            row = session.scalars(
                select(FlagAssignmentRow).where(
                    FlagAssignmentRow.flag_key == key, FlagAssignmentRow.targeting_key == case_id
                )
            ).first()
            return None if row is None else dict(row.attributes)

    # --- reading ---------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        with self.store.read() as session:
            return [flag_doc(r) for r in session.scalars(select(FlagRow).order_by(FlagRow.key))]

    def get(self, key: str) -> dict[str, Any]:
        with self.store.read() as session:
            row = session.get(FlagRow, key)
            if row is None:
                raise NotFound(f"no flag {key!r}", fix="paceline flag list shows the flags")
            return flag_doc(row)

    # --- changing --------------------------------------------------------------------------------
    def _check_subject(self, flag: Flag) -> None:
        if self.registry is not None:
            try:
                self.registry.get(flag.subject)
            except NotFound as exc:
                raise ValidationError(
                    f"key: no workflow {flag.subject!r}",
                    field="key",
                    value=flag.key,
                    fix=exc.details.get("fix"),
                ) from None

    def _save(self, session: Session, flag: Flag, actor: str, reason: str) -> FlagRow:
        """Create or update the row of *flag* (a change bumps the version; no change, no entry)."""
        now = utcnow()
        row = session.get(FlagRow, flag.key, with_for_update=True)  # PostgreSQL: one change at a time
        exposed = flag.canary_variant is not None and flag.canary_percent > 0
        values: dict[str, Any] = {
            "kind": flag.kind.value,
            "state": flag.state.value,
            "variants": list(flag.variants),
            "default_variant": flag.default_variant,
            "canary_variant": flag.canary_variant,
            "canary_percent": flag.canary_percent,
            "targeting": [t.to_dict() for t in flag.targeting],
            "guardrails": [g.to_dict() for g in flag.guardrails],
        }
        if row is None:
            row = FlagRow(
                key=flag.key,
                **values,
                canary_since=now if exposed else None,
                version=1,
                reason=reason,
                updated_by=actor,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return row
        if all(getattr(row, k) == v for k, v in values.items()):
            return row
        restarted = exposed and (row.canary_variant != flag.canary_variant or row.canary_percent <= 0)
        for k, v in values.items():
            setattr(row, k, v)
        row.canary_since = (now if restarted else row.canary_since) if exposed else None
        row.version, row.reason, row.updated_by, row.updated_at = row.version + 1, reason, actor, now
        session.flush()
        return row

    def put(self, key: str, doc: Any, actor: str, reason: str = "") -> dict[str, Any]:
        """Create or replace the flag *key* from its document (see docs/runtime.md)."""
        with self.store.read() as session:
            row = session.get(FlagRow, key)
            version = 1 if row is None else row.version
        flag = parse_flag(doc, key, version)
        self._check_subject(flag)
        text = reason or (doc.get("reason") if isinstance(doc, dict) else "") or ""
        with self.store.write(actor) as session:
            doc = flag_doc(self._save(session, flag, actor, str(text)[:2000]))
        CHANGES.bump()  # committed: evaluations in this process see it at once
        return doc

    def set_release(
        self, workflow: str, variant: str, percent: float, actor: str, reason: str = ""
    ) -> dict[str, Any]:
        """Roll *variant* out to *percent* of *workflow*'s new cases (creating the flag if needed)."""
        key = release_key(workflow)
        with self.store.read() as session:
            row = session.get(FlagRow, key)
            doc: dict[str, Any] = {"variants": [BASELINE]} if row is None else _flag(row).to_dict()
        doc.pop("version", None)
        if variant not in doc["variants"]:
            doc["variants"] = [*doc["variants"], variant]
        doc["canary"] = {"variant": variant, "percent": percent}
        return self.put(key, doc, actor, reason or f"release {variant} to {percent:g}%")

    def set_kill(self, workflow: str, on: bool, actor: str, reason: str = "") -> dict[str, Any]:
        """Turn *workflow*'s kill switch on (every case to a person, suggestion hidden) or off."""
        doc = {"state": "enabled", "default_variant": "on" if on else "off"}
        return self.put(kill_key(workflow), doc, actor, reason or f"kill switch {'on' if on else 'off'}")


# --- guardrails --------------------------------------------------------------------------------------
def measure(session: Session, workflow: str, since: datetime | None) -> dict[str, VariantSample]:
    """Per variant, what *workflow*'s cases created since *since* did (journal, reviews, outbox)."""
    where = [CaseRow.workflow == workflow]
    if since is not None:
        where.append(CaseRow.created_at >= since)
    samples: dict[str, VariantSample] = defaultdict(VariantSample)
    for variant, count in session.execute(
        select(CaseRow.variant, func.count()).where(*where).group_by(CaseRow.variant)
    ):
        samples[variant].cases = int(count)
    steps = (
        select(CaseRow.variant, StepRunRow.step, StepRunRow.output)
        .join(StepRunRow, StepRunRow.case_id == CaseRow.id)
        .where(*where, StepRunRow.step.in_(["infer", "rules"]))
    )
    for variant, step, stored in session.execute(steps):
        sample, output = samples[variant], _as_doc(stored)
        if step == "rules":
            sample.ruled += 1
            sample.rule_hits += 1 if output.get("hits") else 0
            continue
        call = _as_doc(output.get("call"))
        if isinstance(call.get("latency_ms"), (int, float)):
            sample.latencies_ms.append(float(call["latency_ms"]))
        cost = (call.get("attributes") or {}).get("paceline.cost")
        sample.costs.append(float(cost) if isinstance(cost, (int, float)) else 0.0)
    decided: dict[str, tuple[str, bool]] = {}
    reviews = (
        select(CaseRow.id, CaseRow.variant, ReviewTaskRow.decision)
        .join(ReviewTaskRow, ReviewTaskRow.case_id == CaseRow.id)
        .where(*where, ReviewTaskRow.status == "done")
    )
    for case_id, variant, decision in session.execute(reviews):
        _, before = decided.get(case_id, (variant, False))
        decided[case_id] = (variant, before or decision in OVERRIDING)
    for variant, overridden in decided.values():
        samples[variant].reviewed += 1
        samples[variant].overridden += int(overridden)
    actions = (
        select(CaseRow.variant, OutboxRow.status, OutboxRow.attempts, OutboxRow.last_error)
        .join(OutboxRow, OutboxRow.case_id == CaseRow.id)
        .where(*where, OutboxRow.attempts > 0)
    )
    for variant, status, attempts, last_error in session.execute(actions):
        samples[variant].actions += 1
        samples[variant].action_errors += int(status == "failed" or attempts > 1 or bool(last_error))
    return dict(samples)


def _as_doc(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class GuardrailMonitor:
    """Judges each release's canary against its control and rolls a breached canary back to 0%."""

    def __init__(self, flags: FlagService, interval: float = 60.0) -> None:
        self.flags, self.store, self.interval = flags, flags.store, interval
        self._last = float("-inf")

    def check(self, workflow: str, actor: str = GUARD_ACTOR, rollback: bool = True) -> dict[str, Any]:
        """Measure *workflow*'s variants since its canary started, judge the guardrails and, on a
        breach of the live canary, set it to 0% (audited, with the breaches as the reason)."""
        key = release_key(workflow)
        with self.store.read() as session:
            row = session.get(FlagRow, key)
            if row is None:
                raise NotFound(
                    f"no release flag for {workflow!r}",
                    fix=f"paceline flag set {key} --variant NAME --percent P",
                )
            flag, since = _flag(row), row.canary_since
            samples = measure(session, workflow, None if since is None else aware(since))
        breaches = judge_guardrails(samples, flag.guardrails, flag.default_variant)
        live = flag.canary_variant is not None and flag.canary_percent > 0
        hit = [b for b in breaches if b.variant == flag.canary_variant]
        report: dict[str, Any] = {
            "flag": key,
            "workflow": workflow,
            "control": flag.default_variant,
            "canary": flag.canary_variant,
            "percent": flag.canary_percent,
            "since": iso(since),
            "guardrails": [g.to_dict() for g in flag.guardrails],
            "metrics": {v: s.to_dict() for v, s in sorted(samples.items())},
            "breaches": [b.to_dict() for b in breaches],
            "rolled_back": False,
        }
        if rollback and live and hit:
            report["rolled_back"] = self._rollback(flag, hit, report, actor)
            if report["rolled_back"]:
                report["percent"] = 0.0
        return report

    def _rollback(self, flag: Flag, breaches: Sequence[Breach], report: dict[str, Any], actor: str) -> bool:
        reason = "guardrail: " + "; ".join(b.message for b in breaches)
        with self.store.write(actor) as session:
            row = session.get(FlagRow, flag.key, with_for_update=True)  # workers may race to roll back
            if row is None or row.canary_variant != flag.canary_variant or row.canary_percent <= 0:
                return False  # changed meanwhile: the person who changed it decides
            before = row.canary_percent
            row.canary_percent, row.canary_since = 0.0, None
            row.version, row.reason = row.version + 1, reason[:2000]
            row.updated_by, row.updated_at = actor, utcnow()
            record_event(
                session,
                "flag.rollback",
                "flags",
                flag.key,
                {
                    "variant": flag.canary_variant,
                    "percent_before": before,
                    "breaches": [b.to_dict() for b in breaches],
                    "metrics": report["metrics"],
                },
            )
        CHANGES.bump()
        log.warning("rolled %s back to 0%%: %s", flag.key, reason)
        return True

    def check_all(self, actor: str = GUARD_ACTOR) -> list[dict[str, Any]]:
        """Check every enabled release flag whose canary is live."""
        with self.store.read() as session:
            keys = list(
                session.scalars(
                    select(FlagRow.key).where(
                        FlagRow.kind == FlagKind.RELEASE.value,
                        FlagRow.state == "enabled",
                        FlagRow.canary_percent > 0,
                    )
                )
            )
        reports = []
        for key in keys:
            try:
                reports.append(self.check(key.split(".", 1)[1], actor))
            except Exception:  # one broken flag must not keep the others unchecked
                log.exception("guardrail check of %s failed", key)
        return reports

    def run_due(self) -> list[dict[str, Any]]:
        """:meth:`check_all`, at most once per *interval* seconds (the worker calls this often)."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return []
        self._last = now
        return self.check_all()
