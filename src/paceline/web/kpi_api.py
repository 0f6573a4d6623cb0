"""The KPI API under /api/v1/kpis: definitions, values, the overview, comparisons, explanations.

Query options are those of ``paceline kpi compute``: ``use_case``, ``by`` (repeat
it), ``grain``, ``since``, ``until``, ``stat`` and ``filter=DIM:VALUE`` (repeat it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from paceline.domain.kpis import KPIS
from paceline.domain.roles import Action
from paceline.services.access import Principal
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, workspace
from paceline.web.kpi_params import kpi_params, sides_params

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"], responses=ERRORS)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]


class KpiDefinitionOut(BaseModel):
    kpi: str
    title: str
    description: str
    unit: str
    direction: str
    indicator: str = Field(description="leading or lagging")
    framework_kpi: int
    sources: list[str]
    formula: str
    change: str
    dims: list[str]
    stats: list[str]
    typical: str | None


class KpiListOut(BaseModel):
    kpis: list[KpiDefinitionOut]


class KpiResultOut(BaseModel):
    kpi: str
    unit: str
    direction: str
    grain: str
    by: list[str]
    stat: str | None = None
    rows: list[dict[str, Any]] = Field(
        description="period_start, the split dimensions, value, n, n_people, suppressed"
    )


@router.get("", response_model=KpiListOut, summary="The KPI definitions")
def list_kpis(principal: ApiPrincipal) -> KpiListOut:
    principal.require(Action.READ)
    return KpiListOut(
        kpis=[
            KpiDefinitionOut(
                kpi=k.name,
                title=k.title,
                description=k.description,
                unit=k.unit,
                direction=k.direction.value,
                indicator=k.indicator.value,
                framework_kpi=k.framework_kpi,
                sources=list(k.sources),
                formula=k.formula,
                change=k.change.value,
                dims=list(k.dims),
                stats=[s.value for s in k.stats],
                typical=k.typical.text if k.typical else None,
            )
            for k in KPIS.values()
        ]
    )


@router.get("/overview", summary="Every KPI tile for the program and each use case")
def overview(
    request: Request,
    principal: ApiPrincipal,
    use_case: Annotated[str | None, Query(description="Only this use case")] = None,
) -> dict[str, Any]:
    return workspace(request).overview(use_case, who=principal)


@router.get(
    "/{kpi}",
    response_model=KpiResultOut,
    response_model_exclude_none=True,
    summary="A KPI by period and group (spec/interface.md, kpi compute)",
)
def compute(request: Request, kpi: str, principal: ApiPrincipal) -> dict[str, Any]:
    params = kpi_params(request, grain="total")
    return workspace(request).kpi(kpi, **params.options(), who=principal).to_dict()


@router.get("/{kpi}/compare", summary="The KPI before/after a date (split) or for two values of a dimension")
def compare(request: Request, kpi: str, principal: ApiPrincipal) -> dict[str, Any]:
    options = {k: v for k, v in kpi_params(request).options().items() if k != "grain"}
    return workspace(request).kpi_compare(kpi, sides_params(request), **options, who=principal).to_dict()


@router.get("/{kpi}/explain", summary="Rate and mix effect per segment of segment_by")
def explain(
    request: Request,
    kpi: str,
    principal: ApiPrincipal,
    segment_by: Annotated[str, Query(description="The dimension to split the change by")],
) -> dict[str, Any]:
    options = {k: v for k, v in kpi_params(request).options().items() if k not in ("by", "grain")}
    return (
        workspace(request)
        .kpi_explain(kpi, sides_params(request), segment_by, **options, who=principal)
        .to_dict()
    )
