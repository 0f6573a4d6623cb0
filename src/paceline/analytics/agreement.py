"""Agreement between raters: Cohen's kappa for two, Fleiss' kappa for more, and a report.

The label store keeps every decision on a case, so an item (a case, or one field of its
output) can carry several human labels (a review and a blind quality-assurance review) and
the model's suggestion. :func:`agreement_report` measures both kinds of agreement the
review process needs (notes/hitl.md §1.2): between people, which says whether the labels
can be trusted as training data, and between the model and people, which says how often the
suggestion stands.

* :func:`cohen_kappa` matches ``sklearn.metrics.cohen_kappa_score`` (unweighted, linear or
  quadratic weights for ordered categories).
* :func:`fleiss_kappa` matches ``statsmodels.stats.inter_rater.fleiss_kappa`` when every
  item has the same number of ratings, and uses the usual generalisation (each item's
  agreement over its own number of ratings) when the numbers differ.

Kappa is undefined when chance agreement is 1 (every rating in one category): the functions
return ``nan`` then, as scikit-learn does, and the report shows ``None``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

WEIGHTS = (None, "linear", "quadratic")

# Landis & Koch (1977), the usual reading of kappa.
BANDS = (
    (0.2, "slight"),
    (0.4, "fair"),
    (0.6, "moderate"),
    (0.8, "substantial"),
    (math.inf, "almost perfect"),
)


def band(kappa: float | None) -> str | None:
    """Landis & Koch's words for *kappa*: poor (< 0), slight, fair, moderate, substantial, almost perfect."""
    if kappa is None or math.isnan(kappa):
        return None
    if kappa < 0:
        return "poor"
    return next(word for upper, word in BANDS if kappa <= upper)


def _categories(*groups: Sequence[Hashable], labels: Sequence[Hashable] | None = None) -> list[Hashable]:
    if labels is not None:
        return list(labels)
    seen = {x for g in groups for x in g}
    try:
        return sorted(seen)  # type: ignore[type-var]
    except TypeError:  # mixed types: a stable order by text
        return sorted(seen, key=repr)


def cohen_kappa(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    labels: Sequence[Hashable] | None = None,
    weights: str | None = None,
) -> float:
    """Cohen's kappa of two raters' labels of the same items (``nan`` when undefined).

    *labels* fixes the categories and, for weighted kappa, their order (e.g. billing
    levels); by default the sorted union of both raters' labels.
    """
    if len(a) != len(b):
        raise ValueError(f"the raters labelled {len(a)} and {len(b)} items: pass one label per item each")
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, not {weights!r}")
    if not a:
        return math.nan
    cats = _categories(a, b, labels=labels)
    index = {c: i for i, c in enumerate(cats)}
    k = len(cats)
    confusion = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        if x in index and y in index:
            confusion[index[x], index[y]] += 1
    total = confusion.sum()
    if total == 0:
        return math.nan
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / total
    grid = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    w = (grid > 0).astype(float) if weights is None else grid if weights == "linear" else grid**2
    disagreement_expected = float((w * expected).sum())
    if disagreement_expected == 0:
        return math.nan
    return 1.0 - float((w * confusion).sum()) / disagreement_expected


def rating_table(
    ratings: Sequence[Sequence[Hashable]], labels: Sequence[Hashable] | None = None
) -> tuple[np.ndarray, list[Hashable]]:
    """Items x categories counts from each item's list of labels, and the categories."""
    cats = _categories(*ratings, labels=labels)
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(ratings), len(cats)))
    for row, item in enumerate(ratings):
        for label in item:
            table[row, index[label]] += 1
    return table, cats


def fleiss_kappa_table(table: np.ndarray | Sequence[Sequence[float]]) -> float:
    """Fleiss' kappa of an items x categories table of counts (``nan`` when undefined).

    Items rated fewer than twice carry no agreement and are left out; with the same
    number of ratings per item this is Fleiss (1971), as statsmodels computes it.
    """
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2:
        raise ValueError("the table must be items x categories")
    n = counts.sum(axis=1)
    counts, n = counts[n >= 2], n[n >= 2]
    if counts.shape[0] == 0:
        return math.nan
    p_item = ((counts * (counts - 1)).sum(axis=1)) / (n * (n - 1))
    p_cat = counts.sum(axis=0) / n.sum()
    observed, chance = float(p_item.mean()), float((p_cat**2).sum())
    if chance == 1:
        return math.nan
    return (observed - chance) / (1 - chance)


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]], labels: Sequence[Hashable] | None = None) -> float:
    """Fleiss' kappa of items each rated by two or more raters (not necessarily the same ones)."""
    table, _ = rating_table(ratings, labels)
    return fleiss_kappa_table(table)


