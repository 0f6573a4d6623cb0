"""Frameworks, controls, applicability rules and control status from evidence.

A framework (NIST AI RMF, ISO/IEC 42001, the EU AI Act's deployer duties, or a firm's own)
is a list of controls. Each control says which use cases it applies to (risk tier, data
categories, lifecycle phase), which kinds of evidence satisfy it, and how long a piece of
evidence stays current. A control is *met* for a use case while at least one current piece of
an accepted kind exists; when the only evidence has expired it is *expired*, which counts as
open. Everything here is pure: evidence and dates are passed in.

Example:
    >>> fw = parse_framework({"key": "acme", "title": "Acme AI policy", "controls": [
    ...     {"id": "P-1", "title": "Owner named", "evidence": ["document"]}]})
    >>> fw.controls[0].ref
    'acme/P-1'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from paceline.domain.usecases import DataCategory, Phase
from paceline.errors import ValidationError

FRAMEWORK_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
CONTROL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()/-]{0,59}$")
TIERS = ("prohibited", "high", "limited", "minimal")
DEFAULT_MAX_AGE_DAYS = 365
MAX_CONTROLS = 2000


class EvidenceKind(StrEnum):
    """Where a piece of evidence comes from: one of Paceline's records, or an uploaded document."""

    DOCUMENT = "document"  # an uploaded file with owner, date and expiry
    PILOT_REPORT = "pilot_report"  # a pilot with a recorded verdict
    GATE_SIGNOFF = "gate_signoff"  # any change-control checkpoint signed off
    SECURITY_REVIEW = "security_review"
    PRIVACY_ASSESSMENT = "privacy_assessment"
    EXPLAINABILITY_CHECK = "explainability_check"
    ROLLBACK_CRITERIA = "rollback_criteria"
    INCIDENT_RETROSPECTIVE = "incident_retrospectives"
    GATE_DECISION = "gate_decision"  # a gate passed (or overridden) with its checks
    PERFORMANCE_REVIEW = "performance_review"  # a completed 30/60/90-day review
    RISK_ASSESSMENT = "risk_assessment"  # the risk register with residual ratings
    TRAINING_COMPLETION = "training_completion"
    HUMAN_REVIEW = "human_review"  # decided items of the runtime's review queue
    AUDIT_TRAIL = "audit_trail"  # the hash-chained audit log
    MONITORING_ALERT = "monitoring_alert"
    INCIDENT = "incident"
    MODEL_REGISTRY = "model_registry"
    RETENTION_POLICY = "retention_policy"
    WORKER_NOTICE = "worker_notice"
    MANAGEMENT_REVIEW = "management_review"


class ControlState(StrEnum):
    MET = "met"
    OPEN = "open"  # no evidence
    EXPIRED = "expired"  # evidence exists but none is current: open again


@dataclass(frozen=True)
class Applicability:
    """Which use cases a control applies to; an empty field means "any"."""

    tiers: frozenset[str] = frozenset()
    data_categories: frozenset[str] = frozenset()  # any of them
    phase_from: int = 1  # applies once the use case reaches this phase
    sensitive_only: bool = False

    def matches(self, tier: str, categories: Iterable[str], phase: int) -> bool:
        cats = set(categories)
        if self.tiers and tier not in self.tiers:
            return False
        if self.data_categories and not (self.data_categories & cats):
            return False
        if self.sensitive_only and not (cats & {"personal", "health", "biometric"}):
            return False
        return phase >= self.phase_from

    def to_dict(self) -> dict[str, Any]:
        return {
            "tiers": sorted(self.tiers),
            "data_categories": sorted(self.data_categories),
            "phase_from": self.phase_from,
            "sensitive_only": self.sensitive_only,
        }

    def describe(self) -> str:
        parts = []
        if self.tiers:
            parts.append("tier " + " or ".join(sorted(self.tiers)))
        if self.data_categories:
            parts.append("data " + " or ".join(sorted(self.data_categories)))
        if self.sensitive_only:
            parts.append("sensitive data")
        if self.phase_from > 1:
            parts.append(f"from phase {self.phase_from}")
        return ", ".join(parts) or "every use case"


@dataclass(frozen=True)
class Control:
    framework: str
    id: str
    title: str
    group: str = ""
    guidance: str = ""
    applies: Applicability = field(default_factory=Applicability)
    evidence: tuple[EvidenceKind, ...] = (EvidenceKind.DOCUMENT,)
    max_age_days: int = DEFAULT_MAX_AGE_DAYS

    @property
    def ref(self) -> str:
        """``framework/id``: the control's name across frameworks."""
        return f"{self.framework}/{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "framework": self.framework,
            "id": self.id,
            "title": self.title,
            "group": self.group,
            "guidance": self.guidance,
            "applies": self.applies.to_dict(),
            "applies_text": self.applies.describe(),
            "evidence": [k.value for k in self.evidence],
            "max_age_days": self.max_age_days,
        }


