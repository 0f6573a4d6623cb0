"""The Kolmogorov survival function agrees with scipy's in every branch, without importing scipy.stats."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from paceline.analytics.smirnov import kolmogorov_sf, pelz_good_cdf, smirnov_sf


def _relative(a: float, b: float) -> float:
    return abs(a - b) / a if a > 1e-290 else abs(a - b)


@pytest.mark.parametrize("n", [10_000.0, 23_457.0, 100_000.0, 333_333.0])
@pytest.mark.parametrize("nd2", [2.2, 3.0, 10.0, 25.0, 100.0, 369.0])
def test_the_smirnov_series_is_scipys_to_rounding(n: float, nd2: float) -> None:
    d = math.sqrt(nd2 / n)
    assert _relative(float(special.smirnov(int(n), d)), smirnov_sf(n, d)) < 1e-12


def test_the_series_keeps_its_precision_at_a_million() -> None:
    # a naive gammaln difference is off by about 1e-9 here; the Stirling form is not
    n, d = 999_999.0, math.sqrt(10.0 / 999_999.0)
    assert _relative(float(special.smirnov(int(n), d)), smirnov_sf(n, d)) < 1e-12


@pytest.mark.parametrize("n", [100_001.0, 250_000.0, 1_000_000.0, 5_000_000.0])
@pytest.mark.parametrize("nd2", [0.02, 0.3, 0.75, 1.5, 2.19])
def test_pelz_good_is_scipys(n: float, nd2: float) -> None:
    d = math.sqrt(nd2 / n)
    assert _relative(float(stats.kstwo.cdf(d, n)), pelz_good_cdf(n, d)) < 1e-12
    assert _relative(float(stats.kstwo.sf(d, n)), kolmogorov_sf(d, n)) < 1e-12


@settings(max_examples=60, deadline=None)
@given(
    n=st.sampled_from([141.0, 2_000.0, 20_000.0, 99_999.0, 150_000.0, 700_000.0, 3_000_000.0]),
    nd2=st.floats(min_value=1e-4, max_value=400.0),
)
def test_kolmogorov_sf_is_kstwo_sf_in_every_branch(n: float, nd2: float) -> None:
    d = math.sqrt(nd2 / n)
    expected = float(stats.kstwo.sf(d, n))
    got = kolmogorov_sf(d, n)
    assert 0.0 <= got <= 1.0
    assert _relative(expected, got) < 1e-11 or abs(expected - got) < 1e-300


@pytest.mark.parametrize("d", [0.0, 1e-9, 0.6, 1.0, 1.5])
def test_the_edges_of_the_support_are_scipys(d: float) -> None:
    assert kolmogorov_sf(d, 500_000.0) == pytest.approx(float(stats.kstwo.sf(d, 500_000.0)), abs=1e-15)


def test_a_drift_report_at_scale_does_not_import_scipy(tmp_path: pytest.TempPathFactory) -> None:
    """scipy.stats costs half a second to import, scipy.special 0.2 s: large samples do without them."""
    code = """
import sys
import numpy as np
import pandas as pd
import paceline
rng = np.random.default_rng(3)
ref = pd.DataFrame({"x": rng.normal(0, 1, 30_000), "c": rng.choice(["a", "b"], 30_000)})
cur = pd.DataFrame({"x": rng.normal(0.05, 1, 30_000), "c": rng.choice(["a", "b"], 30_000)})
report = paceline.drift(ref, cur)
assert 0 <= report.column("x").ks_p_value <= 1
print("scipy" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_p_value_matches_ks_2samp_on_a_large_drifted_sample() -> None:
    from paceline.analytics.drift import ks_test

    rng = np.random.default_rng(11)
    ref, cur = rng.normal(0, 1, 40_000), rng.normal(0.04, 1, 40_000)
    expected = stats.ks_2samp(ref, cur)
    statistic, p_value = ks_test(float(expected.statistic), ref.size, cur.size)
    assert statistic == expected.statistic
    assert p_value == pytest.approx(float(expected.pvalue), rel=1e-12)
