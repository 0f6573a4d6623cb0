"""``paceline governance ...`` on a fresh workspace: adopt, import, controls, upload, findings,
management reviews and the score (exit 1 when red)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from paceline.services.access import operator

FIRM = (
    "key: acme-ai\ntitle: Acme AI policy\ncontrols:\n"
    "  - {id: ACME-1, title: Policy on file, evidence: [document]}\n"
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ws = Workspace.init(tmp_path / "ws")
    with ws.lifecycle() as lc:
        lc.create(operator(), {"key": "claims", "title": "Claims", "owner": "bo", "phase": 6})
    ws.close()
    return tmp_path / "ws"


def run(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"PACELINE_HOME": str(home), "COLUMNS": "200"})
    return result.exit_code, result.output


def run_json(home: Path, *args: str, code: int = 0) -> Any:
    exit_code, output = run(home, *args, "--format", "json")
    assert exit_code == code, output
    return json.loads(output)


def test_adopt_import_and_controls(home: Path, tmp_path: Path) -> None:
    assert "iso-42001" in run(home, "governance", "catalogues")[1]
    assert run_json(home, "governance", "adopt", "eu-ai-act-deployer")["created"] == 8
    code, text = run(home, "governance", "adopt", "eu-ai-act-deployer")
    assert code == 0 and "0 created, 0 updated, 8 unchanged" in text
    firm = tmp_path / "acme.yaml"
    firm.write_text(FIRM, encoding="utf-8")
    assert run_json(home, "governance", "import", str(firm))["created"] == 1
    doc = run_json(home, "governance", "controls", "claims", "--state", "open")
    # a minimal-tier use case: AI literacy (Art. 4) applies, and the firm's control
    assert doc["summary"]["applicable"] == 2
    assert {c["ref"] for c in doc["controls"]} == {"acme-ai/ACME-1", "eu-ai-act-deployer/Art. 4"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "key: acme\ntitle: x\ncontrols:\n  - {id: A, title: B, evidence: [telex]}\n", encoding="utf-8"
    )
    code, text = run(home, "governance", "import", str(bad))
    assert code == 2 and "controls[0].evidence" in text and "Traceback" not in text


def test_upload_finding_review_and_score(home: Path, tmp_path: Path) -> None:
    firm = tmp_path / "acme.yaml"
    firm.write_text(FIRM, encoding="utf-8")
    run(home, "governance", "import", str(firm))
    code, text = run(home, "governance", "score", "--use-case", "claims")
    assert code == 1 and "(red)" in text and "add current evidence for acme-ai/ACME-1" in text
    policy = tmp_path / "policy.txt"
    policy.write_text("our policy", encoding="utf-8")
    doc = run_json(
        home,
        "governance",
        "upload",
        str(policy),
        "--title",
        "Policy",
        "--owner",
        "ciso",
        "--use-case",
        "claims",
        "--control",
        "acme-ai/ACME-1",
    )
    assert doc["size"] == 10
    score = run_json(home, "governance", "score", "--use-case", "claims", "--weeks", "1")
    parts = {c["key"]: c["value"] for c in score["components"]}
    assert score["status"] == "green" and parts["controls"] == 1.0 and len(score["trend"]) == 2
    # the rest is the seeded risk register (no findings, no incidents)
    assert parts["findings"] == parts["incidents"] == 1.0
    assert score["value"] == pytest.approx(40 + 20 + 20 + 20 * parts["risks"], abs=0.05)
    f = run_json(
        home,
        "governance",
        "finding",
        "--title",
        "Logs",
        "--severity",
        "critical",
        "--owner",
        "secops",
        "--use-case",
        "claims",
        "--action",
        "Keep 183 days|secops|2099-01-01",
    )
    assert f["actions"][0]["due"] == "2099-01-01"
    assert run_json(home, "governance", "score", "--use-case", "claims", code=1)["red_reasons"] == [
        "open critical audit finding: Logs"
    ]
    assert run_json(home, "governance", "close-finding", str(f["id"]))["closed_on"]
    assert run_json(home, "governance", "findings")["findings"][0]["closed_on"]
    code, text = run(home, "governance", "finding", "--title", "x", "--severity", "awful", "--owner", "a")
    assert code == 2 and "severity 'awful'" in text
    code, text = run(
        home, "governance", "management-review", "--title", "Q1", "--attendee", "cio", "--action", "no owner"
    )
    assert code == 2 and "what|owner|due" in text
    assert (
        run_json(home, "governance", "management-review", "--title", "Q1", "--attendee", "cio")["title"]
        == "Q1"
    )


def test_retention_commands(home: Path) -> None:
    code, text = run(home, "retention", "set", "cases", "90")
    assert code == 2 and "at least 183 days" in text
    assert run_json(home, "retention", "set", "cases", "365") == {"table": "cases", "days": 365}
    tables = {t["table"]: t for t in run_json(home, "retention", "list")["tables"]}
    assert tables["cases"]["days"] == 365 and tables["audit_entries"]["floor_days"] is None
    dry = run_json(home, "retention", "run", "--dry-run")
    assert dry["dry_run"] is True and {r["table_name"] for r in dry["runs"]} == {
        "cases",
        "step_runs",
        "review_tasks",
        "outbox",
    }
    assert run_json(home, "retention", "runs")["runs"] == []  # a dry run records nothing
    run_json(home, "retention", "run")
    assert len(run_json(home, "retention", "runs")["runs"]) == 4


def test_the_notice_command(home: Path, tmp_path: Path) -> None:
    code, text = run(home, "governance", "notice", "claims")
    assert code == 0 and text.startswith("# Information for workers: Claims")
    target = tmp_path / "note.md"
    code, text = run(
        home, "governance", "notice", "claims", "--kind", "data-protection", "--out", str(target), "--issue"
    )
    assert code == 0 and "issued on" in text
    assert target.read_text(encoding="utf-8").startswith("# Data-protection note: Claims")
