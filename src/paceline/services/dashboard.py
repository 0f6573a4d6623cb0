"""The program overview: every KPI per use case with its trend and change against a baseline.

The overview needs two weekly queries per KPI (split by use case, and program-wide)
whatever the number of use cases. Values for a window of weeks are weight-averaged
from the weekly rows using each row's denominator, which is exact for every
ratio-of-sums KPI (productivity, error and automation rates, means, CSAT, NPS);
for adoption it is the average weekly adoption over the window.

The baseline of a use case is every week before its AI was first switched on
(``assignments.ai_enabled_from``); the current window is the last
:data:`CURRENT_WEEKS` weeks with data.

Tiles come from providers in :data:`TILE_PROVIDERS`. The workforce KPIs are one
provider; model performance and drift (KPI 7) and the compliance and risk score
(KPI 8) add theirs with :func:`register_tiles` and appear on the same page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Protocol

from paceline.domain.kpis import KPIS, Direction, Grain, KpiDefinition, change_value
from paceline.services.kpi import KpiResult
from paceline.services.kpi_frames import KpiQuery

CURRENT_WEEKS = 8
PROGRAM = None  # the use_case value meaning "all use cases"


class OverviewSource(Protocol):
    """What the overview reads: cached KPI runs and a little program metadata."""

    def run_kpis(self, queries: Sequence[KpiQuery]) -> list[KpiResult]: ...
    def use_cases(self) -> list[str]: ...
    def ai_start_dates(self) -> dict[str, date]: ...
    def sees_program(self) -> bool: ...


@dataclass
class Tile:
    """One KPI for one use case (or the program) on the overview."""

    key: str
    title: str
    unit: str
    direction: str
    indicator: str
    framework_kpi: int
    use_case: str | None
    series: list[dict[str, Any]] = field(default_factory=list)
    latest: float | None = None
    baseline: float | None = None
    current: float | None = None
    change: float | None = None
    change_kind: str | None = None
    improved: bool | None = None
    typical: str | None = None
    note: str | None = None
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TileProvider = Callable[[OverviewSource, Sequence[str | None]], list[Tile]]
TILE_PROVIDERS: dict[str, TileProvider] = {}


def register_tiles(name: str, provider: TileProvider) -> None:
    """Add a section of tiles to the overview (the KPIs of another capability)."""
    TILE_PROVIDERS[name] = provider


def _window(rows: list[dict[str, Any]], weights: list[float], keep: Callable[[str], bool]) -> float | None:
    num = den = 0.0
    for row, weight in zip(rows, weights, strict=True):
        if (
            row["period_start"]
            and keep(row["period_start"])
            and not row["suppressed"]
            and row["value"] is not None
        ):
            num += row["value"] * weight
            den += weight
    return num / den if den else None


def kpi_tile(kpi: KpiDefinition, use_case: str | None, result: KpiResult, start: date | None) -> Tile:
    """The tile of *kpi* from its weekly *result* (already restricted to the use case)."""
    rows = [r for r in result.rows if r.get("use_case", use_case) == use_case]
    weights = [
        w for r, w in zip(result.rows, result.weights, strict=True) if r.get("use_case", use_case) == use_case
    ]
    series = [{"week": r["period_start"], "value": r["value"], "suppressed": r["suppressed"]} for r in rows]
    weeks = [r["period_start"] for r in rows if r["period_start"]]
    recent = set(weeks[-CURRENT_WEEKS:])
    baseline = _window(rows, weights, lambda w: start is not None and w < start.isoformat())
    current = _window(rows, weights, lambda w: w in recent and (start is None or w >= start.isoformat()))
    change = change_value(kpi.change, baseline, current)
    latest = next(
        (r["value"] for r in reversed(rows) if not r["suppressed"] and r["value"] is not None), None
    )
    improved = (
        None
        if baseline is None or current is None or current == baseline
        else ((current > baseline) == (kpi.direction is Direction.HIGHER))
    )
    return Tile(
        key=kpi.name,
        title=kpi.title,
        unit=kpi.unit,
        direction=kpi.direction.value,
        indicator=kpi.indicator.value,
        framework_kpi=kpi.framework_kpi,
        use_case=use_case,
        series=series,
        latest=latest,
        baseline=baseline,
        current=current,
        change=change,
        change_kind=kpi.change.value,
        improved=improved,
        typical=kpi.typical.text if kpi.typical else None,
        note=None if start else "no AI switch-on date in the assignments: no baseline",
        link=f"/kpis/{kpi.name}" + (f"?use_case={use_case}" if use_case else ""),
    )


def workforce_tiles(source: OverviewSource, scopes: Sequence[str | None]) -> list[Tile]:
    """Tiles of the workforce KPIs (framework KPIs 1-6), for each scope."""
    starts = source.ai_start_dates()
    program_start = min(starts.values()) if starts else None
    kpis = list(KPIS.values())
    by_cases = source.run_kpis([KpiQuery(k.name, by=("use_case",), grain=Grain.WEEK) for k in kpis])
    programs = (
        source.run_kpis([KpiQuery(k.name, grain=Grain.WEEK) for k in kpis]) if PROGRAM in scopes else by_cases
    )
    tiles = []
    for kpi, by_case, program in zip(kpis, by_cases, programs, strict=True):
        for scope in scopes:
            result = program if scope is PROGRAM else by_case
            start = program_start if scope is PROGRAM else starts.get(scope)
            tiles.append(kpi_tile(kpi, scope, result, start))
    return tiles


register_tiles("workforce", workforce_tiles)


def overview(source: OverviewSource, use_case: str | None = None) -> dict[str, Any]:
    """Every registered tile for the program and each use case (or one use case)."""
    cases = source.use_cases()
    program: list[str | None] = [PROGRAM] if source.sees_program() else []
    scopes: list[str | None] = [use_case] if use_case else [*program, *cases]
    tiles = [t for provider in TILE_PROVIDERS.values() for t in provider(source, scopes)]
    return {
        "use_cases": cases,
        "scopes": scopes,
        "ai_start": {k: v.isoformat() for k, v in source.ai_start_dates().items()},
        "current_weeks": CURRENT_WEEKS,
        "tiles": [t.to_dict() for t in tiles],
    }
