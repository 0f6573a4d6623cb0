"""Feature flags for releases and kill switches, as data and pure functions (notes/hitl.md §3).

A flag follows the OpenFeature model: named *variants*, a *default variant*, an enabled or
disabled *state*, optional *targeting* rules on context attributes, and for a release a
*canary*: the share of cases (0-100%) that get the canary variant. The evaluation returns a
variant and an OpenFeature reason (``STATIC``, ``SPLIT``, ``TARGETING_MATCH``, ``DISABLED``,
``DEFAULT``, ``ERROR``), so the same definitions could move to flagd, Unleash or GrowthBook.

The split is sticky bucketing as flagd's ``fractional`` does it: murmur3 (32-bit, seed 0) of
the flag key followed by the targeting key (the case id) gives a bucket in [0, 100); the case
is in the canary when its bucket is below the percentage. Raising the percentage keeps every
case that was in the canary there; the runtime also stores the variant on the case, because a
case must keep its variant even when the percentage goes down.

Two kinds of flag: ``release.<workflow>`` (string variants: the model versions a workflow's
``predictor(variant)`` serves) and ``kill.<workflow>`` (boolean: variant ``on`` sends every
case to the human-only path). Guardrail rules compare a release's canary with its control
(the default variant) on measured rates, after a minimum sample, and say which are breached.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import mmh3

from paceline.errors import ValidationError


class Reason(StrEnum):
    """OpenFeature resolution reasons (spec: Evaluation API, flag evaluation details)."""

    STATIC = "STATIC"
    SPLIT = "SPLIT"
    TARGETING_MATCH = "TARGETING_MATCH"
    DISABLED = "DISABLED"
    DEFAULT = "DEFAULT"
    ERROR = "ERROR"
    CACHED = "CACHED"


class FlagKind(StrEnum):
    RELEASE = "release"
    KILL = "kill"


class FlagState(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class Metric(StrEnum):
    """What a guardrail watches, per variant."""

    OVERRIDE_RATE = "override_rate"  # edit/override/reject among reviewed cases
    RULE_FAILURE_RATE = "rule_failure_rate"  # cases with a rule hit among cases past the rules step
    ACTION_ERROR_RATE = "action_error_rate"  # actions that failed or were retried among those attempted
    P95_LATENCY_MS = "p95_latency_ms"  # the model call's latency
    COST_PER_CASE = "cost_per_case"  # the model call's cost (call.attributes["paceline.cost"])


KILL_VARIANTS: tuple[str, ...] = ("off", "on")
BASELINE = "baseline"
KEY_RE = re.compile(r"^(release|kill)\.([a-z0-9][a-z0-9_.-]{0,79})$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
ATTRIBUTE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,79}$")
OVERRIDING = frozenset({"edit", "override", "reject"})


def release_key(workflow: str) -> str:
    return f"{FlagKind.RELEASE.value}.{workflow}"


def kill_key(workflow: str) -> str:
    return f"{FlagKind.KILL.value}.{workflow}"


def bucket(targeting_key: str, flag_key: str) -> float:
    """The sticky bucket of *targeting_key* for *flag_key*, in [0, 100).

    murmur3 x86 32-bit (seed 0) of ``flag_key + targeting_key``, as flagd's ``fractional``
    hashes its default bucketing value, scaled from [0, 2^32) to [0, 100).
    """
    return mmh3.hash(f"{flag_key}{targeting_key}", 0, signed=False) / 2**32 * 100


# --- the flag ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetingRule:
    """Cases whose context attribute is one of *values* get *variant* (``TARGETING_MATCH``)."""

    attribute: str
    values: tuple[str, ...]
    variant: str

    def to_dict(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "values": list(self.values), "variant": self.variant}


@dataclass(frozen=True)
class GuardrailRule:
    """A rollback criterion: the canary's *metric* must stay at or under *max_value*, and at or
    under the control's value plus *max_delta*; judged once both sides have *min_sample*."""

    metric: Metric
    max_value: float | None = None
    max_delta: float | None = None
    min_sample: int = 30

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric.value,
            "max_value": self.max_value,
            "max_delta": self.max_delta,
            "min_sample": self.min_sample,
        }


DEFAULT_GUARDRAILS: tuple[GuardrailRule, ...] = (
    GuardrailRule(Metric.OVERRIDE_RATE, max_delta=0.10),
    GuardrailRule(Metric.RULE_FAILURE_RATE, max_delta=0.10),
    GuardrailRule(Metric.ACTION_ERROR_RATE, max_value=0.05),
)


