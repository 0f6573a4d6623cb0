"""Small DuckDB helpers shared by the storage adapters."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def arrow_table(result: Any) -> pa.Table:
    """The whole result as an Arrow table, on DuckDB 1.4 and 1.5+ alike.

    DuckDB 1.5 renamed ``fetch_arrow_table()`` to ``to_arrow_table()`` and
    deprecated the old name.
    """
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    table: pa.Table = fetch()
    return table
