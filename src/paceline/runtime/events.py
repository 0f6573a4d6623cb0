"""A finished case as canonical events (spec/events.md), so KPIs, pilots and monitoring see
runtime work like imported work: one task event, one prediction, a label and the
reviewer's usage events when a person decided.

The rows are written to the event outbox in the case's last transaction and exported
to the warehouse through the ordinary ingest (pseudonymisation, checks, idempotent ids).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from paceline.domain.workflow import Workflow
from paceline.storage.case_repo import aware
from paceline.storage.runtime_models import ReviewTaskRow

USAGE_ACTION = {
    "accept": "suggestion_accepted",
    "edit": "suggestion_edited",
    "override": "suggestion_edited",
    "reject": "suggestion_rejected",
}


def _label(output: dict[str, Any] | None) -> str:
    if output is None:
        return ""
    if len(output) == 1:
        return str(next(iter(output.values())))
    return json.dumps(output, sort_keys=True, separators=(",", ":"))


def case_events(
    wf: Workflow,
    case: dict[str, Any],
    outputs: dict[str, Any],
    reviews: Sequence[ReviewTaskRow],
    now: datetime,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The canonical rows of a completed case."""
    cid, use_case = case["id"], wf.use_case or wf.name
    decided = next((r for r in reviews if r.kind == "review" and r.decision), None)
    person = decided.assignee if decided and decided.assignee else "system"
    opened = case["created_at"]
    call = outputs["infer"]["call"]
    yield (
        "task_events",
        {
            "event_id": f"rt-{cid}",
            "task_id": case["external_id"],
            "use_case": use_case,
            "person_id": person,
            "opened_at": opened,
            "completed_at": now.isoformat(),
            "effort_seconds": (decided.time_spent_ms or 0) / 1000 if decided else 0.0,
            "ai_assisted": True,
            "automation": "partial" if decided else "full",
            "units": 1.0,
        },
    )
    yield (
        "predictions",
        {
            "prediction_id": f"rt-{cid}",
            "model": call["model"],
            "model_version": call["version"],
            "use_case": use_case,
            "predicted_at": opened,
            "prediction": _label(call["prediction"]),
            "score": call["confidence"],
            "task_id": case["external_id"],
            "latency_ms": call["latency_ms"],
        },
    )
    if decided is not None:
        final = outputs["review"].get("final")
        yield (
            "labels",
            {
                "prediction_id": f"rt-{cid}",
                "label": _label(final),
                "labeled_at": aware(decided.decided_at or now).isoformat(),
                "source": "review",
                "labeler": person,
            },
        )
        shown = (
            ()
            if (decided.shown or {}).get("human_only")
            else ("suggestion_shown", USAGE_ACTION.get(decided.decision or "", ""))
        )
        for action in shown:
            if action:
                yield (
                    "usage_events",
                    {
                        "event_id": f"rt-{cid}-{action}",
                        "person_id": person,
                        "use_case": use_case,
                        "occurred_at": aware(decided.decided_at or now).isoformat(),
                        "action": action,
                        "task_id": case["external_id"],
                    },
                )
