"""Workspace creation, settings precedence and the warehouse engine choice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from paceline.bootstrap import Workspace
from paceline.errors import UsageError, WorkspaceNotFound
from paceline.settings import load_settings
from tests.storage.conftest import TASK_HEADER, task_row


def test_open_without_a_workspace_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound) as err:
        Workspace.open(tmp_path / "none")
    assert "paceline init" in err.value.details["fix"]


def test_home_defaults_to_dot_paceline_and_follows_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().home == tmp_path / ".paceline"
    monkeypatch.setenv("PACELINE_HOME", str(tmp_path / "elsewhere"))
    assert load_settings().home == tmp_path / "elsewhere"


def test_settings_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.init(tmp_path / "ws", min_group_size=7)
    assert ws.settings.min_group_size == 7
    assert Workspace.open(tmp_path / "ws").settings.min_group_size == 7
    monkeypatch.setenv("PACELINE_MIN_GROUP_SIZE", "9")
    assert Workspace.open(tmp_path / "ws").settings.min_group_size == 9


def test_database_and_warehouse_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACELINE_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    ws = Workspace.init(tmp_path / "ws")
    assert (tmp_path / "other.db").exists() and not (tmp_path / "ws" / "paceline.db").exists()
    monkeypatch.setenv("PACELINE_WAREHOUSE", "oracle://nope")
    with pytest.raises(UsageError, match="unknown warehouse engine"):
        Workspace.open(tmp_path / "ws").connect()
    ws.close()


def test_sqlite_runs_in_wal_mode(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_readers_and_an_ingest_run_at_the_same_time(tmp_path: Path) -> None:
    """What `paceline serve` and `paceline ingest` do side by side: no lock errors."""
    ws = Workspace.init(tmp_path / "ws", ingest_batch_rows=500)
    path = tmp_path / "tasks.csv"
    rows = [",".join(str(v) for v in task_row(i).values()) for i in range(20_000)]
    path.write_text(",".join(TASK_HEADER) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    counts: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read_loop() -> None:
        reader = Workspace.open(tmp_path / "ws")
        try:
            while not done.is_set():
                counts.append(int(reader.connect().table("task_events").count().execute()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read_loop)
    thread.start()
    try:
        report = ws.ingest("task_events", path)
    finally:
        done.set()
        thread.join()
    assert not errors
    assert report.loaded == 20_000
    assert set(counts) <= {0, 20_000}  # readers see all of an ingest or none of it
    assert ws.connect().table("task_events").count().execute() == 20_000
