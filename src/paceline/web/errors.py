"""One error contract: ``{"error": {"code", "message", "details"}}`` or the error page.

API paths (``/api/...``) and the machine endpoints (``/healthz``, ``/metrics``,
``/openapi.json``) get the JSON shape of spec/interface.md; every other path is a
browser page and gets the HTML error page with the same message. Unexpected
exceptions are logged with their traceback and answered with a generic 500: no
traceback or exception text ever reaches the client.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paceline.errors import PacelineError
from paceline.web.auth import LoginRequired, known_principal
from paceline.web.templating import is_htmx, render

logger = logging.getLogger("paceline.web")

JSON_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json"})
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
INTERNAL_MESSAGE = "an internal error occurred; it has been logged"


def wants_json(request: Request) -> bool:
    """Whether *request* is a machine call (JSON errors) rather than a browser page."""
    path = request.url.path
    return path.startswith("/api/") or path in JSON_PATHS


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """The JSON error shape or the HTML error page for *request*, with *status*."""
    if wants_json(request):
        return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)
    error = body["error"]
    if status < 500:
        known_principal(request)
    context = {
        "status": status,
        "title": HTTPStatus(status).phrase,
        "message": error["message"],
        "fix": error["details"].get("fix"),
    }
    response = render(request, "error.html", context, status_code=status)
    response.headers.update(headers or {})
    return response


async def _paceline_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PacelineError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return error_response(request, exc.http_status, exc.to_dict(), headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = HTTP_CODES.get(status, f"http_{status}")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    if status == 404 and message == HTTPStatus(404).phrase:
        message = f"nothing at {request.url.path}"
    if status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(request, status, error_body(code, message), dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Only location, message and type: the input itself may hold a password.
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "message": err.get("msg", ""),
         "type": err.get("type", "")}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "message": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    message = f"{where}: {first['message']}"
    return error_response(request, 422, error_body("validation_error", message, {"errors": errors}))


async def _out_of_range(request: Request, exc: Exception) -> Response:
    """A number the database cannot hold (an id of 2**70): the caller's mistake, not a 500."""
    message = "a number in the request is out of range"
    fix = "use integers between -9223372036854775808 and 9223372036854775807"
    return error_response(request, 422, error_body("validation_error", message, {"fix": fix}))


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if is_htmx(request):  # a fragment request: make HTMX load the login page as a whole
        return Response(status_code=204, headers={"HX-Redirect": exc.location})
    return RedirectResponse(exc.location, status_code=303)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of every expected error class on *app*."""
    app.add_exception_handler(PacelineError, _paceline_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)


class UnhandledErrorMiddleware:
    """Turns any exception that escaped the handlers into a logged, generic 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _internal_error(Request(scope))(scope, receive, send)


def _internal_error(request: Request) -> Response:
    try:
        return error_response(request, 500, error_body("internal_error", INTERNAL_MESSAGE))
    except Exception:  # the error page itself failed: still answer, still generic
        logger.exception("the error page failed to render")
        return PlainTextResponse(INTERNAL_MESSAGE, status_code=500)
