"""Flags as data: sticky murmur3 bucketing, OpenFeature reasons, validation, guardrail judgement."""

from __future__ import annotations

import math

import mmh3
import pytest

from paceline.domain.flags import (
    DEFAULT_GUARDRAILS,
    Context,
    GuardrailRule,
    Metric,
    Reason,
    VariantSample,
    bucket,
    evaluate,
    judge_guardrails,
    p95,
    parse_flag,
)
from paceline.errors import ValidationError

KEY = "release.expense-check"


def release(percent: float, **extra: object) -> dict[str, object]:
    return {"variants": ["baseline", "v2"], "canary": {"variant": "v2", "percent": percent}, **extra}


def test_bucket_is_murmur3_of_flag_key_then_targeting_key_scaled_to_100() -> None:
    assert bucket("case-1", KEY) == mmh3.hash(f"{KEY}case-1", 0, signed=False) / 2**32 * 100
    assert bucket("case-1", KEY) == bucket("case-1", KEY)  # sticky
    assert bucket("case-1", KEY) != bucket("case-1", "release.other")  # independent per flag
    assert all(0 <= bucket(f"c{i}", KEY) < 100 for i in range(2000))


@pytest.mark.parametrize("percent", [5.0, 20.0, 50.0, 90.0])
def test_a_canary_gets_about_its_percentage_of_cases(percent: float) -> None:
    flag = parse_flag(release(percent), KEY)
    n = 20_000
    hits = sum(evaluate(flag, Context(f"case-{i}"))[0] == "v2" for i in range(n))
    p = percent / 100
    assert abs(hits - n * p) < 4.5 * math.sqrt(n * p * (1 - p))  # binomial tolerance


def test_raising_the_percentage_keeps_every_canary_case_in_the_canary() -> None:
    low, high = parse_flag(release(10), KEY), parse_flag(release(30), KEY)
    ids = [f"case-{i}" for i in range(5000)]
    in_low = {i for i in ids if evaluate(low, Context(i))[0] == "v2"}
    in_high = {i for i in ids if evaluate(high, Context(i))[0] == "v2"}
    assert in_low and in_low < in_high
    again = {i for i in ids if evaluate(parse_flag(release(10), KEY), Context(i))[0] == "v2"}
    assert again == in_low  # the same case, the same answer, every time


def test_reasons_follow_openfeature() -> None:
    ctx = Context("case-1", {"tenant": "acme"})
    assert evaluate(parse_flag(release(0), KEY), ctx) == ("baseline", Reason.STATIC)
    assert evaluate(parse_flag(release(100), KEY), ctx) == ("v2", Reason.STATIC)
    assert evaluate(parse_flag(release(50), KEY), ctx)[1] is Reason.SPLIT
    assert evaluate(parse_flag(release(50, state="disabled"), KEY), ctx) == ("baseline", Reason.DISABLED)
    targeted = release(0, targeting=[{"attribute": "tenant", "values": ["acme"], "variant": "v2"}])
    assert evaluate(parse_flag(targeted, KEY), ctx) == ("v2", Reason.TARGETING_MATCH)
    assert evaluate(parse_flag(targeted, KEY), Context("case-1", {"tenant": "other"}))[1] is Reason.STATIC
    assert evaluate(parse_flag(release(50), KEY), Context(None)) == ("baseline", Reason.ERROR)
    kill = parse_flag({"default_variant": "on"}, "kill.expense-check")
    assert evaluate(kill, ctx) == ("on", Reason.STATIC) and kill.value("on") is True
    assert parse_flag({}, "kill.expense-check").value(evaluate(parse_flag({}, "kill.x"), ctx)[0]) is False


def test_a_release_gets_default_guardrails_and_round_trips() -> None:
    flag = parse_flag(release(10), KEY)
    assert flag.guardrails == DEFAULT_GUARDRAILS and flag.default_variant == "baseline"
    assert parse_flag(flag.to_dict(), KEY, flag.version) == flag


