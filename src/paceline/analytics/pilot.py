"""Evaluate one pilot outcome from per-cell sufficient statistics: choose the method, run it, check it.

The engine returns one row per *cell*: per (arm) for a plain A/B comparison, per
(arm, period) for a difference-in-differences, and per (unit, arm[, period]) when a
unit (employee, team) is given. :func:`evaluate_cells` picks the method the way
spec/interface.md and notes/stats.md say and names it in ``se_method``:

============  ===========  =============================================================
design        unit         method (``se_method``)
============  ===========  =============================================================
ab            no           Welch's t-test (``welch``); CUPED-adjusted when a covariate is given
ab            yes          OLS of outcome on treated (+ the unit's covariate) with SEs
                           clustered by unit: ``cluster_CR2`` with Bell-McCaffrey df at
                           every number of units, the adjustment and the df under a
                           random-effects working model with a unit and a unit-cell
                           component estimated from the residuals (Pustejovsky-Tipton,
                           Imbens-Kolesár; :mod:`~paceline.analytics.robust`)
did           no           OLS of outcome on treated, post, treated x post; ``HC1``
did           yes          the same, clustered by unit (``cluster_CR2`` as above; the cell
                           component is the unit's own shift between the periods)
============  ===========  =============================================================

CR2 converges to CR1 with t(G - 1) as units are added, so there is no threshold at which
the method (and the interval) jumps; below a few hundred units with unequal sizes CR1 is
measurably anti-conservative (docs/pilots.md, "Simulation study"). ``cluster_CR1`` and
``wild_bootstrap`` remain available on request.

With a unit the unit is the independent observation: the estimate is the
difference of task-weighted means (``Σy / Σtasks`` per arm, a ratio metric) and its
variance the cluster-robust (delta-method) one, never the iid variance of tasks.
Degenerate data give a result with a failing check and no statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from paceline.analytics.bootstrap import wild_cluster_bootstrap
from paceline.analytics.moments import BivariateMoments, pool_moments
from paceline.analytics.ols import CellData, CovType, OlsFit, SingularDesign, covariance, fit
from paceline.analytics.result import Check, Estimate, PilotResult, Relative, Status
from paceline.analytics.robust import WorkingModel, bell_mccaffrey_df, cr2_covariance, working_model
from paceline.analytics.twosample import cuped, relative_lift, sample_ratio_check, welch
from paceline.errors import ValidationError

FEW_PER_ARM = 5  # fewer units in an arm: the interval rests on the small-sample correction
WELCH = "welch"


class Design(StrEnum):
    AB = "ab"
    DID = "did"


@dataclass(frozen=True, eq=False)
class PilotCells:
    """Outcome moments per cell; optional period flag, unit codes (0..U-1) and covariate moments."""

    treated: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    post: np.ndarray | None = None
    unit: np.ndarray | None = None
    x_mean: np.ndarray | None = None
    x_m2: np.ndarray | None = None
    xy_c: np.ndarray | None = None

    @property
    def n_obs(self) -> int:
        return int(self.n.sum())

    def arm_counts(self) -> tuple[int, int]:
        """Units per arm when there is a unit, else observations per arm."""
        t = self.treated.astype(bool)
        if self.unit is None:
            return int(self.n[t].sum()), int(self.n[~t].sum())
        return int(np.unique(self.unit[t]).size), int(np.unique(self.unit[~t]).size)

    def subset(self, keep: np.ndarray) -> PilotCells:
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[keep]

        unit = None if self.unit is None else np.unique(self.unit[keep], return_inverse=True)[1]
        return PilotCells(
            self.treated[keep],
            self.n[keep],
            self.mean[keep],
            self.m2[keep],
            cut(self.post),
            unit,
            cut(self.x_mean),
            cut(self.x_m2),
            cut(self.xy_c),
        )


@dataclass(frozen=True)
class PilotSpec:
    """How to evaluate: design, outcome name, alpha, the SE method (``auto`` or a name), scale."""

    design: Design
    outcome: str
    alpha: float = 0.05
    se: str = "auto"
    log_scale: bool = False
    expected_share: float | None = 0.5


def choose_se(spec: PilotSpec, clustered: bool, n_clusters: int) -> str:
    """The ``se_method`` to use; ValidationError when the requested one does not fit the design.

    ``auto`` with a unit is CR2 whatever the number of units (``n_clusters``): see the module
    docstring.
    """
    allowed = _allowed(spec.design, clustered)
    if spec.se == "auto":
        if clustered:
            return CovType.CR2
        return WELCH if spec.design is Design.AB else CovType.HC1
    if spec.se not in allowed:
        raise ValidationError(
            f"se method {spec.se!r} does not fit a {spec.design} design "
            f"{'with' if clustered else 'without'} a unit",
            se=spec.se,
            fix=f"use one of: auto, {', '.join(allowed)}",
        )
    return spec.se


def _allowed(design: Design, clustered: bool) -> list[str]:
    if clustered:
        return [CovType.CR1.value, CovType.CR2.value, CovType.WILD.value]
    plain = [c.value for c in (CovType.NONROBUST, CovType.HC0, CovType.HC1, CovType.HC2, CovType.HC3)]
    return [WELCH, *plain] if design is Design.AB else plain


def evaluate_cells(cells: PilotCells, spec: PilotSpec, notes: Sequence[Check] = ()) -> PilotResult:
    """The :class:`PilotResult` for these cells: the estimate, its interval, and the checks."""
    clustered = cells.unit is not None
    n_clusters = 0 if cells.unit is None else int(cells.unit.max()) + 1 if cells.n.size else 0
    method = str(choose_se(spec, clustered, n_clusters))
    checks = [*notes, *_design_checks(cells, spec, method, n_clusters)]
    failure = _degenerate(cells, spec)

    def result(est: Estimate | None = None, rel: Relative | None = None) -> PilotResult:
        return PilotResult(
            spec.design.value,
            spec.outcome,
            method,
            spec.alpha,
            cells.n_obs,
            cells.arm_counts(),
            tuple(checks),
            est,
            rel,
        )

    if failure is not None:
        checks.append(failure)
        return result()
    try:
        absolute, relative, extra = _estimate(cells, spec, method)
    except SingularDesign:
        checks.append(Check("data", Status.FAIL, "the arms and periods cannot be told apart in these data"))
        return result()
    checks.extend(extra)
    if not (np.isfinite(absolute.se) and absolute.se > 0 and np.isfinite(absolute.estimate)):
        checks.append(
            Check(
                "variance",
                Status.FAIL,
                "the outcome does not vary: there is no uncertainty "
                "to estimate and no test to run; check the outcome column",
            )
        )
        return result()
    return result(absolute, _relative(absolute, relative, spec))


def _relative(absolute: Estimate, relative: Estimate | None, spec: PilotSpec) -> Relative | None:
    if spec.log_scale:
        return Relative.from_log(absolute, spec.alpha)
    if relative is None or not np.isfinite(relative.se):
        return None
    return Relative(relative.estimate, _relative_ci(absolute, relative, spec.alpha))


def _relative_ci(absolute: Estimate, relative: Estimate, alpha: float) -> tuple[float, float]:
    """The relative interval uses the absolute estimate's critical value (t, normal or bootstrap)."""
    half = absolute.critical(alpha) * relative.se
    return (relative.estimate - half, relative.estimate + half)


