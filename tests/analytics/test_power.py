"""Power analysis: golden numbers from statsmodels' normal power, and the variance model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import NormalIndPower

from paceline.analytics.power import VarianceComponents, mde, plan, power_for, unit_variance
from paceline.services.pilot_plan import components


@pytest.mark.parametrize(("n_t", "n_c", "alpha", "power"), [(100, 100, 0.05, 0.8), (40, 80, 0.01, 0.9)])
def test_mde_matches_statsmodels(n_t: int, n_c: int, alpha: float, power: float) -> None:
    model = NormalIndPower()
    got = mde(1.0, n_t, n_c, alpha, power)
    assert got is not None
    # statsmodels' power function is exact; its solver stops at about 1e-7
    assert math.isclose(
        model.power(effect_size=got, nobs1=n_t, alpha=alpha, ratio=n_c / n_t), power, rel_tol=1e-9
    )
    solved = model.solve_power(effect_size=None, nobs1=n_t, alpha=alpha, power=power, ratio=n_c / n_t)
    assert math.isclose(got, solved, rel_tol=1e-5)
    back = power_for(got, 1.0, n_t, n_c, alpha)
    assert back is not None and math.isclose(back, power, rel_tol=1e-9)


def test_longer_pilots_cuped_and_team_randomisation() -> None:
    vc = VarianceComponents(mean=10, tau2=1.0, s2=4.0, icc_team=0.1, team_size=11, cuped_r2=0.5)
    assert unit_variance(vc, 4, by_team=False, cuped=False) == pytest.approx(2.0)
    assert unit_variance(vc, 4, by_team=True, cuped=False) == pytest.approx(2.0 * 2.0)
    assert unit_variance(vc, 4, by_team=False, cuped=True) == pytest.approx(1.0)
    short, long = plan(vc, 100, 100, 2, 10), plan(vc, 100, 100, 12, 10)
    assert short.mde_pct is not None and long.mde_pct is not None and long.mde_pct < short.mde_pct
    assert long.mde_pct_cuped is not None and long.mde_pct_cuped < long.mde_pct
    assert long.weeks_for_target is not None and long.power_for_target is not None
    if long.power_for_target >= 0.8:
        assert long.weeks_for_target <= 12


def test_degenerate_plans_have_no_numbers() -> None:
    assert mde(1.0, 1, 50) is None and power_for(1.0, 0.0, 10, 10) is None
    empty = plan(VarianceComponents(mean=0.0, tau2=0.0, s2=0.0), 10, 10, 4, 10)
    assert empty.mde_abs is None and empty.mde_pct is None


def test_components_recover_simulated_variances() -> None:
    rng = np.random.default_rng(3)
    people, weeks, tau, s = 400, 12, 1.5, 2.0
    true = rng.normal(10, tau, people)
    rows = [
        {"period_start": w, "person_id": f"p{i}", "team": f"t{i % 20}", "value": true[i] + rng.normal(0, s)}
        for i in range(people)
        for w in range(weeks)
    ]
    vc = components(pd.DataFrame(rows))
    assert vc is not None
    assert vc.s2 == pytest.approx(s**2, rel=0.05)
    assert vc.tau2 == pytest.approx(tau**2, rel=0.2)
    assert vc.icc_team < 0.05  # teams were assigned at random
    # halves of 6 weeks: r = tau2 / (tau2 + s2 / 6)
    assert vc.cuped_r2 == pytest.approx((tau**2 / (tau**2 + s**2 / 6)) ** 2, abs=0.05)
