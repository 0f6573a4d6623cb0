"""Alert rules and how a reading of a monitored signal fires, updates or clears an alert.

Any monitor feeds alerting through one small type, :class:`Reading`: a value of a
:class:`Signal` (drift share, a column's PSI, a performance metric, the runtime's error
rate, p95 latency, override rate, review-SLA breaches, cost per case) for a
:class:`Scope` (use case, model, workflow) over a window, with the number of samples
behind it. A rule applies to readings of its signal, inside its scope, over windows of
its length; too few samples decide nothing. Alerts are de-duplicated by
(rule, scope): while one is open a firing reading updates it; a clear reading resolves
it; an unacknowledged alert still firing after the rule's cooldown is escalated one
severity level (and notified again); a re-fire within the cooldown after a resolution
reopens the same alert instead of paging for a new one. Pure: time is passed in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from paceline.domain.alert_channels import Channel, channel_from_dict
from paceline.domain.incidents import runbook_url as parse_runbook_url
from paceline.errors import ValidationError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")
QUALIFIER_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")
DURATION_RE = re.compile(r"^(\d+)\s*([smhdw]?)$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_WINDOW = 60
MAX_WINDOW = 90 * 86400
MAX_COOLDOWN = 30 * 86400


class SignalKind(StrEnum):
    DRIFT_SHARE = "drift_share"  # share of a model's input columns that drifted (0-1)
    COLUMN_DRIFT = "column_drift"  # PSI of one column (qualifier: the column)
    PERFORMANCE = "performance"  # a performance metric once labels arrived (qualifier: the metric)
    ERROR_RATE = "error_rate"  # runtime cases that failed or whose downstream action failed (0-1)
    LATENCY_P95_MS = "latency_p95_ms"  # 95th percentile of the model call's latency
    OVERRIDE_RATE = "override_rate"  # review decisions edit/override/reject among decided items (0-1)
    REVIEW_SLA_BREACHES = "review_sla_breaches"  # review items decided late or still open past due
    COST_PER_CASE = "cost_per_case"  # mean model-call cost per case


PERFORMANCE_METRICS = ("f1", "auc", "precision", "recall", "accuracy", "ece", "brier")
SHARES = frozenset({SignalKind.DRIFT_SHARE, SignalKind.ERROR_RATE, SignalKind.OVERRIDE_RATE})


class Comparison(StrEnum):
    ABOVE = "above"  # fires when the value is greater than the threshold
    BELOW = "below"  # fires when the value is less than the threshold


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    def escalated(self) -> Severity:
        """One level up (critical stays critical)."""
        order = list(Severity)
        return order[min(order.index(self) + 1, len(order) - 1)]


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # someone is on it: no escalation
    RESOLVED = "resolved"


class Condition(StrEnum):
    FIRING = "firing"
    CLEAR = "clear"
    INSUFFICIENT = "insufficient"  # fewer samples than the rule's minimum: decides nothing


class Event(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    ESCALATED = "escalated"
    REOPENED = "reopened"
    RESOLVED = "resolved"


def _invalid(message: str, name: str, fix: str) -> ValidationError:
    return ValidationError(message, field=name, fix=fix)


# --- signals, scopes, durations ------------------------------------------------------------
@dataclass(frozen=True)
class Signal:
    """What is measured: a kind, and for column drift the column, for performance the metric."""

    kind: SignalKind
    qualifier: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.qualifier}" if self.qualifier else self.kind.value

    @classmethod
    def parse(cls, text: str, name: str = "signal") -> Signal:
        """``error_rate``, ``performance:f1``, ``column_drift:amount``; a clear error otherwise."""
        raw = str(text).strip()
        kind_text, _, qualifier = raw.partition(":")
        kinds = ", ".join(k.value for k in SignalKind)
        try:
            kind = SignalKind(kind_text)
        except ValueError:
            raise _invalid(f"{name} {raw!r} is not a known signal", name, f"use one of: {kinds}") from None
        if kind is SignalKind.PERFORMANCE and qualifier not in PERFORMANCE_METRICS:
            metrics = ", ".join(PERFORMANCE_METRICS)
            raise _invalid(
                f"{name} {raw!r} needs a metric",
                name,
                f"write performance:METRIC with METRIC one of {metrics}",
            )
        if kind is SignalKind.COLUMN_DRIFT and not QUALIFIER_RE.match(qualifier):
            raise _invalid(
                f"{name} {raw!r} needs a column", name, "write column_drift:COLUMN, e.g. column_drift:amount"
            )
        if kind not in (SignalKind.PERFORMANCE, SignalKind.COLUMN_DRIFT) and qualifier:
            raise _invalid(
                f"{name} {raw!r}: {kind.value} takes no qualifier", name, f"write just {kind.value}"
            )
        return cls(kind, qualifier)

    def value_range(self) -> tuple[float, float]:
        """The values this signal can take (thresholds outside it could never fire usefully)."""
        if self.kind in SHARES or self.kind is SignalKind.PERFORMANCE:
            return 0.0, 1.0
        return 0.0, math.inf


@dataclass(frozen=True)
class Scope:
    """Where a reading comes from; in a rule, ``None`` means any."""

    use_case: str | None = None
    model: str | None = None
    workflow: str | None = None

    def covers(self, other: Scope) -> bool:
        """Whether a rule with this scope applies to a reading with scope *other*."""
        return all(
            mine is None or mine == theirs
            for mine, theirs in (
                (self.use_case, other.use_case),
                (self.model, other.model),
                (self.workflow, other.workflow),
            )
        )

    def key(self) -> str:
        parts = (("use_case", self.use_case), ("model", self.model), ("workflow", self.workflow))
        return ";".join(f"{k}={v}" for k, v in parts if v) or "all"

    def describe(self) -> str:
        """``use case claims-triage, model claims-router`` (or ``everything``), for people."""
        parts = (("use case", self.use_case), ("model", self.model), ("workflow", self.workflow))
        return ", ".join(f"{k} {v}" for k, v in parts if v) or "everything"

    def to_dict(self) -> dict[str, str | None]:
        return {"use_case": self.use_case, "model": self.model, "workflow": self.workflow}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Scope:
        values: dict[str, str | None] = {}
        for name in ("use_case", "model", "workflow"):
            raw = doc.get(name)
            text = None if raw is None else str(raw).strip()
            if text and not QUALIFIER_RE.match(text):
                raise _invalid(f"{name} {text!r} is not a valid name", name, "letters, digits and _ . : -")
            values[name] = text or None
        return cls(**values)


def parse_duration(value: Any, name: str) -> int:
    """Seconds from ``90``, ``15m``, ``1h``, ``7d`` or ``2w``; a clear error otherwise."""
    if isinstance(value, bool):
        raise _invalid(f"{name} {value!r} is not a duration", name, "e.g. 15m, 1h, 7d")
    if isinstance(value, (int, float)):
        if value < 0 or value != int(value):
            raise _invalid(f"{name} {value!r} is not a whole number of seconds", name, "e.g. 3600 or 1h")
        return int(value)
    match = DURATION_RE.match(str(value).strip().lower())
    if match is None:
        raise _invalid(f"{name} {value!r} is not a duration", name, "e.g. 15m, 1h, 7d or 2w")
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest exact form: 604800 -> 1w, 86400 -> 1d, 5400 -> 90m."""
    for unit in ("w", "d", "h", "m"):
        size = UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# --- rules ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertRule:
    """When a signal is out of bounds for long enough and on enough samples, raise an alert."""

    name: str
    signal: Signal
    comparison: Comparison
    threshold: float
    window_seconds: int
    min_samples: int = 1
    severity: Severity = Severity.WARNING
    cooldown_seconds: int = 3600
    scope: Scope = field(default_factory=Scope)
    channels: tuple[Channel, ...] = ()
    enabled: bool = True
    description: str = ""
    runbook_url: str = ""  # an http(s) link to what to do when it fires ("" for none)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "signal": str(self.signal),
            "comparison": self.comparison.value,
            "threshold": self.threshold,
            "window": format_duration(self.window_seconds),
            "window_seconds": self.window_seconds,
            "min_samples": self.min_samples,
            "severity": self.severity.value,
            "cooldown": format_duration(self.cooldown_seconds),
            "cooldown_seconds": self.cooldown_seconds,
            **self.scope.to_dict(),
            "channels": [c.to_dict() for c in self.channels],
            "enabled": self.enabled,
            "description": self.description,
            "runbook_url": self.runbook_url,
        }

    def describe(self) -> str:
        """``performance:f1 below 0.7 over 7d (at least 50 samples)``."""
        return (
            f"{self.signal} {self.comparison.value} {self.threshold:g} over "
            f"{format_duration(self.window_seconds)} (at least {self.min_samples} samples)"
        )