def _degenerate(cells: PilotCells, spec: PilotSpec) -> Check | None:
    t = cells.treated.astype(bool)
    for name, arm in (("treatment", t), ("control", ~t)):
        if cells.n[arm].sum() == 0:
            return Check("data", Status.FAIL, f"the {name} arm has no rows: check --group and --treated")
    if spec.design is Design.DID:
        assert cells.post is not None
        post = cells.post.astype(bool)
        for arm_name, arm in (("treatment", t), ("control", ~t)):
            for period_name, period in (("pre", ~post), ("post", post)):
                if cells.n[arm & period].sum() == 0:
                    return Check(
                        "data",
                        Status.FAIL,
                        f"the {arm_name} arm has no {period_name}-period rows: check --period and --post",
                    )
    if cells.n_obs <= (4 if spec.design is Design.DID else 2):
        return Check("data", Status.FAIL, f"{cells.n_obs} observations are too few to estimate a variance")
    n_t, n_c = cells.arm_counts()
    what = "units" if cells.unit is not None else "observations"
    if min(n_t, n_c) < 2:
        return Check(
            "data",
            Status.FAIL,
            f"{n_t} treatment and {n_c} control {what}: each arm needs at "
            "least two to estimate a variance (a single cluster carries no information on it)",
        )
    return None


def _design_checks(cells: PilotCells, spec: PilotSpec, method: str, n_clusters: int) -> list[Check]:
    checks: list[Check] = []
    n_t, n_c = cells.arm_counts()
    if spec.design is Design.AB and spec.expected_share is not None and n_t + n_c > 0:
        what = "units" if cells.unit is not None else "observations"
        checks.append(sample_ratio_check(n_t, n_c, spec.expected_share, what))
    if cells.unit is not None:
        checks.append(_cluster_check(n_t, n_c, n_clusters, method))
        both = np.intersect1d(cells.unit[cells.treated.astype(bool)], cells.unit[~cells.treated.astype(bool)])
        if both.size:
            checks.append(
                Check(
                    "unit_assignment",
                    Status.WARN,
                    f"{both.size} units have rows in both arms: "
                    "the comparison is not between separate groups of units",
                )
            )
    return checks


def _cluster_check(n_t: int, n_c: int, n_clusters: int, method: str) -> Check:
    detail = f"{n_clusters} units ({n_t} treatment, {n_c} control) are the independent observations; "
    if method == CovType.CR2:
        detail += (
            "CR2 standard errors with Bell-McCaffrey degrees of freedom, both under a random-effects "
            "working model with a unit and a unit-cell component estimated from the residuals "
            "(Pustejovsky-Tipton, Imbens-Kolesár)"
        )
    elif method == CovType.CR1:
        detail += "cluster-robust CR1 standard errors with t(G - 1)"
    else:
        detail += f"{method} inference"
    status = Status.WARN if min(n_t, n_c) < FEW_PER_ARM else Status.PASS
    if status is Status.WARN:
        detail += (
            f"; fewer than {FEW_PER_ARM} units in an arm: the interval rests on the small-sample correction"
        )
    return Check("clusters", status, detail)


