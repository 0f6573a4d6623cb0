"""Model performance over the warehouse: realized where labels arrived, estimated where not.

The predictions of one model are joined to their labels inside the engine (a label by
``prediction_id``, else by ``task_id``; the latest label of a prediction wins, its first
label dates the delay) and aggregated per period and segment into sufficient statistics:

* a *cube* of ``(period, segment, label, prediction, bin of q)`` cells with counts and sums
  of the calibration target q, q², log q, log(1-q), scores and label delays (for a binary
  model the bins are 100 per calibration bin: the binned AUC reads them);
* for binary models, the Mann-Whitney U of the positives for the exact AUC, from positives
  and negatives per distinct score, with the negatives below each taken by a window over
  those counts, in the same query (so the join runs once).

Only these small tables leave the engine (DESIGN.md principle 4); the metrics come from
:mod:`paceline.analytics.classification`. The calibration target q is P(label = positive)
for a binary model and the confidence of the predicted class (P(prediction is right)) for a
multiclass one. Periods without labels still get a CBPE-style estimate, marked
``estimated: true`` with its assumption. The review override rate (edits, overrides and
rejections among decided reviews) is a label-free signal read from the runtime's reviews.

Segments are the use case, the model version or one key of the ``features`` JSON; never a
person (reviewer or labeler): model performance is not a view of people's work.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from paceline.analytics import classification as clf
from paceline.domain.flags import OVERRIDING
from paceline.domain.kpis import Grain
from paceline.domain.model_registry import Task
from paceline.domain.roles import Action
from paceline.errors import NotFound, ValidationError
from paceline.services.access import Principal
from paceline.services.drift_windows import json_text
from paceline.services.kpi_frames import PERIOD
from paceline.services.model_periods import micros, period_date, period_key, period_start
from paceline.services.parsing import parse_choice, parse_date

ALL = "all"  # the segment value when no segment is asked for
OTHER = "(other)"
NONE = "(none)"
FIXED_SEGMENTS = ("use_case", "model_version")
FEATURE_PREFIX = "features."
PEOPLE_COLUMNS = ("labeler", "reviewer", "person_id", "assignee", "requested_by")
GRAINS = (Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.TOTAL)
MIN_REFERENCE_ROWS = 30  # a calibration bin corrects the estimate only with this many labeled rows
Decisions = Callable[[datetime | None, datetime | None], Sequence[dict[str, Any]]]


@dataclass(frozen=True)
class PerformanceQuery:
    """What to compute for one model; see :func:`parse_query` for the checks."""

    model: str
    task: Task = Task.MULTICLASS
    positive: str | None = None
    grain: Grain = Grain.WEEK
    segment: str | None = None
    since: date | None = None
    until: date | None = None
    bins: int = clf.DEFAULT_BINS
    exact_auc: bool = True
    max_segments: int = 20

    def cache_key(self) -> str:
        parts = (
            self.model,
            self.task.value,
            self.positive,
            self.grain.value,
            self.segment,
            self.since,
            self.until,
        )
        return "|".join(str(p or "") for p in parts) + f"|{self.bins}|{self.exact_auc}|{self.max_segments}"


def parse_segment(value: str | None) -> str | None:
    """``use_case``, ``model_version`` or ``features.<key>``; people are refused by name."""
    if value is None or value.strip() in ("", ALL):
        return None
    name = value.strip()
    if name in PEOPLE_COLUMNS or name.removeprefix(FEATURE_PREFIX) in PEOPLE_COLUMNS:
        raise ValidationError(
            f"segment {name!r} would show people's work: performance is reported per model, never per person",
            field="segment",
            fix="segment by use_case, model_version or features.<key>",
        )
    key = name.removeprefix(FEATURE_PREFIX)
    if name in FIXED_SEGMENTS or (
        name.startswith(FEATURE_PREFIX) and key.replace("_", "").replace("-", "").isalnum()
    ):
        return name
    raise ValidationError(
        f"segment {name!r} is not one of: use_case, model_version, features.<key>",
        field="segment",
        fix="e.g. --segment model_version or --segment features.line",
    )


def parse_query(
    model: str,
    *,
    task: str | Task = Task.MULTICLASS,
    positive: str | None = None,
    grain: str | Grain = Grain.WEEK,
    segment: str | None = None,
    since: date | str | None = None,
    until: date | str | None = None,
    bins: int = clf.DEFAULT_BINS,
    exact_auc: bool = True,
) -> PerformanceQuery:
    """The query, checked: names the field and the fix for anything out of place."""
    kind = parse_choice(Task, task, "task")
    period = parse_choice(Grain, grain, "grain")
    since = parse_date(since, "since") if isinstance(since, str) else since
    until = parse_date(until, "until") if isinstance(until, str) else until
    if kind is Task.BINARY and not positive:
        raise ValidationError(
            f"model {model} is binary but no positive class is known",
            field="positive",
            fix="pass --positive LABEL",
        )
    if not 2 <= bins <= 100:
        raise ValidationError(f"bins={bins} is out of range", field="bins", fix="use 2 to 100 (default 10)")
    if since and until and until < since:
        raise ValidationError(
            f"until ({until}) is before since ({since})", field="until", fix="swap the dates"
        )
    return PerformanceQuery(
        model,
        kind,
        positive if kind is Task.BINARY else None,
        period,
        parse_segment(segment),
        since,
        until,
        bins,
        exact_auc=exact_auc,
    )


# --- the engine's part -------------------------------------------------------------------
def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _latest_labels(labels: ir.Table, key: str) -> ir.Table:
    keep = labels.filter(labels[key].notnull())
    if key == "task_id":  # a label by task only where it names no prediction
        keep = keep.filter(keep.prediction_id.isnull())
    return keep.group_by(key).aggregate(
        **{
            f"label_{key}": keep.label.argmax(keep.labeled_at),
            f"first_{key}": keep.labeled_at.min(),
            f"last_{key}": keep.labeled_at.max(),
        }
    )


def _segment_expr(t: ir.Table, segment: str | None) -> ir.StringValue:
    """The segment's value as text, null as ``(none)``.

    A feature is read by the engine's own JSON function, as the drift windows read it (strings
    unquoted, numbers and booleans as written). Ibis's ``features.cast("json")[key].str`` is not
    portable: on Spark it becomes ``get_json_object`` (already unquoted) wrapped in a Python UDF
    that parses the text again, which fails on every string value.
    """
    if segment is None:
        return ibis.literal(ALL)
    if segment.startswith(FEATURE_PREFIX):
        value = json_text(t, segment.removeprefix(FEATURE_PREFIX))
    else:
        value = t[segment].cast("string")
    return value.fill_null(NONE)


def labeled_predictions(con: Any, q: PerformanceQuery) -> ir.Table:
    """The model's predictions in the window, with label, first label time, period and segment.

    A prediction's label is its latest, whether it names the prediction or (naming no
    prediction) its task; the label delay runs to the first label that arrived.
    """
    p = con.table("predictions")
    p = p.filter(p.model == q.model)
    if q.since is not None:
        p = p.filter(p.predicted_at >= ibis.literal(_utc(q.since)))
    if q.until is not None:
        p = p.filter(p.predicted_at < ibis.literal(_utc(q.until + timedelta(days=1))))
    labels = con.table("labels")
    by_id, by_task = _latest_labels(labels, "prediction_id"), _latest_labels(labels, "task_id")
    j = p.left_join(by_id, p.prediction_id == by_id.prediction_id).left_join(
        by_task, p.task_id == by_task.task_id
    )
    task_is_newer = by_id.last_prediction_id.isnull() | (by_task.last_task_id > by_id.last_prediction_id)
    j = j.select(
        p.prediction,
        p.score,
        p.model_version,
        p.use_case,
        p.features,
        label=ibis.ifelse(
            task_is_newer & by_task.label_task_id.notnull(), by_task.label_task_id, by_id.label_prediction_id
        ),
        _us=micros(con, p.predicted_at),
        _label_us=micros(con, ibis.least(by_id.first_prediction_id, by_task.first_task_id)),
    )
    return j.mutate(**{PERIOD: period_key(j._us, q.grain), "segment": _segment_expr(j, q.segment)})


def _top_segments(con: Any, frame: ir.Table, q: PerformanceQuery) -> ir.Table:
    """Keep the *max_segments* largest segments; the rest become ``(other)``."""
    if q.segment is None:
        return frame
    counts = frame.group_by("segment").aggregate(n=frame.count()).order_by(ibis.desc("n"), "segment")
    top = [r["segment"] for r in con.to_pyarrow(counts.limit(q.max_segments + 1)).to_pylist()]
    if len(top) <= q.max_segments:
        return frame
    keep = top[: q.max_segments]
    return frame.mutate(segment=ibis.ifelse(frame.segment.isin(keep), frame.segment, ibis.literal(OTHER)))


def _target(frame: ir.Table, q: PerformanceQuery) -> ir.FloatingValue:
    """q: P(label = positive) for a binary model, the predicted class's confidence otherwise."""
    score = frame.score.cast("float64")
    if q.task is Task.BINARY:
        return ibis.ifelse(frame.prediction == q.positive, score, 1.0 - score)
    return score