@dataclass(frozen=True)
class Flag:
    key: str
    variants: tuple[str, ...]
    default_variant: str
    state: FlagState = FlagState.ENABLED
    canary_variant: str | None = None
    canary_percent: float = 0.0
    targeting: tuple[TargetingRule, ...] = ()
    guardrails: tuple[GuardrailRule, ...] = ()
    version: int = 1

    @property
    def kind(self) -> FlagKind:
        return FlagKind(self.key.split(".", 1)[0])

    @property
    def subject(self) -> str:
        """The workflow the flag is about (``release.invoice-check`` -> ``invoice-check``)."""
        return self.key.split(".", 1)[1]

    def value(self, variant: str) -> str | bool:
        """The flag value of *variant*: a release serves the variant's name, a kill switch a bool."""
        return variant == "on" if self.kind is FlagKind.KILL else variant

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind.value,
            "state": self.state.value,
            "variants": list(self.variants),
            "default_variant": self.default_variant,
            "canary": (
                {"variant": self.canary_variant, "percent": self.canary_percent}
                if self.canary_variant
                else None
            ),
            "targeting": [t.to_dict() for t in self.targeting],
            "guardrails": [g.to_dict() for g in self.guardrails],
            "version": self.version,
        }


def _fail(message: str, where: str, value: Any = None, fix: str | None = None) -> ValidationError:
    details: dict[str, Any] = {"field": where}
    if value is not None:
        details["value"] = value
    if fix:
        details["fix"] = fix
    return ValidationError(f"{where}: {message}", **details)