@pytest.mark.parametrize(
    ("key", "doc", "field"),
    [
        ("feature.x", {}, "key"),
        ("release.Bad Name", {}, "key"),
        (KEY, {"variants": []}, "variants"),
        (KEY, {"variants": ["baseline", "baseline"]}, "variants"),
        (KEY, {"variants": ["baseline", "has space"]}, "variants[1]"),
        (KEY, {"variants": ["v1"]}, "default_variant"),
        (KEY, {"state": "paused"}, "state"),
        (KEY, release(101), "canary.percent"),
        (KEY, release(-1), "canary.percent"),
        (KEY, {"variants": ["baseline"], "canary": {"variant": "v3", "percent": 5}}, "canary.variant"),
        (KEY, {"canary": {"variant": "baseline", "percent": 5}}, "canary.variant"),
        (KEY, {"canary": {"variant": "baseline", "share": 5}}, "canary.share"),
        (
            KEY,
            release(5, targeting=[{"attribute": "tenant", "values": [], "variant": "v2"}]),
            "targeting[0].values",
        ),
        (
            KEY,
            release(5, targeting=[{"attribute": "t", "values": ["a"], "variant": "v9"}]),
            "targeting[0].variant",
        ),
        (KEY, release(5, guardrails=[{"metric": "happiness", "max_value": 1}]), "guardrails[0].metric"),
        (KEY, release(5, guardrails=[{"metric": "override_rate"}]), "guardrails[0].max_value"),
        (
            KEY,
            release(5, guardrails=[{"metric": "override_rate", "max_delta": -1}]),
            "guardrails[0].max_delta",
        ),
        (
            KEY,
            release(5, guardrails=[{"metric": "override_rate", "max_delta": 0.1, "min_sample": 0}]),
            "guardrails[0].min_sample",
        ),
        (KEY, {"colour": "red"}, "colour"),
        ("kill.expense-check", {"canary": {"variant": "on", "percent": 5}}, "canary"),
        ("kill.expense-check", {"variants": ["yes", "no"]}, "variants"),
        ("kill.expense-check", {"default_variant": "maybe"}, "default_variant"),
    ],
)
def test_bad_flag_definitions_are_refused_with_the_field_named(
    key: str, doc: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        parse_flag(doc, key)
    assert err.value.details["field"] == field


def sample(reviewed: int, overridden: int, cases: int | None = None) -> VariantSample:
    return VariantSample(cases=cases or reviewed, reviewed=reviewed, overridden=overridden)


def test_guardrails_judge_the_canary_against_the_control_after_a_minimum_sample() -> None:
    rules = [GuardrailRule(Metric.OVERRIDE_RATE, max_delta=0.10, min_sample=20)]
    small = {"baseline": sample(40, 4), "v2": sample(10, 9)}
    assert judge_guardrails(small, rules) == []  # 90% overrides, but only 10 reviewed
    bad = {"baseline": sample(40, 4), "v2": sample(25, 10)}
    (breach,) = judge_guardrails(bad, rules)
    assert (breach.variant, breach.metric, breach.kind) == ("v2", Metric.OVERRIDE_RATE, "max_delta")
    assert breach.value == pytest.approx(0.4) and breach.control_value == pytest.approx(0.1)
    assert "override_rate of v2" in breach.message
    fine = {"baseline": sample(40, 4), "v2": sample(25, 4)}
    assert judge_guardrails(fine, rules) == []
    no_control = {"v2": sample(25, 20)}
    assert judge_guardrails(no_control, rules) == []  # a delta needs the control's sample too
    ceiling = [GuardrailRule(Metric.OVERRIDE_RATE, max_value=0.5, min_sample=20)]
    assert [b.kind for b in judge_guardrails(no_control, ceiling)] == ["max_value"]


def test_latency_and_cost_guardrails() -> None:
    fast = VariantSample(cases=50, latencies_ms=[10.0] * 50, costs=[0.001] * 50)
    slow = VariantSample(cases=50, latencies_ms=[10.0] * 48 + [900.0] * 2, costs=[0.01] * 50)
    rules = [
        GuardrailRule(Metric.P95_LATENCY_MS, max_value=500, min_sample=30),
        GuardrailRule(Metric.COST_PER_CASE, max_delta=0.005, min_sample=30),
    ]
    metrics = {b.metric for b in judge_guardrails({"baseline": fast, "v2": slow}, rules)}
    assert metrics == {Metric.COST_PER_CASE}  # 2 slow calls in 50: the p95 is still 10 ms
    slow.latencies_ms += [900.0]
    assert Metric.P95_LATENCY_MS in {
        b.metric for b in judge_guardrails({"baseline": fast, "v2": slow}, rules)
    }


def test_p95_is_the_nearest_rank() -> None:
    assert p95([]) is None
    assert p95([3.0]) == 3.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0