def fine_bins(q: PerformanceQuery) -> int:
    """Bins of the cube: 100 per calibration bin for a binary model (the binned AUC's resolution,
    and each calibration bin is exactly 100 of them), the calibration bins otherwise."""
    return q.bins * 100 if q.task is Task.BINARY else q.bins


def _bin(value: ir.FloatingValue, bins: int) -> ir.IntegerValue:
    """floor(value * bins) within [0, bins - 1]; null stays null (LEAST and GREATEST skip nulls)."""
    index = ibis.greatest(ibis.least((value * bins).floor(), bins - 1), 0).cast("int64")
    return ibis.ifelse(value.isnull(), ibis.null("int64"), index)


def cube(frame: ir.Table, q: PerformanceQuery) -> ir.Table:
    """Counts and sums per (period, segment, label, prediction, bin of the calibration target)."""
    t = frame.mutate(_q=_target(frame, q))
    t = t.mutate(
        _c=ibis.greatest(ibis.least(t._q, 1 - clf.LOG_EPS), clf.LOG_EPS),
        _bin=_bin(t._q, fine_bins(q)),
        _delay=(t._label_us - t._us).cast("float64") / 1e6,
    )
    scored = t._q.notnull()
    return t.group_by([PERIOD, "segment", "label", "prediction", "_bin"]).aggregate(
        n=t.count(),
        n_scored=t._q.count(),
        sum_q=t._q.sum(),
        sum_q2=(t._q * t._q).sum(),
        sum_log_q=t._c.ln().sum(where=scored),
        sum_log_1mq=(1.0 - t._c).ln().sum(where=scored),
        sum_score=t.score.sum(),
        delay_sum=t._delay.sum(),
        delay_max=t._delay.max(),
    )


