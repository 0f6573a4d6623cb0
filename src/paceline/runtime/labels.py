"""The label store: every decided review as a training and audit row, and agreement between raters.

A decision in the review queue keeps what the reviewer was shown, the final output and a
JSON Patch from the suggestion to it (:mod:`paceline.runtime.reviews`). Read together with
the case and the model's own output (its infer step, which holds the suggestion even when
the reviewer saw none: the human-only path of a kill switch), each decided review becomes
one row of the label store (notes/hitl.md §1.3):

* ``export_jsonl`` / ``export_parquet``: one row per decision, for retraining and audits;
* ``export_label_studio``: one Label Studio task per case, with the model's suggestion under
  ``predictions`` and each person's decision under ``annotations``, ready to import into a
  self-hosted Label Studio for relabelling or agreement studies;
* :func:`select_for_training`: the corrections (edits and overrides) plus a seeded random
  sample of accepts, so a retrained model is not taught only from its mistakes;
* :meth:`LabelStore.agreement`: Cohen's and Fleiss' kappa between people who decided the
  same case, and between the model and people (:mod:`paceline.analytics.agreement`);
* :meth:`LabelStore.request_second_reviews`: blind second reviews of decided cases (the
  quality-assurance sample), so agreement between people can be measured at all.

Reviewers are exported as stored (their logins or person ids): the label store is
operational data under the workspace's access rules, not an analytics table.
"""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from paceline.analytics.agreement import agreement_report
from paceline.errors import NotFound, ValidationError
from paceline.runtime import privacy
from paceline.runtime.engine import utcnow
from paceline.runtime.reviews import ESCALATED
from paceline.storage.case_repo import iso
from paceline.storage.db import Store
from paceline.storage.runtime_models import CaseRow, ReviewTaskRow, StepRunRow

CORRECTIONS = ("edit", "override")
FORMATS = ("jsonl", "parquet", "label-studio")
CHUNK = 500  # ids per IN (...) query

COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("review_id", pa.int64()),
    ("case_id", pa.string()),
    ("external_id", pa.string()),
    ("workflow", pa.string()),
    ("workflow_version", pa.string()),
    ("variant", pa.string()),
    ("kind", pa.string()),
    ("queue", pa.string()),
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("confidence", pa.float64()),
    ("confidence_band", pa.string()),
    ("human_only", pa.bool_()),
    ("shown", pa.string()),
    ("suggestion", pa.string()),
    ("final_output", pa.string()),
    ("decision", pa.string()),
    ("reason_code", pa.string()),
    ("comment", pa.string()),
    ("patch", pa.string()),
    ("reviewer", pa.string()),
    ("time_spent_ms", pa.int64()),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("decided_at", pa.timestamp("us", tz="UTC")),
)
JSON_COLUMNS = ("shown", "suggestion", "final_output", "patch")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def label_row(review: ReviewTaskRow, case: CaseRow, infer: dict[str, Any] | None) -> dict[str, Any]:
    """One decided review as a label-store row (JSON-ready: times as ISO 8601 text)."""
    shown: dict[str, Any] = dict(review.shown or {})
    call = (infer or {}).get("call") or {}
    model_doc = shown.get("model") or {}
    shown_suggestion = shown.get("suggestion") or {}
    model_suggestion = (infer or {}).get("suggestion") or shown_suggestion
    return {
        "review_id": review.id,
        "case_id": case.id,
        "external_id": case.external_id,
        "workflow": case.workflow,
        "workflow_version": case.workflow_version,
        "variant": case.variant,
        "kind": review.kind,
        "queue": review.queue,
        "model": call.get("model", model_doc.get("model")),
        "model_version": call.get("version", model_doc.get("version")),
        "confidence": model_suggestion.get("confidence"),
        "confidence_band": model_suggestion.get("confidence_band"),
        "human_only": bool(shown.get("human_only", False)),
        "shown": shown,
        "suggestion": model_suggestion.get("output"),
        "final_output": review.output,
        "decision": review.decision,
        "reason_code": review.reason_code,
        "comment": review.comment,
        "patch": review.patch,
        "reviewer": review.assignee,
        "time_spent_ms": review.time_spent_ms,
        "created_at": iso(review.created_at),
        "decided_at": iso(review.decided_at),
    }


def select_for_training(
    rows: Iterable[dict[str, Any]], accept_share: float = 0.2, seed: int = 0
) -> list[dict[str, Any]]:
    """Corrections (edits, overrides) plus a seeded sample of *accept_share* of the accepts.

    Training only on corrections would teach a model from its mistakes alone, so a random
    share of accepts comes along (notes/hitl.md §6). Each row gets ``selected_as``
    (``correction`` or ``accept_sample``) and a ``weight``: 1 for corrections, 1/share for
    sampled accepts, so weighted counts estimate the full label store. Rejections carry no
    output and escalations no decision: neither is selected. The same rows and seed always
    give the same sample.
    """
    if not 0 <= accept_share <= 1:
        raise ValidationError(f"accept_share={accept_share} must be between 0 and 1", field="accept_share")
    listed = sorted(rows, key=lambda r: r["review_id"])
    corrections = [r for r in listed if r["decision"] in CORRECTIONS and r.get("final_output") is not None]
    accepts = [r for r in listed if r["decision"] == "accept"]
    k = round(accept_share * len(accepts))
    sampled = random.Random(seed).sample(accepts, k) if k else []
    weight = 1 / accept_share if accept_share else 0.0
    chosen = [r | {"selected_as": "correction", "weight": 1.0} for r in corrections]
    chosen += [r | {"selected_as": "accept_sample", "weight": weight} for r in sampled]
    return sorted(chosen, key=lambda r: r["review_id"])


