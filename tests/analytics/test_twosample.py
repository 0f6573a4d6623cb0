"""Two-sample tests against scipy and statsmodels on the same data (tolerance 1e-8)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats import proportion as smprop

from paceline.analytics.moments import BivariateMoments, Moments, pool_moments
from paceline.analytics.twosample import (
    cuped,
    proportions,
    ratio,
    ratio_mean,
    sample_ratio_check,
    sample_ratio_p,
    welch,
)

TOL = 1e-8


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.lognormal(1.0, 0.8, 137) + 0.2, rng.lognormal(1.0, 0.6, 211)


def test_welch_equals_scipy(samples: tuple[np.ndarray, np.ndarray]) -> None:
    t, c = samples
    effect = welch(Moments.from_values(t), Moments.from_values(c)).absolute
    ref = stats.ttest_ind(t, c, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert effect.estimate == pytest.approx(t.mean() - c.mean(), rel=TOL)
    assert effect.statistic == pytest.approx(ref.statistic, rel=TOL)
    assert effect.df == pytest.approx(ref.df, rel=TOL)
    assert effect.p_value() == pytest.approx(ref.pvalue, rel=TOL)
    assert effect.ci(0.05) == pytest.approx((ci.low, ci.high), rel=TOL)


def test_welch_from_raw_sums_equals_from_values(samples: tuple[np.ndarray, np.ndarray]) -> None:
    t, _ = samples
    from_sums = Moments.from_sums(t.size, t.sum(), (t**2).sum())
    direct = Moments.from_values(t)
    assert from_sums.variance == pytest.approx(direct.variance, rel=1e-10)


def test_moments_combine_like_the_union(samples: tuple[np.ndarray, np.ndarray]) -> None:
    t, c = samples
    both = Moments.from_values(t) + Moments.from_values(c)
    union = Moments.from_values(np.concatenate([t, c]))
    assert (both.n, both.mean, both.m2) == pytest.approx((union.n, union.mean, union.m2), rel=1e-12)
    pooled = pool_moments(
        np.array([t.size, c.size]),
        np.array([t.mean(), c.mean()]),
        np.array([Moments.from_values(t).m2, Moments.from_values(c).m2]),
    )
    assert pooled.m2 == pytest.approx(union.m2, rel=1e-12)


@pytest.mark.parametrize(("x1", "n1", "x0", "n0"), [(16, 30, 14, 28), (412, 1000, 371, 990), (3, 40, 9, 41)])
def test_proportions_equal_statsmodels_wald(x1: int, n1: int, x0: int, n0: int) -> None:
    effect = proportions(x1, n1, x0, n0).absolute
    low, high = smprop.confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    ref = smprop.test_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    assert effect.estimate == pytest.approx(x1 / n1 - x0 / n0, rel=TOL)
    assert effect.ci(0.05) == pytest.approx((low, high), rel=TOL)
    assert effect.statistic == pytest.approx(ref.statistic, rel=TOL)
    assert effect.p_value() == pytest.approx(ref.pvalue, rel=TOL)


def _per_unit(
    rng: np.random.Generator, units: int, effect: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tasks = rng.integers(1, 40, units)
    unit = np.repeat(np.arange(units), tasks)
    y = 2.0 + effect + rng.normal(0, 0.7, units)[unit] + rng.normal(0, 1, unit.size)
    return unit, y, tasks


def test_ratio_delta_method_equals_cluster_robust_mean() -> None:
    """Σy/Σtasks with the delta method = statsmodels' clustered intercept-only OLS (CR1, k = 1)."""
    rng = np.random.default_rng(11)
    unit, y, tasks = _per_unit(rng, 45, 0.0)
    sums = np.bincount(unit, weights=y)
    r, var = ratio_mean(BivariateMoments.from_values(sums, tasks))
    ref = sm.OLS(y, np.ones(y.size)).fit(cov_type="cluster", cov_kwds={"groups": unit})
    assert r == pytest.approx(ref.params[0], rel=TOL)
    assert var == pytest.approx(ref.cov_params()[0, 0], rel=TOL)


def test_ratio_difference_adds_arm_variances() -> None:
    rng = np.random.default_rng(12)
    arms = []
    for effect in (0.4, 0.0):
        unit, y, tasks = _per_unit(rng, 30, effect)
        arms.append(BivariateMoments.from_values(np.bincount(unit, weights=y), tasks))
    effect = ratio(arms[0], arms[1])
    (rt, vt), (rc, vc) = ratio_mean(arms[0]), ratio_mean(arms[1])
    assert effect.absolute.estimate == pytest.approx(rt - rc, rel=TOL)
    assert effect.absolute.se**2 == pytest.approx(vt + vc, rel=TOL)
    assert effect.relative is not None
    assert effect.relative.estimate == pytest.approx(rt / rc - 1, rel=TOL)


def test_cuped_with_constant_covariate_is_welch(samples: tuple[np.ndarray, np.ndarray]) -> None:
    t, c = samples
    result = cuped(
        BivariateMoments.from_values(t, np.ones(t.size)), BivariateMoments.from_values(c, np.ones(c.size))
    )
    plain = welch(Moments.from_values(t), Moments.from_values(c)).absolute
    assert result.theta == 0.0
    assert (result.absolute.estimate, result.absolute.se) == pytest.approx(
        (plain.estimate, plain.se), rel=TOL
    )


def test_cuped_reduces_variance_with_a_correlated_covariate() -> None:
    rng = np.random.default_rng(5)
    pre = rng.normal(10, 2, 800)
    post = pre + rng.normal(0, 1, 800) + 0.5 * (np.arange(800) < 400)
    result = cuped(
        BivariateMoments.from_values(post[:400], pre[:400]),
        BivariateMoments.from_values(post[400:], pre[400:]),
    )
    pooled = np.cov(post, pre)
    assert result.theta == pytest.approx(pooled[0, 1] / pooled[1, 1], rel=TOL)
    assert result.variance_reduction > 0.7
    assert result.absolute.estimate == pytest.approx(
        (post[:400].mean() - result.theta * pre[:400].mean())
        - (post[400:].mean() - result.theta * pre[400:].mean()),
        rel=TOL,
    )


def test_sample_ratio_equals_scipy_chisquare() -> None:
    ref = stats.chisquare([1000, 1200], [1100, 1100])
    assert sample_ratio_p([1000, 1200], [0.5, 0.5]) == pytest.approx(ref.pvalue, rel=TOL)
    ref = stats.chisquare([290, 710], [300, 700])
    assert sample_ratio_p([290, 710], [0.3, 0.7]) == pytest.approx(ref.pvalue, rel=TOL)


def test_sample_ratio_statuses() -> None:
    assert sample_ratio_check(1000, 1200, 0.5, "units").status == "fail"
    assert sample_ratio_check(1000, 1130, 0.5, "units").status == "warn"
    assert sample_ratio_check(1000, 1010, 0.5, "units").status == "pass"


def test_a_control_mean_next_to_zero_has_no_relative_lift() -> None:
    """Found by hypothesis: a denormal control mean overflowed the delta-method variance."""
    from paceline.analytics.twosample import relative_lift

    assert relative_lift(1 / 3, 1 / 9, 5.75748698006521e-168 / 3, 1e-336, df=2.0) is None
    assert relative_lift(0.0, 0.0, 5.75748698006521e-168 / 3, 0.0) is None  # mean_c ** 2 underflows to 0
    assert relative_lift(1.1, 0.01, 1.0, 0.01) is not None
