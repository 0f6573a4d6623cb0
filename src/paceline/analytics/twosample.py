"""Two-sample comparisons from sufficient statistics: Welch, proportions, ratios, CUPED, SRM.

Every function takes the per-arm moments (treatment first, control second) and returns
:class:`~paceline.analytics.result.Estimate` objects: the absolute difference
``treatment - control`` and, where it is meaningful, the relative lift
``difference / control mean`` with a delta-method standard error.

Conventions (notes/stats.md §7, pinned by tests):

* Means use the sample variance (divisor n - 1); :func:`proportions` uses ``p(1 - p)``
  (divisor n), as statsmodels' Wald interval and GrowthBook do.
* Relative lift divides by the control mean itself and is None when that mean is not
  positive (a relative change of a non-positive baseline has no plain reading).
* CUPED's θ is pooled over both arms (GrowthBook); its relative lift uses the exact
  delta method of ``(T_adj - C_adj) / C̄`` (GrowthBook evaluates one gradient term at the
  unadjusted treatment mean, which gives p 0.00373 instead of 0.00336 on its T10 vector).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import stats

from paceline.analytics.moments import BivariateMoments, Moments
from paceline.analytics.result import Check, Estimate, Status


class Effect(NamedTuple):
    """The absolute difference and, where meaningful, the relative lift."""

    absolute: Estimate
    relative: Estimate | None


def welch_df(var_mean_t: float, n_t: int, var_mean_c: float, n_c: int) -> float:
    """Welch-Satterthwaite degrees of freedom from each arm's variance of the mean."""
    if min(n_t, n_c) < 2:
        return math.nan
    den = var_mean_t**2 / (n_t - 1) + var_mean_c**2 / (n_c - 1)
    return (var_mean_t + var_mean_c) ** 2 / den if den > 0 else math.nan


def relative_lift(
    mean_t: float, var_t: float, mean_c: float, var_c: float, cov_tc: float = 0.0, df: float | None = None
) -> Estimate | None:
    """``(mean_t - mean_c) / mean_c`` with the delta-method SE.

    ``var_t``, ``var_c`` are variances of the two means and ``cov_tc`` their covariance
    (zero for independent arms). None when the control mean is not positive, or so close to
    zero that the ratio's variance is not a finite number (a relative lift is meaningless there).
    """
    if not mean_c > 0:
        return None
    try:
        ratio = mean_t / mean_c
        var = (var_t - 2 * ratio * cov_tc + ratio**2 * var_c) / mean_c**2
    except (OverflowError, ZeroDivisionError):
        return None
    if not (math.isfinite(ratio) and math.isfinite(var)):
        return None
    return Estimate(ratio - 1, math.sqrt(max(var, 0.0)), df)


def welch(treatment: Moments, control: Moments) -> Effect:
    """Welch's two-sample t-test (as ``scipy.stats.ttest_ind(equal_var=False)``)."""
    vt, vc = treatment.var_of_mean, control.var_of_mean
    df = welch_df(vt, treatment.n, vc, control.n)
    absolute = Estimate(treatment.mean - control.mean, math.sqrt(vt + vc), df)
    return Effect(absolute, relative_lift(treatment.mean, vt, control.mean, vc, df=df))


def proportions(successes_t: int, n_t: int, successes_c: int, n_c: int) -> Effect:
    """Difference of two proportions, unpooled Wald SE ``√(p(1-p)/n + …)``, normal reference.

    Equal to statsmodels' ``confint_proportions_2indep(..., method="wald")`` and
    ``test_proportions_2indep(..., method="wald")``.
    """
    pt, pc = successes_t / n_t, successes_c / n_c
    vt, vc = pt * (1 - pt) / n_t, pc * (1 - pc) / n_c
    return Effect(Estimate(pt - pc, math.sqrt(vt + vc)), relative_lift(pt, vt, pc, vc))


def ratio_mean(m: BivariateMoments) -> tuple[float, float]:
    """``Σy / Σx`` over units and its delta-method variance (Deng, Knoblich & Lu 2018).

    With ``x`` the number of tasks per unit this equals the cluster-robust CR0 variance
    of the task-level mean times ``K / (K - 1)`` (notes/stats.md §3.1).
    """
    r = m.mean_y / m.mean_x
    var = (m.y.variance - 2 * r * m.cov_xy + r**2 * m.x.variance) / (m.n * m.mean_x**2)
    return r, var


