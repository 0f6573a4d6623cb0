"""``paceline.drift`` inside DuckDB (and Spark): statistics equal scipy's, inputs, errors.

Golden numbers are scipy's own on the same values: ``ks_2samp``, ``wasserstein_distance``,
``chi2_contingency(correction=False)``, and decile PSI written out in numpy.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

import paceline
from paceline.analytics.drift import DriftPolicy, Method
from paceline.errors import SchemaError, ValidationError
from paceline.services.drift import EngineOptions, compare_tables
from tests.analytics.test_drift import numpy_psi


def frames(seed: int = 5, n: int = 6000, m: int = 5000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current with every case: shift, ties, outliers, missing values, categories."""
    rng = np.random.default_rng(seed)

    def side(size: int, shift: float, extra: str | None) -> pd.DataFrame:
        amount = rng.lognormal(3 + shift, 0.6, size)
        amount[:2] = [1e9, -5e7]  # outliers stretch the range: the zoom must recover resolution
        level = rng.integers(0, 5, size).astype(float)  # ties
        noisy = rng.normal(shift, 1, size)
        noisy[rng.random(size) < 0.05] = np.nan
        noisy[:3] = [np.inf, -np.inf, np.nan]
        channel = rng.choice(["web", "phone", "app"], size, p=[0.5, 0.3, 0.2]).astype(object)
        if extra:
            channel[rng.random(size) < 0.1] = extra
        channel[rng.random(size) < 0.02] = None
        return pd.DataFrame(
            {
                "amount": amount,
                "level": level,
                "noisy": noisy,
                "count": rng.poisson(3 + shift, size).astype(np.int64),
                "channel": channel,
                "flag": rng.random(size) < 0.3 + shift / 10,
            }
        )

    return side(n, 0.0, None), side(m, 0.3, "kiosk")


def _present(x: pd.Series) -> np.ndarray:
    v = x.to_numpy(dtype=float)
    return v[np.isfinite(v)]


def assert_matches_scipy(report: paceline.DriftReport, ref: pd.DataFrame, cur: pd.DataFrame) -> None:
    for col in report.columns:
        if col.kind.value == "numeric":
            r, c = _present(ref[col.column]), _present(cur[col.column])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ks = stats.ks_2samp(r, c)
            assert col.ks == pytest.approx(ks.statistic, rel=1e-14), col.column
            assert col.ks_p_value == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300), col.column
            assert col.wasserstein == pytest.approx(stats.wasserstein_distance(r, c), rel=1e-9), col.column
            assert col.psi == pytest.approx(numpy_psi(r, c), abs=1e-12), col.column
            assert col.missing_share == pytest.approx(1 - c.size / len(cur))
        else:
            r, c = ref[col.column].dropna().astype(str), cur[col.column].dropna().astype(str)
            cats = sorted(set(r) | set(c))
            table = np.array([[int((r == k).sum()) for k in cats], [int((c == k).sum()) for k in cats]])
            chi = stats.chi2_contingency(table, correction=False)
            assert col.chi2_p_value == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300), col.column


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return frames()