@dataclass(frozen=True)
class Framework:
    key: str
    title: str
    version: str = ""
    source: str = ""
    notice: str = ""
    controls: tuple[Control, ...] = ()

    def to_dict(self, with_controls: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "key": self.key,
            "title": self.title,
            "version": self.version,
            "source": self.source,
            "notice": self.notice,
            "control_count": len(self.controls),
        }
        if with_controls:
            doc["controls"] = [c.to_dict() for c in self.controls]
        return doc


# --- parsing (firm imports and the built-in catalogues share it) -----------------------------
def _bad(where: str, message: str, value: Any = None, fix: str = "") -> ValidationError:
    return ValidationError(f"{where}: {message}", field=where, value=value, fix=fix)


def _text(doc: dict[str, Any], name: str, where: str, required: bool, limit: int) -> str:
    value = doc.get(name)
    if value is None or value == "":
        if required:
            raise _bad(f"{where}.{name}", "is required", fix=f"add {name}: <text>")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _bad(f"{where}.{name}", "must be text", value)
    text = str(value).strip()
    if len(text) > limit:
        raise _bad(f"{where}.{name}", f"is {len(text)} characters long; at most {limit}", text[:40])
    return text


def _strings(value: Any, where: str, choices: Sequence[str]) -> frozenset[str]:
    if value is None:
        return frozenset()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _bad(where, "must be a list", value, fix=f"use a list of: {', '.join(choices)}")
    for item in items:
        if item not in choices:
            raise _bad(where, f"{item!r} is not one of: {', '.join(choices)}", item)
    return frozenset(items)


def _applicability(doc: Any, where: str, default: Applicability) -> Applicability:
    if doc is None:
        return default
    if not isinstance(doc, dict):
        raise _bad(where, "must be a mapping", doc, fix="e.g. applies: {tiers: [high], phase_from: 5}")
    unknown = set(doc) - {"tiers", "data_categories", "phase_from", "sensitive_only"}
    if unknown:
        raise _bad(
            f"{where}.{sorted(unknown)[0]}",
            "is not a known rule",
            fix="use tiers, data_categories, phase_from, sensitive_only",
        )
    phase = doc.get("phase_from", default.phase_from)
    if not isinstance(phase, int) or isinstance(phase, bool) or not 1 <= phase <= len(Phase):
        raise _bad(f"{where}.phase_from", "must be a phase number 1-6", phase)
    sensitive = doc.get("sensitive_only", default.sensitive_only)
    if not isinstance(sensitive, bool):
        raise _bad(f"{where}.sensitive_only", "must be true or false", sensitive)
    return Applicability(
        tiers=_strings(doc.get("tiers"), f"{where}.tiers", TIERS) if "tiers" in doc else default.tiers,
        data_categories=_strings(
            doc.get("data_categories"), f"{where}.data_categories", [c.value for c in DataCategory]
        )
        if "data_categories" in doc
        else default.data_categories,
        phase_from=phase,
        sensitive_only=sensitive,
    )


def _evidence(value: Any, where: str) -> tuple[EvidenceKind, ...]:
    if value is None:
        return (EvidenceKind.DOCUMENT,)
    kinds = _strings(value, where, [k.value for k in EvidenceKind])
    if not kinds:
        raise _bad(where, "lists no evidence kind", value, fix="add at least one, e.g. [document]")
    order = [k for k in EvidenceKind if k.value in kinds]
    return tuple(order)


def _max_age(value: Any, where: str) -> int:
    if value is None:
        return DEFAULT_MAX_AGE_DAYS
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3660:
        raise _bad(where, "must be a whole number of days between 1 and 3660", value)
    return value


def parse_control(doc: Any, framework: str, where: str, default: Applicability) -> Control:
    if not isinstance(doc, dict):
        raise _bad(where, "must be a mapping with id and title", doc)
    unknown = set(doc) - {"id", "title", "group", "guidance", "applies", "evidence", "max_age_days"}
    if unknown:
        name = sorted(unknown)[0]
        raise _bad(
            f"{where}.{name}",
            "is not a control field",
            fix="use id, title, group, guidance, applies, evidence, max_age_days",
        )
    control_id = _text(doc, "id", where, True, 60)
    if not CONTROL_ID.match(control_id):
        raise _bad(f"{where}.id", "may hold letters, digits, spaces and . _ ( ) / -", control_id)
    return Control(
        framework=framework,
        id=control_id,
        title=_text(doc, "title", where, True, 200),
        group=_text(doc, "group", where, False, 120),
        guidance=_text(doc, "guidance", where, False, 2000),
        applies=_applicability(doc.get("applies"), f"{where}.applies", default),
        evidence=_evidence(doc.get("evidence"), f"{where}.evidence"),
        max_age_days=_max_age(doc.get("max_age_days"), f"{where}.max_age_days"),
    )


