"""Classification performance and calibration from sufficient statistics.

The warehouse engine aggregates the prediction log into small tables of counts and sums
(per period and segment): the confusion cells ``(actual, predicted, n)``, positives and
negatives per distinct score or per score bin, ``n``, sum of scores and sum of outcomes
per calibration bin, and the sums of squared errors and of negative log-likelihoods. Every
metric here is computed from those, so the log itself never leaves the engine
(notes/monitoring.md §7):

* :class:`Confusion` — accuracy, per-class precision/recall/F1 and their macro averages,
  as ``sklearn.metrics`` computes them with ``zero_division=np.nan`` (undefined values are
  ``None`` and left out of the averages);
* :func:`auc_from_counts` — ROC AUC as the Mann-Whitney statistic with ties counted half:
  exact when the counts are per distinct score, binned when they are per score bin;
* :func:`brier_score` and :func:`log_loss` — means of per-row sums;
* :func:`calibration` — expected calibration error over equal-width bins and the
  reliability diagram's points;
* :func:`estimate_performance` — a CBPE-style *estimate* of accuracy, precision, recall and
  F1 when labels are missing (NannyML's confidence-based performance estimation): the
  (calibrated) confidence of each prediction is taken as the chance that it is right.
  This assumes calibrated confidence and **no concept drift** (P(y | x) as in the
  reference); the result says so and carries ``estimated: true``.

Degenerate inputs (no rows, one class) give ``None`` for what is undefined, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_BINS = 10
LOG_EPS = float(np.finfo(np.float64).eps)  # scikit-learn's log_loss clips probabilities to [eps, 1 - eps]
CBPE_ASSUMPTION = (
    "estimated from the model's confidence: assumes the confidence is calibrated (corrected by "
    "the reference's reliability bins where it has labels) and no concept drift, i.e. P(label | "
    "input) is the same as in the reference; not a measurement"
)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num / den)


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


# --- confusion matrix -----------------------------------------------------------------------
@dataclass(frozen=True)
class ClassScores:
    label: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: float | None  # actual rows of this class (None: unknown, in an estimate)


@dataclass(frozen=True)
class Confusion:
    """A confusion matrix: ``counts[i, j]`` rows of actual ``labels[i]`` predicted ``labels[j]``.

    Counts may be fractional (an *expected* confusion matrix from :func:`estimate_performance`).
    """

    labels: tuple[str, ...]
    counts: np.ndarray

    @classmethod
    def from_cells(cls, cells: Iterable[tuple[str, str, float]], labels: Sequence[str] = ()) -> Confusion:
        """From ``(actual, predicted, n)`` cells; the labels are *labels* plus any seen, sorted."""
        listed = [(str(a), str(p), float(n)) for a, p, n in cells]
        names = tuple(sorted({*map(str, labels), *(a for a, _, _ in listed), *(p for _, p, _ in listed)}))
        index = {name: i for i, name in enumerate(names)}
        counts = np.zeros((len(names), len(names)))
        for actual, predicted, n in listed:
            counts[index[actual], index[predicted]] += n
        return cls(names, counts)

    @property
    def n(self) -> float:
        return float(self.counts.sum())

    @property
    def accuracy(self) -> float | None:
        return _ratio(float(np.trace(self.counts)), self.n)

    def scores(self, label: str) -> ClassScores:
        i = self.labels.index(label)
        tp = float(self.counts[i, i])
        predicted, actual = float(self.counts[:, i].sum()), float(self.counts[i, :].sum())
        fp, fn = predicted - tp, actual - tp
        return ClassScores(
            label, _ratio(tp, predicted), _ratio(tp, actual), _ratio(2 * tp, 2 * tp + fp + fn), actual
        )

    def per_class(self) -> list[ClassScores]:
        return [self.scores(label) for label in self.labels]

    def macro(self) -> dict[str, float | None]:
        """Unweighted means over classes, leaving out undefined values (``zero_division=np.nan``)."""
        each = self.per_class()
        return {
            "precision": _mean(s.precision for s in each),
            "recall": _mean(s.recall for s in each),
            "f1": _mean(s.f1 for s in each),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "matrix": self.counts.tolist()}


# --- ranking: ROC AUC ---------------------------------------------------------------------
def auc_from_counts(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """ROC AUC from positives and negatives per score value (or bin), in ascending score order.

    Each positive beats every negative below it and ties half of those at its value:
    ``U = Σ pos_i (neg_below_i + neg_i / 2)`` and AUC = U / (P N), which equals
    ``sklearn.metrics.roc_auc_score`` exactly when the values are the distinct scores.
    """
    pos, neg = np.asarray(positives, dtype=float), np.asarray(negatives, dtype=float)
    below = np.concatenate(([0.0], np.cumsum(neg)[:-1])) if neg.size else neg
    return auc_from_u(float(np.sum(pos * (below + neg / 2))), float(pos.sum()), float(neg.sum()))


def auc_from_u(u: float, n_pos: float, n_neg: float) -> float | None:
    """AUC from the Mann-Whitney U of the positives (None without both classes)."""
    return None if n_pos == 0 or n_neg == 0 else float(u / (n_pos * n_neg))


# --- probabilities: Brier score, log loss, calibration ---------------------------------------
def brier_score(sum_squared_error: float, n: float) -> float | None:
    """Mean of (p - y)^2 over labeled rows, from its sum."""
    return _ratio(sum_squared_error, n)


def log_loss(sum_negative_log_likelihood: float, n: float) -> float | None:
    """Mean of -[y log p + (1-y) log(1-p)], p clipped to [eps, 1-eps], from its sum."""
    return _ratio(sum_negative_log_likelihood, n)


def clip_probability(p: float) -> float:
    """*p* clipped as log loss clips it (the engine applies the same bounds)."""
    return min(max(p, LOG_EPS), 1 - LOG_EPS)


def bin_index(score: float, bins: int = DEFAULT_BINS) -> int:
    """The equal-width bin of *score* in [0, 1]: ``floor(score * bins)``, 1.0 in the last bin."""
    return min(max(math.floor(score * bins), 0), bins - 1)


@dataclass(frozen=True)
class CalibrationBin:
    """Sufficient statistics of one equal-width bin: rows, sum of predicted p, sum of outcomes."""

    index: int
    n: float
    sum_score: float
    sum_outcome: float


@dataclass(frozen=True)
class Calibration:
    """Expected and maximum calibration error and the reliability diagram's points."""

    bins: int
    ece: float | None
    mce: float | None
    points: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"bins": self.bins, "ece": self.ece, "mce": self.mce, "reliability": self.points}


