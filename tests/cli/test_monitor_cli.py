"""``paceline monitor drift``: the spec's file form, the predictions form, and the error contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from paceline.cli.main import app
from tests.services.test_drift_windows import MODEL, predictions


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("monitor-files")
    rng = np.random.default_rng(2)
    n = 4000
    ref = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, n),
            "age": rng.integers(18, 80, n),
            "channel": rng.choice(["web", "phone"], n),
        }
    )
    cur = pd.DataFrame(
        {
            "amount": rng.lognormal(3.4, 0.5, n),
            "age": rng.integers(18, 80, n),
            "channel": rng.choice(["web", "phone", "app"], n),
        }
    )
    ref.to_parquet(folder / "ref.parquet")
    cur.to_csv(folder / "cur.csv", index=False)
    return folder / "ref.parquet", folder / "cur.csv"


def run(*args: str, home: Path | None = None) -> tuple[int, str, str]:
    env = {"PACELINE_HOME": str(home)} if home else {}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_file_form_json_has_the_spec_shape(files: tuple[Path, Path]) -> None:
    ref, cur = files
    code, out, _ = run("monitor", "drift", "--reference", str(ref), "--current", str(cur), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert list(doc)[:4] == ["reference_rows", "current_rows", "drifted_share", "columns"]
    assert (doc["reference_rows"], doc["current_rows"]) == (4000, 4000)
    amount = doc["columns"][0]
    assert list(amount)[:9] == [
        "column",
        "kind",
        "psi",
        "ks",
        "ks_p_value",
        "wasserstein",
        "drifted",
        "method",
        "threshold",
    ]
    assert amount["drifted"] and (amount["method"], amount["threshold"]) == ("psi", 0.2)
    channel = doc["columns"][2]
    assert channel["kind"] == "categorical" and "chi2_p_value" in channel
    assert doc["drifted_share"] == pytest.approx(sum(c["drifted"] for c in doc["columns"]) / 3)


def test_columns_categorical_and_methods(files: tuple[Path, Path]) -> None:
    ref, cur = files
    code, out, _ = run(
        "monitor",
        "drift",
        "--reference",
        str(ref),
        "--current",
        str(cur),
        "--columns",
        "age, channel",
        "--categorical",
        "age",
        "--categorical-method",
        "chi2",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert code == 0
    assert [(c["column"], c["kind"], c["method"]) for c in doc["columns"]] == [
        ("age", "categorical", "chi2"),
        ("channel", "categorical", "chi2"),
    ]
    assert doc["columns"][0]["threshold"] == pytest.approx(0.025)  # 0.05 / 2 columns tested


def test_table_output_names_the_rule(files: tuple[Path, Path]) -> None:
    ref, cur = files
    code, out, _ = run("monitor", "drift", "--reference", str(ref), "--current", str(cur))
    assert code == 0
    assert "4,000 current vs 4,000 reference rows" in out
    assert "Drifted when: psi ≥ 0.2 (categorical); psi ≥ 0.2 (numeric)" in out


def test_fail_on_drift_exits_1(files: tuple[Path, Path]) -> None:
    ref, cur = files
    code, _, err = run("monitor", "drift", "--reference", str(ref), "--current", str(cur), "--fail-on-drift")
    assert code == 1 and "drift in amount" in err
    code, _, _ = run(
        "monitor",
        "drift",
        "--reference",
        str(ref),
        "--current",
        str(ref),
        "--fail-on-drift",
        "--format",
        "json",
    )
    assert code == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--columns", "amount,nope"], "column 'nope' is not in the reference data"),
        (["--categorical", "nope"], "column 'nope' is not in the reference data"),
        (["--numeric-method", "median"], "numeric-method 'median' is not one of"),
        (["--numeric-method", "chi2"], "drift setting 'numeric_method'"),
        (["--numeric-method", "wasserstein"], "a Wasserstein threshold is in the column's unit"),
        (["--model", "m"], "--model compares a model's predictions"),
        (["--features", "a"], "--features goes with --model"),
    ],
)
def test_bad_options_exit_2_with_the_fix(files: tuple[Path, Path], extra: list[str], message: str) -> None:
    ref, cur = files
    code, out, err = run("monitor", "drift", "--reference", str(ref), "--current", str(cur), *extra)
    assert code == 2 and message in err and "Fix:" in err and "Traceback" not in out + err


def test_missing_files_and_arguments(tmp_path: Path, files: tuple[Path, Path]) -> None:
    ref, _ = files
    code, _, err = run(
        "monitor", "drift", "--reference", str(ref), "--current", str(tmp_path / "none.parquet")
    )
    assert code == 2 and "current file" in err and "does not exist" in err
    code, _, err = run("monitor", "drift", "--reference", str(ref))
    assert code == 2 and "give --reference and --current files, or --model" in err


# --- over the predictions table -----------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("monitor-ws")
    pq.write_table(pa.Table.from_pandas(predictions(), preserve_index=False), folder / "predictions.parquet")
    home = folder / "ws"
    assert run("init", home=home)[0] == 0
    assert run("ingest", "predictions", str(folder / "predictions.parquet"), home=home)[0] == 0
    return home


def test_model_form_reports_each_window(home: Path) -> None:
    code, out, _ = run(
        "monitor",
        "drift",
        "--model",
        MODEL,
        "--reference-start",
        "2026-01-05",
        "--reference-end",
        "2026-02-01",
        "--current-every",
        "2w",
        "--format",
        "json",
        home=home,
    )
    doc = json.loads(out)
    assert code == 0 and doc["model"] == MODEL
    assert [w["windows"]["current"]["start"][:10] for w in doc["windows"]] == ["2026-02-02", "2026-02-16"]
    assert {c["column"] for c in doc["windows"][0]["columns"]} == {
        "amount",
        "channel",
        "pages",
        "prediction",
        "score",
    }


def test_model_form_table_and_fail_on_drift(home: Path) -> None:
    code, out, err = run("monitor", "drift", "--model", MODEL, "--fail-on-drift", home=home)
    assert code == 1 and "drift in" in err
    assert "Drift of claims-router against 2026-01-05 to 2026-02-02" in out
    assert "2026-02-23" in out


def test_model_form_errors(home: Path) -> None:
    code, _, err = run("monitor", "drift", "--model", MODEL, "--reference-start", "2026-01-05", home=home)
    assert code == 2 and "--reference-start and --reference-end go together" in err
    code, _, err = run("monitor", "drift", "--model", "nope", home=home)
    assert code == 2 and "no predictions of model 'nope'" in err
    code, _, err = run("monitor", "drift", "--model", MODEL, "--current-every", "soon", home=home)
    assert code == 2 and "is not a duration" in err


def test_latest_keeps_the_most_recent_windows(home: Path, files: tuple[Path, Path]) -> None:
    code, out, _ = run("monitor", "drift", "--model", MODEL, "--latest", "1", "--format", "json", home=home)
    assert code == 0
    assert [w["windows"]["current"]["start"][:10] for w in json.loads(out)["windows"]] == ["2026-02-23"]
    ref, cur = files
    code, _, err = run("monitor", "drift", "--reference", str(ref), "--current", str(cur), "--latest", "2")
    assert code == 2 and "--latest goes with --model" in err
    code, _, err = run("monitor", "drift", "--model", MODEL, "--latest", "0", home=home)
    assert code == 2 and "--latest" in err
