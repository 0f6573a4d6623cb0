"""Plotly chart specs for the KPI, pilot and lifecycle pages, kept apart from the calculations.

Pages embed each spec as JSON in a ``<script type="application/json">`` block and
``/assets/charts.js`` draws it: the content security policy allows no inline
script, and the numbers stay in the page for the table beside each chart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

FONT = {"family": "system-ui, sans-serif", "size": 12, "color": "#1b1f24"}
PALETTE = ["#1f5fa8", "#b5562b", "#2e7d4f", "#7a4da8", "#8a6d00", "#2b7c8f", "#a33a5b"]


def _spec(fig: go.Figure) -> str:
    """Data and layout as compact JSON, without Plotly's default template (tens of KB per chart)."""
    spec = fig.to_plotly_json()
    spec["layout"].pop("template", None)
    return json.dumps(spec, cls=PlotlyJSONEncoder, separators=(",", ":"))


def sparkline(series: Sequence[dict[str, Any]]) -> str:
    """A small weekly trend without axes; suppressed weeks are gaps."""
    x = [p["week"] for p in series]
    y = [None if p["suppressed"] else p["value"] for p in series]
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            line={"color": PALETTE[0], "width": 2},
            hovertemplate="%{x}: %{y:.3g}<extra></extra>",
            connectgaps=False,
        )
    )
    fig.update_layout(
        height=60,
        margin={"l": 0, "r": 0, "t": 4, "b": 4},
        showlegend=False,
        xaxis={"visible": False},
        yaxis={"visible": False},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=FONT,
    )
    return _spec(fig)


def trend(rows: Sequence[dict[str, Any]], by: Sequence[str], unit: str) -> str:
    """The KPI over time, one line per group."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        name = " / ".join(str(row[d]) for d in by) if by else "all"
        groups.setdefault(name, []).append(row)
    fig = go.Figure()
    for i, (name, points) in enumerate(groups.items()):
        fig.add_trace(
            go.Scatter(
                x=[p["period_start"] for p in points],
                y=[None if p["suppressed"] else p["value"] for p in points],
                name=name,
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        font=FONT,
        yaxis={"title": unit},
        legend={"orientation": "h", "y": -0.2},
    )
    return _spec(fig)


def forest(kpis: Sequence[dict[str, Any]]) -> str:
    """Each KPI's relative effect (%) with its interval; the dotted line is no change."""
    rows = [k for k in kpis if k.get("relative_lift") is not None and k.get("relative_ci")]
    names = [f"{k['kpi']} ({k['role']})" for k in rows]
    lift = [100 * k["relative_lift"] for k in rows]
    fig = go.Figure(
        go.Scatter(
            x=lift,
            y=names,
            mode="markers",
            marker={"size": 10, "color": PALETTE[0]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [100 * k["relative_ci"][1] - v for k, v in zip(rows, lift, strict=True)],
                "arrayminus": [v - 100 * k["relative_ci"][0] for k, v in zip(rows, lift, strict=True)],
            },
            hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_dash="dot", line_color="#4a5260")
    fig.update_layout(
        height=80 + 50 * max(len(rows), 1),
        margin={"l": 200, "r": 20, "t": 10, "b": 40},
        xaxis={"title": "change vs control, % (95% interval)"},
        font=FONT,
        yaxis={"autorange": "reversed"},
    )
    return _spec(fig)


def event_study(weeks: Sequence[dict[str, Any]], unit: str) -> str:
    """The effect by week relative to the switch-on (week 0), with intervals; week -1 is the reference."""
    x = [w["week"] for w in weeks]
    y = [w["estimate"] for w in weeks]
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="markers+lines",
            marker={"color": PALETTE[0]},
            line={"color": PALETTE[0]},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [w["ci"][1] - w["estimate"] for w in weeks],
                "arrayminus": [w["estimate"] - w["ci"][0] for w in weeks],
            },
            hovertemplate="week %{x}: %{y:.3g}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line_dash="dot", line_color="#4a5260")
    fig.add_vline(x=-0.5, line_dash="dash", line_color=PALETTE[1])
    fig.update_layout(
        height=300,
        margin={"l": 60, "r": 20, "t": 10, "b": 40},
        font=FONT,
        xaxis={"title": "weeks since the switch-on"},
        yaxis={"title": f"effect ({unit})"},
    )
    return _spec(fig)


