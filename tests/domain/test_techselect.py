"""Technology selection: the weighted score, the ranking and the cost model."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.techselect import (
    DEFAULT_WEIGHTS,
    CostModel,
    Criterion,
    OptionKind,
    TechOption,
    apply_cost,
    assess,
    normalise_weights,
    parse_cost_model,
    parse_option,
    validate_cost_model,
)
from paceline.domain.usecases import ValueInputs
from paceline.errors import ValidationError

ALL_FOUR = dict.fromkeys(Criterion, 4)

# The worked example of docs/roi.md.
EXAMPLE_COST = CostModel(
    tokens_in_per_task=3_000,
    tokens_out_per_task=500,
    price_in_per_million=3.0,
    price_out_per_million=15.0,
    price_per_call=0.002,
    calls_per_task=1,
    infrastructure_per_month=400,
    licences_per_year=6_000,
    other_per_year=2_000,
)


def option(name: str, scores: dict[Criterion, int] | None = None, **kw: object) -> TechOption:
    return TechOption(name, OptionKind.VENDOR, dict(ALL_FOUR if scores is None else scores), **kw)


def test_default_weights_cover_every_criterion_and_sum_to_one() -> None:
    assert set(DEFAULT_WEIGHTS) == set(Criterion)
    assert math.isclose(sum(DEFAULT_WEIGHTS.values()), 1.0)
    assert DEFAULT_WEIGHTS[Criterion.SECURITY] > DEFAULT_WEIGHTS[Criterion.APIS]


def test_cost_model_worked_example() -> None:
    assert EXAMPLE_COST.inference_per_task() == pytest.approx(0.0185)
    cost = EXAMPLE_COST.annual_cost(100_000)
    assert cost.inference == pytest.approx(1_850)
    assert cost.infrastructure == pytest.approx(4_800)
    assert (cost.licences, cost.other) == (6_000, 2_000)
    assert cost.total == pytest.approx(14_650)
    assert cost.per_task == pytest.approx(0.1465)
    assert cost.to_dict()["total"] == pytest.approx(14_650)


def test_zero_volume_has_fixed_costs_and_no_per_task_cost() -> None:
    cost = EXAMPLE_COST.annual_cost(0)
    assert cost.inference == 0 and cost.total == pytest.approx(12_800) and cost.per_task is None


def test_the_chosen_option_becomes_the_use_cases_annual_cost() -> None:
    value = ValueInputs(volume_per_year=100_000, annual_cost=1.0)
    updated = apply_cost(value, option("acme", cost=EXAMPLE_COST))
    assert updated.annual_cost == pytest.approx(14_650)
    assert updated.volume_per_year == 100_000


@pytest.mark.parametrize(
    "name",
    ["price_in_per_million", "price_out_per_million", "price_per_call", "infrastructure_per_month"],
)
def test_negative_prices_are_named(name: str) -> None:
    with pytest.raises(ValidationError) as err:
        CostModel(**{name: -1.0}).annual_cost(10)
    assert err.value.details["field"] == f"cost.{name}"


def test_bad_volume_and_cost_documents_are_named() -> None:
    with pytest.raises(ValidationError) as err:
        EXAMPLE_COST.annual_cost(-5)
    assert err.value.details["field"] == "volume_per_year"
    with pytest.raises(ValidationError) as err:
        parse_cost_model({"price_in_per_milion": 3})
    assert err.value.details["field"] == "cost.price_in_per_milion"
    with pytest.raises(ValidationError) as err:
        validate_cost_model(CostModel(tokens_in_per_task=math.nan))
    assert err.value.details["field"] == "cost.tokens_in_per_task"
    assert parse_cost_model({"price_per_call": 0.01}).price_per_call == 0.01


def test_assess_ranks_by_weighted_score_and_names_the_weakest() -> None:
    strong = option("strong", {**ALL_FOUR, Criterion.LATENCY: 5})
    weak = option("weak", {**ALL_FOUR, Criterion.SECURITY: 1, Criterion.COST: 1})
    ranked = assess([weak, strong])
    assert [r.name for r in ranked] == ["strong", "weak"]
    assert [r.rank for r in ranked] == [1, 2]
    # all fours is 75 points; one 5 on a 0.10 criterion adds 2.5
    assert ranked[0].score == pytest.approx(77.5)
    # a 1 on security (0.20) and on cost (0.10) loses 0.30 x 75 = 22.5
    assert ranked[1].score == pytest.approx(52.5)
    # tied at 1: security weighs more, so it is the weakest
    assert ranked[1].weakest is Criterion.SECURITY
    assert sum(c.points for c in ranked[0].contributions) == pytest.approx(ranked[0].score)
    doc = ranked[0].to_dict()
    assert doc["kind"] == "vendor" and doc["weakest"] in {c.value for c in Criterion}


def test_equal_scores_share_a_rank_and_sort_by_name() -> None:
    ranked = assess([option("b"), option("a"), option("c", dict.fromkeys(Criterion, 1))])
    assert [(r.name, r.rank) for r in ranked] == [("a", 1), ("b", 1), ("c", 3)]
    assert ranked[2].score == 0


def test_custom_weights_are_normalised_and_left_out_criteria_need_no_score() -> None:
    only = {Criterion.SECURITY: 5, Criterion.COST: 1}
    ranked = assess([option("x", only)], weights={"security": 3, "cost": 1})
    assert ranked[0].score == pytest.approx(75)
    assert {c.criterion for c in ranked[0].contributions} == {Criterion.SECURITY, Criterion.COST}
    assert ranked[0].weakest is Criterion.COST
    normal = normalise_weights({"apis": 2, "latency": 2})
    assert normal[Criterion.APIS] == 0.5 and normal[Criterion.SECURITY] == 0


@pytest.mark.parametrize(
    ("weights", "field"),
    [
        ({"security": -1, "apis": 2}, "weights.security"),
        ({"security": 0}, "weights"),
        ({"speed": 1}, "weights.speed"),
        ({"apis": math.inf}, "weights.apis"),
    ],
)
def test_bad_weights_are_named(weights: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        assess([option("x")], weights=weights)
    assert err.value.details["field"] == field


def test_a_missing_score_names_the_option_and_criterion() -> None:
    scores = {c: 3 for c in Criterion if c is not Criterion.EXPLAINABILITY}
    with pytest.raises(ValidationError) as err:
        assess([option("ok"), option("acme", scores)])
    assert err.value.details["field"] == "acme.scores.explainability"
    assert "acme" in err.value.message and "explainability" in err.value.message


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ([option("x", {**ALL_FOUR, Criterion.APIS: 6})], "x.scores.apis"),
        ([option("x", {**ALL_FOUR, Criterion.APIS: True})], "x.scores.apis"),
        ([option("  ")], "name"),
        ([option("x"), option("x")], "name"),
        ([], "options"),
        ([option("x", cost=CostModel(price_per_call=-0.1))], "cost.price_per_call"),
    ],
)
def test_bad_options_are_named(options: list[TechOption], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        assess(options)
    assert err.value.details["field"] == field


def test_parse_option_reads_json_and_names_unknown_criteria() -> None:
    doc = {"name": "acme", "kind": "architecture", "scores": {c.value: 3 for c in Criterion}}
    parsed = parse_option({**doc, "cost": {"licences_per_year": 100}})
    assert parsed.kind is OptionKind.ARCHITECTURE and parsed.cost.licences_per_year == 100
    assert assess([parsed])[0].score == pytest.approx(50)
    assert parsed.to_dict()["scores"]["apis"] == 3
    with pytest.raises(ValidationError) as err:
        parse_option({**doc, "scores": {"speed": 3}})
    assert err.value.details["field"] == "acme.scores.speed"
    with pytest.raises(ValidationError) as err:
        parse_option({**doc, "kind": "cloud"})
    assert err.value.details["field"] == "kind"


scores = st.fixed_dictionaries({c: st.integers(1, 5) for c in Criterion})
weights = st.fixed_dictionaries({c.value: st.floats(0, 10) for c in Criterion}).filter(
    lambda w: sum(w.values()) > 0.01
)


@given(st.lists(scores, min_size=1, max_size=6), weights)
def test_scores_lie_in_0_100_and_the_ranking_is_ordered(
    all_scores: list[dict[Criterion, int]], w: dict[str, float]
) -> None:
    ranked = assess([option(f"o{i}", s) for i, s in enumerate(all_scores)], weights=w)
    assert all(0 <= r.score <= 100 for r in ranked)
    assert all(a.score >= b.score - 1e-9 for a, b in itertools.pairwise(ranked))
    assert all(a.rank <= b.rank for a, b in itertools.pairwise(ranked))
    assert ranked[0].rank == 1


@given(scores, st.sampled_from(list(Criterion)))
def test_raising_one_score_never_lowers_the_option(base: dict[Criterion, int], criterion: Criterion) -> None:
    better = {**base, criterion: min(5, base[criterion] + 1)}
    assert assess([option("b", better)])[0].score >= assess([option("a", base)])[0].score - 1e-9


def test_docs_state_the_default_weights_and_the_worked_example() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "roi.md").read_text(encoding="utf-8")
    for criterion, weight in DEFAULT_WEIGHTS.items():
        assert f"| `{criterion}` |" in text and f"| {weight:.2f} |" in text
    cost = EXAMPLE_COST.annual_cost(100_000)
    for line, amount in (("inference", cost.inference), ("infrastructure", cost.infrastructure)):
        assert f"| {line} |" in text and f"| {amount:,.0f} |" in text
    assert f"| **total** | | **{cost.total:,.0f}** |" in text
    assert f"| {cost.per_task:.4f} |" in text
