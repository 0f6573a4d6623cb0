"""Building the demo in a workspace: through ingest with nothing quarantined, users, marker, reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from paceline.demo.firm import LOAD_ORDER, generate_firm
from paceline.demo.monitoring import RUNBOOKS
from paceline.demo.params import FirmParams
from paceline.demo.report import summary_lines, summary_tables
from paceline.demo.run import DATA_DIR, MARKER, DemoExists, DemoSummary, build_demo, password_for, reset_demo
from paceline.demo.scale import write_scale
from paceline.domain.roles import Role
from paceline.errors import UsageError
from paceline.services.access import operator


@pytest.fixture
def built(tmp_path: Path, small_params: FirmParams) -> Iterator[tuple[Workspace, DemoSummary]]:
    ws = Workspace.init(tmp_path / "ws")
    summary = build_demo(ws, seed=7, params=small_params)
    yield ws, summary
    ws.close()


def test_every_table_loads_through_ingest_with_nothing_quarantined(
    built: tuple[Workspace, DemoSummary], small_params: FirmParams
) -> None:
    ws, summary = built
    expected = generate_firm(small_params, seed=7).rows
    assert summary.rows == expected and summary.quarantined == 0
    added = summary.runtime["events"]  # the runtime's cases exported as canonical events
    assert ws.table_counts() == {t: n + added.get(t, 0) for t, n in expected.items()}
    assert sorted(p.name for p in (ws.home / DATA_DIR).iterdir()) == sorted(
        f"{t}.parquet" for t in LOAD_ORDER
    )
    raw = set(pq.read_table(ws.home / DATA_DIR / "people.parquet").column("person_id").to_pylist())
    stored = ws.warehouse_connection().raw_sql("SELECT DISTINCT person_id FROM task_events").fetchall()
    assert not raw & {p for (p,) in stored}  # pseudonymised at ingest, as for any firm


def test_the_summary_is_read_back_from_the_warehouse(built: tuple[Workspace, DemoSummary]) -> None:
    ws, summary = built
    heads = {h.use_case: h for h in summary.headlines}
    tasks = dict(
        ws.warehouse_connection().raw_sql("SELECT use_case, count(*) FROM task_events GROUP BY 1").fetchall()
    )
    assert {u: h.tasks for u, h in heads.items()} == tasks
    assert all(h.productivity[0] and h.error_rate[0] is not None for h in heads.values())
    assert {m.model for m in summary.models} == {"claims-router", "scribe-coder", "failure-risk"}
    titles = [title for title, _, _ in summary_tables(summary)]
    assert len(titles) == 6 and "Built the demo firm" in summary_lines(summary, True)[0]
    assert {p["pilot"] for p in summary.pilots} == {"claims-rct", "clinical-did", "maintenance-rollout"}


def test_one_demo_user_per_role_with_the_printed_password(built: tuple[Workspace, DemoSummary]) -> None:
    ws, summary = built
    assert summary.password == password_for(7)
    with ws.access() as access:
        users = {u.login: u for u in access.list_users(operator())}
        assert set(users) == {f"demo-{r.value}" for r in Role}
        assert access.login("demo-admin", password_for(7)).login == "demo-admin"
    assert users["demo-reviewer"].grants[0].use_case == "claims-triage"


def _numbers(headline: object) -> list[float]:
    """Every number of a headline, in field order (strings and missing values left out)."""
    values = [v for v in vars(headline).values() if not isinstance(v, str)]
    flat = [x for v in values for x in (v if isinstance(v, tuple) else (v,))]
    return [float(x) for x in flat if x is not None]


def test_a_second_build_says_it_exists_and_reset_rebuilds(tmp_path: Path, small_params: FirmParams) -> None:
    ws = Workspace.init(tmp_path / "ws")
    first = build_demo(ws, seed=7, params=small_params)
    with pytest.raises(DemoExists, match="seed 7"):
        build_demo(ws, seed=8, params=small_params)
    expected = first.rows["task_events"] + first.runtime["events"]["task_events"]
    assert ws.table_counts()["task_events"] == expected  # nothing duplicated
    settings = ws.settings
    ws.close()
    removed = reset_demo(settings)
    assert {p.name for p in removed} >= {"warehouse", DATA_DIR, "paceline.db"}
    assert not (tmp_path / "ws" / MARKER).exists() and (tmp_path / "ws" / "secret.key").exists()
    ws = Workspace.init(tmp_path / "ws")
    again = build_demo(ws, seed=7, params=small_params)
    assert again.rows == first.rows
    # the same figures, up to the engine's parallel summation order in the last digits
    assert [_numbers(h) for h in again.headlines] == [pytest.approx(_numbers(h)) for h in first.headlines]
    ws.close()


def test_the_demo_never_mixes_into_a_real_workspace(tmp_path: Path, small_params: FirmParams) -> None:
    ws = Workspace.init(tmp_path / "real")
    with ws.access() as access:
        access.add_user(operator(), "alice", "admin")
    with pytest.raises(UsageError, match="not a demo"):
        build_demo(ws, params=small_params)
    assert reset_demo(ws.settings) == [] and (tmp_path / "real" / "paceline.db").exists()
    ws.close()


def test_scale_writes_exactly_n_unique_events_in_chunks(tmp_path: Path) -> None:
    report = write_scale(25_000, tmp_path / "big", seed=3, chunk_rows=10_000)
    meta = pq.ParquetFile(report.path).metadata
    assert (report.rows, meta.num_rows, meta.num_row_groups) == (25_000, 25_000, 3)
    table = pq.read_table(report.path)
    assert table.schema.equals(generate_firm(FirmParams.sized(60, 3), 0).tables["task_events"].schema)
    for column in ("event_id", "task_id"):
        assert len(set(table.column(column).to_pylist())) == 25_000, column
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest("task_events", report.path).quarantined == 0
    ws.close()


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["demo", "--no-serve", *args])
    return result.exit_code, result.stdout


def test_cli_builds_says_it_exists_and_resets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACELINE_HOME", str(tmp_path / "ws"))
    small = ("--people", "60", "--months", "3")
    code, out = _cli("--seed", "7", *small)
    assert code == 0 and "Built the demo firm" in out and "paceline-demo-7" in out and "demo-auditor" in out
    code, out = _cli("--seed", "7", *small)
    assert code == 0 and "already exists" in out and "--reset" in out
    code, out = _cli("--seed", "7", "--reset", *small)
    assert code == 0 and "Built the demo firm" in out
    code, out = _cli("--scale", "1000", "--out", str(tmp_path / "scale"))
    assert code == 0 and "Wrote 1,000 task events" in out
    assert CliRunner().invoke(app, ["demo", "--scale", "10"]).exit_code == 2  # --out is missing


def test_a_marker_from_another_version_asks_for_reset(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    (ws.home / MARKER).write_text('{"status": "ready", "summary": {}}', encoding="utf-8")
    with pytest.raises(UsageError, match="another version"):
        build_demo(ws)
    ws.close()


def test_the_registry_monitoring_and_governance_run_on_the_firms_records(
    built: tuple[Workspace, DemoSummary],
) -> None:
    ws, summary = built
    assert {m["model"] for m in summary.registry} == {"claims-router", "scribe-coder", "failure-risk"}
    assert all(m["production"] for m in summary.registry)
    assert summary.monitoring["weeks"] == 4
    with ws.alerts(readonly=True) as alerts:
        rules = alerts.rules(operator())
        listed = alerts.list(operator(), status="all")
    assert len(rules) == 7  # the starter rules, each naming its runbook in its own field
    assert all(r["runbook_url"] == f"{RUNBOOKS}/{r['name']}" for r in rules)
    assert not any("http" in r["description"] for r in rules)
    assert all(a["runbook_url"] == f"{RUNBOOKS}/{a['rule']}" for a in listed)
    drift = [a for a in listed if str(a["signal"]).startswith("drift")]
    assert (summary.monitoring["incident"] is not None) == bool(drift)
    if drift:
        with ws.incidents(readonly=True) as incidents:
            incident = incidents.get(operator(), summary.monitoring["incident"]["id"])
        assert incident["status"] == "resolved" and incident["retrospective"]
        assert incident["runbook_url"] == f"{RUNBOOKS}/{incident['alerts'][0]['rule']}"  # its rule's
    assert summary.governance["program"]["status"] in {"green", "amber", "red"}
    assert ws.verify_audit().ok
