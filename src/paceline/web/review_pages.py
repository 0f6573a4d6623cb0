"""The review pages: the queue of each team with its SLA state, and one item with its decision form.

A reviewer sees what the model suggests as fields they can correct, how confident it is as a band
(high, medium, low; the number only in a tooltip, so it does not anchor them), the rationale, the
sources, the rule checks that sent the item to review and the payload; they accept, edit,
override, reject or escalate with a reason code (required for all but accept), using the keyboard
if they like (``/assets/review.js``: a, e, o, r, x; n claims the next item). The script also counts
the time spent on the item and posts it with the decision. Forms are CSRF-checked; a refused
decision re-renders the page with the message, the field named and the error's status.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from paceline.domain.roles import Action
from paceline.domain.workflow import REASON_CODES, Decision
from paceline.errors import PacelineError, ValidationError
from paceline.runtime.engine import Runtime
from paceline.runtime.reviews import ReviewQueue
from paceline.services.access import Principal
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.nav import NAV, NavItem
from paceline.web.runtime_api import (
    MAX_TIME_SPENT_MS,
    case_for,
    claim_next,
    decidable_queues,
    review_for,
    use_case_of,
    visible_reviews,
)
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
FormSession = Annotated[Session, Depends(form_session)]


def _nav_position() -> int:
    """Before the audit log (after the program pages), wherever the other pages put themselves."""
    paths = [item.path for item in NAV]
    return paths.index("/audit") if "/audit" in paths else len(NAV)


NAV.insert(_nav_position(), NavItem("Reviews", "/reviews", Action.REVIEW_DECIDE))

DECISIONS = (
    (Decision.ACCEPT, "Accept", "a", "the suggestion is right as it is"),
    (Decision.EDIT, "Edit", "e", "fix some fields and keep the rest"),
    (Decision.OVERRIDE, "Override", "o", "a different outcome than suggested"),
    (Decision.REJECT, "Reject", "r", "nothing is to be done with this case"),
    (Decision.ESCALATE, "Escalate", "x", "send it to the escalation queue"),
)
SLA_LABELS = {
    "on_track": "on track",
    "due_soon": "due soon",
    "overdue": "overdue",
    "met": "met",
    "missed": "missed",
}
DONE = {
    "decided": "Your decision is recorded; the case moves on.",
    "escalated": "Escalated: the item waits in the escalation queue.",
    "feedback": "Thank you: your feedback on the suggestion is recorded.",
    "empty": "Nothing to claim in your queues right now.",
}
MAX_ITEMS = 1000


async def form_data(request: Request) -> FormData:
    return await request.form()


# --- presentation helpers -------------------------------------------------------------------
def when(value: str | None) -> str:
    """An ISO timestamp as ``2026-03-02 14:05 UTC`` (or a dash)."""
    if not value:
        return "\u2013"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def safe_href(value: Any) -> str | None:
    """*value* if it is a web address or a path on this site; never ``javascript:`` and the like."""
    if not isinstance(value, str):
        return None
    if value.startswith(("https://", "http://")):
        return value
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return None


def field_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, (dict, list)):
        return "json"
    return "text"


def as_text(value: Any) -> str:
    """How a suggested value is shown in its form field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def parse_field(name: str, text: str, suggested: Any) -> Any:
    """The form's *text* for output field *name*, as the type of the suggested value."""
    kind, text = field_kind(suggested), text.strip()
    try:
        if kind == "bool":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        if kind == "int":
            return int(text)
        if kind == "number":
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            return number
        if kind == "json":
            return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        expected = {"bool": "true or false", "int": "a whole number", "number": "a number", "json": "JSON"}
        raise ValidationError(
            f"{name}: {text!r} is not {expected[kind]}", field=f"output.{name}", fix=f"give {expected[kind]}"
        ) from None
    return None if (suggested is None and not text) else text


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def output_of(suggested: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The corrected output: each suggested field as the form gives it (missing fields keep theirs)."""
    return {
        name: parse_field(name, values[f"output.{name}"], value) if f"output.{name}" in values else value
        for name, value in suggested.items()
    }


def changed_fields(suggested: dict[str, Any], values: dict[str, str]) -> list[str]:
    return [
        name
        for name, value in suggested.items()
        if f"output.{name}" in values and values[f"output.{name}"].strip() != as_text(value).strip()
    ]


def time_spent(text: str) -> int | None:
    try:
        return max(0, min(int(float(text)), MAX_TIME_SPENT_MS))
    except ValueError:
        return None


# --- the queue -------------------------------------------------------------------------------
def queue_rows(items: list[dict[str, Any]], decidable: dict[str, float]) -> list[dict[str, Any]]:
    """Per queue: open and claimed counts, overdue and due-soon counts, the next due time."""
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        row = rows.setdefault(
            item["queue"],
            {
                "queue": item["queue"],
                "workflows": set(),
                "open": 0,
                "claimed": 0,
                "overdue": 0,
                "due_soon": 0,
                "next_due": None,
                "sla": "on_track",
                "may_claim": item["queue"] in decidable,
            },
        )
        row["workflows"].add(item["workflow"])
        row["open" if item["status"] == "open" else "claimed"] += 1
        if item["sla"] in ("overdue", "due_soon"):
            row[item["sla"]] += 1
        if row["next_due"] is None or item["due_at"] < row["next_due"]:
            row["next_due"] = item["due_at"]
    for row in rows.values():
        row["workflows"] = sorted(row["workflows"])
        row["sla"] = "overdue" if row["overdue"] else "due_soon" if row["due_soon"] else "on_track"
    return sorted(rows.values(), key=lambda r: (r["next_due"] or "", r["queue"]))


@router.get("/reviews")
def reviews_page(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.READ)
    runtime = workspace(request).runtime
    queue = ReviewQueue(runtime)
    chosen = request.query_params.get("queue") or None
    items = visible_reviews(
        runtime,
        principal,
        [*queue.items("open", chosen, MAX_ITEMS), *queue.items("claimed", chosen, MAX_ITEMS)],
    )
    items.sort(key=lambda i: (i["due_at"], i["id"]))
    decidable = decidable_queues(runtime, principal) if principal.can(Action.REVIEW_DECIDE) else {}
    context = {
        "items": items,
        "queues": queue_rows(items, decidable),
        "chosen": chosen,
        "may_claim": bool(decidable),
        "sla_labels": SLA_LABELS,
        "when": when,
        "done": DONE.get(request.query_params.get("done", "")),
        "now": when(datetime.now(UTC).isoformat()),
    }
    return render(request, "reviews.html", context)


@router.post("/reviews/claim")
def claim_page(
    request: Request,
    principal: PagePrincipal,
    _session: FormSession,
    queue: Annotated[str, Form()] = "",
) -> Response:
    item = claim_next(workspace(request).runtime, principal, [queue] if queue else [])
    if item is None:
        return RedirectResponse("/reviews?done=empty", status_code=303)
    return RedirectResponse(f"/reviews/{item['id']}", status_code=303)


# --- one item ---------------------------------------------------------------------------------
def lease_state(item: dict[str, Any], principal: Principal) -> str:
    """``mine``, ``other`` (someone else's live lease), or ``free``."""
    if item["status"] != "claimed" or item["lease_expires_at"] is None:
        return "free"
    if datetime.fromisoformat(item["lease_expires_at"]) <= datetime.now(UTC):
        return "free"
    return "mine" if item["assignee"] == principal.login else "other"


def review_context(
    runtime: Runtime,
    principal: Principal,
    item: dict[str, Any],
    values: dict[str, str] | None = None,
    error: PacelineError | None = None,
) -> dict[str, Any]:
    shown = item["shown"]
    suggestion = shown["suggestion"]
    values = values or {}
    fields = [
        {
            "name": name,
            "kind": field_kind(value),
            "suggested": as_text(value),
            "current": values.get(f"output.{name}", as_text(value)),
        }
        for name, value in suggestion["output"].items()
    ]
    lease = lease_state(item, principal)
    may_decide = principal.can(Action.REVIEW_DECIDE, item["use_case"])
    message = None
    if error is not None:
        fix = error.details.get("fix")
        message = error.message + (f" ({fix})" if fix and fix not in error.message else "")
    return {
        "item": item,
        "case": case_for(runtime, principal, item["case_id"]),
        "suggestion": suggestion,
        "band": suggestion["confidence_band"],
        "confidence": float(suggestion["confidence"]),
        "fields": fields,
        "sources": [
            {"label": s.get("label") or s.get("href") or "source", "href": safe_href(s.get("href"))}
            for s in suggestion.get("sources", [])
        ],
        "rule_hits": shown.get("rule_hits", []),
        "payload": [
            (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in (shown.get("payload") or {}).items()
        ],
        "model": shown.get("model") or {},
        "lease": lease,
        "may_decide": may_decide and item["status"] != "done" and lease != "other",
        "may_feedback": may_decide,
        "may_claim": may_decide,
        "decisions": [(d.value, label, key, hint) for d, label, key, hint in DECISIONS],
        "reason_codes": list(REASON_CODES.items()),
        "sla_labels": SLA_LABELS,
        "when": when,
        "values": values,
        "error": message,
        "error_field": error.details.get("field") if error is not None else None,
        "done": None,
    }


@router.get("/reviews/{review_id}")
def review_page(request: Request, review_id: int, principal: PagePrincipal) -> Response:
    runtime = workspace(request).runtime
    item = review_for(runtime, principal, review_id, Action.READ)
    context = review_context(runtime, principal, item)
    context["done"] = DONE.get(request.query_params.get("done", ""))
    return render(request, "review.html", context)


@router.post("/reviews/{review_id}/decision")
def decision_page(
    request: Request,
    review_id: int,
    principal: PagePrincipal,
    _session: FormSession,
    form: Annotated[FormData, Depends(form_data)],
) -> Response:
    runtime = workspace(request).runtime
    item = review_for(runtime, principal, review_id, Action.READ)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    decision = values.get("decision", "")
    try:
        use_case = use_case_of(runtime, item["workflow"])
        principal.require(Action.REVIEW_DECIDE, use_case)
        suggested = dict(item["shown"]["suggestion"]["output"])
        output = None
        if decision in (Decision.EDIT, Decision.OVERRIDE):
            output = output_of(suggested, values)
        elif decision == Decision.ACCEPT and (changed := changed_fields(suggested, values)):
            raise ValidationError(
                f"you changed {', '.join(changed)} but chose accept, which keeps the suggestion",
                field=f"output.{changed[0]}",
                fix="choose edit (or override) to keep your change",
            )
        decided = ReviewQueue(runtime).decide(
            review_id,
            principal.login,
            decision,
            output,
            values.get("reason_code") or None,
            values.get("comment", "")[:4000],
            time_spent(values.get("time_spent_ms", "")),
        )
    except PacelineError as exc:
        context = review_context(runtime, principal, item, values, exc)
        return render(request, "review.html", context, status_code=exc.http_status)
    done = "escalated" if decided["decision"] is None and decision == Decision.ESCALATE else "decided"
    return RedirectResponse(f"/reviews/{review_id}?done={done}", status_code=303)


@router.post("/reviews/{review_id}/feedback")
def feedback_page(
    request: Request,
    review_id: int,
    principal: PagePrincipal,
    _session: FormSession,
    thumbs: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    runtime = workspace(request).runtime
    item = review_for(runtime, principal, review_id, Action.READ)
    try:
        review_for(runtime, principal, review_id, Action.REVIEW_DECIDE)
        ReviewQueue(runtime).feedback(review_id, principal.login, thumbs, comment)
    except PacelineError as exc:
        context = review_context(runtime, principal, item, {"feedback_comment": comment}, exc)
        return render(request, "review.html", context, status_code=exc.http_status)
    return RedirectResponse(f"/reviews/{review_id}?done=feedback#feedback", status_code=303)
