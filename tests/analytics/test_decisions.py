"""Multiplicity adjustments against statsmodels; one-sided tests against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from paceline.analytics.decisions import (
    benjamini_hochberg,
    exceeds_threshold,
    holm,
    intersection_union,
    non_inferiority,
)
from paceline.analytics.result import Estimate


@pytest.mark.parametrize("seed", range(5))
def test_adjustments_equal_statsmodels(seed: int) -> None:
    p = np.random.default_rng(seed).uniform(0, 0.2, 9)
    p[3] = p[5]  # ties
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], rel=1e-12)
    assert benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1], rel=1e-12)


def test_intersection_union_needs_every_hypothesis() -> None:
    assert intersection_union([0.01, 0.04])
    assert not intersection_union([0.01, 0.06])
    assert not intersection_union([])


def test_non_inferiority_higher_is_better() -> None:
    est = Estimate(-0.01, 0.02)  # a small loss, margin 0.05
    result = non_inferiority(est, margin=0.05)
    assert result.p_value == pytest.approx(stats.norm.sf((-0.01 + 0.05) / 0.02), rel=1e-12)
    assert result.bound == pytest.approx(-0.01 - stats.norm.ppf(0.95) * 0.02, rel=1e-12)
    assert result.passed
    assert not non_inferiority(Estimate(-0.04, 0.02), margin=0.05).passed


def test_non_inferiority_lower_is_better_with_t() -> None:
    est = Estimate(0.004, 0.003, df=30)  # error rate up 0.4 pp, margin 1 pp
    result = non_inferiority(est, margin=0.01, higher_is_better=False)
    assert result.p_value == pytest.approx(stats.t.sf((0.01 - 0.004) / 0.003, 30), rel=1e-12)
    assert result.bound == pytest.approx(0.004 + stats.t.ppf(0.95, 30) * 0.003, rel=1e-12)
    assert result.passed
    with pytest.raises(ValueError):
        non_inferiority(est, margin=-0.01)


def test_threshold_uses_the_lower_bound() -> None:
    assert exceeds_threshold(Estimate(4.2, 0.05, df=40), target=4.0).passed
    assert not exceeds_threshold(Estimate(4.05, 0.05, df=40), target=4.0).passed