RULE_FIELDS = frozenset(
    {
        "name",
        "signal",
        "comparison",
        "threshold",
        "window",
        "window_seconds",
        "min_samples",
        "severity",
        "cooldown",
        "cooldown_seconds",
        "use_case",
        "model",
        "workflow",
        "channels",
        "enabled",
        "description",
        "runbook_url",
        "above",
        "below",
    }
)


def _choice(kind: type[Any], value: Any, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise _invalid(f"{name} {value!r} is not one of: {choices}", name, f"use one of: {choices}") from None


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} {value!r} is not a number", name, "e.g. 0.3") from None
    if not math.isfinite(number):
        raise _invalid(f"{name} {value!r} is not a finite number", name, "e.g. 0.3")
    return number


def _whole(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and value != int(value)):
        raise _invalid(f"{name} {value!r} is not a whole number", name, f"a whole number >= {low}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} {value!r} is not a whole number", name, f"a whole number >= {low}") from None
    if number < low:
        raise _invalid(f"{name} {number} is below {low}", name, f"a whole number >= {low}")
    return number


def _threshold(doc: dict[str, Any], signal: Signal) -> tuple[Comparison, float]:
    """``comparison`` + ``threshold``, or the short forms ``above: X`` / ``below: X``."""
    short = [k for k in ("above", "below") if doc.get(k) is not None]
    if len(short) > 1 or (short and doc.get("threshold") is not None):
        raise _invalid(
            "give one threshold: above, below, or comparison with threshold", "threshold", "e.g. above: 0.3"
        )
    if short:
        comparison, value = Comparison(short[0]), doc[short[0]]
    else:
        comparison = _choice(Comparison, doc.get("comparison", "above"), "comparison")
        if doc.get("threshold") is None:
            raise _invalid("a rule needs a threshold", "threshold", "e.g. threshold: 0.3 (or above: 0.3)")
        value = doc["threshold"]
    threshold = _number(value, "threshold")
    low, high = signal.value_range()
    if not low <= threshold <= high:
        span = f"{low:g} to {high:g}" if math.isfinite(high) else f"at least {low:g}"
        raise _invalid(
            f"threshold {threshold:g} is outside what {signal} can take", "threshold", f"use {span}"
        )
    return comparison, threshold


