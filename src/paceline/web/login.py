"""Logging in and out with the login form and the signed session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from paceline.web.auth import client_ip, codec, current_session, form_session, safe_next, workspace
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_FAILED = "wrong login or password"


def _login_form(
    request: Request, session: Session, next_path: str, *, login: str = "",
    error: str | None = None, status_code: int = 200,
) -> Response:
    request.state.session = session
    context = {"next_path": next_path, "login": login, "error": error,
               "sso": workspace(request).oidc is not None}
    response = render(request, "login.html", context, status_code=status_code)
    codec(request).set_cookie(response, session)
    return response


@router.get("/login")
def login_page(
    request: Request, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    session = current_session(request)
    if session is not None and session.login is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return _login_form(request, session or Session.anonymous(), safe_next(next_path))


@router.post("/login")
def login_submit(
    request: Request,
    session: Annotated[Session, Depends(form_session)],
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    target = safe_next(next_path)
    with workspace(request).access() as access:
        principal = access.try_login(login.strip(), password, client_ip(request))
    if principal is None:
        return _login_form(request, session, target, login=login, error=LOGIN_FAILED,
                           status_code=401)
    response = RedirectResponse(target, status_code=303)
    codec(request).set_cookie(response, Session.for_login(principal.login))
    return response


@router.post("/logout")
def logout(request: Request, session: Annotated[Session, Depends(form_session)]) -> Response:
    if session.login is not None:
        with workspace(request).access() as access:
            access.audit_auth("auth.logout", session.login, "session", None, client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    codec(request).clear_cookie(response)
    return response
