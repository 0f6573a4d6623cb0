"""The ``paceline`` command: exit codes, messages and JSON documents (spec/interface.md)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from tests.storage.conftest import TASK_HEADER, task_row


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ws"
    monkeypatch.setenv("PACELINE_HOME", str(path))
    return path


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def write_tasks(path: Path, rows: list[dict[str, str]]) -> Path:
    lines = [",".join(TASK_HEADER)] + [",".join(str(r[c]) for c in TASK_HEADER) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_init_is_idempotent_and_keeps_the_secret(home: Path) -> None:
    code, out, _ = invoke("init")
    assert code == 0 and "Created workspace" in out
    secret = (home / "secret.key").read_bytes()
    assert stat.S_IMODE(os.stat(home / "secret.key").st_mode) == 0o600
    code, out, _ = invoke("init")
    assert code == 0 and "Using existing" in out
    assert (home / "secret.key").read_bytes() == secret


def test_commands_without_a_workspace_say_to_run_init(home: Path) -> None:
    for args in (["audit", "verify"], ["ingest", "task_events", "x.csv"], ["user", "list"]):
        code, _, err = invoke(*args)
        assert code == 2, args
        assert "paceline init" in err


def test_ingest_exit_codes_and_json(home: Path, tmp_path: Path) -> None:
    invoke("init")
    good = write_tasks(tmp_path / "good.csv", [task_row(1), task_row(2)])
    code, out, _ = invoke("ingest", "task_events", str(good), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert {k: doc[k] for k in ("rows_read", "loaded", "duplicates", "quarantined")} == {
        "rows_read": 2,
        "loaded": 2,
        "duplicates": 0,
        "quarantined": 0,
    }
    mixed = write_tasks(
        tmp_path / "mixed.csv", [task_row(3), task_row(4, automation="x", ai_assisted="nope")]
    )
    code, out, _ = invoke("ingest", "task_events", str(mixed))
    assert code == 3
    assert "ai_assisted is not a boolean" in out and "quarantine" in out
    missing = tmp_path / "missing.csv"
    missing.write_text("event_id,task_id\ne1,t1\n", encoding="utf-8")
    code, out, err = invoke("ingest", "task_events", str(missing), "--format", "json")
    assert code == 2 and out == ""
    assert "required columns missing" in err and "Fix:" in err


def test_audit_verify_detects_tampering(home: Path) -> None:
    invoke("init")
    for login in ("ana", "ben", "cy"):
        assert invoke("user", "add", login, "--role", "reviewer")[0] == 0
    code, out, _ = invoke("audit", "verify", "--format", "json")
    assert (code, json.loads(out)) == (0, {"ok": True, "entries": 6})
    ws = Workspace.open(home)
    with ws.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET action = 'noop' WHERE seq = 4"))
    code, out, _ = invoke("audit", "verify", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and (doc["ok"], doc["entries"], doc["first_bad"]) == (False, 4, 4)
    code, out, _ = invoke("audit", "verify")
    assert code == 1 and "BROKEN at entry 4" in out


def test_users_grants_and_tokens(home: Path) -> None:
    invoke("init")
    code, _, _ = invoke(
        "user", "add", "ada", "--role", "admin", "--password-stdin", input="correct horse battery\n"
    )
    assert code == 0
    assert invoke("user", "grant", "ada", "--role", "auditor")[0] == 0
    code, out, _ = invoke("user", "add", "bo", "--role", "business-owner", "--use-case", "claims-triage")
    assert code == 0 and "on claims-triage" in out
    code, out, _ = invoke("user", "list", "--format", "json")
    users = {u["login"]: u["roles"] for u in json.loads(out)["users"]}
    assert users["bo"] == [{"role": "business-owner", "use_case": "claims-triage"}]
    code, out, err = invoke("token", "create", "ada", "--name", "ci")
    assert code == 0 and out.startswith("pl_") and out.count("\n") == 1
    assert "not shown again" in err
    with Workspace.open(home).access() as access:
        assert access.authenticate_token(out.strip()).login == "ada"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["user", "add", "x", "--role", "wizard"], "unknown role 'wizard'"),
        (["user", "grant", "nobody", "--role", "admin"], "no user 'nobody'"),
        (["token", "create", "nobody"], "no user 'nobody'"),
        (["ingest", "nope", "f.csv"], "unknown table 'nope'"),
    ],
)
def test_usage_errors_exit_2_with_a_message(home: Path, args: list[str], message: str) -> None:
    invoke("init")
    code, _, err = invoke(*args)
    assert code == 2 and message in err


def test_empty_password_on_stdin(home: Path) -> None:
    invoke("init")
    code, _, err = invoke("user", "add", "ada", "--role", "admin", "--password-stdin", input="\n")
    assert code == 2 and "standard input was empty" in err


def test_the_serve_warmer_precomputes_the_overview(home: Path, tmp_path: Path) -> None:
    from paceline.cli.main import start_warmer

    invoke("init")
    invoke("ingest", "task_events", str(write_tasks(tmp_path / "t.csv", [task_row(i) for i in range(3)])))
    ws = Workspace.open(home)
    assert start_warmer(ws, 60).wait(timeout=60)
    other = Workspace.open(home)
    other.overview()
    assert other.kpi_cache.misses == 0  # the page view found everything precomputed
