"""``paceline worker``, ``case``, ``review queue`` and ``workflow`` on a workspace with the test workflow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from paceline.runtime.registry import REGISTRY
from tests.runtime.flows import ExpenseCheck

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def expense_workflow() -> Iterator[None]:
    REGISTRY.register(ExpenseCheck)
    yield
    REGISTRY._workflows.pop(ExpenseCheck.name, None)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    Workspace.init(tmp_path / "ws").close()
    return tmp_path / "ws"


def run(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PACELINE_HOME": str(home)}, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_workflows_are_listed_and_shown(home: Path) -> None:
    code, out, _ = run(home, "workflow", "list", "--format", "json")
    assert code == 0 and "expense-check" in [w["name"] for w in json.loads(out)["workflows"]]
    code, out, _ = run(home, "workflow", "list")
    assert code == 0 and "expense-check" in out and "claims-triage" in out
    code, out, _ = run(home, "workflow", "show", "expense-check")
    assert code == 0 and "trigger > extract" in out and "amount" in out and "Example payload" in out
    code, out, _ = run(home, "workflow", "show", "expense-check", "--format", "json")
    assert json.loads(out)["payload_schema"]["required"] == ["amount", "category"]
    code, _, err = run(home, "workflow", "show", "nope")
    assert code == 2 and "no workflow 'nope'" in err and "expense-check" in err


def test_start_run_show_and_list_cases(home: Path, tmp_path: Path) -> None:
    code, out, _ = run(
        home, "case", "start", "expense-check", "e-1", "--payload", '{"amount": 80, "category": "travel"}'
    )
    assert code == 0 and "Started case" in out
    payload = tmp_path / "big.json"
    payload.write_text('{"amount": 5000, "category": "travel"}', encoding="utf-8")
    code, out, _ = run(
        home, "case", "start", "expense-check", "e-2", "--payload", f"@{payload}", "--format", "json"
    )
    big = json.loads(out)
    assert code == 0 and big["created"] is True and big["status"] == "running"
    code, out, _ = run(
        home,
        "case",
        "start",
        "expense-check",
        "e-2",
        "--payload",
        "@-",
        "--format",
        "json",
        stdin='{"amount": 1, "category": "meals"}',
    )
    assert code == 0 and json.loads(out)["id"] == big["id"] and json.loads(out)["created"] is False

    code, out, err = run(home, "worker", "--until-idle", "--concurrency", "2", "--format", "json")
    stats = json.loads(out)
    assert code == 0 and stats["cases"] == 2 and stats["error_count"] == 0 and stats["concurrency"] == 2
    assert stats["worker"].endswith(f"-{os.getpid()}") and "stops when idle" in err

    code, out, _ = run(home, "case", "list", "--format", "json")
    assert {c["external_id"]: c["status"] for c in json.loads(out)["cases"]} == {
        "e-1": "completed",
        "e-2": "awaiting_review",
    }
    code, out, _ = run(home, "case", "list", "--status", "completed", "--workflow", "expense-check")
    assert code == 0 and "e-1" in out and "e-2" not in out
    code, out, _ = run(home, "case", "show", big["id"], "--format", "json")
    shown = json.loads(out)
    assert (
        shown["status"] == "awaiting_review"
        and len(shown["steps"]) == 5
        and shown["reviews"][0]["status"] == "open"
    )
    code, out, _ = run(home, "case", "show", big["id"])
    assert code == 0 and "Steps" in out and "awaiting_review" in out and "Reviews" in out

    code, out, _ = run(home, "review", "queue", "--format", "json")
    items = json.loads(out)["reviews"]
    assert code == 0 and [i["case_id"] for i in items] == [big["id"]] and items[0]["overdue"] is False
    code, out, _ = run(home, "review", "queue", "--queue", "finance")
    assert code == 0 and "e-2" in out and "high" in out
    code, out, _ = run(home, "review", "queue", "--queue", "other", "--format", "json")
    assert json.loads(out)["reviews"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["case", "start", "nope", "x", "--payload", "{}"], "no workflow 'nope'"),
        (["case", "start", "expense-check", "x", "--payload", "{not json"], "not valid JSON"),
        (["case", "start", "expense-check", "x", "--payload", "@/no/such/file.json"], "cannot read the file"),
        (["case", "start", "expense-check", "x", "--payload", '{"amount": NaN, "category": "a"}'], "NaN"),
        (
            ["case", "start", "expense-check", "x", "--payload", '{"amount": -1, "category": "a"}'],
            "payload.amount",
        ),
        (["case", "start", "expense-check", "x", "--payload", "[1, 2]"], "payload must be a JSON object"),
        (["case", "start", "expense-check", " ", "--payload", "{}"], "external_id"),
        (["case", "show", "no-such-case"], "no case 'no-such-case'"),
        (["case", "list", "--status", "sleeping"], "status 'sleeping'"),
        (["case", "list", "--workflow", "nope"], "no workflow 'nope'"),
        (["review", "queue", "--status", "stale"], "--status 'stale'"),
    ],
)
def test_bad_input_exits_2_with_the_reason(home: Path, args: list[str], message: str) -> None:
    code, out, err = run(home, *args)
    assert code == 2 and message in err and out == ""


def test_without_a_workspace(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "none", "worker", "--until-idle")
    assert code == 2 and "paceline init" in err


def test_the_existing_review_commands_are_kept(home: Path) -> None:
    code, out, _ = run(home, "review", "--help")
    assert code == 0 and "queue" in out and "golive" in out and "complete" in out


def test_sigterm_stops_the_worker_cleanly(home: Path) -> None:
    env = {**os.environ, "PACELINE_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    command = [
        sys.executable,
        "-c",
        "from paceline.cli.main import main; main()",
        "worker",
        "--format",
        "json",
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        banner = proc.stderr.readline()  # printed once the worker is about to run
        assert "Ctrl+C or SIGTERM stops it" in banner, banner
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM: finishing the current steps" in err
    assert json.loads(out)["loops"] >= 1
