"""Sufficient statistics: what the engine hands to the statistics.

An engine (DuckDB, Spark) reduces millions of rows to a count, a mean and a sum of
squared deviations per group; the tests here work from those alone
(DESIGN.md principle 5). Means and centred sums are kept instead of raw sums of
squares because ``Σy² - (Σy)²/n`` loses digits when the mean is large next to the
spread; :meth:`Moments.from_sums` still accepts raw sums (GrowthBook's format).

Example:
    >>> m = Moments.from_values([1.0, 2.0, 4.0])
    >>> round(m.mean, 4), round(m.variance, 4)
    (2.3333, 2.3333)
    >>> (m + Moments.from_values([3.0])).n
    4
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Moments:
    """Count, mean and ``m2 = Σ(y - ȳ)²`` of one sample."""

    n: int
    mean: float
    m2: float

    @classmethod
    def from_sums(cls, n: int, total: float, total_sq: float) -> Moments:
        """From ``n``, ``Σy`` and ``Σy²`` (the form most SQL engines return)."""
        if n == 0:
            return cls(0, 0.0, 0.0)
        mean = total / n
        return cls(int(n), mean, max(total_sq - total * mean, 0.0))

    @classmethod
    def from_values(cls, values: Sequence[float] | np.ndarray) -> Moments:
        arr = np.asarray(values, dtype=float)
        if arr.size == 0:
            return cls(0, 0.0, 0.0)
        mean = float(arr.mean())
        return cls(int(arr.size), mean, float(((arr - mean) ** 2).sum()))

    @property
    def total(self) -> float:
        return self.n * self.mean

    @property
    def variance(self) -> float:
        """Sample variance (divisor ``n - 1``); NaN with fewer than two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else float("nan")

    @property
    def var_of_mean(self) -> float:
        return self.variance / self.n if self.n > 1 else float("nan")

    def __add__(self, other: Moments) -> Moments:
        """The moments of both samples together (Chan et al.'s pairwise update)."""
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        return Moments(n, mean, self.m2 + other.m2 + delta**2 * self.n * other.n / n)


@dataclass(frozen=True)
class BivariateMoments:
    """Moments of a pair (y, x) per observation: CUPED (x = pre-period) or ratios (x = denominator).

    ``m2_y``, ``m2_x`` are centred sums of squares and ``c_xy = Σ(x - x̄)(y - ȳ)``.
    """

    n: int
    mean_y: float
    mean_x: float
    m2_y: float
    m2_x: float
    c_xy: float

    @classmethod
    def from_sums(
        cls, n: int, sum_y: float, sum_y2: float, sum_x: float, sum_x2: float, sum_xy: float
    ) -> BivariateMoments:
        """From raw sums, as GrowthBook's ``RegressionAdjustedStatistic`` takes them."""
        my, mx = sum_y / n, sum_x / n
        return cls(int(n), my, mx, sum_y2 - sum_y * my, sum_x2 - sum_x * mx, sum_xy - sum_x * my)

    @classmethod
    def from_values(
        cls, y: Sequence[float] | np.ndarray, x: Sequence[float] | np.ndarray
    ) -> BivariateMoments:
        ya, xa = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
        dy, dx = ya - ya.mean(), xa - xa.mean()
        return cls(
            int(ya.size),
            float(ya.mean()),
            float(xa.mean()),
            float(dy @ dy),
            float(dx @ dx),
            float(dx @ dy),
        )

    @property
    def y(self) -> Moments:
        return Moments(self.n, self.mean_y, self.m2_y)

    @property
    def x(self) -> Moments:
        return Moments(self.n, self.mean_x, self.m2_x)

    @property
    def cov_xy(self) -> float:
        """Sample covariance (divisor ``n - 1``)."""
        return self.c_xy / (self.n - 1) if self.n > 1 else float("nan")

    def __add__(self, other: BivariateMoments) -> BivariateMoments:
        n = self.n + other.n
        dy, dx = other.mean_y - self.mean_y, other.mean_x - self.mean_x
        w = self.n * other.n / n
        return BivariateMoments(
            n,
            self.mean_y + dy * other.n / n,
            self.mean_x + dx * other.n / n,
            self.m2_y + other.m2_y + dy * dy * w,
            self.m2_x + other.m2_x + dx * dx * w,
            self.c_xy + other.c_xy + dx * dy * w,
        )


def pool_moments(n: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> Moments:
    """Moments of the union of many groups, each given by its count, mean and ``m2``."""
    keep = n > 0
    n, mean, m2 = n[keep], mean[keep], m2[keep]
    total = int(n.sum())
    if total == 0:
        return Moments(0, 0.0, 0.0)
    grand = float((n * mean).sum() / total)
    return Moments(total, grand, float(m2.sum() + (n * (mean - grand) ** 2).sum()))