def exact_auc_table(frame: ir.Table, q: PerformanceQuery) -> ir.Table:
    """Per (period, segment): the Mann-Whitney U of the positives, with ties counted half.

    Positives and negatives are counted per distinct score; a window over those counts (not
    over the rows) gives the negatives below each score.
    """
    labeled = frame.filter(frame.label.notnull() & frame.score.notnull())
    counted = labeled.mutate(_k=_target(labeled, q), _y=(labeled.label == q.positive).cast("int64"))
    g = counted.group_by([PERIOD, "segment", "_k"]).aggregate(
        pos=counted._y.sum(), neg=(1 - counted._y).sum()
    )
    below = g.neg.sum().over(ibis.window(group_by=[PERIOD, "segment"], order_by="_k", rows=(None, -1)))
    g = g.mutate(_below=below.fill_null(0))
    return g.group_by([PERIOD, "segment"]).aggregate(
        u=(g.pos * (g._below + g.neg / 2.0)).sum(), n_pos=g.pos.sum(), n_neg=g.neg.sum()
    )


def model_use_cases(con: Any, model: str) -> list[str]:
    """The use cases an unregistered model's predictions name (to check who may read them)."""
    p = con.table("predictions")
    found = p.filter(p.model == model).select("use_case").distinct()
    return sorted(v for v in con.to_pyarrow(found).column(0).to_pylist() if v is not None)