def rule_from_dict(doc: dict[str, Any]) -> AlertRule:
    """Validate a rule document (CLI, API and web share it); every error names the field."""
    if not isinstance(doc, dict):
        raise _invalid("a rule is an object of fields", "rule", "see docs/monitoring.md")
    unknown = sorted(set(doc) - RULE_FIELDS)
    if unknown:
        raise _invalid(f"unknown field {unknown[0]!r}", unknown[0], f"use: {', '.join(sorted(RULE_FIELDS))}")
    name = str(doc.get("name", "")).strip()
    if not NAME_RE.match(name):
        raise _invalid(
            f"name {name!r} is not valid", "name", "lower-case letters, digits and _ . - (up to 80)"
        )
    signal = Signal.parse(doc.get("signal", ""))
    comparison, threshold = _threshold(doc, signal)
    window = parse_duration(doc.get("window", doc.get("window_seconds", "1h")), "window")
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise _invalid(f"window {format_duration(window)} is out of range", "window", "between 1m and 90d")
    cooldown = parse_duration(doc.get("cooldown", doc.get("cooldown_seconds", "1h")), "cooldown")
    if cooldown > MAX_COOLDOWN:
        raise _invalid(
            f"cooldown {format_duration(cooldown)} is too long",
            "cooldown",
            "at most 30d (0 turns escalation off)",
        )
    channels = doc.get("channels") or []
    if not isinstance(channels, list):
        raise _invalid("channels must be a list", "channels", '[{"kind": "webhook", "target": URL}]')
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _invalid(f"enabled {enabled!r} is not true or false", "enabled", "true or false")
    return AlertRule(
        name=name,
        signal=signal,
        comparison=comparison,
        threshold=threshold,
        window_seconds=window,
        min_samples=_whole(doc.get("min_samples", 1), "min_samples", 1),
        severity=_choice(Severity, doc.get("severity", Severity.WARNING.value), "severity"),
        cooldown_seconds=cooldown,
        scope=Scope.from_dict(doc),
        channels=tuple(channel_from_dict(c) for c in channels),
        enabled=enabled,
        description=str(doc.get("description") or "").strip()[:2000],
        runbook_url=parse_runbook_url(doc.get("runbook_url")),
    )


