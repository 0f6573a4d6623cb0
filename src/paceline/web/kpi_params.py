"""Query-string options of the KPI pages and API, parsed once for both."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from paceline.errors import ValidationError
from paceline.services.kpi_explain import Sides
from paceline.services.parsing import parse_date


@dataclass
class KpiParams:
    """What a KPI request asks for; ``options()`` are the keyword arguments of ``Workspace.kpi``."""

    use_case: str | None = None
    by: list[str] = field(default_factory=list)
    grain: str = "week"
    since: str | None = None
    until: str | None = None
    stat: str = "mean"
    filters: dict[str, str] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case,
            "by": self.by,
            "grain": self.grain,
            "since": self.since,
            "until": self.until,
            "stat": self.stat,
            "filters": self.filters,
        }

    def query_string(self, **changes: Any) -> str:
        """This request's options as a query string, with *changes* applied (for links)."""
        from urllib.parse import urlencode

        values: dict[str, Any] = {
            "use_case": self.use_case,
            "grain": self.grain,
            "since": self.since,
            "until": self.until,
            "stat": self.stat,
            "by": self.by,
            "filter": [f"{k}:{v}" for k, v in self.filters.items()],
        }
        values.update(changes)
        pairs = [(k, x) for k, v in values.items() for x in (v if isinstance(v, list) else [v]) if x]
        return urlencode(pairs)


def _one(request: Request, name: str, default: str | None = None) -> str | None:
    value = request.query_params.get(name)
    return value.strip() if value and value.strip() else default


def kpi_params(request: Request, grain: str = "week") -> KpiParams:
    """Parse ``use_case, by (repeatable), grain, since, until, stat, filter=dim:value``."""
    filters: dict[str, str] = {}
    for item in request.query_params.getlist("filter"):
        dim, sep, value = item.partition(":")
        if not sep or not dim or not value:
            raise ValidationError(
                f"filter {item!r} is not DIM:VALUE", field="filter", fix="write filters as team:claims-east"
            )
        filters[dim] = value
    by = [b for b in request.query_params.getlist("by") if b]
    return KpiParams(
        _one(request, "use_case"),
        by,
        _one(request, "grain", grain) or grain,
        _one(request, "since"),
        _one(request, "until"),
        _one(request, "stat", "mean") or "mean",
        filters,
    )


def sides_params(request: Request) -> Sides:
    """``split=DATE`` or ``dim, baseline, current`` for comparisons and explanations."""
    split = _one(request, "split")
    return Sides(
        split=parse_date(split, "split") if split else None,
        dim=_one(request, "dim"),
        baseline=_one(request, "baseline"),
        current=_one(request, "current"),
    )
