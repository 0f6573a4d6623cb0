"""Enablement pages: team enablement (the competency-gap heatmap, path completions, team goals),
curricula, my learning, champions with their sessions, training to outcomes, and the change log.

Team pages show aggregates only, with the small-group rule; "My learning" shows the signed-in
user's own records. Forms post with the CSRF token and, on a mistake, re-render the page with
the message and the field marked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from paceline.domain.curricula import LEVELS, CourseKind
from paceline.domain.enablement import GoalKind
from paceline.domain.frontline import Cadence
from paceline.domain.kpis import KPIS
from paceline.domain.learning import Verb
from paceline.domain.roles import Action
from paceline.errors import NotFound, PacelineError, UsageError
from paceline.services.access import Principal
from paceline.services.training_outcomes import OUTCOME_KPIS
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.nav import NAV, NavItem
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
FormSession = Annotated[Session, Depends(form_session)]
BASE = "/enablement"
DONE = {
    "defined": "The catalogue was saved.",
    "recorded": "The learning record was saved.",
    "goal": "The team goal was saved.",
    "champion": "The champion was added.",
    "planned": "The sessions were planned.",
    "session": "The session was recorded.",
}


def _nav_position() -> int:
    """Before the audit log (after the program pages), wherever the other pages put themselves."""
    paths = [item.path for item in NAV]
    return paths.index("/audit") if "/audit" in paths else len(NAV)


NAV.insert(_nav_position(), NavItem("Enablement", BASE, Action.READ))


async def form_data(request: Request) -> FormData:
    return await request.form()


def _use_cases(request: Request, principal: Principal) -> list[str]:
    """Use cases the principal may read: the inventory's and those in the event data."""
    ws = workspace(request)
    with ws.lifecycle(readonly=True) as lc:
        keys = {uc.key for uc in lc.list(principal)}
    keys |= {u for u in ws.use_cases() if principal.can(Action.READ, u)}
    return sorted(keys)


def _chosen(request: Request, principal: Principal) -> tuple[str | None, list[str]]:
    options = _use_cases(request, principal)
    wanted = request.query_params.get("use_case")
    if wanted is not None and wanted not in options:
        raise NotFound(f"no use case {wanted!r} you may see", fix="pick one of the listed use cases")
    return wanted or (options[0] if options else None), options


def _base(request: Request, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "done": DONE.get(request.query_params.get("done", "")),
        "error": None,
        "error_form": None,
        "error_field": None,
        "values": {},
        **extra,
    }


def _error(exc: PacelineError, form: str, values: dict[str, Any]) -> dict[str, Any]:
    fix = exc.details.get("fix")
    message = exc.message + (f" ({fix})" if fix and fix not in exc.message else "")
    return {"error": message, "error_form": form, "error_field": exc.details.get("field"), "values": values}


# --- team enablement --------------------------------------------------------------------------
def _heat(share: float | None) -> str:
    """The heatmap class of a cell: 0 (few at target) .. 4 (all at target)."""
    if share is None:
        return "heat-none"
    return f"heat-{min(4, int(share * 5))}"


def team_context(request: Request, principal: Principal) -> dict[str, Any]:
    use_case, options = _chosen(request, principal)
    ws = workspace(request)
    matrix, goals, evidence = None, [], None
    if use_case is not None:
        with ws.enablement(readonly=True) as en:
            matrix = en.matrix(principal, use_case)
            eligible = {p for p, x in en.people.items() if use_case in x.use_cases}
            evidence = en.training_evidence(use_case, eligible)
        with ws.enablement_network(readonly=True) as net:
            goals = net.goals(principal, use_case)
    cells = {(c["team"], c["competency"]): c for c in matrix["cells"]} if matrix else {}
    return _base(
        request,
        {
            "use_case": use_case,
            "options": options,
            "matrix": matrix,
            "cells": cells,
            "heat": _heat,
            "goals": goals,
            "evidence": evidence,
            "can_record": principal.can(Action.TRAINING_RECORD),
            "kpis": sorted(KPIS),
            "goal_kinds": [k.value for k in GoalKind],
            "levels": LEVELS,
        },
    )


