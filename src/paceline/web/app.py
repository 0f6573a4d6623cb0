"""The web app and API: ``create_app(ws)`` wires routers, middleware and error handlers.

``paceline serve`` runs it with uvicorn. See docs/web.md for the security model.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from paceline.bootstrap import Workspace
from paceline.web import (
    alert_api,
    alert_pages,
    api,
    audit_api,
    enablement_api,
    enablement_pages,
    flags_api,
    governance_api,
    governance_pages,
    kpi_api,
    kpi_pages,
    lifecycle_api,
    lifecycle_pages,
    login,
    model_api,
    model_pages,
    oidc,
    pages,
    pilot_api,
    pilot_pages,
    review_pages,
    runtime_api,
    system,
    usecase_pages,
)
from paceline.web.errors import UnhandledErrorMiddleware, install_error_handlers
from paceline.web.metrics import HttpMetrics, MetricsMiddleware
from paceline.web.security import SecurityHeadersMiddleware, SessionCodec
from paceline.web.templating import make_templates

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/assets"


def package_version() -> str:
    """The installed paceline version, or ``0+unknown`` when run from a bare checkout."""
    try:
        return version("paceline")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(ws: Workspace) -> FastAPI:
    """The FastAPI application serving workspace *ws*."""
    app = FastAPI(
        title="Paceline",
        version=package_version(),
        summary="Run an AI workforce program on measured evidence.",
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; nothing is fetched remotely
        redoc_url=None,
    )
    app.state.workspace = ws
    app.state.sessions = SessionCodec(
        ws.secret, ws.settings.session_max_age_seconds, ws.settings.secure_cookies
    )
    app.state.templates = make_templates()
    app.state.metrics = HttpMetrics()
    install_error_handlers(app)
    # The last added middleware is the outermost: metrics see every answer, 500s included.
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    routers = (
        system,
        api,
        kpi_api,
        pilot_api,
        lifecycle_api,
        runtime_api,
        login,
        pages,
        kpi_pages,
        pilot_pages,
    )
    for module in (*routers, lifecycle_pages, usecase_pages, review_pages, governance_api, governance_pages):
        app.include_router(module.router)
    app.include_router(flags_api.router)
    app.include_router(audit_api.router)
    app.include_router(oidc.router)
    app.include_router(model_api.router)
    app.include_router(alert_api.router)
    app.include_router(alert_pages.router)
    app.include_router(model_pages.router)
    app.include_router(enablement_api.router)
    app.include_router(enablement_pages.router)
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="assets")
    return app