# --- readings and their evaluation ------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """One value of a signal for a scope over a window, with the samples behind it."""

    signal: Signal
    scope: Scope
    value: float
    window_start: datetime
    window_end: datetime
    samples: int
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.window_end <= self.window_start:
            raise _invalid("a reading's window ends before it starts", "window_end", "swap the window's ends")
        if self.samples < 0:
            raise _invalid(f"samples {self.samples} is negative", "samples", "a count >= 0")
        if not math.isfinite(self.value):
            raise _invalid(f"value {self.value!r} is not a finite number", "value", "a number")

    @property
    def window_seconds(self) -> int:
        return round((self.window_end - self.window_start).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": str(self.signal),
            **self.scope.to_dict(),
            "value": self.value,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "samples": self.samples,
            "detail": self.detail,
        }


READING_FIELDS = frozenset(
    {"signal", "use_case", "model", "workflow", "value", "window_start", "window_end", "samples", "detail"}
)


def _moment(value: Any, name: str) -> datetime:
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise _invalid(
            f"{name} {value!r} is not a time", name, "ISO 8601, e.g. 2026-03-02T00:00:00+00:00"
        ) from None
    if at.tzinfo is None:
        raise _invalid(f"{name} {value!r} has no UTC offset", name, "add the offset, e.g. +00:00")
    return at


def reading_from_dict(doc: Any) -> Reading:
    """A reading from another monitor (the shape of :meth:`Reading.to_dict`), validated."""
    if not isinstance(doc, dict):
        raise _invalid("a reading is an object of fields", "reading", "see docs/monitoring.md")
    unknown = sorted(set(doc) - READING_FIELDS)
    if unknown:
        raise _invalid(
            f"unknown field {unknown[0]!r}", unknown[0], f"use: {', '.join(sorted(READING_FIELDS))}"
        )
    detail = doc.get("detail") or {}
    if not isinstance(detail, dict):
        raise _invalid("detail must be an object", "detail", '{"reference_rows": 10000}')
    return Reading(
        Signal.parse(doc.get("signal", "")),
        Scope.from_dict(doc),
        _number(doc.get("value"), "value"),
        _moment(doc.get("window_start"), "window_start"),
        _moment(doc.get("window_end"), "window_end"),
        _whole(doc.get("samples"), "samples", 0),
        detail,
    )


def applies(rule: AlertRule, reading: Reading) -> bool:
    """Whether *rule* judges *reading*: enabled, same signal, in scope, window of the rule's length."""
    return (
        rule.enabled
        and rule.signal == reading.signal
        and rule.scope.covers(reading.scope)
        and reading.window_seconds == rule.window_seconds
    )


def condition(rule: AlertRule, reading: Reading) -> Condition:
    if reading.samples < rule.min_samples:
        return Condition.INSUFFICIENT
    over = (
        reading.value > rule.threshold
        if rule.comparison is Comparison.ABOVE
        else reading.value < rule.threshold
    )
    return Condition.FIRING if over else Condition.CLEAR


def dedup_key(rule: AlertRule, scope: Scope) -> str:
    """One open alert per (rule, scope)."""
    return f"{rule.name}|{scope.key()}"


@dataclass(frozen=True)
class AlertState:
    """What the store knows about the latest alert of a de-duplication key."""

    id: int
    status: AlertStatus
    severity: Severity
    first_seen: datetime
    last_notified_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    """What one reading does to the alert of its key; *notify* when people should hear of it."""

    event: Event
    rule: AlertRule
    reading: Reading
    severity: Severity
    notify: bool
    alert_id: int | None = None  # None for a new alert

    @property
    def key(self) -> str:
        return dedup_key(self.rule, self.reading.scope)

    def message(self) -> str:
        where = self.reading.scope.describe()
        return (
            f"{self.rule.name}: {self.reading.signal} is {self.reading.value:.4g} "
            f"({self.rule.comparison.value} {self.rule.threshold:g}) for {where} "
            f"over {format_duration(self.reading.window_seconds)}, n={self.reading.samples}"
        )


def _due(since: datetime | None, cooldown: int, now: datetime) -> bool:
    return since is None or (now - since).total_seconds() >= cooldown


