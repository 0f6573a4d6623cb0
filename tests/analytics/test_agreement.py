"""Agreement: Cohen's and Fleiss' kappa against scikit-learn and statsmodels, and the report."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from paceline.analytics.agreement import (
    agreement_report,
    band,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_table,
    percent_agreement,
)

QUEUES = ["fast-track", "standard", "specialist", "siu"]


def _raters(seed: int, n: int, k: int, agree: float) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < agree, a, rng.integers(0, k, n))
    return [QUEUES[i] for i in a], [QUEUES[i] for i in b]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_scikit_learn(seed: int, weights: str | None) -> None:
    a, b = _raters(seed, 50 + 40 * seed, 2 + seed % 3, 0.2 + 0.12 * seed)
    ours = cohen_kappa(a, b, weights=weights)
    assert ours == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-12)


def test_cohen_kappa_golden_numbers() -> None:
    # Two raters, 10 items: 7 agree; marginals give chance agreement 0.5, so kappa 0.4.
    a = ["yes"] * 5 + ["no"] * 5
    b = ["yes"] * 4 + ["no"] + ["no"] * 3 + ["yes"] * 2
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    ordered = ["99212", "99213", "99214", "99215"]  # billing levels: an adjacent miss costs less
    x, y = ["99212", "99213", "99214", "99215", "99213"], ["99213", "99213", "99214", "99214", "99215"]
    assert cohen_kappa(x, y, labels=ordered, weights="quadratic") == pytest.approx(
        cohen_kappa_score(x, y, labels=ordered, weights="quadratic")
    )


def test_cohen_kappa_edge_cases() -> None:
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))  # chance agreement 1: undefined
    assert math.isnan(cohen_kappa([], []))
    assert cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    with pytest.raises(ValueError, match="items"):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa(["a"], ["a"], weights="cubic")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("raters", [2, 3, 5])
def test_fleiss_kappa_matches_statsmodels(seed: int, raters: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, k = 40 + 15 * seed, 3 + seed % 2
    truth = rng.integers(0, k, n)
    ratings = np.where(rng.random((n, raters)) < 0.6, truth[:, None], rng.integers(0, k, (n, raters)))
    table, _ = aggregate_raters(ratings)
    expected = sm_fleiss(table, method="fleiss")
    assert fleiss_kappa_table(table) == pytest.approx(expected, abs=1e-12)
    assert fleiss_kappa([list(row) for row in ratings]) == pytest.approx(expected, abs=1e-12)


def test_fleiss_kappa_golden_number_from_fleiss_1971_style_table() -> None:
    # The classic worked example (Wikipedia "Fleiss' kappa"): 10 items, 14 raters, 5 categories.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa_table(table) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa_table(table) == pytest.approx(sm_fleiss(np.asarray(table)), abs=1e-12)


def test_fleiss_with_two_raters_per_item_and_unequal_counts() -> None:
    two = [["a", "a"], ["a", "b"], ["b", "b"], ["b", "b"], ["a", "a"], ["b", "a"]]
    table, _ = aggregate_raters(np.array([[0 if x == "a" else 1 for x in r] for r in two]))
    assert fleiss_kappa(two) == pytest.approx(sm_fleiss(table), abs=1e-12)
    mixed = [["a", "a", "a"], ["a", "b"], ["b", "b", "b", "a"], ["x"]]  # the single rating carries nothing
    assert fleiss_kappa(mixed) == pytest.approx(fleiss_kappa(mixed[:3]))
    assert math.isnan(fleiss_kappa([["a", "a"], ["a", "a"]]))
    assert percent_agreement([["a", "a", "b"], ["c", "c"]]) == pytest.approx(2 / 4)


def test_the_report_separates_people_and_the_model() -> None:
    items = {}
    for i in range(30):
        truth = QUEUES[i % 3]
        second = truth if i % 5 else QUEUES[(i + 1) % 3]  # the second reviewer differs on 6 of 30
        suggestion = truth if i % 4 else QUEUES[(i + 2) % 3]
        items[f"c{i}"] = {"model": suggestion, "ann": truth, "bob": second}
    items["solo"] = {"model": "standard", "ann": "standard"}
    report = agreement_report(items)
    assert report.items == 31 and report.multi_rated_items == 30 and report.human_ratings == 61
    ann = [items[f"c{i}"]["ann"] for i in range(30)]
    bob = [items[f"c{i}"]["bob"] for i in range(30)]
    assert report.human_fleiss_kappa == pytest.approx(
        fleiss_kappa(list(zip(ann, bob, strict=True))), abs=1e-4
    )
    assert report.human_percent_agreement == pytest.approx(24 / 30, abs=1e-4)
    (pair,) = report.pairs
    assert pair.raters == ("ann", "bob") and pair.items == 30
    assert pair.cohen_kappa == pytest.approx(cohen_kappa_score(ann, bob), abs=1e-4)
    assert report.model_vs_human is not None and report.model_vs_human.items == 61
    per = {p.raters[1]: p for p in report.model_vs_rater}
    suggestions = [items[f"c{i}"]["model"] for i in range(30)] + ["standard"]
    assert per["ann"].cohen_kappa == pytest.approx(
        cohen_kappa_score(suggestions, [*ann, "standard"]), abs=1e-4
    )
    assert report.to_dict()["pairs"][0]["raters"] == ("ann", "bob")


def test_the_report_without_double_reviews_or_model() -> None:
    report = agreement_report({"a": {"ann": "x"}, "b": {"bob": "y"}}, model=None)
    assert report.human_fleiss_kappa is None and report.pairs == [] and report.model_vs_human is None


@pytest.mark.parametrize(
    ("kappa", "word"),
    [
        (-0.1, "poor"),
        (0.1, "slight"),
        (0.3, "fair"),
        (0.5, "moderate"),
        (0.7, "substantial"),
        (0.95, "almost perfect"),
    ],
)
def test_landis_koch_bands(kappa: float, word: str) -> None:
    assert band(kappa) == word
    assert band(None) is None and band(math.nan) is None
