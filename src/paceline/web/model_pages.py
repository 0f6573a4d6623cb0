"""Model pages: the list of models, and one model's page (card, versions with stages, stage
history with approvals, reminders, performance over time, calibration, drift per feature,
its alerts and incidents).

Both pages read (``workspace.read`` on the model's use case): the registry decides who may
see a model, the warehouse figures come from the workspace's cached performance and drift.
Bad query parameters (``?grain=year``) answer with the standard error page (4xx), naming
the field. Performance is per model, never per person: no reviewer or labeler appears.

The model page also carries the registry's lifecycle forms, so that people act where they
look: ask for a stage change, approve or reject one (``model.approve``, never one's own),
deprecate or retire a version (now, or planned for a date), set the retraining schedule and
request retraining (``model.register``). Like the incident page's forms, each POSTs to its own
route (CSRF-checked), calls the same registry functions as the API with the logged-in user's
permissions, and redirects (303) back with a notice; a refusal re-renders the page with the
message, the field named and the error's 4xx status. Forms show only to those who may use them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import quote

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Form, Request
from plotly.utils import PlotlyJSONEncoder
from starlette.responses import RedirectResponse, Response

from paceline.domain.kpis import Grain
from paceline.domain.model_registry import ALLOWED_MOVES, MAX_RETRAIN_DAYS, Stage, approval_problem
from paceline.domain.roles import Action
from paceline.errors import NotFound, PacelineError, ValidationError
from paceline.services.access import Principal
from paceline.services.drift_windows import parse_every
from paceline.services.model_tiles import DASHBOARD_DRIFT_WINDOWS
from paceline.services.parsing import parse_choice, parse_date
from paceline.web.alert_pages import when
from paceline.web.auth import form_session, page_principal, workspace
from paceline.web.charts import FONT, PALETTE
from paceline.web.nav import NAV, NavItem
from paceline.web.security import Session
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
FormSession = Annotated[Session, Depends(form_session)]
Text = Annotated[str, Form()]
PAGE_GRAINS = (Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER)
METRICS = ("f1", "precision", "recall", "auc")
MAX_DRIFT_LINES = 12  # features drawn in the PSI chart (the most drifted latest); the table has all
CARD_FIELDS = (
    ("purpose", "Purpose"),
    ("intended_use", "Intended use"),
    ("training_data", "Training data"),
    ("evaluation", "Evaluation"),
    ("limitations", "Limitations"),
    ("owners", "Owners"),
)


def _nav_position() -> int:
    """Just before the alerts: the models, then what watches them."""
    return next((i for i, item in enumerate(NAV) if item.path == "/alerts"), len(NAV))


NAV.insert(_nav_position(), NavItem("Models", "/models", Action.READ))


# --- charts (embedded as JSON; /assets/charts.js draws them under the CSP) ---------------------------
def _spec(fig: go.Figure, height: int, y_title: str, x_title: str = "") -> str:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 10, "t": 10, "b": 50},
        font=FONT,
        yaxis={"title": y_title},
        xaxis={"title": x_title},
        legend={"orientation": "h", "y": -0.25},
    )
    spec = fig.to_plotly_json()
    spec["layout"].pop("template", None)
    return json.dumps(spec, cls=PlotlyJSONEncoder, separators=(",", ":"))


def performance_chart(periods: Sequence[dict[str, Any]]) -> str:
    """Realized F1, precision, recall and AUC per period; the estimated F1 dashed, named an estimate."""
    fig = go.Figure()
    x = [p["period"] for p in periods]
    for i, metric in enumerate(METRICS):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p["realized"].get(metric) if p["realized"] else None for p in periods],
                name=metric.upper() if metric == "auc" else metric.capitalize(),
                mode="lines+markers",
                line={"color": PALETTE[i]},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[p["estimated"].get("f1") for p in periods],
            name="F1, estimated (no labels needed)",
            mode="lines+markers",
            line={"color": PALETTE[4], "dash": "dash"},
        )
    )
    fig.update_yaxes(range=[0, 1.02])
    return _spec(fig, 320, "score (0-1)")


def calibration_chart(points: Sequence[dict[str, Any]]) -> str:
    """The reliability diagram: observed frequency against mean predicted, the diagonal is perfect."""
    fig = go.Figure(
        [
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                name="perfectly calibrated",
                mode="lines",
                line={"dash": "dot", "color": "#4a5260"},
            ),
            go.Scatter(
                x=[p["mean_predicted"] for p in points],
                y=[p["observed"] for p in points],
                name="observed",
                mode="lines+markers",
                marker={"size": [6 + min(14, p["n"] ** 0.5 / 3) for p in points], "color": PALETTE[0]},
                line={"color": PALETTE[0]},
                hovertemplate="predicted %{x:.2f}, observed %{y:.2f}<extra></extra>",
            ),
        ]
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return _spec(fig, 320, "observed frequency", "mean predicted")


def drift_chart(windows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """PSI per window for each of *columns*; the dotted line is the usual alarm level 0.2."""
    fig = go.Figure()
    for i, column in enumerate(columns):
        values = []
        for w in windows:
            found = next((c for c in w["columns"] if c["column"] == column), None)
            values.append(found["psi"] if found else None)
        fig.add_trace(
            go.Scatter(
                x=[w["start"] for w in windows],
                y=values,
                name=column,
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.add_hline(y=0.2, line_dash="dot", line_color="#4a5260")
    return _spec(fig, 340, "PSI", "window start")


# --- the pages --------------------------------------------------------------------------------
@router.get("/models")
def models_page(request: Request, principal: PagePrincipal) -> Response:
    principal.require(Action.READ)
    with workspace(request).models(readonly=True) as registry:
        models = registry.list(principal)
    return render(request, "models.html", {"models": models})


def _periods(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "period": row["period_start"] or "all",
            "n": row["n"],
            "n_labeled": row["n_labeled"],
            "label_coverage": row["label_coverage"],
            "realized": row["realized"],
            "estimated": row["estimated"],
        }
        for row in report["rows"]
    ]


def _overall(report: dict[str, Any]) -> dict[str, Any] | None:
    """The realized figures over all the model's labeled predictions (one ``total`` row)."""
    rows = [r for r in report["rows"] if r["realized"]]
    return rows[0]["realized"] if rows else None


