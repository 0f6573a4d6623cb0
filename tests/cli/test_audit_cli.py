"""``paceline audit``: checkpoints catch a truncated log; export runs from the command line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from paceline.bootstrap import Workspace
from tests.cli.test_cli import invoke


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ws"
    monkeypatch.setenv("PACELINE_HOME", str(path))
    assert invoke("init")[0] == 0
    for login in ("ada", "bob", "cy"):
        assert invoke("user", "add", login, "--role", "reviewer")[0] == 0
    return path


def truncate(home: Path, keep: int) -> None:
    """Cut the log after entry *keep* and rewrite the head to match, as an attacker would."""
    ws = Workspace.open(home)
    try:
        with ws.store.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_entries WHERE seq > :k"), {"k": keep})
            head = conn.execute(text("SELECT hash FROM audit_entries WHERE seq = :k"), {"k": keep}).scalar()
            conn.execute(text("UPDATE audit_head SET seq = :k, hash = :h"), {"k": keep, "h": head})
    finally:
        ws.close()


def test_a_truncated_log_passes_the_chain_check_but_not_the_checkpoints(home: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("audit", "checkpoint", "--format", "json")
    assert code == 0
    checkpoint = json.loads(out)
    assert checkpoint["entries"] >= 6 and len(checkpoint["signature"]) > 40
    assert stat.S_IMODE(os.stat(home / "audit" / "checkpoint.key").st_mode) == 0o600
    pub = tmp_path / "paceline.pub"
    assert invoke("audit", "public-key", "--out", str(pub))[0] == 0
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    checkpoints = home / "audit" / "checkpoints.jsonl"
    args = ("audit", "verify", "--checkpoints", str(checkpoints), "--public-key", str(pub))
    code, out, _ = invoke(*args)
    assert code == 0 and "All 1 checkpoints hold" in out

    truncate(home, checkpoint["entries"] - 2)
    assert invoke("audit", "verify")[0] == 0  # the shortened chain is a valid chain...
    code, out, _ = invoke(*args, "--format", "json")
    doc = json.loads(out)
    assert (
        code == 1 and doc["ok"] is False and doc["checkpoints"]["chain_entries"] == checkpoint["entries"] - 2
    )
    assert "truncated" in doc["checkpoints"]["problems"][0]["reason"]  # ...but the checkpoint catches it


def test_verify_with_missing_or_bad_files_says_how_to_fix(home: Path, tmp_path: Path) -> None:
    pub = tmp_path / "k.pub"
    invoke("audit", "public-key", "--out", str(pub))
    code, _, err = invoke(
        "audit", "verify", "--checkpoints", str(tmp_path / "none"), "--public-key", str(pub)
    )
    assert code == 2 and "paceline audit checkpoint" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"entries": 1}\n')
    code, _, err = invoke("audit", "verify", "--checkpoints", str(bad), "--public-key", str(pub))
    assert code == 2 and "line 1" in err and "head_hash" in err
    code, _, err = invoke("audit", "verify", "--checkpoints", str(bad))
    assert code == 2 and "go together" in err


def test_export_from_the_command_line(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "siem.log"
    code, out, _ = invoke("audit", "export", "--to", f"file:{target}", "--as", "syslog", "--name", "siem")
    assert code == 0 and "Sent entries 1 to" in out
    code, out, _ = invoke(
        "audit", "export", "--to", f"file:{target}", "--as", "syslog", "--name", "siem", "--format", "json"
    )
    assert code == 0 and json.loads(out)["sent"] == 1  # the first run's own audit.export entry
    code, out, _ = invoke("audit", "exports", "--format", "json")
    assert json.loads(out)["exports"][0]["name"] == "siem"
    code, _, err = invoke("audit", "export", "--to", "gopher://x")
    assert code == 2 and "file:PATH" in err
