"""Power analysis for person-level pilots, from variance components of baseline data.

The unit is the person (or the team, when teams are randomised): a person's KPI
over a pilot of ``W`` weeks is a mean of weekly values, with variance

    var(person mean) = tau2 + s2 / W

where ``tau2`` is the between-person variance of true means and ``s2`` the
week-to-week variance within a person. Randomising whole teams multiplies the
variance by the design effect ``1 + (m - 1) * icc`` (``m`` people per team), and a
pre-period covariate (CUPED) multiplies it by ``1 - r2``. For a two-sided test at
level alpha with power ``1 - beta``:

    MDE = (z_{1-alpha/2} + z_{1-beta}) * sqrt(var * (1/n_t + 1/n_c))
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy.optimize import brentq
from scipy.stats import norm


@dataclass(frozen=True)
class VarianceComponents:
    """Baseline facts about one KPI, measured per person and week."""

    mean: float
    tau2: float  # between-person variance of true means
    s2: float  # within-person, week-to-week variance
    icc_team: float = 0.0  # share of the person-level variance between teams
    team_size: float = 1.0  # people per team, on average
    cuped_r2: float = 0.0  # squared correlation of person means in consecutive periods


@dataclass(frozen=True)
class Plan:
    """What a pilot of this size and length can detect."""

    weeks: int
    n_treatment: int
    n_control: int
    design_effect: float
    mde_abs: float | None
    mde_pct: float | None
    mde_pct_cuped: float | None
    power_for_target: float | None
    weeks_for_target: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def unit_variance(vc: VarianceComponents, weeks: int, by_team: bool, cuped: bool) -> float:
    """Variance of one unit's mean over *weeks* weeks, with the design effect and CUPED applied."""
    base = vc.tau2 + vc.s2 / max(weeks, 1)
    if by_team:
        base *= 1 + (vc.team_size - 1) * vc.icc_team
    if cuped:
        base *= 1 - min(max(vc.cuped_r2, 0.0), 0.99)
    return base


def mde(variance: float, n_t: int, n_c: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest absolute difference detectable with the given power (None without units).

    The closed form ignores the far tail; a root search on :func:`power_for` makes it exact.
    """
    if n_t < 2 or n_c < 2 or variance <= 0:
        return None
    se = math.sqrt(variance * (1 / n_t + 1 / n_c))
    guess = (norm.ppf(1 - alpha / 2) + norm.ppf(power)) * se
    return float(
        brentq(
            lambda e: (power_for(e, variance, n_t, n_c, alpha) or 0.0) - power,
            guess / 2,
            guess * 2,
            xtol=1e-14 * se,
        )
    )


def power_for(effect: float, variance: float, n_t: int, n_c: int, alpha: float = 0.05) -> float | None:
    """The chance to detect an absolute *effect* at level *alpha* (two-sided)."""
    if n_t < 2 or n_c < 2 or variance <= 0:
        return None
    se = math.sqrt(variance * (1 / n_t + 1 / n_c))
    z = norm.ppf(1 - alpha / 2)
    shift = abs(effect) / se
    return float(norm.cdf(shift - z) + norm.cdf(-shift - z))


def plan(
    vc: VarianceComponents,
    n_treatment: int,
    n_control: int,
    weeks: int,
    target_pct: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    by_team: bool = False,
    max_weeks: int = 52,
) -> Plan:
    """MDE of the planned pilot, its power for *target_pct*, and the weeks the target would need."""
    plain = unit_variance(vc, weeks, by_team, cuped=False)
    adjusted = unit_variance(vc, weeks, by_team, cuped=True)
    m_abs = mde(plain, n_treatment, n_control, alpha, power)
    m_cuped = mde(adjusted, n_treatment, n_control, alpha, power)
    scale = abs(vc.mean) if vc.mean else None
    target_abs = None if target_pct is None or scale is None else scale * target_pct / 100
    power_now = None if target_abs is None else power_for(target_abs, plain, n_treatment, n_control, alpha)
    needed = None
    if target_abs is not None:
        for w in range(1, max_weeks + 1):
            p = power_for(target_abs, unit_variance(vc, w, by_team, False), n_treatment, n_control, alpha)
            if p is not None and p >= power:
                needed = w
                break
    return Plan(
        weeks=weeks,
        n_treatment=n_treatment,
        n_control=n_control,
        design_effect=1 + (vc.team_size - 1) * vc.icc_team if by_team else 1.0,
        mde_abs=m_abs,
        mde_pct=None if m_abs is None or scale is None else 100 * m_abs / scale,
        mde_pct_cuped=None if m_cuped is None or scale is None else 100 * m_cuped / scale,
        power_for_target=power_now,
        weeks_for_target=needed,
    )