# --- from the engine's tables to metrics ----------------------------------------------------
def _keyer(q: PerformanceQuery) -> Callable[[dict[str, Any]], tuple[str | None, str]]:
    """A row's (period start as ISO date, segment)."""

    def key(row: dict[str, Any]) -> tuple[str | None, str]:
        start = period_date(row[PERIOD], q.grain)
        return (start.isoformat() if start else None, row["segment"])

    return key


def _outcome(cell: dict[str, Any], q: PerformanceQuery) -> float:
    return float(cell["label"] == (q.positive if q.task is Task.BINARY else cell["prediction"]))


def _probability_sums(cells: Iterable[dict[str, Any]], q: PerformanceQuery) -> dict[str, float]:
    out = {"n": 0.0, "sq": 0.0, "nll": 0.0}
    for c in cells:
        if c["label"] is None or not c["n_scored"]:
            continue
        o = _outcome(c, q)
        out["n"] += c["n_scored"]
        out["sq"] += c["sum_q2"] - 2 * o * c["sum_q"] + o * c["n_scored"]
        out["nll"] -= c["sum_log_q"] if o else c["sum_log_1mq"]
    return out


def _coarse(cell: dict[str, Any], q: PerformanceQuery) -> int:
    """The calibration bin of a cube cell (its fine bin, for a binary model, is one of 100 in it)."""
    return int(cell["_bin"]) * q.bins // fine_bins(q)


def _calibration_bins(cells: Iterable[dict[str, Any]], q: PerformanceQuery) -> list[clf.CalibrationBin]:
    return [
        clf.CalibrationBin(
            _coarse(c, q), float(c["n_scored"]), float(c["sum_q"]), _outcome(c, q) * c["n_scored"]
        )
        for c in cells
        if c["label"] is not None and c["n_scored"] and c["_bin"] is not None
    ]


def _confidence_cells(cells: Iterable[dict[str, Any]], q: PerformanceQuery) -> list[clf.ConfidenceCell]:
    out = []
    for c in cells:
        if not c["n_scored"] or c["_bin"] is None:
            continue
        right = c["sum_q"]
        if q.task is Task.BINARY and c["prediction"] != q.positive:
            right = c["n_scored"] - c["sum_q"]  # q is P(positive): the prediction is right with 1 - q
        out.append(
            clf.ConfidenceCell(str(c["prediction"]), _coarse(c, q), float(c["n_scored"]), float(right))
        )
    return out


def _correctness(
    reference: Sequence[clf.CalibrationBin], labels: Sequence[str], q: PerformanceQuery
) -> dict[tuple[str, int], float]:
    """Per (predicted class, bin) the reference's chance that such a prediction is right."""
    observed = clf.correctness_map(reference, MIN_REFERENCE_ROWS)
    out = {}
    for k in labels:
        for b, share in observed.items():
            out[(k, b)] = (1 - share) if q.task is Task.BINARY and k != q.positive else share
    return out


def _realized(
    cells: list[dict[str, Any]], q: PerformanceQuery, auc: dict[str, float | None]
) -> dict[str, Any] | None:
    labeled = [c for c in cells if c["label"] is not None]
    if not labeled:
        return None
    confusion = clf.Confusion.from_cells(
        ((c["label"], c["prediction"], c["n"]) for c in labeled), ([q.positive] if q.positive else [])
    )
    chosen = confusion.scores(q.positive) if q.positive else None
    macro = confusion.macro()
    sums = _probability_sums(labeled, q)
    return {
        "n": confusion.n,
        "accuracy": confusion.accuracy,
        "precision": chosen.precision if chosen else macro["precision"],
        "recall": chosen.recall if chosen else macro["recall"],
        "f1": chosen.f1 if chosen else macro["f1"],
        "average": f"class {q.positive}" if chosen else "macro",
        "per_class": [vars(s) for s in confusion.per_class()],
        "confusion": confusion.to_dict(),
        "auc": auc.get("auc"),
        "auc_binned": auc.get("auc_binned"),
        "brier": clf.brier_score(sums["sq"], sums["n"]),
        "log_loss": clf.log_loss(sums["nll"], sums["n"]),
        "calibration": clf.calibration(_calibration_bins(labeled, q), q.bins).to_dict(),
    }


