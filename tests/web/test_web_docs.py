"""docs/web.md stays honest: every route the app serves is documented there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def served(routes: list[Any]) -> Iterator[tuple[str, frozenset[str]]]:
    """``(path, methods)`` of every route, mounts as ``(path, {"MOUNT"})``.

    FastAPI keeps an included router as one entry whose routes it resolves on demand
    (``effective_candidates``); older versions copied them into ``app.routes``. Both are walked.
    """
    for route in routes:
        if isinstance(route, Mount):
            yield route.path, frozenset({"MOUNT"})
        elif hasattr(route, "effective_candidates"):
            yield from served(route.effective_candidates())
        elif getattr(route, "path", None) is not None:
            yield route.path, frozenset(getattr(route, "methods", None) or ())


def spellings(path: str, methods: frozenset[str]) -> list[str]:
    """How the doc may name a route: `/path`, `/path?query`, `METHOD /path`, ... (converters such
    as ``{control_id:path}`` are written without theirs)."""
    path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
    names = [path, *(f"{method} {path}" for method in methods)]
    return [f"`{name}{end}" for name in names for end in ("`", "?")]


def test_every_route_is_documented(app: FastAPI) -> None:
    text = DOC.read_text(encoding="utf-8")
    routes = list(served(app.routes))
    assert len(routes) > 150, f"only {len(routes)} routes found: the walk missed the routers"
    missing = []
    for path, methods in routes:
        if "MOUNT" in methods:
            ok = f"`GET {path}/" in text
        else:
            ok = any(s in text for s in spellings(path, methods))
        if not ok:
            missing.append(f"{sorted(methods)} {path}")
    assert not missing, "not in docs/web.md:\n" + "\n".join(missing)