def test_statistics_equal_scipy_on_dataframes(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = data
    report = paceline.drift(ref, cur, categorical=["count"])
    assert [c.column for c in report.columns] == list(ref.columns)
    kinds = {c.column: c.kind.value for c in report.columns}
    assert kinds == {
        "amount": "numeric",
        "level": "numeric",
        "noisy": "numeric",
        "count": "categorical",
        "flag": "categorical",
        "channel": "categorical",
    }
    assert_matches_scipy(report, ref, cur)
    assert report.column("channel").bins["categories"][-1] == "kiosk"  # unseen: last, own bin in PSI


def test_zoomed_cells_give_the_same_statistics(
    data: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the zoom threshold lowered, the outliers' stretched cells and the ties are split again."""
    from paceline.services import drift_numeric

    monkeypatch.setattr(drift_numeric, "HEAVY_LEAST", 100)
    calls: list[int] = []
    original = drift_numeric.zoom_expr
    monkeypatch.setattr(drift_numeric, "zoom_expr", lambda *a: calls.append(1) or original(*a))
    ref, cur = data
    report = paceline.drift(ref, cur, ["amount", "level"])
    assert calls, "no cell was zoomed"
    assert_matches_scipy(report, ref, cur)


def test_split_unsettled_cells_give_the_same_statistics(
    data: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With much data the cells the counts cannot settle are split before refining: same numbers."""
    from paceline.services import drift_numeric

    monkeypatch.setattr(drift_numeric, "REFINE_TARGET", 10)
    monkeypatch.setattr(drift_numeric, "SUBCELLS", 2**12)
    calls: list[int] = []
    original = drift_numeric.zoom_expr
    monkeypatch.setattr(drift_numeric, "zoom_expr", lambda *a: calls.append(1) or original(*a))
    ref, cur = data
    report = paceline.drift(ref, cur, ["amount", "level", "noisy"])
    assert len(calls) == 2, "the unsettled cells were not split twice"
    assert_matches_scipy(report, ref, cur)


def test_bins_grow_with_the_square_root_of_the_data() -> None:
    from paceline.services.drift_numeric import BINS, MAX_BINS, bins_for

    assert [bins_for(v) for v in (1_000, 2_000_000, 8_000_000, 20_000_000, 10**9)] == [
        BINS,
        BINS,
        2 * BINS,
        4 * BINS,
        MAX_BINS,
    ]


def test_nan_and_infinity_count_as_missing(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = data
    col = paceline.drift(ref, cur, ["noisy"]).column("noisy")
    assert col.current_count == int(np.isfinite(cur["noisy"]).sum())
    assert col.reference_missing == int((~np.isfinite(ref["noisy"])).sum())


def test_parquet_csv_and_arrow_inputs_give_the_same_report(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    ref, cur = data
    cols = ["amount", "level", "channel"]
    ref[cols].to_parquet(tmp_path / "ref.parquet")
    cur[cols].to_csv(tmp_path / "cur.csv", index=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(cur[cols].iloc[:2000]), folder / "a.parquet")
    pq.write_table(pa.Table.from_pandas(cur[cols].iloc[2000:]), folder / "b.parquet")
    from_files = paceline.drift(tmp_path / "ref.parquet", str(tmp_path / "cur.csv")).to_dict()
    from_arrow = paceline.drift(pa.Table.from_pandas(ref[cols]), pa.Table.from_pandas(cur[cols])).to_dict()
    from_folder = paceline.drift(tmp_path / "ref.parquet", folder).to_dict()
    assert _close(from_files, from_arrow)
    assert _close(from_files, from_folder)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-15)
    return bool(a == b)


def test_partitioned_windows_give_the_same_statistics(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Spark restarts the running counts per cell; DuckDB runs them over the column: same numbers."""
    import ibis

    ref, cur = data
    con = ibis.duckdb.connect()
    one = compare_tables(ibis.memtable(ref), ibis.memtable(cur), ["amount", "noisy"])
    two = compare_tables(
        ibis.memtable(ref), ibis.memtable(cur), ["amount", "noisy"], options=EngineOptions(partitioned=True)
    )
    assert _close(one.to_dict(), two.to_dict())
    con.disconnect()


def test_deciles_in_a_wide_gap_are_counted_by_the_engine() -> None:
    """A reference with a gap at its median and current values inside it: the engine counts."""
    import ibis

    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": np.concatenate([rng.uniform(0, 1, 3000), rng.uniform(9, 10, 3000)])})
    cur = pd.DataFrame({"x": rng.uniform(1, 9, 4000)})
    report = compare_tables(ibis.memtable(ref), ibis.memtable(cur), options=EngineOptions(row_limit=50))
    assert_matches_scipy(report, ref, cur)


def test_the_spec_example_decision_psi_0_2(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = data
    doc = paceline.drift(ref, cur, ["amount"]).to_dict()
    col = doc["columns"][0]
    assert (col["method"], col["threshold"]) == ("psi", 0.2)
    assert col["drifted"] == (col["psi"] >= 0.2)
    assert doc["drifted_share"] == (1.0 if col["drifted"] else 0.0)


def test_a_policy_with_tests_reports_the_corrected_alpha(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = data
    policy = DriftPolicy(numeric_method=Method.KS_TEST, categorical_method=Method.CHI2)
    report = paceline.drift(ref, cur, ["amount", "level", "channel"], policy=policy)
    assert [c.threshold for c in report.columns] == [pytest.approx(0.05 / 3)] * 3


def test_identical_sides_show_no_drift() -> None:
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000)})
    report = paceline.drift(df, df)
    assert [(c.psi, c.ks, c.wasserstein, c.drifted) for c in report.columns] == [
        (0.0, 0.0, 0.0, False),
        (0.0, None, None, False),
    ]


def test_a_column_without_values_on_one_side_is_reported_as_missing() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    cur = pd.DataFrame({"x": [np.nan, np.nan]})
    col = paceline.drift(ref, cur).column("x")
    assert (col.drifted, col.method.value, col.psi, col.missing_share) == (True, "missing", None, 1.0)


def test_unsupported_columns_are_skipped_unless_named() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0], "at": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    report = paceline.drift(ref, ref)
    assert [c.column for c in report.columns] == ["x"] and "at" in report.to_dict()["skipped"]
    with pytest.raises(SchemaError, match="'at' holds timestamp"):
        paceline.drift(ref, ref, ["at"])


# --- errors name the column and the fix ----------------------------------------------------


def test_a_missing_column_is_named_with_the_fix() -> None:
    ref, cur = pd.DataFrame({"a": [1.0], "b": [2.0]}), pd.DataFrame({"a": [1.0]})
    with pytest.raises(SchemaError, match="'b' is not in the current data") as info:
        paceline.drift(ref, cur)
    assert "--columns" in info.value.details["fix"]


def test_an_empty_side_is_refused() -> None:
    with pytest.raises(ValidationError, match="current data has no rows"):
        paceline.drift(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"a": pd.Series([], dtype=float)}))


