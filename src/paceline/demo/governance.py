"""The demo firm's governance: catalogues adopted, evidence from its records plus a few uploads,
two audit findings, a management review, retention policies, issued worker notices, and the
certified reviewer of the clinical use case (health data: only certified reviewers decide).

Run after the program, pilots and runtime are recorded, so evidence comes from their records.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from paceline.bootstrap import Workspace
from paceline.services.access import operator

CATALOGUES = ("nist-ai-rmf", "iso-42001", "eu-ai-act-deployer")
RETENTION = {
    "cases": 365,
    "review_tasks": 365,
    "step_runs": 365,
    "outbox": 90,
    "event_outbox": 30,
    "ingest_runs": 365,
}
POLICY = (
    b"Acme Insurance AI policy v1\n\nEvery AI use case has a named business owner, passes the phase gates\n"
    b"of the AI program, and keeps a human reviewer on decisions that affect customers or patients.\n"
)
CLINICAL = "clinical-documentation"
REVIEWER = "demo-reviewer"


def _certify_reviewer(ws: Workspace, today: date) -> None:
    """An explicit grant and a current completion, so the demo reviewer may decide clinical notes."""
    op = operator()
    with ws.access() as access:
        access.grant(op, REVIEWER, "reviewer", CLINICAL)  # idempotent
    row = {
        "record_id": f"demo-cert-{REVIEWER}",
        "person_id": REVIEWER,
        "course": "scribe-certificate",
        "use_case": CLINICAL,
        "enrolled_on": (today - timedelta(days=20)).isoformat(),
        "completed_on": (today - timedelta(days=14)).isoformat(),
        "score": 88,
        "pass_mark": 70,
    }
    ws.record_training([row], "demo")


def _documents_and_reviews(ws: Workspace, today: date) -> None:
    op = operator()
    with ws.governance(op) as gov:
        for control in ("iso-42001/5.2", "iso-42001/A.2.2"):
            gov.upload(
                op,
                POLICY,
                "ai-policy-v1.txt",
                "AI policy v1",
                "cio",
                today - timedelta(days=40),
                control=control,
            )
        gov.record_management_review(
            op,
            {
                "held_on": (today - timedelta(days=30)).isoformat(),
                "title": "AI steering group: quarterly management review",
                "attendees": ["cio", "ciso", "head-of-people", "ai-program-manager"],
                "decisions": "Adopt ISO/IEC 42001 as the management system; "
                "keep clinical notes under full human review.",
                "actions": [
                    {
                        "action": "Refresh AI-literacy training for claims handlers",
                        "owner": "head-of-people",
                        "due": (today + timedelta(days=30)).isoformat(),
                    },
                    {
                        "action": "Set log retention to one year",
                        "owner": "ciso",
                        "due": (today - timedelta(days=20)).isoformat(),
                        "done_on": (today - timedelta(days=25)).isoformat(),
                    },
                ],
            },
        )
        gov.raise_finding(
            op,
            {
                "title": "AI-literacy refresher not scheduled for new claims handlers",
                "severity": "medium",
                "owner": "head-of-people",
                "use_case": "claims-triage",
                "control": "eu-ai-act-deployer/Art. 4",
                "raised_on": (today - timedelta(days=21)).isoformat(),
                "due": (today + timedelta(days=30)).isoformat(),
                "actions": [{"action": "Book the refresher for the spring intake", "owner": "people-team"}],
            },
        )
        closed = gov.raise_finding(
            op,
            {
                "title": "Runtime logs were kept for 30 days only",
                "severity": "high",
                "owner": "ciso",
                "raised_on": (today - timedelta(days=60)).isoformat(),
                "due": (today - timedelta(days=30)).isoformat(),
            },
        )
        gov.update_finding(op, closed["id"], {"closed_on": (today - timedelta(days=25)).isoformat()})


def build_demo_governance(ws: Workspace, today: date | None = None) -> dict[str, Any]:
    """Record the demo's governance; returns what was recorded and the scores it gives."""
    day = today or date.today()
    op = operator()
    with ws.governance(op) as gov:
        adopted = [gov.adopt(op, key) for key in CATALOGUES]
        keys = [uc.key for uc in gov.readable_use_cases(op)]
    with ws.retention(op) as ret:
        for table, days in RETENTION.items():
            ret.set_policy(op, table, days)
    _documents_and_reviews(ws, day)
    if CLINICAL in keys:
        _certify_reviewer(ws, day)
    with ws.governance(op) as gov:
        for key in keys:
            gov.issue_notice(op, key, "worker", day - timedelta(days=7))
    with ws.compliance(op) as comp:
        scores = {key: comp.current(op, key, day) for key in keys}
        program = comp.current(op, None, day)
    return {
        "controls": sum(a["controls"] for a in adopted),
        "use_cases": {k: {"score": s.value, "status": s.status} for k, s in scores.items()},
        "program": {"score": program.value, "status": program.status},
    }