def _result(output: dict[str, Any] | None) -> list[dict[str, Any]]:
    """An output as Label Studio ``result`` regions: one per field, named by the field."""
    regions: list[dict[str, Any]] = []
    for name, value in (output or {}).items():
        if value is None:
            continue
        content: dict[str, Any]
        if isinstance(value, bool):
            kind, content = "choices", {"choices": [str(value).lower()]}
        elif isinstance(value, str):
            kind, content = "choices", {"choices": [value]}
        elif isinstance(value, int | float):
            kind, content = "number", {"number": value}
        else:
            kind, content = "textarea", {"text": [_json(value)]}
        regions.append({"from_name": name, "to_name": "case", "type": kind, "value": content})
    return regions


def _data(case_row: dict[str, Any]) -> dict[str, Any]:
    shown = case_row["shown"]
    payload = shown.get("payload") or {}
    flat = {
        k: (v if v is None or isinstance(v, str | int | float | bool) else _json(v))
        for k, v in payload.items()
    }
    return flat | {
        "case_id": case_row["case_id"],
        "external_id": case_row["external_id"],
        "workflow": case_row["workflow"],
        "workflow_version": case_row["workflow_version"],
        "rule_hits": [f"{h['rule']}: {h['message']}" for h in shown.get("rule_hits") or []],
    }