def calibration(cells: Iterable[CalibrationBin], bins: int = DEFAULT_BINS) -> Calibration:
    """ECE = Σ_b (n_b / N) |mean p_b - observed_b|, over the non-empty equal-width bins."""
    merged: dict[int, list[float]] = {}
    for c in cells:
        acc = merged.setdefault(c.index, [0.0, 0.0, 0.0])
        acc[0] += c.n
        acc[1] += c.sum_score
        acc[2] += c.sum_outcome
    total = sum(v[0] for v in merged.values())
    points, gaps = [], []
    for index in sorted(merged):
        n, s, y = merged[index]
        if n == 0:
            continue
        gap = abs(s - y) / n
        gaps.append((n, gap))
        points.append(
            {
                "bin": index,
                "lower": index / bins,
                "upper": (index + 1) / bins,
                "n": n,
                "mean_predicted": s / n,
                "observed": y / n,
                "gap": gap,
            }
        )
    if total == 0:
        return Calibration(bins, None, None, [])
    ece = float(sum(n * g for n, g in gaps) / total)
    return Calibration(bins, ece, float(max(g for _, g in gaps)), points)


# --- estimated performance without labels (CBPE) ----------------------------------------------
@dataclass(frozen=True)
class ConfidenceCell:
    """Unlabeled (or all) predictions of one class in one confidence bin."""

    predicted: str
    index: int
    n: float
    sum_score: float


@dataclass(frozen=True)
class Estimate:
    """Estimated performance: ``estimated`` is always true; ``assumption`` says on what it rests."""

    n: float
    accuracy: float | None
    accuracy_se: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    calibrated_bins: int  # confidence bins corrected by the reference (the rest: raw confidence)
    per_class: list[ClassScores] = field(default_factory=list)
    missing: str = ""  # what could not be estimated, and why
    estimated: bool = True
    assumption: str = CBPE_ASSUMPTION

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimated": True,
            "assumption": self.assumption,
            "n": self.n,
            "accuracy": self.accuracy,
            "accuracy_se": self.accuracy_se,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "calibrated_bins": self.calibrated_bins,
            "per_class": [vars(s) for s in self.per_class],
            "missing": self.missing,
        }


