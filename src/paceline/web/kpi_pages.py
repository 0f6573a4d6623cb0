"""KPI pages: the program overview, a KPI's detail with splits and comparisons, drill-down, CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from paceline.domain.kpis import TASK_DIMS, KpiDefinition
from paceline.domain.roles import Action
from paceline.services.access import Principal
from paceline.services.kpi import definition
from paceline.services.kpi_explain import Sides
from paceline.web import charts
from paceline.web.auth import page_principal, workspace
from paceline.web.kpi_params import KpiParams, kpi_params, sides_params
from paceline.web.nav import NAV, NavItem
from paceline.web.templating import is_htmx, render

router = APIRouter(include_in_schema=False)
PagePrincipal = Annotated[Principal, Depends(page_principal)]
NAV.insert(1, NavItem("KPIs", "/kpis", Action.READ))
CSV_COLUMNS = ("period_start", "value", "n", "n_people", "suppressed")


@router.get("/kpis")
def kpi_overview(request: Request, principal: PagePrincipal) -> Response:
    use_case = request.query_params.get("use_case") or None
    doc = workspace(request).overview(use_case, who=principal)
    sections: dict[str | None, list[dict[str, Any]]] = {scope: [] for scope in doc["scopes"]}
    for i, tile in enumerate(doc["tiles"]):
        sections[tile["use_case"]].append(
            {**tile, "chart_id": f"spark-{i}", "chart": charts.sparkline(tile["series"])}
        )
    return render(request, "kpis.html", {"doc": doc, "sections": sections, "selected": use_case})


def _comparisons(request: Request, principal: Principal, kpi: KpiDefinition, params: KpiParams) -> list[Any]:
    ws = workspace(request)
    options = {k: v for k, v in params.options().items() if k not in ("by", "grain")}
    found = []
    if "ai_assisted" in kpi.dims and "ai_assisted" not in params.filters:
        sides = Sides(dim="ai_assisted", baseline="false", current="true")
        found.append(ws.kpi_compare(kpi.name, sides, **options, who=principal).to_dict())
    start = _ai_start(request, params.use_case)
    if start is not None:
        found.append(ws.kpi_compare(kpi.name, Sides(split=start), **options, who=principal).to_dict())
    return found


def _ai_start(request: Request, use_case: str | None) -> Any:
    starts = workspace(request).ai_start_dates()
    if use_case is not None:
        return starts.get(use_case)
    return min(starts.values()) if starts else None


@router.get("/kpis/{kpi}")
def kpi_detail(request: Request, kpi: str, principal: PagePrincipal) -> Response:
    params = kpi_params(request)
    kpi_def = definition(kpi)
    result = workspace(request).kpi(kpi, **params.options(), who=principal).to_dict()
    start = _ai_start(request, params.use_case)
    context = {
        "kpi": kpi_def,
        "params": params,
        "result": result,
        "chart": charts.trend(result["rows"], params.by, kpi_def.unit),
        "comparisons": _comparisons(request, principal, kpi_def, params),
        "dims": [d for d in kpi_def.dims if d not in params.filters],
        "explain_dims": [d for d in kpi_def.dims if d not in params.filters and d in _explainable(kpi_def)],
        "use_cases": workspace(request).overview(who=principal)["use_cases"],
        "split": start,
    }
    return render(request, "kpi_detail.html", context)


def _explainable(kpi: KpiDefinition) -> tuple[str, ...]:
    return tuple(d for d in kpi.dims if d in TASK_DIMS or d in ("segment", "team", "cohort", "tenure_band"))


@router.get("/kpis/{kpi}/explain")
def kpi_explain(request: Request, kpi: str, principal: PagePrincipal) -> Response:
    params = kpi_params(request)
    segment_by = request.query_params.get("segment_by") or "team"
    sides = sides_params(request)
    options = {k: v for k, v in params.options().items() if k not in ("by", "grain")}
    doc = workspace(request).kpi_explain(kpi, sides, segment_by, **options, who=principal).to_dict()
    next_dims = [d for d in definition(kpi).dims if d != segment_by and d not in params.filters]
    links = [
        f"/kpis/{kpi}?"
        + params.query_string(
            filter=[*(f"{k}:{v}" for k, v in params.filters.items()), f"{segment_by}:{s['segment']}"],
            by=next_dims[:1],
        )
        for s in doc["segments"]
    ]
    context = {
        "doc": doc,
        "kpi": definition(kpi),
        "links": links,
        "chart": charts.contributions(doc["segments"], links),
        "fragment": is_htmx(request),
    }
    return render(request, "_kpi_explain.html" if is_htmx(request) else "kpi_explain.html", context)


@router.get("/kpis/{kpi}/export.csv")
def kpi_export(request: Request, kpi: str, principal: PagePrincipal) -> Response:
    params = kpi_params(request)
    doc = workspace(request).kpi(kpi, **params.options(), who=principal).to_dict()
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer,
        fieldnames=[CSV_COLUMNS[0], *doc["by"], *CSV_COLUMNS[1:]],
        extrasaction="ignore",
        lineterminator="\n",
    )
    writer.writeheader()
    writer.writerows(doc["rows"])
    name = f"{kpi}-{params.grain}" + (f"-{'-'.join(params.by)}" if params.by else "") + ".csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
