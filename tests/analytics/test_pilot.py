"""evaluate_cells: method choice, the result document, and degenerate data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paceline.analytics.ols import CovType, fit
from paceline.analytics.pilot import Design, PilotCells, PilotSpec, _cell_data, evaluate_cells
from paceline.analytics.robust import bell_mccaffrey_df, cr2_covariance, working_model
from paceline.analytics.simulation import Scenario, simulate, to_cells
from paceline.errors import ValidationError

KEYS = {
    "design",
    "outcome",
    "estimate",
    "se",
    "ci",
    "df",
    "p_value",
    "relative_lift",
    "relative_ci",
    "se_method",
    "alpha",
    "n_obs",
    "n_units",
    "checks",
}


def _cells(persons: int = 30, did: bool = False, seed: int = 1, effect: float = 0.3) -> PilotCells:
    design = Design.DID if did else Design.AB
    tasks = simulate(Scenario(persons=persons, effect=effect, design=design), np.random.default_rng(seed))
    return to_cells(tasks, did=did)


def _statuses(doc: dict[str, object]) -> dict[str, str]:
    checks = doc["checks"]
    assert isinstance(checks, list)
    return {c["name"]: c["status"] for c in checks}


def test_document_has_exactly_the_spec_keys() -> None:
    doc = evaluate_cells(_cells(), PilotSpec(Design.AB, "y")).to_dict()
    assert set(doc) == KEYS
    assert set(doc["n_units"]) == {"treatment", "control"}
    assert doc["n_units"] == {"treatment": 15, "control": 15}
    assert all(set(c) == {"name", "status", "detail"} for c in doc["checks"])


@pytest.mark.parametrize(("persons", "did"), [(30, False), (50, False), (300, False), (30, True), (80, True)])
def test_clustered_auto_is_cr2_at_every_cluster_count(persons: int, did: bool) -> None:
    """CR2 with Bell-McCaffrey df under the estimated working model, whatever the number of units."""
    design = Design.DID if did else Design.AB
    cells = _cells(persons, did)
    doc = evaluate_cells(cells, PilotSpec(design, "y")).to_dict()
    assert doc["se_method"] == "cluster_CR2"
    ols = fit(_cell_data(cells, PilotSpec(design, "y")))
    model = working_model(ols)
    contrast = np.eye(ols.k)[-1 if did else 1]
    assert doc["se"] == pytest.approx(math.sqrt(contrast @ cr2_covariance(ols, model) @ contrast), rel=1e-12)
    assert doc["df"] == pytest.approx(bell_mccaffrey_df(ols, contrast, model, adjust=model), rel=1e-12)
    assert 1 < doc["df"] < persons - 1
    assert _statuses(doc)["clusters"] == "pass"
    assert "working model" in str(doc["checks"])


@pytest.mark.parametrize("did", [False, True])
def test_cr1_on_request_uses_t_with_g_minus_1(did: bool) -> None:
    doc = evaluate_cells(
        _cells(80, did), PilotSpec(Design.DID if did else Design.AB, "y", se=CovType.CR1.value)
    ).to_dict()
    assert (doc["se_method"], doc["df"]) == ("cluster_CR1", 79)


def test_cr2_approaches_cr1_as_units_are_added() -> None:
    """No threshold: the CR2 interval converges to CR1's as the units grow."""
    gaps = []
    for persons in (20, 200, 2000):
        cells = _cells(persons)
        auto = evaluate_cells(cells, PilotSpec(Design.AB, "y")).to_dict()
        cr1 = evaluate_cells(cells, PilotSpec(Design.AB, "y", se="cluster_CR1")).to_dict()
        assert auto["estimate"] == pytest.approx(cr1["estimate"], rel=1e-12)
        width = auto["ci"][1] - auto["ci"][0]
        gaps.append(abs(width / (cr1["ci"][1] - cr1["ci"][0]) - 1))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01


def test_without_unit_ab_is_welch_and_did_is_hc1() -> None:
    tasks = simulate(Scenario(), np.random.default_rng(2))
    ab = evaluate_cells(to_cells(tasks, clustered=False), PilotSpec(Design.AB, "y")).to_dict()
    assert ab["se_method"] == "welch"
    tasks = simulate(Scenario(design=Design.DID), np.random.default_rng(2))
    did = evaluate_cells(to_cells(tasks, clustered=False, did=True), PilotSpec(Design.DID, "y")).to_dict()
    assert (did["se_method"], did["df"]) == ("HC1", None)
    assert "sample_ratio" not in _statuses(did)