def label_studio_tasks(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label Studio tasks, one per case: ``data``, the model's ``predictions``, people's ``annotations``.

    Each result region is named after the output field (``from_name``) over the object
    ``case``; a labelling config with ``<Choices name="queue" toName="case">`` (one control
    per field) shows them. Paceline's decision, reason code, comment and JSON Patch of each
    annotation are under ``meta.paceline.reviews`` in the same order.
    """
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_case[row["case_id"]].append(row)
    tasks = []
    for case_rows in by_case.values():
        first = case_rows[0]
        model = first["model"] or "model"
        tasks.append(
            {
                "data": _data(first),
                "predictions": [
                    {
                        "model_version": f"{model}@{first['model_version']}",
                        "score": first["confidence"],
                        "result": _result(first["suggestion"]),
                    }
                ],
                "annotations": [
                    {
                        "completed_by": r["reviewer"],
                        "lead_time": (r["time_spent_ms"] or 0) / 1000,
                        "result": _result(r["final_output"]),
                        "was_cancelled": False,
                        "ground_truth": False,
                        "created_at": r["decided_at"],
                    }
                    for r in case_rows
                ],
                "meta": {
                    "paceline": {
                        "case_id": first["case_id"],
                        "reviews": [
                            {
                                k: r[k]
                                for k in ("review_id", "kind", "decision", "reason_code", "comment", "patch")
                            }
                            | {"human_only": r["human_only"]}
                            for r in case_rows
                        ],
                    }
                },
            }
        )
    return tasks


def _write_atomically(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _timestamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


class LabelStore:
    """The decided reviews of a workspace's runtime, read from its operational store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def rows(self, workflow: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Every decided review (status done), oldest decision first; optionally one workflow or kind."""
        stmt = (
            select(ReviewTaskRow, CaseRow)
            .join(CaseRow, CaseRow.id == ReviewTaskRow.case_id)
            .where(ReviewTaskRow.status == "done", ReviewTaskRow.decision.is_not(None))
            .order_by(ReviewTaskRow.decided_at, ReviewTaskRow.id)
        )
        if workflow:
            stmt = stmt.where(ReviewTaskRow.workflow == workflow)
        if kind:
            stmt = stmt.where(ReviewTaskRow.kind == kind)
        with self.store.read() as session:
            pairs = [(review, case) for review, case in session.execute(stmt)]
            ids = sorted({case.id for _, case in pairs})
            infer: dict[str, dict[str, Any]] = {}
            for chunk in _chunks(ids):
                runs = select(StepRunRow).where(StepRunRow.step == "infer", StepRunRow.case_id.in_(chunk))
                infer.update({r.case_id: dict(r.output) for r in session.scalars(runs)})
            rows = [label_row(review, case, infer.get(case.id)) for review, case in pairs]
            return privacy.redact_labels(self.store, session, rows)  # sensitive use cases: redacted

    # --- exports -----------------------------------------------------------------------
    def export(self, fmt: str, path: str | Path, workflow: str | None = None) -> int:
        """Write the label store as *fmt* (jsonl, parquet or label-studio); rows (or tasks) written."""
        if fmt not in FORMATS:
            raise ValidationError(f"format {fmt!r} is not one of: {', '.join(FORMATS)}", field="format")
        writer = {
            "jsonl": self.export_jsonl,
            "parquet": self.export_parquet,
            "label-studio": self.export_label_studio,
        }[fmt]
        return writer(path, workflow)

    def export_jsonl(self, path: str | Path, workflow: str | None = None) -> int:
        """One JSON object per decided review and line."""
        rows = self.rows(workflow)
        write_jsonl(rows, Path(path))
        return len(rows)

    def export_parquet(self, path: str | Path, workflow: str | None = None) -> int:
        """One Parquet row per decided review; shown, suggestion, output and patch as JSON text."""
        rows = self.rows(workflow)
        write_parquet(rows, Path(path))
        return len(rows)

    def export_label_studio(self, path: str | Path, workflow: str | None = None) -> int:
        """A Label Studio import file (a JSON list of tasks); the number of tasks (cases)."""
        tasks = label_studio_tasks(self.rows(workflow))
        text = json.dumps(tasks, indent=1, default=str) + "\n"
        _write_atomically(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return len(tasks)

    def training_selection(
        self, workflow: str | None = None, accept_share: float = 0.2, seed: int = 0
    ) -> list[dict[str, Any]]:
        """:func:`select_for_training` over the store's rows."""
        return select_for_training(self.rows(workflow), accept_share, seed)

    # --- agreement ---------------------------------------------------------------------
    def agreement(self, workflow: str | None = None, min_pair_items: int = 5) -> list[dict[str, Any]]:
        """Per workflow and output field: agreement between people and between the model and people.

        An item is a case; its raters are the people who decided it with an output (accept,
        edit, override: a rejection labels nothing) and the model, whose label is its own
        suggestion (also on the human-only path, where the reviewer did not see it). A person
        deciding the same case twice counts once, with the later decision.
        """
        items: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(dict)
        for row in self.rows(workflow):
            final, suggestion = row["final_output"], row["suggestion"] or {}
            if final is None or row["reviewer"] is None:
                continue
            for name, value in final.items():
                raters = items[(row["workflow"], name)].setdefault(row["case_id"], {})
                if name in suggestion and suggestion[name] is not None:
                    raters["model"] = _label(suggestion[name])
                raters[f"person:{row['reviewer']}"] = _label(value)
        reports = []
        for (wf, name), cases in sorted(items.items()):
            report = agreement_report(cases, model="model", min_pair_items=min_pair_items).to_dict()
            reports.append({"workflow": wf, "field": name} | _unprefixed(report))
        return reports

    # --- double review -----------------------------------------------------------------
    def request_second_reviews(
        self, review_ids: Sequence[int], actor: str = "system:label-store", due_hours: float = 24.0
    ) -> list[int]:
        """A blind second review (kind ``qa``) of each decided review: the same view, no decision.

        The new items go to the same queue as the first and show exactly what the first
        reviewer saw, without the first decision, so the two labels are independent.
        """
        now = utcnow()
        created: list[ReviewTaskRow] = []
        with self.store.write(actor) as session:
            for review_id in review_ids:
                first = session.get(ReviewTaskRow, review_id)
                if first is None:
                    raise NotFound(f"no review {review_id}")
                if first.status != "done":
                    raise ValidationError(
                        f"review {review_id} is not decided yet", field="review_id", fix="decide it first"
                    )
                row = ReviewTaskRow(
                    case_id=first.case_id,
                    workflow=first.workflow,
                    queue=first.queue.removesuffix(ESCALATED),
                    kind="qa",
                    status="open",
                    shown=dict(first.shown),
                    due_at=now + timedelta(hours=due_hours),
                    escalated=0,
                    comment="",
                    created_at=now,
                )
                session.add(row)
                created.append(row)
            session.flush()
            return [r.id for r in created]


def _unprefixed(doc: Any) -> Any:
    """The report with raters shown as stored (the ``person:`` prefix keeps them apart from ``model``)."""
    if isinstance(doc, dict):
        return {k: _unprefixed(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_unprefixed(v) for v in doc]
    if isinstance(doc, str) and doc.startswith("person:"):
        return doc[len("person:") :]
    return doc


def write_jsonl(rows: Sequence[dict[str, Any]], path: Path) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, sort_keys=True, default=str) + "\n")

    _write_atomically(path, write)


def write_parquet(rows: Sequence[dict[str, Any]], path: Path) -> None:
    schema = pa.schema([pa.field(name, kind) for name, kind in COLUMNS])
    columns: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS}
    for row in rows:
        for name, _ in COLUMNS:
            value = row.get(name)
            if name in JSON_COLUMNS:
                value = _json(value)
            elif name in ("created_at", "decided_at"):
                value = _timestamp(value)
            columns[name].append(value)
    table = pa.table(columns, schema=schema)
    _write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


__all__ = [
    "FORMATS",
    "LabelStore",
    "label_row",
    "label_studio_tasks",
    "select_for_training",
    "write_jsonl",
    "write_parquet",
]
