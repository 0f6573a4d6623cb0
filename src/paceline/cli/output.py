"""Rendering for the CLI: JSON documents on stdout, tables and messages via Rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def emit_json(doc: Any) -> None:
    """Exactly one JSON document on stdout (spec/interface.md)."""
    sys.stdout.write(json.dumps(doc, default=str, indent=2) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left")
    for col in columns:
        grid.add_column(col)
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    out.print(grid)