@router.get(BASE)
def team_page(request: Request, principal: PagePrincipal) -> Response:
    return render(request, "enablement.html", team_context(request, principal))


def _act(
    request: Request,
    page: Callable[[Request, Principal], dict[str, Any]],
    template: str,
    principal: Principal,
    form: str,
    values: dict[str, Any],
    action: Callable[[], Any],
    target: str,
) -> Response:
    """Run *action*; redirect to *target*, or re-render the page with the error and the values."""
    try:
        action()
    except PacelineError as exc:
        context = page(request, principal) | _error(exc, form, values)
        return render(request, template, context, status_code=exc.http_status)
    return RedirectResponse(target, status_code=303)


def _values(form: FormData) -> dict[str, Any]:
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}


@router.post(BASE + "/goals")
def save_goal(
    request: Request, principal: PagePrincipal, _s: FormSession, form: Annotated[FormData, Depends(form_data)]
) -> Response:
    values = _values(form)

    def run() -> None:
        with workspace(request).enablement_network(principal) as net:
            net.save_goal(principal, {k: v for k, v in values.items() if k != "return_use_case"})

    target = f"{BASE}?use_case={values.get('use_case', '')}&done=goal#goals"
    return _act(request, team_context, "enablement.html", principal, "goal", values, run, target)


# --- curricula and records ------------------------------------------------------------------------
def curricula_context(request: Request, principal: Principal) -> dict[str, Any]:
    with workspace(request).enablement(readonly=True) as en:
        catalogue = en.catalogue_doc(principal)
        imports = en.imports(principal, 5)
    return _base(
        request,
        {
            "catalogue": catalogue,
            "imports": imports,
            "levels": LEVELS,
            "kinds": [k.value for k in CourseKind],
            "verbs": [v.value for v in Verb],
            "can_record": principal.can(Action.TRAINING_RECORD),
        },
    )


@router.get(BASE + "/curricula")
def curricula_page(request: Request, principal: PagePrincipal) -> Response:
    return render(request, "enablement_curricula.html", curricula_context(request, principal))


@router.post(BASE + "/curricula")
def define(
    request: Request, principal: PagePrincipal, _s: FormSession, form: Annotated[FormData, Depends(form_data)]
) -> Response:
    values = _values(form)

    def run() -> None:
        try:
            doc = json.loads(values.get("document", ""))
        except ValueError as exc:
            raise UsageError(
                f"the document is not JSON ({exc})", field="document", fix="paste a JSON object"
            ) from None
        if not isinstance(doc, dict):
            raise UsageError("the document must be a JSON object", field="document", fix='{"courses": [...]}')
        principal.require(Action.TRAINING_RECORD)
        with workspace(request).enablement(principal) as en:
            for section, save in (
                ("competencies", en.save_competency),
                ("courses", en.save_course),
                ("curricula", en.save_curriculum),
            ):
                for item in doc.get(section) or []:
                    save(principal, item)

    target = f"{BASE}/curricula?done=defined"
    return _act(
        request, curricula_context, "enablement_curricula.html", principal, "define", values, run, target
    )


@router.post(BASE + "/records")
def record(
    request: Request, principal: PagePrincipal, _s: FormSession, form: Annotated[FormData, Depends(form_data)]
) -> Response:
    values = _values(form)

    def run() -> None:
        day = _form_day(values.get("on", ""), "on")
        score = _form_score(values.get("score", ""))
        with workspace(request).enablement(principal) as en:
            en.enter(
                principal,
                values.get("person", ""),
                values.get("course", ""),
                values.get("verb", ""),
                day,
                score,
            )

    target = f"{BASE}/curricula?done=recorded#record"
    return _act(
        request, curricula_context, "enablement_curricula.html", principal, "record", values, run, target
    )


def _form_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{name} {text!r} is not a date", field=name, fix="write YYYY-MM-DD") from None


