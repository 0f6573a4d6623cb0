"""Every KPI on DuckDB and on Spark local[2] over the same fixture: the same answers.

Counts, distinct counts and suppression must be identical; sums and means may
differ in the last bits because the engines add in different orders.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from paceline.domain.kpis import KPIS, Grain, Stat
from paceline.services.kpi import compute
from paceline.services.kpi_frames import KpiQuery
from paceline.storage.warehouse import Warehouse
from tests.services import kpi_fixture as fx

pyspark = pytest.importorskip("pyspark", reason="install the spark extra: pip install '.[spark]'")
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java"),
    # py4j leaves gateway sockets to the garbage collector, and pyspark still passes `copy=` to pandas.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from paceline.bootstrap import Workspace

    folder = tmp_path_factory.mktemp("parity")
    ws = Workspace.init(folder / "ws")
    for table, path in fx.write_all(folder).items():
        ws.ingest(table, path)
    duck = ws.warehouse.connect()
    spark = Warehouse(ws.warehouse.root, "pyspark://local[2]").connect()
    yield duck, spark
    spark._session.stop()


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.items() if k != "value"} == {k: v for k, v in y.items() if k != "value"}
        if x["value"] is None or y["value"] is None:
            assert x["value"] is None and y["value"] is None
        else:
            assert math.isclose(x["value"], y["value"], rel_tol=1e-12, abs_tol=1e-12), (x, y)


CASES = [(k, by, grain) for k in KPIS for by, grain in [((), Grain.TOTAL), (("team",), Grain.WEEK)]]


@pytest.mark.parametrize(
    ("kpi", "by", "grain"), CASES, ids=[f"{k}-{'-'.join(b) or 'all'}" for k, b, _ in CASES]
)
def test_every_kpi_agrees_on_duckdb_and_spark(
    engines: tuple[Any, Any], kpi: str, by: tuple[str, ...], grain: Grain
) -> None:
    duck, spark = engines
    query = KpiQuery(kpi, by=by, grain=grain)
    _same(compute(duck, query, 5).rows, compute(spark, query, 5).rows)


@pytest.mark.parametrize("stat", [Stat.MEDIAN, Stat.P90])
def test_quantiles_agree(engines: tuple[Any, Any], stat: Stat) -> None:
    duck, spark = engines
    query = KpiQuery("resolution_time", by=("priority",), stat=stat)
    _same(compute(duck, query, 5).rows, compute(spark, query, 5).rows)


def test_cohort_and_tenure_splits_agree(engines: tuple[Any, Any]) -> None:
    duck, spark = engines
    for kpi in ("error_rate", "adoption_rate", "esat"):
        query = KpiQuery(kpi, by=("cohort", "tenure_band"), grain=Grain.MONTH)
        _same(compute(duck, query, 5).rows, compute(spark, query, 5).rows)
