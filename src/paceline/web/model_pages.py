"""Model pages: the list of models, and one model's page (card, versions with stages, stage
history with approvals, reminders, performance over time, calibration, drift per feature,
its alerts and incidents).

Both pages read (``workspace.read`` on the model's use case): the registry decides who may
see a model, the warehouse figures come from the workspace's cached performance and drift.
Bad query parameters (``?grain=year``) answer with the standard error page (4xx), naming
the field. Performance is per model, never per person: no reviewer or labeler appears.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Request
from plotly.utils import PlotlyJSONEncoder
from starlette.responses import Response

from paceline.domain.kpis import Grain
from paceline.domain.roles import Action
from paceline.errors import ValidationError
from paceline.services.access import Principal
from paceline.services.drift_windows import parse_every
from paceline.services.parsing import parse_choice
from paceline.web.alert_pages import when
from paceline.web.auth import page_principal, workspace
from paceline.web.charts import FONT, PALETTE
from paceline.web.nav import NAV, NavItem
from paceline.web.templating import render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
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
    ws = workspace(request)
    with ws.models(readonly=True) as registry:
        model = registry.show(principal, name)
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
        "report": report,
        "periods": periods,
        "perf_chart": performance_chart(periods) if periods else None,
        "overall": overall,
        "calibration_chart": calibration_chart(calibration["reliability"])
        if calibration and calibration["reliability"]
        else None,
        "overrides": report["override_rate"],
        "drift": drift_context(ws.model_drift(name, principal, every)),
        **_links(request, principal, model),
        "when": when,
    }


@router.get("/models/{model}")
def model_page(request: Request, model: str, principal: PagePrincipal) -> Response:
    return render(request, "model.html", model_context(request, principal, model))