def drift_context(drift: dict[str, Any]) -> dict[str, Any]:
    """The latest window's columns (most drifted first) and the PSI chart of the top ones."""
    windows = drift["windows"]
    latest = windows[-1] if windows else None
    columns = (
        sorted(latest["columns"], key=lambda c: (not c["drifted"], -(c["psi"] or 0.0))) if latest else []
    )
    drawn = [c["column"] for c in columns[:MAX_DRIFT_LINES]]
    return {
        **drift,
        "latest": latest,
        "columns": columns,
        "drawn": drawn,
        "chart": drift_chart(windows, drawn) if windows else None,
    }


def _links(request: Request, principal: Principal, model: dict[str, Any]) -> dict[str, Any]:
    """The model's active alerts and its incidents (any status)."""
    ws = workspace(request)
    with ws.alerts(principal, readonly=True) as alerts:
        active = alerts.list(principal, "active", None, model["name"], None)
    with ws.incidents(principal, readonly=True) as incidents:
        found = [
            i for i in incidents.list(principal, "all", model["use_case"]) if i.get("model") == model["name"]
        ]
    return {"alerts": active, "incidents": found}


def _card_version(model: dict[str, Any]) -> dict[str, Any] | None:
    """The version whose card the page shows: the one in production, else the newest."""
    versions = model["versions"]
    live = [v for v in versions if v["version"] == model["production"]]
    return (live or versions[-1:] or [None])[0]


MAX_DRIFT_WINDOWS = 520  # ten years of weeks


def page_windows(value: str | None) -> int | None:
    """How many of the latest drift windows the page shows: a number, ``all`` (None), or the default."""
    if value is None or value == "":
        return DASHBOARD_DRIFT_WINDOWS
    if value == "all":
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_DRIFT_WINDOWS:
        raise ValidationError(
            f"windows {value!r} is not a number of drift windows",
            field="windows",
            fix=f"give a whole number from 1 to {MAX_DRIFT_WINDOWS}, or all",
        )
    return int(value)


