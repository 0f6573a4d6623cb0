"""The Kolmogorov distribution's survival function as ``scipy.stats.kstwo.sf``, without its costs.

``scipy.stats.ks_2samp`` turns a large-sample KS statistic ``d`` into a p-value with
``kstwo.sf(d, round(n*m/(n+m)))``. For ``2.2 <= N d**2 < 370`` scipy evaluates that
as ``2 * smirnov(N, d)``, Smirnov's exact one-sided series of ``N`` terms, one term
at a time in C: about 0.4 s at N = 500,000 (a million rows a side), up to 0.9 s
at N = 10**6, per column. Drifted columns land in exactly that range.

:func:`smirnov_sf` sums the same series with numpy, every term at once and in log
space. A term is a binomial coefficient times two powers; written with Stirling's
formula and its exact remainder (``stirlerr``, as in Loader's binomial densities),
it becomes ``j log1p(N d / j) + (N - j) log1p(-N d / (N - j))`` plus small
corrections, so nothing large cancels and each term keeps full precision (a naive
``gammaln`` difference loses about 1e-9 relative at N = 10**6). Against
``scipy.special.smirnov`` the result agrees to about 1e-13 relative (tests).

Beyond N = 10**6 scipy switches to an asymptotic formula that is already fast, and
below 10,000 its loop is cheap: there :func:`kolmogorov_sf` calls ``scipy.special.smirnov``.

Below ``N d**2 = 2.2`` scipy returns one minus the Pelz-Good series for large N
(:func:`pelz_good_cdf`, the same terms in the same order); only its small-N branches
(Durbin's matrix method, N <= 100,000 and ``N d**1.5 <= 1.4``, and the edges of
the support) need ``scipy.stats`` itself, which costs half a second to import and
is therefore imported only there.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

LOG_2PI = math.log(2 * math.pi)
SERIES_MIN_N = 10_000  # below, scipy's own loop takes a few milliseconds
SERIES_MAX_N = 1_000_000  # above, scipy uses an asymptotic formula (fast), which we must not replace
SMIRNOV_LOW, SMIRNOV_HIGH = 2.2, 370.0  # the N d**2 range where kstwo.sf is 2 * smirnov(N, d)


def kolmogorov_sf(d: float, n: float) -> float:
    """``scipy.stats.kstwo.sf(d, n)``: the two-sided one-sample KS statistic's survival function.

    Follows the branches of scipy's ``_kolmogn(n, d, cdf=False)`` for ``n > 140``
    inside the support; every other case is scipy's own computation.
    """
    t = n * d
    if float(n).is_integer() and n > 140 and 1.0 < t < n - 1 and d < 0.5:
        nd2 = t * d
        if nd2 >= SMIRNOV_HIGH:
            return 0.0
        if nd2 >= SMIRNOV_LOW:
            return _clip(2.0 * _smirnov(n, d))
        if n > 100_000 or n * d**1.5 > 1.4:
            return _clip(1.0 - pelz_good_cdf(n, d))
    from scipy import stats  # Durbin's matrix and the edges: scipy's code, imported on first use

    return float(stats.kstwo.sf(d, n))


def _clip(p: float) -> float:
    return float(min(max(p, 0.0), 1.0))


def _smirnov(n: float, d: float) -> float:
    """``scipy.special.smirnov(n, d)``: the series where scipy's loop is slow, scipy elsewhere."""
    if SERIES_MIN_N <= n <= SERIES_MAX_N:
        return smirnov_sf(n, d)
    from scipy import special

    return float(special.smirnov(int(n), d))


PI2, PI4, PI6 = math.pi**2, math.pi**4, math.pi**6
SQRT_2PI = math.sqrt(2 * math.pi)
MIN_LOG = -708.0