def _group_row(
    key: tuple[str | None, str],
    cells: list[dict[str, Any]],
    q: PerformanceQuery,
    auc: dict[str, float | None],
    estimate: Callable[[list[clf.ConfidenceCell]], clf.Estimate],
) -> dict[str, Any]:
    n = sum(c["n"] for c in cells)
    labeled = sum(c["n"] for c in cells if c["label"] is not None)
    delay = sum(c["delay_sum"] or 0.0 for c in cells if c["label"] is not None)
    delays = [c["delay_max"] for c in cells if c["delay_max"] is not None]
    scored = sum(c["n_scored"] for c in cells)
    return {
        PERIOD: key[0],
        "segment": None if q.segment is None else key[1],
        "n": n,
        "n_labeled": labeled,
        "label_coverage": labeled / n if n else None,
        "label_delay_hours_mean": delay / labeled / 3600 if labeled else None,
        "label_delay_hours_max": max(delays) / 3600 if delays else None,
        "mean_score": sum(c["sum_score"] or 0.0 for c in cells) / scored if scored else None,
        "realized": _realized(cells, q, auc),
        "estimated": estimate(_confidence_cells(cells, q)).to_dict(),
    }


def _binned_auc(cells: Iterable[dict[str, Any]], q: PerformanceQuery) -> float | None:
    """AUC from positives and negatives per fine bin of P(positive) (ties within a bin count half)."""
    pos: dict[int, float] = defaultdict(float)
    neg: dict[int, float] = defaultdict(float)
    for c in cells:
        if c["label"] is not None and c["n_scored"] and c["_bin"] is not None:
            (pos if c["label"] == q.positive else neg)[int(c["_bin"])] += c["n_scored"]
    order = sorted(set(pos) | set(neg))
    return clf.auc_from_counts([pos[b] for b in order], [neg[b] for b in order])


def _auc_values(cells: list[dict[str, Any]], q: PerformanceQuery) -> dict[str, float | None]:
    """A group's binned AUC (from its cube cells) and exact AUC (the U its cells carry)."""
    if q.task is not Task.BINARY:
        return {}
    out = {"auc_binned": _binned_auc(cells, q)}
    if q.exact_auc:
        first = cells[0]
        out["auc"] = clf.auc_from_u(
            float(first["u"] or 0), float(first["n_pos"] or 0), float(first["n_neg"] or 0)
        )
    return out


def sufficient_statistics(frame: ir.Table, q: PerformanceQuery) -> ir.Table:
    """The one engine query: the cube, each cell with its group's exact U when asked for.

    One query, so the engine joins predictions to labels once (DuckDB materialises the shared
    part as a common table expression).
    """
    cells = cube(frame, q)
    if q.task is not Task.BINARY or not q.exact_auc:
        return cells
    u = exact_auc_table(frame, q)
    joined = cells.left_join(u, [cells[PERIOD] == u[PERIOD], cells.segment == u.segment])
    return joined.select(*(cells[c] for c in cells.columns), u.u, u.n_pos, u.n_neg)


