"""Machine endpoints: health, metrics, and the Plotly bundle from the plotly wheel."""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, JSONResponse, Response

from paceline.web import queries
from paceline.web.auth import workspace
from paceline.web.errors import error_body
from paceline.web.metrics import HttpMetrics
from paceline.web.schemas import ErrorOut, HealthOut

logger = logging.getLogger("paceline.web")
router = APIRouter()
PLOTLY_PATH = "/plotly/plotly.min.js"


def plotly_js() -> Path:
    """The minified Plotly bundle shipped inside the plotly wheel."""
    return Path(str(files("plotly") / "package_data" / "plotly.min.js"))


@router.get(
    "/healthz", response_model=HealthOut, tags=["ops"],
    responses={503: {"model": ErrorOut, "description": "A dependency does not answer"}},
    summary="Liveness and the operational store's readiness (no auth)",
)
def healthz(request: Request) -> Response:
    try:
        queries.ping_store(workspace(request))
    except Exception:
        logger.exception("health check: the operational store does not answer")
        body = error_body(
            "unavailable", "the operational store does not answer",
            {"checks": {"database": "failed"}},
        )
        return JSONResponse(body, status_code=503)
    return JSONResponse(HealthOut(status="ok", checks={"database": "ok"}).model_dump())


@router.get("/metrics", tags=["ops"], summary="Prometheus metrics (text format)")
def metrics(request: Request) -> Response:
    registry: HttpMetrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=HttpMetrics.content_type)


@router.get(PLOTLY_PATH, include_in_schema=False)
def plotly() -> FileResponse:
    return FileResponse(
        plotly_js(), media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