def _number(value: Any, where: str, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail("must be a number", where, value)
    if value < low or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise _fail(f"must be {span}", where, value)
    return float(value)


def _variant(value: Any, where: str, variants: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in variants:
        raise _fail(f"{value!r} is not one of the variants ({', '.join(variants)})", where, value)
    return value


def _targeting(doc: Any, variants: Sequence[str]) -> tuple[TargetingRule, ...]:
    if doc is None:
        return ()
    if not isinstance(doc, list):
        raise _fail("must be a list of {attribute, values, variant}", "targeting")
    rules = []
    for i, item in enumerate(doc):
        where = f"targeting[{i}]"
        if not isinstance(item, dict):
            raise _fail("must be an object {attribute, values, variant}", where)
        unknown = sorted(set(item) - {"attribute", "values", "variant"})
        if unknown:
            raise _fail(f"unknown field {unknown[0]!r}", f"{where}.{unknown[0]}")
        attribute = item.get("attribute")
        if not isinstance(attribute, str) or not ATTRIBUTE_RE.match(attribute):
            raise _fail("must be an attribute name such as tenant or region", f"{where}.attribute", attribute)
        values = item.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise _fail("must be a non-empty list of strings", f"{where}.values", values)
        rules.append(
            TargetingRule(
                attribute, tuple(values), _variant(item.get("variant"), f"{where}.variant", variants)
            )
        )
    return tuple(rules)


def parse_guardrails(doc: Any) -> tuple[GuardrailRule, ...]:
    """Guardrail rules from a list of ``{metric, max_value?, max_delta?, min_sample?}``."""
    if not isinstance(doc, list):
        raise _fail("must be a list of {metric, max_value, max_delta, min_sample}", "guardrails")
    rules = []
    for i, item in enumerate(doc):
        where = f"guardrails[{i}]"
        if not isinstance(item, dict):
            raise _fail("must be an object {metric, max_value, max_delta, min_sample}", where)
        unknown = sorted(set(item) - {"metric", "max_value", "max_delta", "min_sample"})
        if unknown:
            raise _fail(f"unknown field {unknown[0]!r}", f"{where}.{unknown[0]}")
        try:
            metric = Metric(str(item.get("metric")))
        except ValueError:
            raise _fail(
                f"{item.get('metric')!r} is not one of: {', '.join(m.value for m in Metric)}",
                f"{where}.metric",
                item.get("metric"),
            ) from None
        max_value = item.get("max_value")
        max_delta = item.get("max_delta")
        if max_value is None and max_delta is None:
            raise _fail("give max_value, max_delta or both", f"{where}.max_value")
        min_sample = item.get("min_sample", 30)
        if isinstance(min_sample, bool) or not isinstance(min_sample, int) or min_sample < 1:
            raise _fail("must be a whole number of at least 1", f"{where}.min_sample", min_sample)
        rules.append(
            GuardrailRule(
                metric,
                None if max_value is None else _number(max_value, f"{where}.max_value", 0.0),
                None if max_delta is None else _number(max_delta, f"{where}.max_delta", 0.0),
                min_sample,
            )
        )
    return tuple(rules)


FIELDS = {
    "key",
    "kind",
    "state",
    "variants",
    "default_variant",
    "canary",
    "targeting",
    "guardrails",
    "version",
}


def parse_flag(doc: Any, key: str | None = None, version: int = 1) -> Flag:
    """A validated :class:`Flag` from its JSON document; a bad field is refused by name.

    ``kind`` and ``version`` may be echoed back from :meth:`Flag.to_dict` and are ignored
    (the kind follows from the key, the version is the store's). A kill switch's variants are
    always ``off`` and ``on``; a release's default variant is ``baseline`` unless given.
    """
    if not isinstance(doc, dict):
        raise _fail("a flag is a JSON object", "flag")
    unknown = sorted(set(doc) - FIELDS - {"reason"})
    if unknown:
        raise _fail(f"unknown field {unknown[0]!r}", unknown[0], fix=f"fields: {', '.join(sorted(FIELDS))}")
    key = key if key is not None else doc.get("key")
    if doc.get("key") not in (None, key):
        raise _fail(f"{doc.get('key')!r} differs from the flag's key {key!r}", "key", doc.get("key"))
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise _fail(
            "must be release.<workflow> or kill.<workflow> (lower case, digits, - _ .)",
            "key",
            key,
            fix="e.g. release.invoice-check or kill.invoice-check",
        )
    kind = FlagKind(key.split(".", 1)[0])
    try:
        state = FlagState(doc.get("state", FlagState.ENABLED.value))
    except ValueError:
        raise _fail("must be enabled or disabled", "state", doc.get("state")) from None
    if kind is FlagKind.KILL:
        if doc.get("variants") not in (None, list(KILL_VARIANTS), ["on", "off"]):
            raise _fail("a kill switch's variants are off and on", "variants", doc.get("variants"))
        variants: tuple[str, ...] = KILL_VARIANTS
        if doc.get("canary") is not None:
            raise _fail("a kill switch has no canary: it is on or off", "canary")
        if doc.get("guardrails"):
            raise _fail("guardrails belong to a release flag", "guardrails")
    else:
        raw = doc.get("variants", [BASELINE])
        if not isinstance(raw, list) or not raw:
            raise _fail("must be a non-empty list of variant names", "variants", raw)
        for i, name in enumerate(raw):
            if not isinstance(name, str) or not NAME_RE.match(name):
                raise _fail("a variant name is 1-80 letters, digits and _ . : -", f"variants[{i}]", name)
        if len(set(raw)) != len(raw):
            raise _fail("names a variant twice", "variants", raw)
        variants = tuple(raw)
    default = _variant(
        doc.get("default_variant", "off" if kind is FlagKind.KILL else BASELINE), "default_variant", variants
    )
    canary_variant, percent = None, 0.0
    canary = doc.get("canary")
    if canary is not None:
        if not isinstance(canary, dict):
            raise _fail("must be an object {variant, percent}", "canary")
        unknown = sorted(set(canary) - {"variant", "percent"})
        if unknown:
            raise _fail(f"unknown field {unknown[0]!r}", f"canary.{unknown[0]}")
        canary_variant = _variant(canary.get("variant"), "canary.variant", variants)
        if canary_variant == default:
            raise _fail("the canary must differ from the default variant", "canary.variant", canary_variant)
        percent = _number(canary.get("percent", 0), "canary.percent", 0.0, 100.0)
    guardrails = parse_guardrails(doc["guardrails"]) if doc.get("guardrails") is not None else ()
    if kind is FlagKind.RELEASE and not guardrails:
        guardrails = DEFAULT_GUARDRAILS
    return Flag(
        key=key,
        variants=variants,
        default_variant=default,
        state=state,
        canary_variant=canary_variant,
        canary_percent=percent,
        targeting=_targeting(doc.get("targeting"), variants),
        guardrails=guardrails,
        version=version,
    )


# --- evaluation ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """The OpenFeature evaluation context: the targeting key (a case id) and attributes."""

    targeting_key: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


def evaluate(flag: Flag, context: Context) -> tuple[str, Reason]:
    """The variant of *flag* for *context*, and why (an OpenFeature reason).

    Disabled: the default variant (``DISABLED``). A targeting rule that matches: its variant
    (``TARGETING_MATCH``). A canary strictly between 0% and 100%: the sticky bucket decides
    (``SPLIT``; without a targeting key to bucket on, the default variant with ``ERROR``).
    Otherwise every case gets the same variant (``STATIC``).
    """
    if flag.state is FlagState.DISABLED:
        return flag.default_variant, Reason.DISABLED
    for rule in flag.targeting:
        value = context.attributes.get(rule.attribute)
        if value is not None and str(value) in rule.values:
            return rule.variant, Reason.TARGETING_MATCH
    if flag.canary_variant is None or flag.canary_percent <= 0:
        return flag.default_variant, Reason.STATIC
    if flag.canary_percent >= 100:
        return flag.canary_variant, Reason.STATIC
    if not context.targeting_key:
        return flag.default_variant, Reason.ERROR
    in_canary = bucket(context.targeting_key, flag.key) < flag.canary_percent
    return (flag.canary_variant if in_canary else flag.default_variant), Reason.SPLIT


# --- guardrails --------------------------------------------------------------------------------
def p95(values: Sequence[float]) -> float | None:
    """The 95th percentile by the nearest-rank method (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)])


@dataclass
class VariantSample:
    """What one variant's cases did, counted from the runtime's journal, reviews and outbox."""

    cases: int = 0
    reviewed: int = 0  # cases with a decided review (review or QA)
    overridden: int = 0  # ... decided edit, override or reject
    ruled: int = 0  # cases past the rules step
    rule_hits: int = 0  # ... with at least one rule hit
    actions: int = 0  # actions the dispatcher attempted
    action_errors: int = 0  # ... that failed or needed a retry
    latencies_ms: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)

    def measure(self, metric: Metric) -> tuple[float | None, int]:
        """The metric's value (None without data) and the sample it rests on."""
        if metric is Metric.OVERRIDE_RATE:
            return _rate(self.overridden, self.reviewed), self.reviewed
        if metric is Metric.RULE_FAILURE_RATE:
            return _rate(self.rule_hits, self.ruled), self.ruled
        if metric is Metric.ACTION_ERROR_RATE:
            return _rate(self.action_errors, self.actions), self.actions
        if metric is Metric.P95_LATENCY_MS:
            return p95(self.latencies_ms), len(self.latencies_ms)
        mean = sum(self.costs) / len(self.costs) if self.costs else None
        return mean, len(self.costs)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "cases": self.cases,
            "reviewed": self.reviewed,
            "ruled": self.ruled,
            "actions": self.actions,
            "inferred": len(self.latencies_ms),
        }
        for metric in Metric:
            doc[metric.value] = self.measure(metric)[0]
        return doc


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Breach:
    variant: str
    metric: Metric
    value: float
    limit: float
    kind: str  # "max_value" or "max_delta"
    sample: int
    control_value: float | None = None

    @property
    def message(self) -> str:
        if self.kind == "max_delta":
            return (
                f"{self.metric.value} of {self.variant} is {self.value:.4g}, more than the control's "
                f"{self.control_value:.4g} + {self.limit:.4g} (n={self.sample})"
            )
        return (
            f"{self.metric.value} of {self.variant} is {self.value:.4g} > {self.limit:.4g} (n={self.sample})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"metric": self.metric.value, "message": self.message}


def judge_guardrails(
    metrics_by_variant: Mapping[str, VariantSample],
    rules: Iterable[GuardrailRule],
    control: str = BASELINE,
) -> list[Breach]:
    """The rules every non-control variant breaks, judged only on samples of ``min_sample``.

    ``max_value`` is an absolute ceiling on the variant; ``max_delta`` a ceiling on its excess
    over the control, judged only when the control has the minimum sample too.
    """
    rules = list(rules)
    base = metrics_by_variant.get(control)
    breaches: list[Breach] = []
    for variant, sample in sorted(metrics_by_variant.items()):
        if variant == control:
            continue
        for rule in rules:
            value, n = sample.measure(rule.metric)
            if value is None or n < rule.min_sample:
                continue
            if rule.max_value is not None and value > rule.max_value:
                breaches.append(Breach(variant, rule.metric, value, rule.max_value, "max_value", n))
            if rule.max_delta is not None and base is not None:
                ref, ref_n = base.measure(rule.metric)
                if ref is not None and ref_n >= rule.min_sample and value - ref > rule.max_delta + 1e-12:
                    breaches.append(Breach(variant, rule.metric, value, rule.max_delta, "max_delta", n, ref))
    return breaches