def pelz_good_cdf(n: float, d: float) -> float:
    """``P(D_n <= d)`` by the Pelz-Good (1976) expansion in ``z = d sqrt(n)``, up to ``n**-1.5``.

    ``K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n**1.5`` with each K written as theta-function
    sums that converge fast for small z (Simard & L'Ecuyer 2011), summed by Horner's rule
    over odd integers, as scipy's ``_kolmogn_PelzGood`` does (so the results agree to rounding).
    """
    z = math.sqrt(n) * d
    z2, z3, z4, z6 = z**2, z**3, z**4, z**6
    qlog = -PI2 / 8 / z2
    if qlog < MIN_LOG:
        return 0.0
    q = math.exp(qlog)
    k1a, k1b = -z2, PI2 / 4
    k2a, k2b, k2c = 6 * z6 + 2 * z4, (2 * z4 - 5 * z2) * PI2 / 4, PI4 * (1 - 2 * z2) / 16
    k3a = -30 * z6 - 90 * z**8
    k3b = PI2 * (135 * z4 - 96 * z6) / 4
    k3c = PI4 * (-60 * z2 + 212 * z4) / 16
    k3d = PI6 * (5 - 30 * z2) / 64
    terms = np.zeros(4)
    top = math.ceil(16 * z / math.pi)
    for k in range(top, 0, -1):
        m2 = (2 * k - 1) ** 2
        coeffs = np.array(
            [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m2**2, k3a + k3b * m2 + k3c * m2**2 + k3d * m2**3]
        )
        terms *= np.power(q, 8 * k)
        terms += coeffs
    terms *= q * SQRT_2PI
    terms /= np.array([z, 6 * z4, 72 * z**7, 6480 * z**10])
    q = math.exp(-PI2 / 2 / z2)  # the second sums run over all integers k
    ks = np.arange(top, 0, -1)
    k2 = ks**2
    q_powers = q**k2
    terms[2] += np.sum(k2 * q_powers) * PI2 * SQRT_2PI / (-36 * z3)
    root3z, kpi = math.sqrt(3) * z, math.pi * ks
    terms[3] += np.sum((root3z + kpi) * (root3z - kpi) * k2 * q_powers) * PI2 * SQRT_2PI / (216 * z6)
    terms /= np.power(n * 1.0, np.arange(4) / 2.0)
    return float(sum(terms))


def smirnov_sf(n: float, d: float) -> float:
    """``P(D+_n >= d)``, the one-sided Smirnov survival function, for ``0 < d < 1``.

    ``d * Σ_{j=0}^{⌊n(1-d)⌋} C(n, j) (d + j/n)^(j-1) (1 - d - j/n)^(n-j)`` (the last
    term is zero when ``n(1-d)`` is a whole number, so the sum stops before it).
    """
    n = float(n)
    nd = n * d
    j = np.arange(1, math.ceil(n - nd), dtype=np.float64)
    logs = (
        j * np.log1p(nd / j)
        + (n - j) * np.log1p(-nd / (n - j))
        + math.log(d)
        - np.log(d + j / n)
        + 0.5 * (np.log(n / (j * (n - j))) - LOG_2PI)
        + stirlerr(n)
        - _stirlerr_array(j)
        - _stirlerr_array(n - j)
    )
    logs = np.concatenate([[n * math.log1p(-d)], logs])  # j = 0: (1 - d)^n
    top = float(logs.max())
    return float(math.exp(top) * np.exp(logs - top).sum())


STIRLING_SERIES_FROM = 16  # below, the remainder is computed from log-gamma directly


def stirlerr(k: float) -> float:
    """``log(k!) - (k log k - k + log(2 pi k) / 2)``, Stirling's remainder, accurate for every k > 0."""
    if k < STIRLING_SERIES_FROM:
        return math.lgamma(k + 1) - (k * math.log(k) - k + 0.5 * (LOG_2PI + math.log(k)))
    return float(_stirling_series(1.0 / k))


def _stirling_series(inv: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
    """The asymptotic series of Stirling's remainder in ``1/k`` (error below 1e-17 from k = 16)."""
    inv2 = inv * inv
    return inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188))))


def _stirlerr_array(k: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`stirlerr` of many values (the few small ones one by one)."""
    out = np.empty_like(k)
    small = k < STIRLING_SERIES_FROM
    out[small] = [stirlerr(float(v)) for v in k[small]]
    out[~small] = _stirling_series(1.0 / k[~small])
    return out
