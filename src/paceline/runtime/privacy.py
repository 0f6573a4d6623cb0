"""Privacy at the door of the review queue: redaction of sensitive use cases' review items, and the
certification gate on deciding them.

The workspace installs a :class:`Privacy` on its store (``install``). From then on:

* every review item written for a workflow of a sensitive use case (health or biometric data) is
  redacted *before* it is stored: what the reviewer is shown, the decided output, the comment,
  the patch and the feedback (the audit entry of the row carries the redacted values too);
* label exports redact the same fields again, so rows stored before redaction was set up leave
  the workspace redacted as well;
* claiming, deciding or giving feedback on such an item passes the gate: an explicit grant for
  that use case and a current training completion (see ``paceline.services.access``).

Case payloads (the model's input) are not rewritten: retention policies delete them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event

from paceline.domain.redaction import Redactor
from paceline.storage.db import Store
from paceline.storage.runtime_models import ReviewTaskRow

REDACTED_FIELDS = ("shown", "output", "comment", "patch", "feedback")
LABEL_FIELDS = ("shown", "suggestion", "final_output", "comment", "patch")


@dataclass(frozen=True)
class Privacy:
    """``redactor_for(connection, workflow)``: the redactor when the workflow's use case is sensitive.

    ``gate(session, login, workflow)`` raises ``PermissionDenied`` when *login* may not work on
    the workflow's review items.
    """

    redactor_for: Callable[[Any, str], Redactor | None]
    gate: Callable[[Any, str, str], None] | None = None


_INSTALLED: WeakKeyDictionary[Engine, Privacy] = WeakKeyDictionary()


def install(store: Store, privacy: Privacy) -> None:
    _INSTALLED[store.engine] = privacy


def of(store: Store) -> Privacy | None:
    return _INSTALLED.get(store.engine)


def check_gate(store: Store, session: Any, login: str, workflow: str) -> None:
    """Raise unless *login* passes the store's review gate for *workflow* (no gate: pass)."""
    privacy = of(store)
    if privacy is not None and privacy.gate is not None:
        privacy.gate(session, login, workflow)


def _redact_row(_mapper: Any, connection: Any, target: ReviewTaskRow) -> None:
    privacy = _INSTALLED.get(connection.engine)
    if privacy is None:
        return
    redactor = privacy.redactor_for(connection, target.workflow)
    if redactor is None:
        return
    for name in REDACTED_FIELDS:
        value = getattr(target, name)
        if value is not None:
            setattr(target, name, redactor.value(value))


event.listen(ReviewTaskRow, "before_insert", _redact_row)
event.listen(ReviewTaskRow, "before_update", _redact_row)


def redact_labels(store: Store, session: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label-store rows with the fields of sensitive workflows redacted."""
    privacy = of(store)
    if privacy is None:
        return rows
    cache: dict[str, Redactor | None] = {}
    out = []
    for row in rows:
        wf = row["workflow"]
        if wf not in cache:
            cache[wf] = privacy.redactor_for(session, wf)
        redactor = cache[wf]
        out.append(row if redactor is None else row | {k: redactor.value(row[k]) for k in LABEL_FIELDS})
    return out
