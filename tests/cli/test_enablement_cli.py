"""``paceline enablement``: the catalogue, xAPI and CSV imports, records, the matrix, champions, goals,
sessions, the change log and training to outcomes, with their exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from tests.services.test_enablement import CATALOGUE, history, write_people


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("enablement-cli")
    ws = Workspace.init(folder / "ws")
    for table, path in zip(("people", "assignments"), write_people(folder), strict=True):
        ws.ingest(table, path)
    ws.close()
    return folder / "ws"


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PACELINE_HOME": str(home), "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def run_json(home: Path, *args: str, code: int = 0) -> Any:
    got, out, err = run(home, *args, "--format", "json")
    assert got == code, err
    return json.loads(out)


def write(folder: Path, name: str, doc: Any) -> Path:
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def defined(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    saved = run_json(home, "enablement", "define", str(write(folder, "catalogue.json", CATALOGUE)))
    assert saved["saved"] == {"competencies": 2, "courses": 2, "curricula": 1}
    lines = "\n".join(json.dumps(s) for s in history())
    report = run_json(home, "enablement", "import", str(write(folder, "lms.jsonl", lines)))
    assert (report["format"], report["loaded"], report["quarantine_file"]) == ("xapi", 45, None)
    return folder


def test_the_catalogue_is_shown(home: Path, defined: Path) -> None:
    code, out, err = run(home, "enablement", "catalogue")
    assert code == 0, err
    assert "certification" in out and "basics → cert" in out and "verification practitioner" in out
    doc = run_json(home, "enablement", "catalogue", "--use-case", "uc")
    assert [c["key"] for c in doc["curricula"]] == ["agents"]


def test_a_partly_bad_import_quarantines_and_exits_3(home: Path, defined: Path) -> None:
    docs = [*history()[:2], {"id": "not-a-uuid"}]
    report = run_json(home, "enablement", "import", str(write(defined, "bad.json", docs)), code=3)
    assert (report["duplicates"], report["quarantined"]) == (2, 1)
    lines = Path(report["quarantine_file"]).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["column"] == "id"
    code, _, err = run(home, "enablement", "import", str(write(defined, "notes.txt", "x")))
    assert code == 2 and "cannot tell the format" in err
    code, _, err = run(home, "enablement", "define", str(write(defined, "wrong.json", {"lessons": []})))
    assert code == 2 and "expected an object" in err


def test_csv_records_go_through_the_training_loader(home: Path, defined: Path) -> None:
    csv = "record_id,person_id,course,enrolled_on,completed_on,score,pass_mark\n"
    csv += "r1,e14,basics,2025-03-01,2025-03-02,,\n"
    report = run_json(home, "enablement", "import", str(write(defined, "records.csv", csv)))
    assert (report["format"], report["loaded"]) == ("csv", 1)


def test_records_links_and_individual_views(home: Path, defined: Path) -> None:
    entered = run_json(home, "enablement", "complete", "e13", "cert", "--on", "2025-03-05", "--score", "0.9")
    assert entered["verb"] == "completed" and "person_id" not in entered
    code, _, err = run(home, "enablement", "enroll", "e13", "no-such-course")
    assert code == 2 and "no course 'no-such-course'" in err
    code, _, err = run(home, "enablement", "complete", "e13", "cert", "--on", "March")
    assert code == 2 and "not a date" in err
    mine = run_json(home, "enablement", "learner", "e13")
    assert {c["course"]: c["passed"] for c in mine["courses"]}["cert"] is True
    code, out, _ = run(home, "enablement", "link", "ana", "e13")
    assert code == 0 and "ana now sees" in out


def test_the_matrix_hides_small_teams(home: Path, defined: Path) -> None:
    code, out, err = run(home, "enablement", "matrix", "--use-case", "uc")
    assert code == 0, err
    assert "<5" in out and "67% (gap 0.3)" in out
    doc = run_json(home, "enablement", "matrix")
    assert {c["team"] for c in doc["cells"] if c["suppressed"]} == {"small"}


def test_champions_goals_and_sessions(home: Path, defined: Path) -> None:
    added = run_json(
        home,
        "enablement",
        "champion",
        "add",
        "--use-case",
        "uc",
        "--team",
        "t1",
        "--person",
        "e0",
        "--name",
        "A. Martin",
        "--since",
        "2025-03-01",
    )
    planned = run_json(
        home,
        "enablement",
        "session",
        "plan",
        "--use-case",
        "uc",
        "--start",
        "2025-03-03",
        "--until",
        "2025-03-31",
        "--champion",
        str(added["id"]),
    )
    assert (planned["cadence"], planned["planned"]) == ("weekly", 5)
    first = run_json(home, "enablement", "session", "list", "--use-case", "uc")["sessions"][0]
    code, out, err = run(
        home,
        "enablement",
        "session",
        "record",
        str(first["id"]),
        "--held-on",
        "2025-03-03",
        "--attendees",
        "9",
        "--feedback",
        "scores are hard to read",
    )
    assert code == 0 and "recorded as held" in out, err
    code, _, err = run(home, "enablement", "session", "record", str(first["id"]), "--held-on", "2025-03-03")
    assert code == 2 and "feedback" in err  # a held session captures the frontline's feedback
    network = run_json(home, "enablement", "champion", "list", "--use-case", "uc")
    assert network["champions"][0]["sessions_held"] == 1 and network["coverage"]["covered"] == 1
    goal = {
        "key": "t2-adoption",
        "team": "t2",
        "use_case": "uc",
        "kpi": "adoption_rate",
        "kind": "adoption",
        "target": 0.7,
        "since": "2025-02-01",
        "due": "2025-06-30",
        "incentive": "team offsite",
    }
    code, _, err = run(home, "enablement", "goal", "set", str(write(defined, "goal.json", goal)))
    assert code == 0, err
    small = write(defined, "small.json", goal | {"key": "s", "team": "small"})
    code, _, err = run(home, "enablement", "goal", "set", str(small))
    assert code == 2 and "individual target" in err
    goals = run_json(home, "enablement", "goal", "list", "--use-case", "uc")["goals"]
    assert [g["key"] for g in goals] == ["t2-adoption"]
    code, _, err = run(home, "enablement", "champion", "retire", "999")
    assert code == 2 and "no active champion 999" in err


def test_changes_and_outcomes(home: Path, defined: Path) -> None:
    assert run_json(home, "enablement", "changes")["changes"] == []
    doc = run_json(home, "enablement", "outcomes", "--use-case", "uc", "--kpi", "productivity")
    out = doc["outcomes"][0]
    assert out["kpi"] == "productivity" and out["estimate"] is None  # no task data in this workspace
    code, _, err = run(home, "enablement", "outcomes", "--use-case", "uc", "--kpi", "csat")
    assert code == 2 and "not a training outcome" in err