def test_requested_method_must_fit_the_design() -> None:
    with pytest.raises(ValidationError) as info:
        evaluate_cells(_cells(), PilotSpec(Design.AB, "y", se="welch"))
    assert "cluster_CR1" in info.value.details["fix"]
    doc = evaluate_cells(_cells(), PilotSpec(Design.AB, "y", se="wild_bootstrap")).to_dict()
    assert doc["se_method"] == "wild_bootstrap" and doc["df"] is None and doc["relative_lift"] is None


def test_did_relative_lift_is_against_the_counterfactual() -> None:
    cells = _cells(80, did=True)
    result = evaluate_cells(cells, PilotSpec(Design.DID, "y"))
    t, p = cells.treated, cells.post
    assert t is not None and p is not None
    w = cells.n * cells.mean

    def mean(mask: np.ndarray) -> float:
        return float(w[mask].sum() / cells.n[mask].sum())

    counterfactual = mean(t & ~p) + mean(~t & p) - mean(~t & ~p)
    doc = result.to_dict()
    assert doc["relative_lift"] == pytest.approx(doc["estimate"] / counterfactual, rel=1e-10)
    low, high = doc["relative_ci"]
    assert low < doc["relative_lift"] < high


def test_log_scale_relative_is_the_geometric_mean_change() -> None:
    tasks = simulate(Scenario(skewed=True, effect=0.2), np.random.default_rng(3))
    doc = evaluate_cells(to_cells(tasks, log=True), PilotSpec(Design.AB, "y", log_scale=True)).to_dict()
    assert doc["relative_lift"] == pytest.approx(math.expm1(doc["estimate"]), rel=1e-12)
    assert doc["relative_ci"] == pytest.approx([math.expm1(v) for v in doc["ci"]], rel=1e-12)


def _fails(cells: PilotCells, spec: PilotSpec) -> dict[str, object]:
    doc = evaluate_cells(cells, spec).to_dict()
    assert "fail" in _statuses(doc).values()
    assert all(doc[k] is None for k in ("estimate", "se", "ci", "p_value", "relative_lift", "relative_ci"))
    return doc


def test_degenerate_one_arm_empty() -> None:
    cells = _cells()
    doc = _fails(cells.subset(cells.treated), PilotSpec(Design.AB, "y"))
    assert doc["n_units"] == {"treatment": 15, "control": 0}


def test_degenerate_single_cluster_per_arm() -> None:
    cells = _cells()
    keep = np.isin(cells.unit, [np.flatnonzero(cells.treated)[0], np.flatnonzero(~cells.treated)[0]])
    doc = _fails(cells.subset(keep), PilotSpec(Design.AB, "y"))
    assert "two" in str(doc["checks"])


def test_degenerate_zero_variance() -> None:
    n = np.array([5, 7])
    cells = PilotCells(np.array([True, False]), n, np.array([2.0, 2.0]), np.zeros(2))
    _fails(cells, PilotSpec(Design.AB, "y"))


def test_degenerate_did_without_post_rows_in_an_arm() -> None:
    cells = _cells(did=True)
    assert cells.post is not None
    _fails(cells.subset(~(cells.treated & cells.post)), PilotSpec(Design.DID, "y"))


def test_no_rows_at_all() -> None:
    empty = np.array([], dtype=float)
    cells = PilotCells(
        np.array([], dtype=bool),
        np.array([], dtype=np.int64),
        empty,
        empty,
        unit=np.array([], dtype=np.int64),
    )
    doc = _fails(cells, PilotSpec(Design.AB, "y"))
    assert doc["n_obs"] == 0


def test_unit_in_both_arms_warns() -> None:
    cells = _cells()
    assert cells.unit is not None
    mixed = PilotCells(
        np.r_[cells.treated, True],
        np.r_[cells.n, 3],
        np.r_[cells.mean, 1.0],
        np.r_[cells.m2, 0.5],
        unit=np.r_[cells.unit, cells.unit[~cells.treated][0]],
    )
    assert _statuses(evaluate_cells(mixed, PilotSpec(Design.AB, "y")).to_dict())["unit_assignment"] == "warn"
