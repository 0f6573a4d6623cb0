"""Classification metrics from sufficient statistics against scikit-learn, calibration on a
known miscalibrated model, and the CBPE-style estimate against the realized figures."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from paceline.analytics import classification as clf

CLASSES = np.array(["fast-track", "standard", "specialist", "siu"])


def _cells(actual: np.ndarray, predicted: np.ndarray) -> list[tuple[str, str, float]]:
    return [(a, p, float(n)) for (a, p), n in Counter(zip(actual, predicted, strict=True)).items()]


def _multiclass(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    actual = rng.choice(CLASSES[:3], n, p=[0.5, 0.3, 0.2])  # "siu" is predicted but never actual
    predicted = np.where(rng.random(n) < 0.6, actual, rng.choice(CLASSES, n))
    return actual, predicted


def _scores(n: int, seed: int, slope: float = 1.0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores p = sigmoid(logit) and outcomes drawn from sigmoid(slope * logit + shift)."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(0, 2, n)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < 1 / (1 + np.exp(-(slope * logit + shift)))).astype(int)
    return p, y


def _bins(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[clf.CalibrationBin]:
    index = np.minimum(np.floor(p * bins), bins - 1).astype(int)
    return [
        clf.CalibrationBin(
            b, float((index == b).sum()), float(p[index == b].sum()), float(y[index == b].sum())
        )
        for b in np.unique(index)
    ]


def _counts(p: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    values = np.unique(p)
    return (
        [float(((p == v) & (y == 1)).sum()) for v in values],
        [float(((p == v) & (y == 0)).sum()) for v in values],
    )


# --- confusion matrix ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_multiclass_scores_match_scikit_learn(seed: int) -> None:
    actual, predicted = _multiclass(seed, 300 + 100 * seed)
    confusion = clf.Confusion.from_cells(_cells(actual, predicted))
    assert confusion.accuracy == pytest.approx(accuracy_score(actual, predicted), abs=1e-12)
    p, r, f, support = precision_recall_fscore_support(actual, predicted, zero_division=np.nan)
    for i, scores in enumerate(confusion.per_class()):
        for ours, theirs in ((scores.precision, p[i]), (scores.recall, r[i]), (scores.f1, f[i])):
            assert (ours is None and np.isnan(theirs)) or ours == pytest.approx(theirs, abs=1e-12)
        assert scores.support == support[i]
    macro = precision_recall_fscore_support(actual, predicted, average="macro", zero_division=np.nan)
    assert confusion.macro()["precision"] == pytest.approx(macro[0], abs=1e-12)
    assert confusion.macro()["recall"] == pytest.approx(macro[1], abs=1e-12)
    assert confusion.macro()["f1"] == pytest.approx(macro[2], abs=1e-12)


def test_binary_scores_golden_numbers() -> None:
    # 10 rows: TP 3, FP 1, FN 2, TN 4 -> precision 0.75, recall 0.6, F1 2/3, accuracy 0.7.
    actual = np.array(["fail"] * 5 + ["ok"] * 5)
    predicted = np.array(["fail", "fail", "fail", "ok", "ok", "fail", "ok", "ok", "ok", "ok"])
    confusion = clf.Confusion.from_cells(_cells(actual, predicted))
    scores = confusion.scores("fail")
    assert (scores.precision, scores.recall, scores.f1) == pytest.approx((0.75, 0.6, 2 / 3))
    assert scores.precision == pytest.approx(precision_score(actual, predicted, pos_label="fail"))
    assert scores.recall == pytest.approx(recall_score(actual, predicted, pos_label="fail"))
    assert scores.f1 == pytest.approx(f1_score(actual, predicted, pos_label="fail"))
    assert confusion.accuracy == pytest.approx(0.7)
    assert confusion.to_dict() == {"labels": ["fail", "ok"], "matrix": [[3.0, 2.0], [1.0, 4.0]]}


def test_empty_and_one_sided_matrices_give_none() -> None:
    assert clf.Confusion.from_cells([]).accuracy is None
    only_ok = clf.Confusion.from_cells([("ok", "ok", 5.0)], labels=["fail"])
    fail = only_ok.scores("fail")
    assert (fail.precision, fail.recall, fail.f1) == (None, None, None)
    assert only_ok.macro()["precision"] == 1.0  # the undefined class is left out, as zero_division=nan


# --- AUC -------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_exact_auc_from_per_score_counts_matches_scikit_learn(seed: int) -> None:
    p, y = _scores(2_000, seed, slope=0.8)
    p = np.round(p, 2)  # many ties: each tie group counts half
    pos, neg = _counts(p, y)
    assert clf.auc_from_counts(pos, neg) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_binned_auc_is_exact_when_each_bin_holds_one_score_and_close_otherwise() -> None:
    p, y = _scores(20_000, 11, slope=0.7, shift=-0.3)
    rounded = np.round(p, 2)
    bin_of = np.minimum(np.floor(rounded * 1000), 999).astype(int)
    pos = np.bincount(bin_of[y == 1], minlength=1000).astype(float)
    neg = np.bincount(bin_of[y == 0], minlength=1000).astype(float)
    assert clf.auc_from_counts(pos, neg) == pytest.approx(roc_auc_score(y, rounded), abs=1e-12)
    coarse = np.minimum(np.floor(p * 1000), 999).astype(int)
    binned = clf.auc_from_counts(
        np.bincount(coarse[y == 1], minlength=1000).astype(float),
        np.bincount(coarse[y == 0], minlength=1000).astype(float),
    )
    assert binned == pytest.approx(roc_auc_score(y, p), abs=1e-3)


def test_auc_needs_both_classes() -> None:
    assert clf.auc_from_counts([3.0, 2.0], [0.0, 0.0]) is None
    assert clf.auc_from_u(0.0, 0.0, 4.0) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=60))
def test_auc_from_counts_is_the_mann_whitney_statistic(rows: list[tuple[int, bool]]) -> None:
    p = np.array([s for s, _ in rows], dtype=float)
    y = np.array([int(b) for _, b in rows])
    pos, neg = _counts(p, y)
    auc = clf.auc_from_counts(pos, neg)
    if y.min() == y.max():
        assert auc is None
        return
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    flipped = clf.auc_from_counts(neg, pos)
    assert flipped == pytest.approx(1 - auc, abs=1e-12)


# --- probabilities ------------------------------------------------------------------------------
def test_brier_and_log_loss_from_sums_match_scikit_learn() -> None:
    p, y = _scores(5_000, 3)
    p[:3] = [0.0, 1.0, 1.0]  # clipped like scikit-learn's log loss
    y[:3] = [1, 0, 1]
    clipped = np.array([clf.clip_probability(v) for v in p])
    nll = -np.sum(np.where(y == 1, np.log(clipped), np.log(1 - clipped)))
    assert clf.brier_score(float(np.sum((p - y) ** 2)), len(p)) == pytest.approx(brier_score_loss(y, p))
    assert clf.log_loss(float(nll), len(p)) == pytest.approx(log_loss(y, p), rel=1e-12)
    assert clf.brier_score(0.0, 0) is None


def test_calibration_on_a_miscalibrated_model() -> None:
    """True chance sigmoid(0.7 logit - 0.3) behind scores sigmoid(logit): overconfident and high."""
    p, y = _scores(200_000, 5, slope=0.7, shift=-0.3)
    result = clf.calibration(_bins(p, y), 10)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert [pt["observed"] for pt in result.points] == pytest.approx(list(observed), abs=1e-12)
    assert [pt["mean_predicted"] for pt in result.points] == pytest.approx(list(predicted), abs=1e-12)
    index = np.minimum(np.floor(p * 10), 9).astype(int)
    brute = sum(abs(p[index == b].mean() - y[index == b].mean()) * (index == b).mean() for b in range(10))
    assert result.ece == pytest.approx(brute, abs=1e-12)
    # notes/monitoring.md §7 measured ECE 0.071 for this generating model (its day 0) in DuckDB SQL
    assert result.ece == pytest.approx(0.071, abs=0.003)
    assert result.mce == pytest.approx(max(pt["gap"] for pt in result.points))
    calibrated_p, calibrated_y = _scores(200_000, 5)
    assert clf.calibration(_bins(calibrated_p, calibrated_y)).ece < 0.01


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_calibration_cells_merge(seed: int, parts: int) -> None:
    """Cells from any split of the rows (periods, partitions) give the same calibration."""
    p, y = _scores(400, seed)
    split = np.random.default_rng(seed).integers(0, parts, len(p))
    pieces = [c for k in range(parts) for c in _bins(p[split == k], y[split == k])]
    assert clf.calibration(pieces).ece == pytest.approx(clf.calibration(_bins(p, y)).ece, abs=1e-12)


def test_bin_index_puts_one_in_the_last_bin() -> None:
    assert [clf.bin_index(v) for v in (0.0, 0.0999, 0.1, 0.95, 1.0)] == [0, 0, 1, 9, 9]


# --- the CBPE-style estimate ---------------------------------------------------------------------
def _confidence_cells(
    predicted: np.ndarray, confidence: np.ndarray, bins: int = 10
) -> list[clf.ConfidenceCell]:
    index = np.minimum(np.floor(confidence * bins), bins - 1).astype(int)
    cells = []
    for label in np.unique(predicted):
        for b in np.unique(index):
            rows = (predicted == label) & (index == b)
            if rows.any():
                cells.append(
                    clf.ConfidenceCell(str(label), int(b), float(rows.sum()), float(confidence[rows].sum()))
                )
    return cells


def test_estimate_from_calibrated_confidence_tracks_the_realized_binary_figures() -> None:
    p, y = _scores(100_000, 8)  # calibrated: y ~ Bernoulli(p)
    predicted = np.where(p >= 0.5, "fail", "ok")
    confidence = np.where(predicted == "fail", p, 1 - p)
    actual = np.where(y == 1, "fail", "ok")
    est = clf.estimate_performance(_confidence_cells(predicted, confidence), ["fail", "ok"], positive="fail")
    assert est.estimated and "no concept drift" in est.assumption
    assert est.accuracy == pytest.approx(accuracy_score(actual, predicted), abs=3 * est.accuracy_se)
    assert est.precision == pytest.approx(precision_score(actual, predicted, pos_label="fail"), abs=0.01)
    assert est.recall == pytest.approx(recall_score(actual, predicted, pos_label="fail"), abs=0.01)
    assert est.f1 == pytest.approx(f1_score(actual, predicted, pos_label="fail"), abs=0.01)
    assert est.to_dict()["estimated"] is True


def test_reference_bins_correct_an_overconfident_model() -> None:
    p, y = _scores(200_000, 9, slope=0.6)
    predicted = np.where(p >= 0.5, "fail", "ok")
    confidence = np.where(predicted == "fail", p, 1 - p)
    right = (np.where(y == 1, "fail", "ok") == predicted).astype(int)
    half = len(p) // 2
    reference = _bins(confidence[:half], right[:half])
    correctness = clf.correctness_map(reference)
    keyed = {(k, b): v for k in ("fail", "ok") for b, v in correctness.items()}
    cells = _confidence_cells(predicted[half:], confidence[half:])
    raw = clf.estimate_performance(cells, ["fail", "ok"])
    fixed = clf.estimate_performance(cells, ["fail", "ok"], correctness=keyed)
    realized = right[half:].mean()
    assert abs(raw.accuracy - realized) > 0.03  # raw confidence overstates it
    assert fixed.accuracy == pytest.approx(realized, abs=3 * fixed.accuracy_se + 1e-3)
    assert fixed.calibrated_bins == len(correctness)


def test_multiclass_estimate_needs_a_reference_for_recall() -> None:
    actual, predicted = _multiclass(1, 3_000)
    confidence = np.where(actual == predicted, 0.8, 0.4)
    cells = _confidence_cells(predicted, confidence)
    alone = clf.estimate_performance(cells, list(CLASSES))
    assert alone.recall is None and alone.f1 is None and "reference" in alone.missing
    assert alone.accuracy == pytest.approx(float(np.mean(confidence)))
    reference = clf.Confusion.from_cells(_cells(actual, predicted))
    with_reference = clf.estimate_performance(cells, list(CLASSES), reference=reference)
    assert with_reference.recall is not None and with_reference.missing == ""
    support = sum(s.support or 0.0 for s in with_reference.per_class)
    assert support == pytest.approx(len(actual))
