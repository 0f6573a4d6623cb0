"""The chi-square survival function agrees with scipy's, from 1 to 10,000 degrees of freedom."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from paceline.analytics.chisquare import chi2_sf, gamma_q


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 5, 9, 19, 49, 99, 199, 999, 4999, 9999])
def test_chi2_sf_is_chdtrc(dof: int) -> None:
    rng = np.random.default_rng(dof)
    for x in [*rng.uniform(0, 3 * dof + 30, 40), dof, dof * 0.99, dof * 1.01, 1e-8]:
        expected = float(special.chdtrc(dof, x))
        got = chi2_sf(dof, float(x))
        assert abs(got - expected) <= 1e-14 and (expected < 1e-10 or abs(got - expected) / expected < 1e-12)


@settings(max_examples=200, deadline=None)
@given(a=st.floats(min_value=0.5, max_value=5000.0), x=st.floats(min_value=1e-6, max_value=20000.0))
def test_gamma_q_is_gammaincc(a: float, x: float) -> None:
    expected = float(special.gammaincc(a, x))
    got = gamma_q(a, x)
    assert 0.0 <= got <= 1.0
    assert abs(got - expected) <= 1e-13 or (expected > 1e-300 and abs(got - expected) / expected < 1e-10)


def test_the_edges() -> None:
    assert chi2_sf(3, 0.0) == 1.0 and chi2_sf(3, -1.0) == 1.0
    assert chi2_sf(3, math.inf) == 0.0 and math.isnan(chi2_sf(3, math.nan))
    assert chi2_sf(2, 1e5) == 0.0  # underflows like scipy
    with pytest.raises(ValueError, match="degrees of freedom must be positive"):
        chi2_sf(0, 1.0)