def page_grain(value: str) -> Grain:
    """The period of the performance chart: day, week, month or quarter (``total`` is one point)."""
    grain = parse_choice(Grain, value, "grain")
    if grain not in PAGE_GRAINS:
        raise ValidationError(
            f"grain {value!r} is one period: the page shows performance over time",
            field="grain",
            fix="use day, week, month or quarter",
        )
    return grain


def model_context(request: Request, principal: Principal, name: str) -> dict[str, Any]:
    q = request.query_params
    grain = page_grain(q.get("grain") or "week")
    every = q.get("every") or "7d"
    parse_every(every)
    windows = page_windows(q.get("windows"))
    ws = workspace(request)
    with ws.models(readonly=True) as registry:
        model = registry.show(principal, name)
    links = _links(request, principal, model)
    report = ws.model_performance(name, principal, grain=grain.value)
    periods = _periods(report)
    overall = _overall(ws.model_performance(name, principal, grain="total"))
    calibration = overall["calibration"] if overall else None
    return {
        "m": model,
        "card_version": _card_version(model),
        "card_fields": CARD_FIELDS,
        "grain": grain.value,
        "grains": [g.value for g in PAGE_GRAINS],
        "every": every,
        "windows": "all" if windows is None else windows,
        "report": report,
        "periods": periods,
        "perf_chart": performance_chart(periods) if periods else None,
        "overall": overall,
        "calibration_chart": calibration_chart(calibration["reliability"])
        if calibration and calibration["reliability"]
        else None,
        "overrides": report["override_rate"],
        "drift": drift_context(ws.model_drift(name, principal, every, latest=windows)),
        **links,
        **forms_context(principal, model, links["incidents"]),
        "done": DONE.get(q.get("done", "")),
        "when": when,
    }


@router.get("/models/{model}")
def model_page(request: Request, model: str, principal: PagePrincipal) -> Response:
    return render(request, "model.html", model_context(request, principal, model))


# --- the registry's lifecycle forms ---------------------------------------------------------------
MAX_ID = 2**63 - 1  # the largest id the store holds: a bigger one is a typo, not a lookup
DEFAULT_REMIND_DAYS = 7
DONE = {
    "requested": "The stage change is requested. Another person who holds model.approve must approve it "
    "(four eyes): it waits under Waiting for approval.",
    "moved": "The version moved; the stage history records it.",
    "approved": "The request is approved: the version moved, and the stage history records it.",
    "rejected": "The request is rejected; the version stays where it was.",
    "deprecated": "The version is deprecated; the stage history records it.",
    "retired": "The version is retired (final); the stage history records it.",
    "deprecated-planned": "The deprecation date is planned: a reminder comes before it.",
    "retired-planned": "The retirement date is planned: a reminder comes before it.",
    "schedule": "The retraining schedule is saved.",
    "retrain": "Retraining is requested; registering the next version closes the request.",
}
STAGE_TARGETS = (
    (Stage.CANARY, "canary (needs an approval)"),
    (Stage.PRODUCTION, "production (needs an approval)"),
    (Stage.CANDIDATE, "candidate (rolls a canary back)"),
)


def _versions_that_may(versions: Sequence[dict[str, Any]], targets: set[Stage]) -> list[dict[str, Any]]:
    """The versions that may move to one of *targets*: a select offers only moves that can succeed."""
    return [
        {"version": v["version"], "stage": v["stage"]}
        for v in versions
        if ALLOWED_MOVES[Stage(v["stage"])] & targets
    ]


def _pending(principal: Principal, model: dict[str, Any], may_approve: bool) -> list[dict[str, Any]]:
    """The pending stage requests, each marked ``mine`` (the four-eyes rule bars the requester)
    and ``may_decide``; who asked is not shown (the page names no person)."""
    out = []
    for a in model["approvals"]:
        if a["status"] != "pending":
            continue
        mine = approval_problem(a["requested_by"], principal.actor) is not None
        out.append({**a, "mine": mine, "may_decide": may_approve and not mine})
    return out