def contributions(segments: Sequence[dict[str, Any]], links: Sequence[str]) -> str:
    """Rate and mix effect per segment; clicking a bar drills into that segment."""
    names = [str(s["segment"]) for s in segments]
    fig = go.Figure(
        [
            go.Bar(
                name="rate effect",
                y=names,
                x=[s["rate_effect"] for s in segments],
                orientation="h",
                marker_color=PALETTE[0],
                customdata=list(links),
            ),
            go.Bar(
                name="mix effect",
                y=names,
                x=[s["mix_effect"] for s in segments],
                orientation="h",
                marker_color=PALETTE[1],
                customdata=list(links),
            ),
        ]
    )
    fig.update_layout(
        barmode="relative",
        height=60 + 36 * max(len(names), 1),
        font=FONT,
        margin={"l": 120, "r": 10, "t": 10, "b": 30},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": -0.15},
    )
    return _spec(fig)


RISK_COLOURS = {"low": "#2e7d4f", "medium": "#8a6d00", "high": "#b5562b", "critical": "#a33a5b"}


def value_feasibility(cases: Sequence[dict[str, Any]]) -> str:
    """The portfolio as value against feasibility: one point per use case, coloured and sized by risk.

    x is the adoption-feasibility score (0..100), y the expected net value a year; the colour is
    the risk level (one legend entry each) and the size grows with the risk score. Clicking a
    point opens the use case.
    """
    fig = go.Figure()
    for level, colour in RISK_COLOURS.items():
        rows = [c for c in cases if c["risk_level"] == level]
        if not rows:
            continue
        fig.add_trace(
            go.Scatter(
                x=[c["feasibility"]["value"] for c in rows],
                y=[c["value"]["net"]["expected"] for c in rows],
                text=[c["use_case"] for c in rows],
                customdata=[f"/use-cases/{c['use_case']}" for c in rows],
                name=f"{level} risk",
                mode="markers+text",
                textposition="top center",
                marker={
                    "color": colour,
                    "size": [10 + c["risk_score"] for c in rows],
                    "line": {"width": 1, "color": "#1b1f24"},
                },
                hovertemplate="%{text}: feasibility %{x:.0f}/100, net value %{y:,.0f} a year<extra></extra>",
            )
        )
    fig.update_layout(
        height=380,
        margin={"l": 80, "r": 20, "t": 20, "b": 50},
        font=FONT,
        xaxis={"title": "adoption feasibility (0 to 100)", "range": [-5, 105]},
        yaxis={"title": "expected net value a year"},
        legend={"orientation": "h", "y": -0.2},
    )
    return _spec(fig)


def roi_cumulative(points: Sequence[dict[str, Any]]) -> str:
    """A use case's cumulative benefit against its cumulative cost, month by month."""
    months = [p["period_start"] for p in points]
    fig = go.Figure(
        [
            go.Scatter(
                x=months,
                y=[p["cumulative_benefit"] for p in points],
                name="cumulative benefit",
                mode="lines+markers",
                line={"color": PALETTE[2]},
            ),
            go.Scatter(
                x=months,
                y=[p["cumulative_cost"] for p in points],
                name="cumulative cost",
                mode="lines+markers",
                line={"color": PALETTE[1], "dash": "dash"},
            ),
        ]
    )
    fig.update_layout(
        height=320,
        margin={"l": 70, "r": 10, "t": 10, "b": 40},
        font=FONT,
        yaxis={"title": "amount"},
        legend={"orientation": "h", "y": -0.2},
    )
    return _spec(fig)