def percent_agreement(ratings: Sequence[Sequence[Hashable]]) -> float:
    """The share of agreeing rating pairs, over items rated at least twice (``nan`` if none)."""
    agree = pairs = 0
    for item in ratings:
        for x, y in itertools.combinations(item, 2):
            pairs += 1
            agree += x == y
    return agree / pairs if pairs else math.nan


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


@dataclass(frozen=True)
class PairAgreement:
    """Two raters (people, or the model and people pooled) on the items they both labelled."""

    raters: tuple[str, str]
    items: int
    cohen_kappa: float | None
    percent_agreement: float | None
    band: str | None


@dataclass(frozen=True)
class AgreementReport:
    """Agreement on a set of items: between people, per pair of people, and model vs people."""

    items: int
    human_ratings: int
    multi_rated_items: int
    human_fleiss_kappa: float | None
    human_percent_agreement: float | None
    human_band: str | None
    pairs: list[PairAgreement] = field(default_factory=list)
    model_vs_human: PairAgreement | None = None
    model_vs_rater: list[PairAgreement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pair(raters: tuple[str, str], a: list[Hashable], b: list[Hashable]) -> PairAgreement:
    kappa = _num(cohen_kappa(a, b, labels=_categories(a, b)))
    share = _num(sum(x == y for x, y in zip(a, b, strict=True)) / len(a)) if a else None
    return PairAgreement(raters, len(a), kappa, share, band(kappa))


def agreement_report(
    items: Mapping[str, Mapping[str, Hashable]], model: str | None = "model", min_pair_items: int = 5
) -> AgreementReport:
    """Agreement over *items*: ``{item: {rater: label}}``, where the rater *model* is the suggestion.

    * people with each other: Fleiss' kappa and the share of agreeing pairs over the items
      that two or more people labelled (raters may differ from item to item);
    * each pair of people that labelled at least *min_pair_items* items in common: Cohen's kappa;
    * the model with people: Cohen's kappa over every (suggestion, person's label) pair, pooled
      and per person. Labels a person was shown the suggestion for lean towards it (anchoring),
      so this agreement is an upper bound on the model's accuracy.
    """
    humans = {item: {r: lab for r, lab in raters.items() if r != model} for item, raters in items.items()}
    multi = [list(h.values()) for h in humans.values() if len(h) >= 2]
    fleiss = _num(fleiss_kappa(multi)) if multi else None
    pooled_share = _num(percent_agreement(multi)) if multi else None
    shared: dict[tuple[str, str], tuple[list[Hashable], list[Hashable]]] = {}
    for h in humans.values():
        for x, y in itertools.combinations(sorted(h), 2):
            left, right = shared.setdefault((x, y), ([], []))
            left.append(h[x])
            right.append(h[y])
    pairs = [_pair(k, a, b) for k, (a, b) in sorted(shared.items()) if len(a) >= min_pair_items]
    vs_model: PairAgreement | None = None
    per_rater: list[PairAgreement] = []
    if model is not None:
        suggested, decided = [], []
        by_rater: dict[str, tuple[list[Hashable], list[Hashable]]] = {}
        for item, raters in items.items():
            if model not in raters:
                continue
            for rater, label in humans[item].items():
                suggested.append(raters[model])
                decided.append(label)
                left, right = by_rater.setdefault(rater, ([], []))
                left.append(raters[model])
                right.append(label)
        if suggested:
            vs_model = _pair((model, "people"), suggested, decided)
            per_rater = [
                _pair((model, r), a, b) for r, (a, b) in sorted(by_rater.items()) if len(a) >= min_pair_items
            ]
    return AgreementReport(
        items=len(items),
        human_ratings=sum(len(h) for h in humans.values()),
        multi_rated_items=len(multi),
        human_fleiss_kappa=fleiss,
        human_percent_agreement=pooled_share,
        human_band=band(fleiss),
        pairs=pairs,
        model_vs_human=vs_model,
        model_vs_rater=per_rater,
    )