def test_numeric_on_one_side_and_text_on_the_other_is_refused() -> None:
    ref, cur = pd.DataFrame({"a": [1.0, 2.0]}), pd.DataFrame({"a": ["1", "x"]})
    with pytest.raises(SchemaError, match="'a' is numeric in the reference but text") as info:
        paceline.drift(ref, cur)
    assert "--categorical a" in info.value.details["fix"]


def test_bad_files_and_sources_are_refused(tmp_path: Path) -> None:
    ok = pd.DataFrame({"a": [1.0]})
    with pytest.raises(ValidationError, match="does not exist"):
        paceline.drift(tmp_path / "nope.parquet", ok)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(SchemaError, match="not a readable Parquet file"):
        paceline.drift(tmp_path / "bad.parquet", ok)
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(ValidationError, match="cannot tell the format"):
        paceline.drift(tmp_path / "data.xlsx", ok)
    with pytest.raises(ValidationError, match="cannot read the reference data from a dict"):
        paceline.drift({"a": [1]}, ok)


def test_an_id_like_column_is_refused_as_categories() -> None:
    df = pd.DataFrame({"id": [f"id-{i}" for i in range(300)]})
    with pytest.raises(ValidationError, match="'id' has more than 100 distinct values"):
        compare_tables(*(_memtables(df, df)), options=EngineOptions(max_categories=100))


def test_forcing_an_unknown_column_to_categories_is_refused() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2]})
    with pytest.raises(ValidationError, match="--categorical names 'b'"):
        paceline.drift(df, df, ["a"], categorical=["b"])


def test_an_unusable_policy_is_refused() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValidationError, match="wasserstein"):
        paceline.drift(df, df, policy=DriftPolicy(numeric_method=Method.WASSERSTEIN))


def _memtables(a: pd.DataFrame, b: pd.DataFrame) -> tuple[Any, Any]:
    import ibis

    return ibis.memtable(a), ibis.memtable(b)


# --- Spark: the same expressions, the same answers ---------------------------------------------


@pytest.fixture(scope="module")
def spark_and_duck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Path]]:
    pytest.importorskip("pyspark", reason="install the spark extra: pip install '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    import ibis
    from pyspark.sql import SparkSession

    folder = tmp_path_factory.mktemp("drift-spark")
    ref, cur = frames(seed=11, n=3000, m=2500)
    for name, df in (("ref", ref), ("cur", cur)):
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / f"{name}.parquet")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("paceline-drift-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    spark = ibis.pyspark.connect(session)
    duck = ibis.duckdb.connect()
    yield spark, duck, folder
    session.stop()


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning")
def test_spark_and_duckdb_agree(
    spark_and_duck: tuple[Any, Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from paceline.services import drift_numeric

    spark, duck, folder = spark_and_duck
    sides = {}
    for split in (False, True):  # True: unsettled cells are split first (zoom joins on both engines)
        if split:
            monkeypatch.setattr(drift_numeric, "REFINE_TARGET", 10)
            monkeypatch.setattr(drift_numeric, "SUBCELLS", 2**10)
        for name, con in (("spark", spark), ("duck", duck)):
            ref = con.read_parquet(str(folder / "ref.parquet"))
            cur = con.read_parquet(str(folder / "cur.parquet"))
            sides[name, split] = compare_tables(ref, cur, categorical=["count"]).to_dict()
        assert _close(sides["spark", split], sides["duck", split])
    assert _close(sides["duck", False], sides["duck", True])
    ref = pd.read_parquet(folder / "ref.parquet")
    cur = pd.read_parquet(folder / "cur.parquet")
    report = paceline.drift(folder / "ref.parquet", folder / "cur.parquet", categorical=["count"])
    assert_matches_scipy(report, ref, cur)
