"""``paceline alert`` and ``paceline incident`` on a fresh workspace: rules, evaluation from a
readings file with a real webhook receiver, acknowledging, and an incident's whole course."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from tests.runtime.receiver import Receiver

NOW = datetime.now(UTC).replace(microsecond=0)


def run(home: Path, *args: str) -> tuple[int, str, str]:
    env = {"PACELINE_HOME": str(home), "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def run_json(home: Path, *args: str, code: int = 0) -> Any:
    got, out, err = run(home, *args, "--format", "json")
    assert got == code, err + out
    return json.loads(out)


def readings_file(path: Path, *values: float, model: str = "claims-router") -> Path:
    lines = [
        json.dumps(
            {
                "signal": "performance:f1",
                "use_case": "claims-triage",
                "model": model,
                "value": value,
                "window_start": (NOW - timedelta(days=7)).isoformat(),
                "window_end": NOW.isoformat(),
                "samples": 300,
            }
        )
        for value in values
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    Workspace.init(home, notify_backoff_seconds=0).close()
    return home


def test_rules_add_list_remove(home: Path) -> None:
    code, out, err = run(
        home,
        "alert",
        "rule",
        "add",
        "f1-low",
        "--signal",
        "performance:f1",
        "--below",
        "0.7",
        "--window",
        "7d",
        "--min-samples",
        "50",
        "--model",
        "claims-router",
    )
    assert code == 0, err
    assert (
        "f1-low" in out
        and "performance:f1 below 0.7 over 1w (n >= 50), warning, for model claims-router" in out
    )
    code, _, err = run(home, "alert", "rule", "add", "f1-low", "--signal", "performance:f1", "--below", "0.7")
    assert code == 2 and "exists already" in err
    code, _, err = run(home, "alert", "rule", "add", "bad", "--signal", "performance:mse", "--below", "0.7")
    assert code == 2 and "needs a metric" in err and "Fix: write performance:METRIC" in err
    code, _, err = run(home, "alert", "rule", "add", "--signal", "error_rate", "--above", "0.1")
    assert code == 2 and "name the rule" in err
    added = run_json(home, "alert", "rule", "add", "--defaults")["added"]
    assert "error-rate-high" in added and "f1-low" not in added  # the existing f1-low is kept
    names = [r["name"] for r in run_json(home, "alert", "rule", "list")["rules"]]
    assert names == sorted(names) and len(names) == 7  # f1-low was there already: the starter one is skipped
    code, out, _ = run(home, "alert", "rule", "list")
    assert code == 0 and "latency_p95_ms" in out
    assert run(home, "alert", "rule", "remove", "f1-low")[0] == 0
    code, _, err = run(home, "alert", "rule", "remove", "f1-low")
    assert code == 2 and "no alert rule 'f1-low'" in err


def test_a_rule_names_its_runbook(home: Path, tmp_path: Path) -> None:
    runbook = "https://wiki.example.com/runbooks/f1-low"
    add = ["alert", "rule", "add", "f1-low", "--signal", "performance:f1", "--below", "0.7", "--window", "7d"]
    code, out, err = run(home, *add, "--runbook", runbook)
    assert code == 0, err
    assert f"Runbook: {runbook}" in out
    rules = run_json(home, "alert", "rule", "list")["rules"]
    assert [(r["name"], r["runbook_url"]) for r in rules] == [("f1-low", runbook)]
    code, out, err = run(home, *add[:3], "f1-bad", *add[4:], "--runbook", "wiki/runbooks/f1")
    assert code == 2 and out == ""
    assert "runbook 'wiki/runbooks/f1' is not an http(s) URL" in err
    assert "Fix: e.g. https://wiki.example.com/runbooks/claims" in err
    assert [r["name"] for r in run_json(home, "alert", "rule", "list")["rules"]] == ["f1-low"]
    plain = run_json(home, *add[:3], "f1-plain", *add[4:], "--model", "claims-router")
    assert plain["runbook_url"] == ""
    # an incident opened for the rule's alert starts with the rule's runbook
    result = run_json(home, "alert", "evaluate", "--readings", str(readings_file(tmp_path / "r.jsonl", 0.5)))
    alert_ids = {c["message"].split(":")[0]: c["alert_id"] for c in result["changes"]}
    opened = run_json(home, "incident", "open", "--alert", str(alert_ids["f1-low"]))
    assert opened["runbook_url"] == runbook
    code, out, _ = run(home, "incident", "show", str(opened["id"]))
    assert code == 0 and f"Runbook: {runbook}" in out
    assert run_json(home, "incident", "open", "--alert", str(alert_ids["f1-plain"]))["runbook_url"] == ""


def test_evaluate_notifies_lists_and_acknowledges(home: Path, tmp_path: Path) -> None:
    with Receiver() as rx:
        code, _, err = run(
            home,
            "alert",
            "rule",
            "add",
            "f1-low",
            "--signal",
            "performance:f1",
            "--below",
            "0.7",
            "--window",
            "7d",
            "--webhook",
            rx.url,
        )
        assert code == 0, err
        path = readings_file(tmp_path / "readings.jsonl", 0.52, model="claims-router")
        result = run_json(home, "alert", "evaluate", "--readings", str(path))
    assert result["counts"]["opened"] == 1 and result["delivery"]["sent"] == 1
    alert_id = result["changes"][0]["alert_id"]
    [request] = rx.requests
    assert request.body["alert_id"] == alert_id and request.body["event"] == "opened"
    code, out, _ = run(home, "alert", "list")
    assert code == 0 and "f1-low" in out and "1 sent" in out
    assert run(home, "alert", "ack", str(alert_id), "--note", "on it")[0] == 0
    acked = run_json(home, "alert", "list")["alerts"][0]
    assert acked["status"] == "acknowledged" and acked["ack_note"] == "on it"
    code, _, err = run(home, "alert", "ack", str(alert_id))
    assert code == 2 and "is acknowledged" in err
    assert run_json(home, "alert", "list", "--status", "resolved")["alerts"] == []


def test_evaluate_with_nothing_to_read(home: Path) -> None:
    run(home, "alert", "rule", "add", "--defaults")
    code, out, err = run(home, "alert", "evaluate")
    assert code == 0, err
    assert "0 reading(s): no change" in out and "Notifications: 0 sent" in out


def test_a_bad_readings_line_is_named(home: Path, tmp_path: Path) -> None:
    path = readings_file(tmp_path / "r.jsonl", 0.5)
    path.write_text(path.read_text() + '{"signal": "performance:f1", "value": "high"}\n', encoding="utf-8")
    code, _, err = run(home, "alert", "evaluate", "--readings", str(path), "--no-compute")
    assert code == 2 and "r.jsonl:2: value 'high' is not a number" in err
    path.write_text("not json\n", encoding="utf-8")
    code, _, err = run(home, "alert", "evaluate", "--readings", str(path))
    assert code == 2 and "r.jsonl:1: not JSON" in err


def test_a_notification_that_fails_for_good_exits_1(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    Workspace.init(home, notify_max_attempts=1).close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    run(
        home,
        "alert",
        "rule",
        "add",
        "f1-low",
        "--signal",
        "performance:f1",
        "--below",
        "0.7",
        "--window",
        "7d",
        "--webhook",
        dead,
    )
    code, out, _ = run(home, "alert", "evaluate", "--readings", str(readings_file(tmp_path / "r.jsonl", 0.4)))
    assert code == 1
    assert (
        "Notifications: 0 sent, 0 to retry, 1 failed" in out and "FAILED: alert 1 opened via webhook" in out
    )


def test_an_incident_from_open_to_closed(home: Path, tmp_path: Path) -> None:
    run(
        home,
        "alert",
        "rule",
        "add",
        "f1-low",
        "--signal",
        "performance:f1",
        "--below",
        "0.7",
        "--window",
        "7d",
        "--severity",
        "critical",
    )
    result = run_json(home, "alert", "evaluate", "--readings", str(readings_file(tmp_path / "r.jsonl", 0.5)))
    alert_id = result["changes"][0]["alert_id"]
    opened = run_json(
        home, "incident", "open", "--alert", str(alert_id), "--runbook", "https://wiki.example.com/rb"
    )
    iid = str(opened["id"])
    assert (
        opened["severity"] == "sev2"
        and opened["model"] == "claims-router"
        and opened["alerts"][0]["id"] == alert_id
    )
    code, out, _ = run(
        home, "incident", "update", iid, "--status", "investigating", "--note", "checking codes"
    )
    assert code == 0 and "open → investigating: checking codes" in out
    code, _, err = run(home, "incident", "update", iid, "--status", "closed")
    assert code == 2 and "cannot become closed" in err and "Fix: next statuses: mitigated, resolved" in err
    code, out, _ = run(home, "incident", "resolve", iid, "--resolution", "rolled back to v3")
    assert code == 0 and "resolved in" in out
    code, _, err = run(home, "incident", "update", iid, "--status", "closed")
    assert code == 2 and "after its retrospective" in err
    code, _, err = run(
        home,
        "incident",
        "retro",
        iid,
        "--what",
        "F1 fell",
        "--impact",
        "misrouted claims",
        "--root-cause",
        "new codes",
        "--action",
        "retrain",
    )
    assert code == 2 and "TEXT|OWNER[|DUE]" in err
    code, _, err = run(
        home,
        "incident",
        "retro",
        iid,
        "--what",
        "F1 fell",
        "--impact",
        "misrouted claims",
        "--root-cause",
        "new codes",
        "--action",
        "retrain monthly|ml-lead|2026-04-01",
    )
    assert code == 0, err
    assert run(home, "incident", "update", iid, "--status", "closed")[0] == 0
    shown = run_json(home, "incident", "show", iid)
    assert shown["status"] == "closed" and shown["retrospective"]["actions"][0]["owner"] == "ml-lead"
    listed = run_json(home, "incident", "list", "--status", "all")
    assert [i["id"] for i in listed["incidents"]] == [opened["id"]] and listed["mttr"]["resolved"] == 1
    code, out, _ = run(home, "incident", "list", "--status", "closed")
    assert code == 0 and "MTTR" in out and "1 resolved" in out


def test_an_incident_by_hand_and_bad_input(home: Path, tmp_path: Path) -> None:
    code, _, err = run(home, "incident", "open", "--title", "Blank suggestions", "--severity", "p1")
    assert code == 2 and "severity 'p1' is not one of: sev1, sev2, sev3, sev4" in err
    opened = run_json(
        home, "incident", "open", "--title", "Blank suggestions", "--serious", "--use-case", "claims"
    )
    assert opened["serious_incident"] and opened["report_due"]
    code, out, _ = run(home, "incident", "show", str(opened["id"]))
    assert code == 0 and "SERIOUS incident: report by" in out
    code, out, _ = run(
        home,
        "incident",
        "update",
        str(opened["id"]),
        "--severity",
        "sev1",
        "--runbook",
        "https://wiki.example.com/rb",
        "--note",
        "paged the team",
    )
    assert code == 0 and "sev1" in out and "paged the team" in out
    retro = tmp_path / "retro.json"
    retro.write_text("[]", encoding="utf-8")
    code, _, err = run(home, "incident", "retro", str(opened["id"]), "--file", str(retro))
    assert code == 2 and "must hold one object" in err
    code, _, err = run(home, "incident", "show", "77")
    assert code == 2 and "no incident 77" in err
    code, _, err = run(home, "incident", "list", "--since", "yesterday")
    assert code == 2 and "since 'yesterday' is not a date" in err
