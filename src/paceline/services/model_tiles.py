"""Model performance and drift on the KPI dashboard: the framework's KPI 7.

Per use case and per production model, two tiles:

* **performance**: the production version's F1 (the positive class for a binary model,
  macro for a multiclass one) per week, from the labels that arrived; the baseline is
  the version's first :data:`BASELINE_WEEKS` labeled weeks (its first weeks live), the
  current value its last :data:`BASELINE_WEEKS` labeled weeks, both weighted by labeled rows;
* **drift**: the share of drifted columns (features, prediction, score) per weekly window
  against the model's reference window (its first 28 days), over the latest
  :data:`DASHBOARD_DRIFT_WINDOWS` weeks; the baseline is the first of those windows, the
  current value the last ones, lower is better.

The figures come from a :class:`ModelMonitorSource` (the workspace's scoped source), which
reads the model registry and the cached performance and drift of each model, so the
overview stays one cache read per model while the predictions and labels are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from paceline.analytics.drift import DriftReport
from paceline.services.dashboard import OverviewSource, Tile, register_tiles

FRAMEWORK_KPI = 7
BASELINE_WEEKS = 4  # weeks at each end of a tile's series: first weeks live vs the latest
DASHBOARD_DRIFT_WINDOWS = 12  # weekly drift windows on the dashboards (each is a full comparison)


@runtime_checkable
class ModelMonitorSource(Protocol):
    """An overview source that also reads the production models of the use cases."""

    def model_monitoring(self, use_cases: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Per use case, its production models: ``{model, title, production, performance, drift}``.

        ``performance`` is a weekly report split by ``model_version`` (see
        ``Workspace.model_performance``), ``drift`` a :func:`drift_summary` or ``None``
        with ``drift_note`` saying why.
        """
        ...


def drift_summary(reports: Sequence[DriftReport]) -> dict[str, Any]:
    """Drift reports over rolling windows as JSON: per window its rows, share and columns."""
    windows = []
    for r in reports:
        span = r.windows or {}
        current = span.get("current") or {}
        windows.append(
            {
                "start": str(current.get("start", ""))[:10],
                "end": str(current.get("end", ""))[:10],
                "reference_rows": r.reference_rows,
                "current_rows": r.current_rows,
                "drifted_share": r.drifted_share,
                "columns": [
                    {
                        "column": c.column,
                        "kind": c.kind.value,
                        "psi": _finite(c.psi),
                        "ks": _finite(c.ks),
                        "wasserstein": _finite(c.wasserstein),
                        "chi2_p_value": _finite(c.chi2_p_value),
                        "drifted": c.drifted,
                        "method": c.method.value,
                    }
                    for c in r.columns
                ],
            }
        )
    reference = (reports[0].windows or {}).get("reference") if reports else None
    return {
        "reference": {k: str(v)[:10] for k, v in (reference or {}).items()},
        "windows": windows,
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value or value in (float("inf"), float("-inf")) else value


def _weighted(points: Sequence[dict[str, Any]]) -> float | None:
    den = sum(p["weight"] for p in points)
    return sum(p["value"] * p["weight"] for p in points) / den if den else None


def _ends(points: Sequence[dict[str, Any]]) -> tuple[float | None, float | None]:
    """The weighted value of the first and of the last :data:`BASELINE_WEEKS` points."""
    if len(points) < 2:
        return None, _weighted(points)
    half = min(BASELINE_WEEKS, len(points) // 2)
    return _weighted(points[:half]), _weighted(points[-half:])


def performance_points(report: dict[str, Any], version: str) -> list[dict[str, Any]]:
    """The weekly realized F1 of *version* (weeks with labels only), weighted by labeled rows."""
    out = []
    for row in report["rows"]:
        realized = row.get("realized")
        if row.get("segment") not in (version, None) or not realized or realized.get("f1") is None:
            continue
        out.append({"week": row["period_start"], "value": realized["f1"], "weight": realized["n"]})
    return out


def drift_points(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The share of drifted columns per window (each window weighs the same)."""
    return [
        {"week": w["start"], "value": w["drifted_share"], "weight": 1.0}
        for w in summary["windows"]
        if w["current_rows"]
    ]


def _tile(key: str, title: str, unit: str, higher: bool, points: list[dict[str, Any]]) -> Tile:
    baseline, current = _ends(points)
    change = None if baseline is None or current is None else current - baseline
    return Tile(
        key=key,
        title=title,
        unit=unit,
        direction="higher_is_better" if higher else "lower_is_better",
        indicator="lagging" if higher else "leading",
        framework_kpi=FRAMEWORK_KPI,
        use_case=None,
        series=[{"week": p["week"], "value": p["value"], "suppressed": False} for p in points],
        latest=points[-1]["value"] if points else None,
        baseline=baseline,
        current=current,
        change=change,
        change_kind="delta",
        improved=None if not change else (change > 0) == higher,
    )


def performance_tile(use_case: str, model: dict[str, Any]) -> Tile:
    """The production version's weekly F1: its first labeled weeks against its latest."""
    version = model["production"]
    report = model["performance"]
    points = performance_points(report, version)
    average = "macro" if report.get("task") != "binary" else f"class {report.get('positive_label')}"
    tile = _tile(f"model_f1:{model['model']}", f"Model F1: {model['title']}", "F1", True, points)
    tile.use_case = use_case
    tile.typical = f"F1 ({average}) of version {version} per week, from the labels"
    tile.note = (
        f"first {BASELINE_WEEKS} labeled weeks of {version} vs its latest {BASELINE_WEEKS}"
        if len(points) >= 2
        else f"no labels for {version} yet: no realized F1"
        if not points
        else "one labeled week: no baseline yet"
    )
    tile.link = f"/models/{model['model']}"
    return tile


def drift_tile(use_case: str, model: dict[str, Any]) -> Tile:
    """The weekly share of drifted columns against the model's reference window."""
    summary = model.get("drift")
    points = drift_points(summary) if summary else []
    tile = _tile(
        f"model_drift:{model['model']}", f"Model drift: {model['title']}", "share of columns", False, points
    )
    tile.use_case = use_case
    if summary:
        ref = summary["reference"]
        tile.typical = f"reference window {ref.get('start', '?')} to {ref.get('end', '?')}"
        shown = len(summary["windows"])
        tile.note = (
            f"of the latest {shown} weekly windows, the first {BASELINE_WEEKS} vs the last {BASELINE_WEEKS}"
        )
    else:
        tile.note = model.get("drift_note") or "no drift computed"
    tile.link = f"/models/{model['model']}#drift"
    return tile


def model_tiles(source: OverviewSource, scopes: Sequence[str | None]) -> list[Tile]:
    """KPI 7 for each use-case scope with a production model (the program has none of its own:
    model figures do not add up across models)."""
    if not isinstance(source, ModelMonitorSource):
        return []
    cases = [s for s in scopes if s is not None]
    if not cases:
        return []
    found = source.model_monitoring(cases)
    tiles = []
    for use_case in cases:
        for model in found.get(use_case, []):
            tiles += [performance_tile(use_case, model), drift_tile(use_case, model)]
    return tiles


register_tiles("models", model_tiles)
