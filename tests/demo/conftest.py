"""Shared fixtures: the default demo firm, generated once, and DuckDB over its Arrow tables.

Effect tests read the generated tables directly (no workspace), with SQL that is
independent of the generator's code: they see only what a firm would export.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from paceline.demo.firm import Firm, generate_firm
from paceline.demo.params import FirmParams

SEED = 7


@pytest.fixture(scope="session")
def firm() -> Firm:
    """The default firm of ``paceline demo --seed 7``."""
    return generate_firm(FirmParams(), seed=SEED)


@pytest.fixture(scope="session")
def small_params() -> FirmParams:
    """A firm of 60 people over 3 months: every shape, in a fraction of a second."""
    return FirmParams.sized(people=60, months=3)


@pytest.fixture(scope="session")
def duck(firm: Firm) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB with one view per generated table, and the timeline's phase dates."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, table in firm.tables.items():
        con.register(name, table)
    yield con
    con.close()
