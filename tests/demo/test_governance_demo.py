"""The demo's governance on a small workspace with the demo's use cases: catalogues, evidence,
findings, a management review, retention, notices and the certified clinical reviewer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from paceline.bootstrap import Workspace
from paceline.demo.governance import CATALOGUES, build_demo_governance
from paceline.demo.usecases import USE_CASES
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.services.access import operator

OP = operator()


def test_the_demo_governance(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with ws.lifecycle() as lc:
        for doc in USE_CASES:
            lc.create(OP, doc)
    with ws.access() as access:
        access.add_user(OP, "demo-reviewer", "reviewer", password="a long enough password")
    summary = build_demo_governance(ws, date(2026, 3, 2))
    assert summary["controls"] == 72 + 62 + 8
    assert set(summary["use_cases"]) == {d["key"] for d in USE_CASES}
    assert summary["program"]["score"] is not None
    with ws.governance(readonly=True) as g:
        assert [f.key for f in g.frameworks(OP)] == sorted(CATALOGUES)
        assert len(g.findings(OP)) == 2 and len(g.management_reviews(OP)) == 1
    assert (
        build_demo_governance(ws, date(2026, 3, 2))["controls"] == summary["controls"]
    )  # adopt is idempotent
    # the demo reviewer is certified for the clinical use case (health data)
    ws.runtime.start(
        "clinical-documentation",
        "v1",
        {"specialty": "cardiology", "visit_type": "new", "transcript_minutes": 9},
        "cli:op",
    )
    Worker(ws.runtime, "t", 1).run(until_idle=True)
    item = ReviewQueue(ws.runtime).claim("demo-reviewer", ["clinicians"])
    assert item is not None
    ws.close()
