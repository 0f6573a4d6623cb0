"""Privacy at the review queue: redaction of a sensitive use case's review items and label exports,
and certification-gated access (an explicit grant and a current training completion)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from paceline.bootstrap import Workspace
from paceline.errors import PermissionDenied
from paceline.runtime.labels import LabelStore
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.services.access import operator
from paceline.storage.models import AuditEntry

OP = operator()
UC = "clinical-documentation"
PAYLOAD = {
    "specialty": "cardiology - Dr. Jones, j.jones@clinic.org",
    "visit_type": "new",
    "transcript_minutes": 12,
}
PASSWORD = "a long enough password"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", redaction_names=["Alma Ruiz"])
    with workspace.lifecycle() as lc:
        lc.create(OP, {"key": UC, "title": "AI scribe", "owner": "bo", "data_categories": ["health"]})
    with workspace.access() as access:
        access.add_user(OP, "global-rev", "reviewer", password=PASSWORD)
        access.add_user(OP, "nurse", "reviewer", use_case=UC, password=PASSWORD)
    yield workspace
    workspace.close()


def one_item(ws: Workspace, external_id: str = "v1") -> int:
    ws.runtime.start(UC, external_id, PAYLOAD, "cli:op")
    Worker(ws.runtime, "t", 1).run(until_idle=True)
    return next(i["id"] for i in ReviewQueue(ws.runtime).items() if i["shown"]["external_id"] == external_id)


def train(ws: Workspace, login: str, completed: date) -> None:
    row = {
        "record_id": f"{login}-{completed}",
        "person_id": login,
        "course": "scribe",
        "use_case": UC,
        "enrolled_on": (completed - timedelta(days=3)).isoformat(),
        "completed_on": completed.isoformat(),
    }
    assert ws.record_training([row], "test").loaded == 1


def test_review_items_of_a_sensitive_use_case_are_redacted_before_they_are_stored(ws: Workspace) -> None:
    item = ReviewQueue(ws.runtime).get(one_item(ws))
    assert item["shown"]["payload"]["specialty"] == "cardiology - [NAME], [EMAIL]"
    with ws.store.read() as session:
        logged = json.dumps(
            [e.data for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == "review_tasks"))]
        )
    assert (
        "j.jones@clinic.org" not in logged and "[EMAIL]" in logged
    )  # the audit entry holds the redacted row


def test_decisions_are_redacted_and_so_is_the_label_export(ws: Workspace, tmp_path: Path) -> None:
    review_id = one_item(ws)
    train(ws, "nurse", date.today() - timedelta(days=10))
    queue = ReviewQueue(ws.runtime)
    suggested = queue.get(review_id)["shown"]["suggestion"]["output"]
    done = queue.decide(review_id, "nurse", "accept", comment="Alma Ruiz called from +49 171 1234567")
    assert done["comment"] == "[NAME] called from [PHONE]"
    assert done["output"] == suggested
    path = tmp_path / "labels.jsonl"
    assert LabelStore(ws.store).export("jsonl", path) == 1
    text = path.read_text(encoding="utf-8")
    assert "Jones" not in text and "+49 171" not in text and "[NAME]" in text


def test_rows_stored_before_the_use_case_became_sensitive_leave_redacted(
    ws: Workspace, tmp_path: Path
) -> None:
    with ws.lifecycle() as lc:
        lc.update(OP, UC, {"data_categories": ["operational"]})
    review_id = one_item(ws)
    assert (
        "Dr. Jones" in ReviewQueue(ws.runtime).get(review_id)["shown"]["payload"]["specialty"]
    )  # not sensitive then
    ReviewQueue(ws.runtime).decide(review_id, "global-rev", "accept")
    with ws.lifecycle() as lc:
        lc.update(OP, UC, {"data_categories": ["health"]})
    rows = LabelStore(ws.store).rows()
    assert rows[0]["shown"]["payload"]["specialty"] == "cardiology - [NAME], [EMAIL]"


def test_a_program_wide_reviewer_grant_is_not_enough(ws: Workspace) -> None:
    review_id = one_item(ws)
    train(ws, "global-rev", date.today())
    with pytest.raises(PermissionDenied, match="needs a grant for clinical-documentation"):
        ReviewQueue(ws.runtime).decide(review_id, "global-rev", "accept")
    with pytest.raises(PermissionDenied, match="needs a grant"):
        ReviewQueue(ws.runtime).claim("global-rev", ["clinicians"])
    assert ReviewQueue(ws.runtime).get(review_id)["status"] == "open"  # the refused claim rolled back


def test_certification_gates_the_queue(ws: Workspace) -> None:
    review_id = one_item(ws)
    queue = ReviewQueue(ws.runtime)
    with pytest.raises(PermissionDenied, match="training completion within the last 365 days"):
        queue.decide(review_id, "nurse", "accept")
    train(ws, "nurse", date.today() - timedelta(days=400))  # too old
    with pytest.raises(PermissionDenied, match="training completion"):
        queue.claim("nurse", ["clinicians"])
    train(ws, "nurse", date.today() - timedelta(days=5))
    assert queue.claim("nurse", ["clinicians"])["id"] == review_id
    assert queue.decide(review_id, "nurse", "accept")["status"] == "done"


def test_a_use_case_without_health_data_is_not_gated_or_redacted(ws: Workspace) -> None:
    with ws.lifecycle() as lc:
        lc.update(OP, UC, {"data_categories": ["personal"]})
    review_id = one_item(ws)
    item = ReviewQueue(ws.runtime).decide(review_id, "global-rev", "accept", comment="mail a@b.org")
    assert item["comment"] == "mail a@b.org" and "Dr. Jones" in item["shown"]["payload"]["specialty"]


def test_the_gate_checks_users_not_the_operators_own_library_calls(ws: Workspace) -> None:
    """Every web and API caller is a user; a name that is no user is the workspace operator (who holds
    the secret and could write the store directly), e.g. a simulation deciding as the firm's staff."""
    review_id = one_item(ws)
    assert ReviewQueue(ws.runtime).decide(review_id, "p-000123", "accept")["status"] == "done"
