"""docs/web.md stays honest: every route the app serves is documented there."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def spellings(route: APIRoute) -> list[str]:
    """How the doc may name *route*: `/path`, `/path?query`, `METHOD /path`, ..."""
    names = [route.path, *(f"{method} {route.path}" for method in route.methods or ())]
    return [f"`{name}{end}" for name in names for end in ("`", "?")]


def test_every_route_is_documented(app: FastAPI) -> None:
    text = DOC.read_text(encoding="utf-8")
    for route in app.routes:
        if isinstance(route, APIRoute):
            assert any(s in text for s in spellings(route)), f"{route.path} is not in docs/web.md"
        elif isinstance(route, Mount):
            assert f"`GET {route.path}/" in text, f"{route.path} is not in docs/web.md"
