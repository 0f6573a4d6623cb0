"""``paceline kpi``: the JSON and CSV documents of spec/interface.md, and bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paceline.cli.main import app
from tests.services import kpi_fixture as fx


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kpicli")
    home = folder / "ws"
    mp = pytest.MonkeyPatch()
    mp.setenv("PACELINE_HOME", str(home))
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    for table, path in fx.write_all(folder).items():
        assert runner.invoke(app, ["ingest", table, str(path)]).exit_code == 0
    mp.undo()
    return home


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PACELINE_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


def test_kpi_list_json(home: Path) -> None:
    code, out, _ = run(home, "kpi", "list", "--format", "json")
    names = [k["kpi"] for k in json.loads(out)["kpis"]]
    assert code == 0 and {"productivity", "error_rate", "adoption_rate", "nps"} <= set(names)


def test_kpi_compute_json_matches_the_spec_shape(home: Path) -> None:
    code, out, _ = run(
        home, "kpi", "compute", "error_rate", "--by", "team", "--grain", "week", "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0
    assert {k: doc[k] for k in ("kpi", "unit", "direction", "grain", "by")} == {
        "kpi": "error_rate",
        "unit": "share",
        "direction": "lower_is_better",
        "grain": "week",
        "by": ["team"],
    }
    row = doc["rows"][0]
    assert set(row) == {"period_start", "team", "value", "n", "n_people", "suppressed"}
    assert any(r["suppressed"] and r["value"] is None for r in doc["rows"] if r["team"] == "team-b")


def test_kpi_compute_csv_and_table(home: Path) -> None:
    code, out, _ = run(
        home, "kpi", "compute", "resolution_time", "--stat", "p90", "--by", "priority", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["priority"] for r in rows} == {"low", "high"}
    code, out, _ = run(home, "kpi", "compute", "esat", "--by", "team")
    assert code == 0 and "suppressed" in out


def test_kpi_compare_and_explain(home: Path) -> None:
    code, out, _ = run(home, "kpi", "compare", "error_rate", "--split", "2026-03-23", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["change"] == "reduction_pct" and len(doc["rows"]) == 1
    code, out, _ = run(
        home, "kpi", "explain", "error_rate", "--by", "priority", "--split", "2026-03-23", "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0 and {s["segment"] for s in doc["segments"]} == {"low", "high"}
    code, out, _ = run(home, "kpi", "explain", "error_rate", "--by", "priority", "--split", "2026-03-23")
    assert code == 0 and "rate effect" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kpi", "compute", "speed"], "unknown KPI 'speed'"),
        (["kpi", "compute", "csat", "--by", "priority"], "cannot be split by priority"),
        (["kpi", "compute", "error_rate", "--since", "2026-13-01"], "is not a date"),
        (["kpi", "compare", "error_rate"], "compare either before/after a date or two values"),
        (["kpi", "explain", "error_rate", "--by", "team", "--dim", "cohort"], "Fix:"),
    ],
)
def test_bad_kpi_input_exits_2(home: Path, args: list[str], message: str) -> None:
    code, _, err = run(home, *args)
    assert code == 2 and message in err, err
