"""Jinja2 set-up and the one helper that renders a page with the layout's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from paceline.services.access import Principal
from paceline.web.formats import FILTERS
from paceline.web.nav import visible_nav
from paceline.web.security import CSRF_FIELD, CSRF_HEADER, Session

TEMPLATE_DIR = Path(__file__).parent / "templates"


def make_templates() -> Jinja2Templates:
    """Templates with autoescaping on and undefined variables as errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


def is_htmx(request: Request) -> bool:
    """Whether HTMX sent the request (it then wants a fragment, not a full page)."""
    return request.headers.get("hx-request") == "true"


def layout_context(request: Request) -> dict[str, Any]:
    """What the base layout needs: the principal, its navigation and the CSRF token."""
    principal: Principal | None = getattr(request.state, "principal", None)
    session: Session | None = getattr(request.state, "session", None)
    return {
        "principal": principal,
        "nav": visible_nav(principal),
        "current_path": request.url.path,
        "csrf_token": session.csrf if session is not None else "",
        "csrf_field": CSRF_FIELD,
        "csrf_header": CSRF_HEADER,
    }


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """The template *name* rendered with the layout context plus *context*."""
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(
        request, name, {**layout_context(request), **(context or {})}, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie, HX-Request"
    return response
