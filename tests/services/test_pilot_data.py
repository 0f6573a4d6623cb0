"""``paceline.evaluate_pilot`` and ``paceline pilot evaluate --data``: the same numbers as
scipy/statsmodels on the rows, every input kind, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import statsmodels.api as sm
import typer
from scipy import stats
from typer.testing import CliRunner

import paceline
from paceline.analytics.moments import BivariateMoments
from paceline.analytics.twosample import cuped
from paceline.cli.pilot import pilot_app
from paceline.errors import SchemaError, ValidationError

TOL = 1e-8


def _tasks(persons: int = 60, seed: int = 3, did: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tasks = rng.integers(1, 30, persons)
    person = np.repeat(np.arange(persons), tasks)
    ai = (np.arange(persons) % 2 == 0)[person]
    week = rng.integers(1, 9, person.size)
    post = week >= 5 if did else np.zeros(person.size, dtype=bool)
    y = 10 + 1.0 * ai + 0.5 * post + 0.8 * (ai & post) + rng.normal(0, 2, persons)[person]
    y = y + rng.normal(0, 3, person.size)
    return pd.DataFrame(
        {
            "person": [f"emp-{p:03d}" for p in person],
            "arm": np.where(ai, "ai", "control"),
            "week": week,
            "minutes": np.exp(y / 10),
            "y": y,
            "pre": rng.normal(5, 1, persons)[person] + 0.1 * y,
            "error": rng.random(person.size) < 0.1 + 0.05 * ai,
        }
    )


def _x(df: pd.DataFrame, did: bool = False) -> np.ndarray:
    t = (df.arm == "ai").to_numpy(float)
    if not did:
        return np.column_stack([np.ones(len(df)), t])
    p = (df.week >= 5).to_numpy(float)
    return np.column_stack([np.ones(len(df)), t, p, t * p])


def test_ab_without_unit_is_scipy_welch() -> None:
    df = _tasks()
    doc = paceline.evaluate_pilot(df, outcome="y", group="arm", treated="ai").to_dict()
    ref = stats.ttest_ind(df.y[df.arm == "ai"], df.y[df.arm == "control"], equal_var=False)
    ci = ref.confidence_interval()
    assert doc["se_method"] == "welch"
    assert doc["p_value"] == pytest.approx(ref.pvalue, rel=TOL)
    assert doc["df"] == pytest.approx(ref.df, rel=TOL)
    assert doc["ci"] == pytest.approx([ci.low, ci.high], rel=TOL)
    assert doc["n_obs"] == len(df)


def test_ab_with_unit_is_statsmodels_cluster_ols() -> None:
    df = _tasks(persons=60)
    doc = paceline.evaluate_pilot(
        df, outcome="y", group="arm", treated="ai", unit="person", se="cluster_CR1"
    ).to_dict()
    ref = sm.OLS(df.y.to_numpy(), _x(df)).fit(
        cov_type="cluster", cov_kwds={"groups": df.person.factorize()[0]}, use_t=True
    )
    assert doc["se_method"] == "cluster_CR1"
    assert (doc["estimate"], doc["se"]) == pytest.approx((ref.params[1], ref.bse[1]), rel=TOL)
    assert doc["p_value"] == pytest.approx(ref.pvalues[1], rel=TOL)
    assert doc["ci"] == pytest.approx(list(ref.conf_int()[1]), rel=TOL)
    assert doc["n_units"] == {"treatment": 30, "control": 30}


@pytest.mark.parametrize(("unit", "cov"), [(None, "HC1"), ("person", "cluster")])
def test_did_is_statsmodels_ols(unit: str | None, cov: str) -> None:
    df = _tasks(persons=70, did=True)
    doc = paceline.evaluate_pilot(
        df,
        outcome="y",
        group="arm",
        treated="ai",
        unit=unit,
        period="week",
        post=5,
        se="cluster_CR1" if unit else "auto",
    ).to_dict()
    kwds: dict[str, Any] = {"groups": df.person.factorize()[0]} if unit else {}
    ref = sm.OLS(df.y.to_numpy(), _x(df, did=True)).fit(cov_type=cov, cov_kwds=kwds, use_t=unit is not None)
    assert doc["design"] == "did"
    assert doc["se_method"] == ("cluster_CR1" if unit else "HC1")
    assert (doc["estimate"], doc["se"]) == pytest.approx((ref.params[3], ref.bse[3]), rel=TOL)
    assert doc["p_value"] == pytest.approx(ref.pvalues[3], rel=TOL)
    assert doc["ci"] == pytest.approx(list(ref.conf_int()[3]), rel=TOL)


def test_few_units_switch_to_cr2() -> None:
    df = _tasks(persons=20, did=True)
    doc = paceline.evaluate_pilot(
        df, outcome="y", group="arm", treated="ai", unit="person", period="week", post="5"
    ).to_dict()
    assert doc["se_method"] == "cluster_CR2"
    assert 1 < doc["df"] < 20


def test_every_input_kind_gives_the_same_document(tmp_path: Path) -> None:
    df = _tasks(did=True)
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    args: dict[str, Any] = {
        "outcome": "y",
        "group": "arm",
        "treated": "ai",
        "unit": "person",
        "period": "week",
        "post": 5,
    }
    docs = [
        paceline.evaluate_pilot(d, **args).to_dict()
        for d in (df, pa.Table.from_pandas(df), tmp_path / "t.csv", str(tmp_path / "t.parquet"))
    ]
    for doc in docs[1:]:
        assert doc.keys() == docs[0].keys()
        for key in ("estimate", "se", "p_value", "df"):
            assert doc[key] == pytest.approx(docs[0][key], rel=1e-9)


def test_boolean_outcome_and_groups() -> None:
    df = _tasks()
    df["is_ai"] = df.arm == "ai"
    doc = paceline.evaluate_pilot(df, outcome="error", group="is_ai", treated=True).to_dict()
    e = df.error.astype(float)
    assert doc["estimate"] == pytest.approx(e[df.is_ai].mean() - e[~df.is_ai].mean(), rel=TOL)
    df["arm_code"] = df.is_ai.astype(int)
    again = paceline.evaluate_pilot(df, outcome="error", group="arm_code", treated="1").to_dict()
    assert again["estimate"] == pytest.approx(doc["estimate"], rel=TOL)


def test_log_transform_compares_geometric_means() -> None:
    df = _tasks()
    doc = paceline.evaluate_pilot(df, outcome="minutes", group="arm", treated="ai", transform="log").to_dict()
    logs = np.log(df.minutes)
    diff = logs[df.arm == "ai"].mean() - logs[df.arm == "control"].mean()
    assert doc["estimate"] == pytest.approx(diff, rel=TOL)
    assert doc["relative_lift"] == pytest.approx(np.expm1(diff), rel=TOL)
    df.loc[3, "minutes"] = 0.0
    with pytest.raises(ValidationError, match="positive") as info:
        paceline.evaluate_pilot(df, outcome="minutes", group="arm", treated="ai", transform="log")
    assert "fix" in info.value.details


def test_covariate_without_unit_is_cuped() -> None:
    df = _tasks()
    doc = paceline.evaluate_pilot(df, outcome="y", group="arm", treated="ai", covariate="pre").to_dict()
    t, c = df[df.arm == "ai"], df[df.arm == "control"]
    ref = cuped(BivariateMoments.from_values(t.y, t.pre), BivariateMoments.from_values(c.y, c.pre))
    assert (doc["estimate"], doc["se"]) == pytest.approx((ref.absolute.estimate, ref.absolute.se), rel=TOL)
    assert any(ch["name"] == "covariate_adjustment" for ch in doc["checks"])


def test_covariate_with_unit_is_ancova_on_the_unit_mean() -> None:
    df = _tasks(persons=60)
    doc = paceline.evaluate_pilot(
        df, outcome="y", group="arm", treated="ai", unit="person", covariate="pre", se="cluster_CR1"
    ).to_dict()
    unit_pre = df.groupby("person").pre.transform("mean").to_numpy()
    x = np.column_stack([_x(df), unit_pre])
    ref = sm.OLS(df.y.to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": df.person.factorize()[0]})
    assert (doc["estimate"], doc["se"]) == pytest.approx((ref.params[1], ref.bse[1]), rel=TOL)


def test_missing_column_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="'minutes_spent'") as info:
        paceline.evaluate_pilot(_tasks(), outcome="minutes_spent", group="arm", treated="ai")
    assert "--outcome" in info.value.details["fix"]


def test_non_numeric_outcome_is_a_validation_error(tmp_path: Path) -> None:
    df = _tasks()
    df["y"] = df.y.astype(str)
    df.loc[5, "y"] = "n/a"
    df.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValidationError, match="'n/a'"):
        paceline.evaluate_pilot(tmp_path / "bad.csv", outcome="y", group="arm", treated="ai")
    with pytest.raises(ValidationError, match="not numeric"):
        paceline.evaluate_pilot(df, outcome="arm", group="arm", treated="ai")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period": "week"},
        {"design": "did"},
        {"design": "ab", "period": "week", "post": 5},
        {"period": "week", "post": 5, "covariate": "pre"},
        {"alpha": 1.5},
        {"transform": "sqrt"},
        {"se": "cluster_CR1"},
        {"period": "week", "post": "five"},
        {"covariate": "pre", "se": "HC1"},
    ],
)
def test_unusable_options_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        paceline.evaluate_pilot(_tasks(), outcome="y", group="arm", treated="ai", **kwargs)
    assert info.value.exit_code == 2


def test_unreadable_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        paceline.evaluate_pilot(tmp_path / "nope.csv", outcome="y", group="arm", treated="ai")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(ValidationError, match="format"):
        paceline.evaluate_pilot(tmp_path / "t.xlsx", outcome="y", group="arm", treated="ai")
    with pytest.raises(ValidationError, match="table"):
        paceline.evaluate_pilot([1, 2, 3], outcome="y", group="arm", treated="ai")


def test_missing_values_are_left_out_and_reported() -> None:
    df = _tasks()
    df.loc[:4, "y"] = np.nan
    df.loc[10:11, "person"] = None
    doc = paceline.evaluate_pilot(df, outcome="y", group="arm", treated="ai", unit="person").to_dict()
    note = next(c for c in doc["checks"] if c["name"] == "missing_values")
    assert note["status"] == "warn"
    assert "5 rows with outcome 'y' missing" in note["detail"] and "2 rows with unit" in note["detail"]
    assert doc["n_obs"] == len(df) - 7


def test_unknown_treated_value_is_a_failing_result() -> None:
    result = paceline.evaluate_pilot(_tasks(), outcome="y", group="arm", treated="AI")
    assert not result.ok and result.estimate is None
    assert result.to_dict()["n_units"]["treatment"] == 0


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(pilot_app, name="pilot")  # as cli/main.py registers it
    return app


def test_cli_json_is_the_library_document(tmp_path: Path) -> None:
    df = _tasks(did=True)
    df.to_parquet(tmp_path / "t.parquet")
    res = CliRunner().invoke(
        _cli(),
        [
            "pilot",
            "evaluate",
            "--data",
            str(tmp_path / "t.parquet"),
            "--outcome",
            "y",
            "--group",
            "arm",
            "--treated",
            "ai",
            "--unit",
            "person",
            "--period",
            "week",
            "--post",
            "5",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.stderr
    lib = paceline.evaluate_pilot(
        df, outcome="y", group="arm", treated="ai", unit="person", period="week", post=5
    )
    assert json.loads(res.stdout) == json.loads(json.dumps(lib.to_dict()))


def test_cli_table_and_exit_codes(tmp_path: Path) -> None:
    _tasks().to_csv(tmp_path / "t.csv", index=False)
    base = ["pilot", "evaluate", "--data", str(tmp_path / "t.csv"), "--group", "arm"]
    ok = CliRunner().invoke(_cli(), [*base, "--outcome", "y", "--treated", "ai", "--unit", "person"])
    assert ok.exit_code == 0 and "cluster_CR" in ok.stdout
    bad = CliRunner().invoke(_cli(), [*base, "--outcome", "nope", "--treated", "ai"])
    assert bad.exit_code == 2 and "'nope'" in bad.stderr and "Fix:" in bad.stderr
    unmapped = CliRunner().invoke(_cli(), [*base, "--outcome", "y"])
    assert unmapped.exit_code == 2 and "--treated" in unmapped.stderr
    failed = CliRunner().invoke(_cli(), [*base, "--outcome", "y", "--treated", "AI", "--format", "json"])
    assert failed.exit_code == 1 and json.loads(failed.stdout)["estimate"] is None