def parse_framework(doc: Any) -> Framework:
    """A validated framework from its YAML/JSON form; errors name the field path and the fix.

    ``applies`` at the top level is the default for every control that has none.
    """
    if not isinstance(doc, dict):
        raise _bad(
            "framework", "the file must hold a mapping with key, title and controls", type(doc).__name__
        )
    unknown = set(doc) - {"key", "title", "version", "source", "notice", "applies", "controls"}
    if unknown:
        raise _bad(
            sorted(unknown)[0],
            "is not a framework field",
            fix="use key, title, version, source, notice, applies, controls",
        )
    key = _text(doc, "key", "framework", True, 60)
    if not FRAMEWORK_KEY.match(key):
        raise _bad("key", "use lower-case letters, digits and -", key)
    default = _applicability(doc.get("applies"), "applies", Applicability())
    items = doc.get("controls")
    if not isinstance(items, list) or not items:
        raise _bad("controls", "must be a non-empty list", items, fix="add controls: [{id: ..., title: ...}]")
    if len(items) > MAX_CONTROLS:
        raise _bad("controls", f"holds {len(items)} controls; at most {MAX_CONTROLS}")
    controls = [parse_control(c, key, f"controls[{i}]", default) for i, c in enumerate(items)]
    seen: set[str] = set()
    for i, c in enumerate(controls):
        if c.id in seen:
            raise _bad(f"controls[{i}].id", "appears twice", c.id, fix="give every control its own id")
        seen.add(c.id)
    return Framework(
        key=key,
        title=_text(doc, "title", "framework", True, 200),
        version=_text(doc, "version", "framework", False, 40),
        source=_text(doc, "source", "framework", False, 400),
        notice=_text(doc, "notice", "framework", False, 1000),
        controls=tuple(controls),
    )


def control_to_doc(c: Control) -> dict[str, Any]:
    """The control in the import format (what :func:`parse_control` reads back)."""
    return {
        "id": c.id,
        "title": c.title,
        "group": c.group,
        "guidance": c.guidance,
        "applies": c.applies.to_dict(),
        "evidence": [k.value for k in c.evidence],
        "max_age_days": c.max_age_days,
    }


# --- evidence and status ---------------------------------------------------------------------
@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence for a use case (``use_case=None``: program-wide).

    ``dated`` is when it was produced; it is current until ``expires`` (an upload's own
    expiry) or, without one, until the control's ``max_age_days`` have passed.
    ``control`` narrows it to one control (uploads are filed against a control).
    """

    kind: EvidenceKind
    label: str
    dated: date
    use_case: str | None = None
    owner: str = ""
    expires: date | None = None
    link: str = ""
    control: str | None = None
    ref: str = ""

    def expiry_for(self, control: Control) -> date:
        return self.expires or self.dated + timedelta(days=control.max_age_days)

    def to_dict(self, control: Control | None = None, today: date | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind.value,
            "label": self.label,
            "dated": self.dated.isoformat(),
            "use_case": self.use_case,
            "owner": self.owner,
            "expires": self.expires.isoformat() if self.expires else None,
            "link": self.link,
            "control": self.control,
            "ref": self.ref,
        }
        if control is not None:
            until = self.expiry_for(control)
            doc["current_until"] = until.isoformat()
            if today is not None:
                doc["current"] = self.dated <= today < until
        return doc


def accepts(control: Control, item: EvidenceItem, use_case: str | None) -> bool:
    """Whether *item* counts for *control* on *use_case* (program-wide items count everywhere)."""
    if item.kind not in control.evidence:
        return False
    if item.control is not None and item.control != control.ref:
        return False
    return item.use_case is None or item.use_case == use_case


@dataclass(frozen=True)
class ControlStatus:
    control: Control
    state: ControlState
    current: tuple[EvidenceItem, ...]
    stale: tuple[EvidenceItem, ...]
    until: date | None  # when the last current evidence expires

    def to_dict(self, today: date | None = None) -> dict[str, Any]:
        return {
            **self.control.to_dict(),
            "state": self.state.value,
            "current_until": self.until.isoformat() if self.until else None,
            "evidence": [e.to_dict(self.control, today) for e in (*self.current, *self.stale)],
        }


def control_status(
    control: Control, evidence: Iterable[EvidenceItem], use_case: str | None, today: date
) -> ControlStatus:
    """Met with current evidence; expired when only stale evidence exists; else open.

    Evidence dated after *today* does not count yet, so a status as of a past day is honest.
    """
    mine = [e for e in evidence if accepts(control, e, use_case) and e.dated <= today]
    current = tuple(e for e in mine if today < e.expiry_for(control))
    stale = tuple(e for e in mine if today >= e.expiry_for(control))
    if current:
        until = max(e.expiry_for(control) for e in current)
        return ControlStatus(control, ControlState.MET, current, stale, until)
    state = ControlState.EXPIRED if stale else ControlState.OPEN
    return ControlStatus(control, state, (), stale, None)


def applicable(
    controls: Iterable[Control], tier: str, categories: Iterable[str], phase: int
) -> list[Control]:
    """The controls whose applicability rules match a use case's tier, data and phase."""
    cats = list(categories)
    return [c for c in controls if c.applies.matches(tier, cats, phase)]
