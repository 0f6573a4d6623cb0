"""``paceline pilot create|list|show|plan|evaluate --pilot`` on a small demo firm, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paceline.cli.main import app
from paceline.demo.params import FirmParams
from paceline.demo.run import run_demo

CREATE = [
    "pilot",
    "create",
    "claims-cli",
    "--use-case",
    "claims-triage",
    "--design",
    "randomised",
    "--treatment",
    "pilot",
    "--control",
    "control",
    "--start",
    "2025-04-01",
    "--end",
    "2025-06-30",
    "--primary",
    "productivity:5",
    "--guardrail",
    "error_rate:10",
    "--accept",
    "esat>=3.5",
    "--hypothesis",
    "Pre-fill raises throughput",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pilot-cli") / "ws"
    run_demo(7, FirmParams.sized(160, 9), home=home)
    return home


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PACELINE_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


def test_create_show_plan_evaluate(home: Path) -> None:
    code, out, _ = run(home, *CREATE)
    assert code == 0 and "Recorded pilot claims-cli" in out
    code, out, _ = run(home, "pilot", "show", "claims-cli", "--format", "json")
    assert code == 0 and json.loads(out)["primary"] == [{"kpi": "productivity", "target_effect_pct": 5.0}]
    code, out, _ = run(home, "pilot", "plan", "claims-cli", "--format", "json")
    assert code == 0 and json.loads(out)["kpis"][0]["mde_pct"] > 0
    code, out, _ = run(home, "pilot", "evaluate", "--pilot", "claims-cli", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] in ("adopt", "extend", "stop")
    assert {"estimate", "ci", "se_method", "n_units", "checks", "kpis", "reasons"} <= set(doc)
    code, out, _ = run(home, "pilot", "list", "--format", "json")
    assert {p["name"]: p["status"] for p in json.loads(out)["pilots"]}["claims-cli"].startswith("evaluated")


def test_create_from_a_json_file(home: Path, tmp_path: Path) -> None:
    plan = {
        "name": "clinical-file",
        "use_case": "clinical-documentation",
        "design": "did",
        "hypothesis": "Shorter notes",
        "treatment_cohorts": ["pilot"],
        "control_cohorts": ["control"],
        "start": "2025-04-01",
        "end": "2025-06-30",
        "primary": [{"kpi": "handling_time", "target_effect_pct": 5}],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    assert run(home, "pilot", "create", "ignored", "--from-file", str(path))[0] == 0
    code, out, _ = run(home, "pilot", "evaluate", "--pilot", "clinical-file", "--format", "json")
    assert code == 0 and json.loads(out)["design"] == "did"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pilot", "create", "x"], "--use-case, --start and --end are required"),
        ([*CREATE[:2], "Bad Name", *CREATE[3:]], "pilot name 'Bad Name' is not valid"),
        ([a.replace("productivity:5", "speed:5") for a in CREATE], "unknown KPI 'speed'"),
        (["pilot", "show", "nope"], "no pilot 'nope'"),
        (["pilot", "evaluate", "--pilot", "nope"], "no pilot 'nope'"),
        (["pilot", "evaluate"], "give the data to evaluate"),
        (["pilot", "create", "x", "--from-file", "/nonexistent.json"], "not a readable JSON file"),
    ],
)
def test_bad_pilot_input_exits_2(home: Path, args: list[str], message: str) -> None:
    code, _, err = run(home, *args)
    assert code == 2 and message in err, err