def correctness_map(reference: Iterable[CalibrationBin], min_rows: int = 30) -> dict[int, float]:
    """Per confidence bin, the reference's observed share of right predictions (bins with enough rows).

    This is histogram-binning calibration (Zadrozny & Elkan, 2001) fitted on labeled reference
    rows; bins with fewer than *min_rows* are left out and fall back to the raw confidence.
    """
    merged: dict[int, tuple[float, float]] = {}
    for c in reference:
        n, y = merged.get(c.index, (0.0, 0.0))
        merged[c.index] = (n + c.n, y + c.sum_outcome)
    return {index: y / n for index, (n, y) in merged.items() if n >= min_rows}


def _error_split(reference: Confusion | None, labels: Sequence[str]) -> dict[str, dict[str, float]] | None:
    """For each predicted class, where its errors go: P(actual = c | predicted = k, wrong)."""
    if len(labels) == 2:
        a, b = labels
        return {a: {b: 1.0}, b: {a: 1.0}}
    if reference is None:
        return None
    split: dict[str, dict[str, float]] = {}
    for k in labels:
        if k not in reference.labels:
            return None
        j = reference.labels.index(k)
        wrong = {
            reference.labels[i]: float(reference.counts[i, j]) for i in range(len(reference.labels)) if i != j
        }
        total = sum(wrong.values())
        if total == 0:
            return None
        split[k] = {c: v / total for c, v in wrong.items()}
    return split


def estimate_performance(
    cells: Iterable[ConfidenceCell],
    labels: Sequence[str],
    *,
    correctness: Mapping[tuple[str, int], float] | None = None,
    reference: Confusion | None = None,
    positive: str | None = None,
) -> Estimate:
    """CBPE-style expected confusion matrix from confidence, and the metrics read from it.

    Each prediction is right with probability c = the reference's observed correctness for
    its class and confidence bin (*correctness*, keyed by ``(predicted, bin)``), else its raw
    confidence (``sum_score / n`` of its cell). Per predicted class k the
    expected true positives are Σ c and the false positives Σ (1 - c). Where the errors go
    (the actual class of a wrong prediction) is certain for two classes; for more it is
    taken from the labeled *reference* confusion matrix (without one, recall and F1 are not
    estimated). With *positive*, precision/recall/F1 are that class's, else macro averages.
    """
    listed = list(cells)
    right: dict[str, float] = {}
    count: dict[str, float] = {}
    var, calibrated = 0.0, set()
    for c in listed:
        p = (correctness or {}).get((c.predicted, c.index))
        if p is None:
            p = c.sum_score / c.n if c.n else 0.0
        else:
            calibrated.add(c.index)
        right[c.predicted] = right.get(c.predicted, 0.0) + c.n * p
        count[c.predicted] = count.get(c.predicted, 0.0) + c.n
        var += c.n * p * (1 - p)
    names = sorted({*map(str, labels), *count})
    n = sum(count.values())
    accuracy = _ratio(sum(right.values()), n)
    se = None if n == 0 else math.sqrt(var) / n
    split = _error_split(reference, names)
    if split is None:
        precision = {k: _ratio(right.get(k, 0.0), count.get(k, 0.0)) for k in names}
        per_class = [ClassScores(k, precision[k], None, None, None) for k in names]
        chosen = precision.get(positive) if positive else _mean(precision.values())
        why = "recall and F1 need where wrong predictions go: a labeled reference with every class"
        return Estimate(n, accuracy, se, chosen, None, None, len(calibrated), per_class, why)
    cells_out = [(k, k, right.get(k, 0.0)) for k in names]
    for k in names:
        wrong = count.get(k, 0.0) - right.get(k, 0.0)
        cells_out += [(c, k, wrong * share) for c, share in split.get(k, {}).items()]
    expected = Confusion.from_cells(cells_out, names)
    each = expected.per_class()
    if positive is not None and positive in expected.labels:
        chosen_scores = expected.scores(positive)
        p_, r_, f_ = chosen_scores.precision, chosen_scores.recall, chosen_scores.f1
    else:
        macro = expected.macro()
        p_, r_, f_ = macro["precision"], macro["recall"], macro["f1"]
    return Estimate(n, accuracy, se, p_, r_, f_, len(calibrated), each)