def forms_context(
    principal: Principal, model: dict[str, Any], incidents: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """What the lifecycle forms need: who may use which, and the choices each select offers."""
    use_case, versions = model["use_case"], model["versions"]
    may_approve = principal.can(Action.MODEL_APPROVE, use_case)
    live = [{"version": v["version"], "stage": v["stage"]} for v in versions if v["stage"] != Stage.RETIRED]
    return {
        "may_register": principal.can(Action.MODEL_REGISTER, use_case),
        "may_approve": may_approve,
        "pending": _pending(principal, model, may_approve),
        "stage_targets": [(s.value, label) for s, label in STAGE_TARGETS],
        "stage_versions": _versions_that_may(versions, {s for s, _ in STAGE_TARGETS}),
        "deprecate_versions": _versions_that_may(versions, {Stage.DEPRECATED}),
        "retire_versions": live,
        "all_versions": [v["version"] for v in versions],
        "incident_choices": [{"id": i["id"], "title": i["title"]} for i in incidents],
        "default_remind": DEFAULT_REMIND_DAYS,
        **_refusal(None, None, None),
    }


def _message(exc: PacelineError) -> str:
    fix = exc.details.get("fix")
    return exc.message + (f" ({fix})" if fix and fix not in exc.message else "")


def _refusal(
    exc: PacelineError | None, form: str | None, values: dict[str, str] | None, field: str | None = None
) -> dict[str, Any]:
    """The error keys of the page: the message with its fix, the form and field to mark, and
    the values sent (so nothing typed is lost). *field* names the field of a lookup that failed
    (an unknown version), which the registry's NotFound does not name itself."""
    named = exc.details.get("field") if exc else None
    if exc is not None and named is None and isinstance(exc, NotFound):
        named = field
    return {
        "error": _message(exc) if exc else None,
        "error_form": form,
        "error_field": named,
        "values": values or {},
    }


def _on_model(
    request: Request,
    principal: Principal,
    name: str,
    form: str,
    values: dict[str, str],
    action: Callable[[], str],
    field: str | None = None,
) -> Response:
    """Run *action* (it returns the notice's key) and redirect (303) to the model page, or
    re-render the page with the refusal and its 4xx status: never a bare error page for a typo."""
    try:
        done = action()
    except PacelineError as exc:
        context = model_context(request, principal, name) | _refusal(exc, form, values, field)
        return render(request, "model.html", context, status_code=exc.http_status)
    return RedirectResponse(f"/models/{quote(name, safe='')}?done={done}", status_code=303)


def whole_number(value: str, field: str, low: int, high: int, example: int) -> int:
    """A form's number field as an int in [low, high], or a ValidationError naming field and value."""
    fix = f"write a whole number from {low} to {high}, e.g. {example}"
    try:
        number = int(value.strip())
    except ValueError:
        raise ValidationError(f"{field} {value!r} is not a whole number", field=field, fix=fix) from None
    if not low <= number <= high:
        raise ValidationError(f"{field} {number} is out of range", field=field, fix=fix)
    return number


@router.post("/models/{model}/stage")
def request_stage(
    request: Request,
    model: str,
    principal: PagePrincipal,
    _s: FormSession,
    version: Text = "",
    to: Text = "",
    reason: Text = "",
) -> Response:
    """Ask for a move to canary or production (a request someone else approves), or roll a canary back."""

    def act() -> str:
        with workspace(request).models(principal) as registry:
            made = registry.request_stage(principal, model, version, to, reason)
        return "requested" if made["status"] == "pending" else "moved"

    values = {"version": version, "to": to, "reason": reason}
    return _on_model(request, principal, model, "stage", values, act, "version")


def _decide(
    request: Request, principal: Principal, model: str, request_id: int, note: str, approve: bool
) -> Response:
    """Approve or reject a stage request; the registry enforces model.approve and four eyes."""

    def act() -> str:
        with workspace(request).models(principal) as registry:
            if approve:
                registry.approve(principal, request_id, note, model)
                return "approved"
            registry.reject(principal, request_id, note, model)
            return "rejected"

    return _on_model(request, principal, model, f"request-{request_id}", {"note": note}, act)


@router.post("/models/{model}/requests/{request_id}/approve")
def approve_request(
    request: Request, model: str, request_id: int, principal: PagePrincipal, _s: FormSession, note: Text = ""
) -> Response:
    return _decide(request, principal, model, request_id, note, approve=True)


@router.post("/models/{model}/requests/{request_id}/reject")
def reject_request(
    request: Request, model: str, request_id: int, principal: PagePrincipal, _s: FormSession, note: Text = ""
) -> Response:
    return _decide(request, principal, model, request_id, note, approve=False)


def _end_of_life(
    request: Request, principal: Principal, model: str, stage: Stage, values: dict[str, str]
) -> Response:
    """Deprecate or retire a version now (with a reason), or plan it for a date (as the CLI's --on)."""
    field = f"{'deprecation' if stage is Stage.DEPRECATED else 'retirement'}_date"

    def act() -> str:
        day = parse_date(values[field], field) if values[field].strip() else None
        with workspace(request).models(principal) as registry:
            if day is None:
                registry.request_stage(principal, model, values["version"], stage.value, values["reason"])
                return stage.value
            dates = {"deprecation": day} if stage is Stage.DEPRECATED else {"retirement": day}
            registry.set_dates(principal, model, values["version"], **dates)
        return f"{stage.value}-planned"

    return _on_model(request, principal, model, stage.value, values, act, "version")


@router.post("/models/{model}/deprecate")
def deprecate_version(
    request: Request,
    model: str,
    principal: PagePrincipal,
    _s: FormSession,
    version: Text = "",
    deprecation_date: Text = "",
    reason: Text = "",
) -> Response:
    values = {"version": version, "deprecation_date": deprecation_date, "reason": reason}
    return _end_of_life(request, principal, model, Stage.DEPRECATED, values)


@router.post("/models/{model}/retire")
def retire_version(
    request: Request,
    model: str,
    principal: PagePrincipal,
    _s: FormSession,
    version: Text = "",
    retirement_date: Text = "",
    reason: Text = "",
) -> Response:
    values = {"version": version, "retirement_date": retirement_date, "reason": reason}
    return _end_of_life(request, principal, model, Stage.RETIRED, values)


@router.post("/models/{model}/schedule")
def set_schedule(
    request: Request,
    model: str,
    principal: PagePrincipal,
    _s: FormSession,
    every_days: Text = "",
    remind_days_before: Text = "",
) -> Response:
    """Set or change the retraining schedule; the registry checks the cycle and the reminder fit."""

    def act() -> str:
        every = whole_number(every_days, "every_days", 1, MAX_RETRAIN_DAYS, 90)
        remind = DEFAULT_REMIND_DAYS
        if remind_days_before.strip():
            remind = whole_number(remind_days_before, "remind_days_before", 0, MAX_RETRAIN_DAYS, 14)
        with workspace(request).models(principal) as registry:
            registry.set_schedule(principal, model, every, remind)
        return "schedule"

    values = {"every_days": every_days, "remind_days_before": remind_days_before}
    return _on_model(request, principal, model, "schedule", values, act)


def _incident(request: Request, principal: Principal, value: str) -> int | None:
    """The incident a retraining request links to, if any: it must exist and be readable, so the
    record never points at nothing (the registry itself only checks that the id is a number)."""
    if not value.strip():
        return None
    number = whole_number(value, "incident_id", 1, MAX_ID, 12)
    try:
        with workspace(request).incidents(principal, readonly=True) as incidents:
            incidents.get(principal, number)
    except NotFound:
        raise ValidationError(
            f"incident_id {number} is not an incident you may read",
            field="incident_id",
            fix="pick one of the model's incidents, or leave it empty",
        ) from None
    return number


@router.post("/models/{model}/retrain")
def request_retraining(
    request: Request,
    model: str,
    principal: PagePrincipal,
    _s: FormSession,
    reason: Text = "",
    version: Text = "",
    incident_id: Text = "",
) -> Response:
    """Record that the model should be retrained, optionally naming the version and the incident."""

    def act() -> str:
        incident = _incident(request, principal, incident_id)
        with workspace(request).models(principal) as registry:
            registry.request_retraining(principal, model, reason, version.strip() or None, incident)
        return "retrain"

    values = {"reason": reason, "version": version, "incident_id": incident_id}
    return _on_model(request, principal, model, "retrain", values, act, "version")