def _form_score(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(
            f"score {text!r} is not a number", field="score", fix="give a share, e.g. 0.82"
        ) from None


# --- my learning -------------------------------------------------------------------------------------
@router.get(BASE + "/me")
def my_learning(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.READ)
    mine, missing = None, None
    with workspace(request).enablement(readonly=True) as en:
        try:
            mine = en.my_learning(principal)
        except NotFound as exc:
            missing = exc.message
    return render(request, "enablement_me.html", {"mine": mine, "missing": missing, "levels": LEVELS})


# --- champions and sessions ---------------------------------------------------------------------------
def champions_context(request: Request, principal: Principal) -> dict[str, Any]:
    use_case, options = _chosen(request, principal)
    network, sessions = None, None
    if use_case is not None:
        with workspace(request).enablement_network(readonly=True) as net:
            network = net.champions(principal, use_case)
            sessions = net.sessions(principal, use_case)
    return _base(
        request,
        {
            "use_case": use_case,
            "options": options,
            "network": network,
            "sessions": sessions,
            "cadences": [c.value for c in Cadence],
            "can_record": principal.can(Action.TRAINING_RECORD),
        },
    )


@router.get(BASE + "/champions")
def champions_page(request: Request, principal: PagePrincipal) -> Response:
    return render(request, "enablement_champions.html", champions_context(request, principal))


@router.post(BASE + "/champions")
def add_champion(
    request: Request, principal: PagePrincipal, _s: FormSession, form: Annotated[FormData, Depends(form_data)]
) -> Response:
    values = _values(form)

    def run() -> None:
        with workspace(request).enablement_network(principal) as net:
            net.add_champion(principal, values)

    target = f"{BASE}/champions?use_case={values.get('use_case', '')}&done=champion"
    return _act(
        request, champions_context, "enablement_champions.html", principal, "champion", values, run, target
    )


@router.post(BASE + "/sessions/plan")
def plan_sessions(
    request: Request, principal: PagePrincipal, _s: FormSession, form: Annotated[FormData, Depends(form_data)]
) -> Response:
    values = _values(form)

    def run() -> None:
        start, until = (
            _form_day(values.get("start", ""), "start"),
            _form_day(values.get("until", ""), "until"),
        )
        with workspace(request).enablement_network(principal) as net:
            net.plan_sessions(
                principal,
                values.get("use_case", ""),
                start,
                until,
                values.get("team", ""),
                values.get("cadence") or None,
            )

    target = f"{BASE}/champions?use_case={values.get('use_case', '')}&done=planned#sessions"
    return _act(
        request, champions_context, "enablement_champions.html", principal, "plan", values, run, target
    )


@router.post(BASE + "/sessions/{session_id}")
def record_session(
    request: Request,
    session_id: int,
    principal: PagePrincipal,
    _s: FormSession,
    form: Annotated[FormData, Depends(form_data)],
) -> Response:
    values = _values(form)

    def run() -> None:
        doc: dict[str, Any] = {"status": values.get("status", "held")}
        if doc["status"] == "held":
            doc |= {
                "held_on": values.get("held_on", ""),
                "attendees": values.get("attendees", "0") or "0",
                "feedback": [x for x in values.get("feedback", "").splitlines() if x.strip()],
                "actions": [x for x in values.get("actions", "").splitlines() if x.strip()],
            }
        with workspace(request).enablement_network(principal) as net:
            net.record_session(principal, session_id, doc)

    target = f"{BASE}/champions?use_case={values.get('use_case', '')}&done=session#sessions"
    values["session_id"] = str(session_id)
    return _act(
        request, champions_context, "enablement_champions.html", principal, "session", values, run, target
    )


# --- training to outcomes and the change log ------------------------------------------------------------
@router.get(BASE + "/outcomes")
def outcomes_page(request: Request, principal: PagePrincipal) -> Response:
    use_case, options = _chosen(request, principal)
    doc = workspace(request).training_outcomes(use_case, OUTCOME_KPIS, principal) if use_case else None
    titles = {k: KPIS[k].title for k in OUTCOME_KPIS}
    return render(
        request,
        "enablement_outcomes.html",
        {"use_case": use_case, "options": options, "doc": doc, "titles": titles},
    )


@router.get(BASE + "/changes")
def changes_page(request: Request, principal: PagePrincipal) -> Response:
    with workspace(request).enablement_network(readonly=True) as net:
        entries = net.change_log(principal, 200)
    return render(request, "enablement_changes.html", {"changes": entries})