def _estimate(
    cells: PilotCells, spec: PilotSpec, method: str
) -> tuple[Estimate, Estimate | None, list[Check]]:
    if method == WELCH:
        return _welch(cells)
    data = _cell_data(cells, spec)
    ols = fit(data)
    contrast = np.zeros(ols.k)
    contrast[1 if spec.design is Design.AB else 3] = 1.0
    if method == CovType.WILD:
        return wild_cluster_bootstrap(ols, contrast), None, []
    model = working_model(ols) if method == CovType.CR2 else None
    vcov = covariance(ols, CovType(method)) if model is None else cr2_covariance(ols, model)
    df = _df(ols, method, contrast, model)
    absolute = Estimate(float(contrast @ ols.beta), float(np.sqrt(contrast @ vcov @ contrast)), df)
    extra = [_covariate_check(ols, cells)] if cells.x_mean is not None else []
    return absolute, _ols_relative(ols, vcov, spec.design, df), extra


def _df(ols: OlsFit, method: str, contrast: np.ndarray, model: WorkingModel | None) -> float | None:
    if method == CovType.CR1:
        return float(ols.data.n_clusters - 1)
    if model is not None:
        return bell_mccaffrey_df(ols, contrast, model, adjust=model)
    if method == CovType.NONROBUST:
        return float(ols.n_obs - ols.k)
    return None


def _cell_data(cells: PilotCells, spec: PilotSpec) -> CellData:
    t = cells.treated.astype(float)
    cols = [np.ones_like(t), t]
    if spec.design is Design.DID:
        if cells.x_mean is not None:
            raise ValidationError(
                "a covariate adjusts randomised (ab) designs only", fix="drop --covariate, or use --design ab"
            )
        assert cells.post is not None
        p = cells.post.astype(float)
        cols += [p, t * p]
    elif cells.x_mean is not None:
        if cells.unit is None:
            raise ValidationError(
                "with a covariate and no unit the method is CUPED with Welch's test",
                fix="leave --se at auto (or welch), or give --unit",
            )
        centre = float((cells.n * cells.x_mean).sum() / cells.n.sum())
        cols.append(cells.x_mean - centre)
    return CellData(np.column_stack(cols), cells.n, cells.mean, cells.m2, cells.unit)


def _ols_relative(ols: OlsFit, vcov: np.ndarray, design: Design, df: float | None) -> Estimate | None:
    """Estimate / control mean; for did the control is the treated arm's counterfactual post mean."""
    base = np.zeros(ols.k)
    base[: 1 if design is Design.AB else 3] = 1.0
    effect = np.zeros(ols.k)
    effect[1 if design is Design.AB else 3] = 1.0
    treated = base + effect
    return relative_lift(
        float(treated @ ols.beta),
        float(treated @ vcov @ treated),
        float(base @ ols.beta),
        float(base @ vcov @ base),
        float(treated @ vcov @ base),
        df,
    )


def _covariate_check(ols: OlsFit, cells: PilotCells) -> Check:
    theta = float(ols.beta[2])
    return Check(
        "covariate_adjustment",
        Status.PASS,
        f"regression adjustment on each unit's mean covariate (CUPED/ANCOVA), coefficient {theta:.4g}",
    )


def _welch(cells: PilotCells) -> tuple[Estimate, Estimate | None, list[Check]]:
    t = cells.treated.astype(bool)
    if cells.x_mean is None:
        arms = [pool_moments(cells.n[a], cells.mean[a], cells.m2[a]) for a in (t, ~t)]
        absolute, relative = welch(arms[0], arms[1])
        return absolute, relative, []
    biv = [_bivariate(cells, a) for a in (t, ~t)]
    result = cuped(biv[0], biv[1])
    check = Check(
        "covariate_adjustment",
        Status.PASS,
        f"CUPED with pooled theta {result.theta:.4g}: the variance of the estimate is "
        f"{result.variance_reduction:.1%} lower than without the covariate",
    )
    return result.absolute, result.relative, [check]


def _bivariate(cells: PilotCells, arm: np.ndarray) -> BivariateMoments:
    assert cells.x_mean is not None and cells.x_m2 is not None and cells.xy_c is not None
    parts = [
        BivariateMoments(int(n), float(my), float(mx), float(m2y), float(m2x), float(cxy))
        for n, my, mx, m2y, m2x, cxy in zip(
            cells.n[arm],
            cells.mean[arm],
            cells.x_mean[arm],
            cells.m2[arm],
            cells.x_m2[arm],
            cells.xy_c[arm],
            strict=True,
        )
        if n > 0
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total