def ratio(treatment: BivariateMoments, control: BivariateMoments) -> Effect:
    """Difference of two ratio metrics, e.g. units per person-day, from per-unit sums (delta method).

    Each arm is given by per-unit (numerator y, denominator x) moments. The reference
    distribution is normal: the delta method is asymptotic.
    """
    rt, vt = ratio_mean(treatment)
    rc, vc = ratio_mean(control)
    return Effect(Estimate(rt - rc, math.sqrt(vt + vc)), relative_lift(rt, vt, rc, vc))


@dataclass(frozen=True)
class CupedEffect:
    """CUPED result: θ, the adjusted effect, and how much variance the covariate removed."""

    theta: float
    absolute: Estimate
    relative: Estimate | None
    variance_reduction: float


def cuped(treatment: BivariateMoments, control: BivariateMoments) -> CupedEffect:
    """CUPED (Deng et al. 2013) with θ pooled over both arms; Welch-Satterthwaite df.

    ``x`` is the pre-period covariate. Adjusted arm mean ``ȳ - θ x̄``, adjusted variance
    ``v_y - 2θ c_xy + θ² v_x``. θ = 0 (a constant covariate) gives plain Welch.
    """
    pooled = treatment + control
    theta = pooled.c_xy / pooled.m2_x if pooled.m2_x > 0 else 0.0
    vt = _adjusted_var(treatment, theta) / treatment.n
    vc = _adjusted_var(control, theta) / control.n
    df = welch_df(vt, treatment.n, vc, control.n)
    adj_t = treatment.mean_y - theta * treatment.mean_x
    adj_c = control.mean_y - theta * control.mean_x
    absolute = Estimate(adj_t - adj_c, math.sqrt(vt + vc), df)
    relative = None
    cbar = control.mean_y
    if cbar > 0:
        cov_est_c = -(control.y.variance - theta * control.cov_xy) / control.n
        var_c = control.y.var_of_mean
        r = absolute.estimate / cbar
        var = (vt + vc) / cbar**2 - 2 * r * cov_est_c / cbar**2 + r**2 * var_c / cbar**2
        relative = Estimate(r, math.sqrt(max(var, 0.0)), df)
    plain = treatment.y.var_of_mean + control.y.var_of_mean
    return CupedEffect(theta, absolute, relative, 1 - (vt + vc) / plain if plain > 0 else 0.0)


def _adjusted_var(m: BivariateMoments, theta: float) -> float:
    return m.y.variance - 2 * theta * m.cov_xy + theta**2 * m.x.variance


def sample_ratio_p(counts: list[int], shares: list[float]) -> float:
    """Pearson χ² p-value of the observed counts against the expected shares (df = k - 1)."""
    obs = np.asarray(counts, dtype=float)
    expected = np.asarray(shares, dtype=float) / sum(shares) * obs.sum()
    chi2 = float(((obs - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(chi2, len(counts) - 1))


SRM_FAIL = 0.001
SRM_WARN = 0.01


def sample_ratio_check(n_treatment: int, n_control: int, treatment_share: float, what: str) -> Check:
    """The sample-ratio-mismatch check: fail below p 0.001, warn below 0.01 (Fabijan et al. 2019)."""
    p = sample_ratio_p([n_treatment, n_control], [treatment_share, 1 - treatment_share])
    seen = n_treatment / (n_treatment + n_control)
    detail = (
        f"{n_treatment} treatment and {n_control} control {what} ({seen:.1%} treated) against an "
        f"expected {treatment_share:.1%}: chi-square p = {p:.3g}"
    )
    if p < SRM_FAIL:
        return Check("sample_ratio", Status.FAIL, detail + "; the assignment or the data is broken")
    if p < SRM_WARN:
        return Check("sample_ratio", Status.WARN, detail + "; check the assignment and missing data")
    return Check("sample_ratio", Status.PASS, detail)