def decide(rule: AlertRule, reading: Reading, latest: AlertState | None, now: datetime) -> Change | None:
    """The change *reading* makes to the latest alert of its key (``None``: nothing to do)."""
    state = condition(rule, reading)
    live = latest is not None and latest.status is not AlertStatus.RESOLVED
    if state is Condition.INSUFFICIENT:
        return None
    if state is Condition.CLEAR:
        if latest is not None and live:
            return Change(Event.RESOLVED, rule, reading, latest.severity, True, latest.id)
        return None
    if latest is None:
        return Change(Event.OPENED, rule, reading, rule.severity, True)
    if not live:
        recent = latest.resolved_at is not None and not _due(latest.resolved_at, rule.cooldown_seconds, now)
        if not recent:
            return Change(Event.OPENED, rule, reading, rule.severity, True)
        notify = _due(latest.last_notified_at, rule.cooldown_seconds, now)
        return Change(Event.REOPENED, rule, reading, latest.severity, notify, latest.id)
    escalate = (
        latest.status is AlertStatus.OPEN
        and rule.cooldown_seconds > 0
        and latest.severity is not Severity.CRITICAL
        and _due(latest.last_notified_at or latest.first_seen, rule.cooldown_seconds, now)
    )
    if escalate:
        return Change(Event.ESCALATED, rule, reading, latest.severity.escalated(), True, latest.id)
    return Change(Event.UPDATED, rule, reading, latest.severity, False, latest.id)


def evaluate(
    rules: list[AlertRule], readings: list[Reading], latest: dict[str, AlertState], now: datetime
) -> tuple[list[Change], list[Reading]]:
    """Every change the readings make, and the readings no rule judged.

    Readings are taken in window order, so with two readings of one key the later decides;
    *latest* maps de-duplication keys to their latest alert and is advanced as changes are made.
    """
    state = dict(latest)
    changes: list[Change] = []
    unmatched: list[Reading] = []
    for reading in sorted(readings, key=lambda r: r.window_end):
        matching = [r for r in rules if applies(r, reading)]
        if not matching:
            unmatched.append(reading)
        for rule in matching:
            key = dedup_key(rule, reading.scope)
            change = decide(rule, reading, state.get(key), now)
            if change is None:
                continue
            changes.append(change)
            state[key] = _after(change, state.get(key), now)
    return changes, unmatched


def _after(change: Change, before: AlertState | None, now: datetime) -> AlertState:
    """The key's state once *change* is applied (ids of new alerts are unknown here: -1)."""
    notified = now if change.notify else (before.last_notified_at if before else None)
    if change.event is Event.RESOLVED:
        assert before is not None
        return replace(before, status=AlertStatus.RESOLVED, resolved_at=now, last_notified_at=notified)
    if change.event is Event.OPENED:
        return AlertState(-1, AlertStatus.OPEN, change.severity, now, notified)
    assert before is not None
    status = AlertStatus.OPEN if change.event is Event.REOPENED else before.status
    return replace(
        before, status=status, severity=change.severity, last_notified_at=notified, resolved_at=None
    )


# --- the defaults ---------------------------------------------------------------------------
# fmt: off
_STARTERS = (  # name, signal, fires when, window, min samples, severity, cooldown, what it means
    ("drift-share", "drift_share", ("above", 0.3), "7d", 500, "warning", "1d",
     "Over 30% of a model's input columns drifted from the reference this week."),
    ("f1-low", "performance:f1", ("below", 0.7), "7d", 50, "warning", "1d",
     "F1 on the week's labelled predictions fell below 0.7."),
    ("calibration-off", "performance:ece", ("above", 0.1), "7d", 100, "warning", "1d",
     "Expected calibration error above 0.1: confidence no longer means what it says."),
    ("error-rate-high", "error_rate", ("above", 0.05), "1h", 20, "critical", "1h",
     "More than 5% of a workflow's cases failed or their downstream action failed."),
    ("latency-p95-high", "latency_p95_ms", ("above", 2000), "1h", 50, "warning", "1h",
     "The model call's 95th percentile latency is over 2 s."),
    ("override-rate-high", "override_rate", ("above", 0.3), "1d", 30, "warning", "1d",
     "Reviewers change or reject over 30% of the suggestions: a label-free quality signal."),
    ("review-sla-breached", "review_sla_breaches", ("above", 0), "1h", 1, "warning", "4h",
     "Review items were decided late, or are still open past their due time."),
)
# fmt: on
DEFAULT_RULES: tuple[dict[str, Any], ...] = tuple(
    {
        "name": n,
        "signal": s,
        when[0]: when[1],
        "window": w,
        "min_samples": m,
        "severity": sev,
        "cooldown": c,
        "description": d,
    }
    for n, s, when, w, m, sev, c, d in _STARTERS
)


def default_rules() -> list[AlertRule]:
    """The starter rules (see docs/monitoring.md): for every model and workflow, no channels."""
    return [rule_from_dict(dict(doc)) for doc in DEFAULT_RULES]