def warehouse_performance(con: Any, q: PerformanceQuery) -> dict[str, Any]:
    """Realized and estimated performance per period and segment (JSON-ready, cacheable)."""
    frame = _top_segments(con, labeled_predictions(con, q), q)
    cells = con.to_pyarrow(sufficient_statistics(frame, q)).to_pylist()
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        groups[_keyer(q)(c)].append(c)
    aucs = {key: _auc_values(group, q) for key, group in groups.items()}
    labels = sorted(
        {str(c["prediction"]) for c in cells} | {str(c["label"]) for c in cells if c["label"] is not None}
    )
    reference_cells = [c for c in cells if c["label"] is not None]
    reference_bins = _calibration_bins(reference_cells, q)
    reference = (
        clf.Confusion.from_cells((c["label"], c["prediction"], c["n"]) for c in reference_cells)
        if reference_cells
        else None
    )
    correctness = _correctness(reference_bins, labels, q)

    def estimate(conf: list[clf.ConfidenceCell]) -> clf.Estimate:
        return clf.estimate_performance(
            conf, labels, correctness=correctness, reference=reference, positive=q.positive
        )

    rows = [
        _group_row(k, groups[k], q, aucs.get(k, {}), estimate)
        for k in sorted(groups, key=lambda k: (k[0] or "", k[1]))
    ]
    return {
        "model": q.model,
        "task": q.task.value,
        "positive_label": q.positive,
        "grain": q.grain.value,
        "segment": q.segment,
        "since": q.since.isoformat() if q.since else None,
        "until": q.until.isoformat() if q.until else None,
        "calibration_target": (
            f"P(label = {q.positive})"
            if q.task is Task.BINARY
            else "confidence of the predicted class (P(prediction is right))"
        ),
        "labels": labels,
        "reference": {
            "labeled_rows": reference.n if reference else 0,
            "calibrated_bins": sorted({b for _, b in correctness}),
        },
        "rows": rows,
    }


# --- the review override rate ------------------------------------------------------------------
def override_rates(
    decisions: Iterable[dict[str, Any]], grain: Grain, by_version: bool = False
) -> list[dict[str, Any]]:
    """Per period (and version): decided reviews, each decision's count, and the override rate.

    The rate is edits, overrides and rejections among the decided first reviews (an
    escalation is no decision: the item goes back to the queue until someone decides it).
    """
    counts: dict[tuple[str | None, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in decisions:
        start = period_start(d["decided_at"].astimezone(UTC).date(), grain)
        key = (start.isoformat() if start else None, d.get("model_version") if by_version else None)
        counts[key][str(d["decision"])] += 1
    rows = []
    for (period, version), c in sorted(counts.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")):
        judged = sum(c.values())
        changed = sum(v for k, v in c.items() if k in OVERRIDING)
        row: dict[str, Any] = {
            PERIOD: period,
            "decisions": dict(sorted(c.items())),
            "judged": judged,
            "overridden": changed,
        }
        if by_version:
            row["model_version"] = version
        row["override_rate"] = changed / judged if judged else None
        rows.append(row)
    return rows


def check_readable(who: Principal, use_cases: Sequence[str], model: str) -> None:
    if not use_cases:
        raise NotFound(
            f"no model {model!r} in the registry and no predictions of it",
            fix="check the name ('paceline model list')",
        )
    for use_case in use_cases:
        who.require(Action.READ, use_case)


def decision_window(q: PerformanceQuery) -> tuple[datetime | None, datetime | None]:
    """The time range of reviews that matches the query's days."""
    return (
        _utc(q.since) if q.since else None,
        _utc(q.until + timedelta(days=1)) if q.until else None,
    )


def finite(doc: Any) -> Any:
    """*doc* with NaN and infinities as None (JSON has no NaN)."""
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: finite(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [finite(v) for v in doc]
    return doc


def performance_report(
    con: Any,
    who: Principal,
    model: str,
    registered: dict[str, Any] | None,
    decisions: Decisions,
    cached: Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]],
    options: dict[str, Any],
) -> dict[str, Any]:
    """``monitor performance``: the warehouse figures (through *cached*) and the override rate.

    A registered model brings its use case, task and positive class; an unregistered one
    is read by the use cases its predictions name (``task``/``positive`` may be given).
    """
    opts = dict(options)
    if registered is not None:
        use_cases = [registered["use_case"]]
        opts["task"] = registered["task"]
        opts["positive"] = opts.get("positive") or registered["positive_label"]
    else:
        use_cases = model_use_cases(con, model)
        opts.setdefault("task", Task.BINARY.value if opts.get("positive") else Task.MULTICLASS.value)
    check_readable(who, use_cases, model)
    q = parse_query(model, **opts)
    doc = cached(q.cache_key(), lambda: finite(warehouse_performance(con, q)))
    since, until = decision_window(q)
    rates = override_rates(decisions(since, until), q.grain, by_version=q.segment == "model_version")
    return {**doc, "registered": registered is not None, "override_rate": rates}
