"""Group-sequential bounds for scheduled looks: Lan-DeMets alpha spending.

A pilot with weekly looks that tests each week at 1.96 has a false-positive rate far
above 5%. Alpha spending fixes how much of alpha may be used by information fraction
``t``; the bounds follow by numerical integration of the Brownian-motion
approximation ``Z_k √t_k`` (Armitage, McPherson & Rowe 1969; Reboussin et al. 2000,
the method of R's ``ldbounds`` and gsDesign's ``sfLDOF``).

Spending functions, per side, with ``alpha_s = alpha / sides``:

* ``obrien_fleming``: ``2 - 2Φ(z_{1-alpha_s/2} / √t)``  (gsDesign / ldbounds; for a two-sided
  0.05 test each side uses ``z_{1-alpha/4}``. expan's ``2 - 2Φ(z_{1-alpha/2}/√t)`` over both
  sides is a different convention, notes/stats.md §7.4);
* ``pocock``: ``alpha_s ln(1 + (e - 1) t)``.

Example:
    >>> b = group_sequential_bounds(4)
    >>> [round(z, 2) for z in b.z]
    [4.33, 2.96, 2.36, 2.01]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import integrate, optimize, stats

GRID = 1201  # points per look for Simpson's rule: bounds accurate to about 1e-6


def spent(t: float, alpha_side: float, spending: str) -> float:
    """Cumulative alpha spent on one side by information fraction ``t``."""
    if t <= 0:
        return 0.0
    if spending == "obrien_fleming":
        return float(2 * stats.norm.sf(stats.norm.isf(alpha_side / 2) / math.sqrt(t)))
    if spending == "pocock":
        return alpha_side * math.log(1 + (math.e - 1) * min(t, 1.0))
    raise ValueError(f"unknown spending function {spending!r}: use obrien_fleming or pocock")


@dataclass(frozen=True)
class SequentialBounds:
    """z boundaries per look; reject at look k when ``|z_k| ≥ z[k]`` (or ``z_k ≥ z[k]`` one-sided)."""

    information: tuple[float, ...]
    z: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    sides: int
    spending: str

    @property
    def nominal_p(self) -> tuple[float, ...]:
        """The p-value threshold per look that is equivalent to the z bound."""
        return tuple(self.sides * float(stats.norm.sf(b)) for b in self.z)

    def first_crossing(self, z_stats: Sequence[float]) -> int | None:
        """Index of the first look whose statistic crosses its bound, or None."""
        for k, (zk, bound) in enumerate(zip(z_stats, self.z, strict=False)):
            if (abs(zk) if self.sides == 2 else zk) >= bound:
                return k
        return None


def group_sequential_bounds(
    looks: int | Sequence[float], alpha: float = 0.05, sides: int = 2, spending: str = "obrien_fleming"
) -> SequentialBounds:
    """Bounds for ``looks`` equally spaced looks, or at the given information fractions.

    Two-sided bounds are symmetric; one-sided bounds have no lower (futility) bound.
    The last fraction should be 1 (the planned end); alpha is spent up to it.
    """
    fractions = _fractions(looks)
    if sides not in (1, 2):
        raise ValueError("sides must be 1 or 2")
    alpha_side = alpha / sides
    cum = [spent(t, alpha_side, spending) for t in fractions]
    bounds: list[float] = []
    grid: np.ndarray | None = None
    density: np.ndarray | None = None
    prev_t = 0.0
    for k, t in enumerate(fractions):
        target = cum[k] - (cum[k - 1] if k else 0.0)
        if grid is None or density is None:
            bound = float(stats.norm.isf(target)) if target > 0 else math.inf
        else:
            bound = _solve_bound(grid, density, t, t - prev_t, target, sides)
        bounds.append(bound)
        grid, density = _advance(grid, density, t, t - prev_t, bound, sides)
        prev_t = t
    return SequentialBounds(tuple(fractions), tuple(bounds), tuple(sides * c for c in cum), sides, spending)


def obrien_fleming_bounds(looks: int | Sequence[float], alpha: float = 0.05, sides: int = 2) -> list[float]:
    """The z boundaries of Lan-DeMets O'Brien-Fleming-type spending for K scheduled looks."""
    return list(group_sequential_bounds(looks, alpha, sides).z)


def _fractions(looks: int | Sequence[float]) -> list[float]:
    if isinstance(looks, int):
        if looks < 1:
            raise ValueError("at least one look")
        return [(k + 1) / looks for k in range(looks)]
    fr = [float(t) for t in looks]
    if not fr or any(b <= a for a, b in pairwise(fr)) or fr[0] <= 0 or fr[-1] > 1:
        raise ValueError("information fractions must increase within (0, 1]")
    return fr


def _lower(upper: float, t: float, sides: int) -> float:
    """Lower end of the continuation region on the ``S = Z √t`` scale (one-sided: far below)."""
    return -upper if sides == 2 else -10.0 * math.sqrt(t)


def _advance(
    grid: np.ndarray | None, density: np.ndarray | None, t: float, dt: float, bound: float, sides: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sub-density of ``S_k`` over the continuation region after look k."""
    upper = min(bound, 12.0) * math.sqrt(t)
    new = np.linspace(_lower(upper, t, sides), upper, GRID)
    if grid is None or density is None:
        return new, stats.norm.pdf(new, scale=math.sqrt(t))
    kernel = stats.norm.pdf((new[:, None] - grid[None, :]) / math.sqrt(dt)) / math.sqrt(dt)
    return new, integrate.simpson(kernel * density[None, :], x=grid, axis=1)


def _crossing(grid: np.ndarray, density: np.ndarray, t: float, dt: float, bound: float, sides: int) -> float:
    """Probability of first crossing the upper bound at this look (per side)."""
    c = bound * math.sqrt(t)
    return float(integrate.simpson(density * stats.norm.sf((c - grid) / math.sqrt(dt)), x=grid))


def _solve_bound(
    grid: np.ndarray, density: np.ndarray, t: float, dt: float, target: float, sides: int
) -> float:
    if target <= 0:
        return math.inf
    return float(
        optimize.brentq(lambda b: _crossing(grid, density, t, dt, b, sides) - target, 0.0, 40.0, xtol=1e-10)
    )
