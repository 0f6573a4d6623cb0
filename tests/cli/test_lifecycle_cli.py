"""``paceline usecase|gate|tech|risk|review|requirement|ops|training|roi|playbook`` on a fresh workspace.

No warehouse data is needed: the phase-1 gate reads only the lifecycle records, and the
ROI, reviews and playbook say plainly when there is nothing measured yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from paceline.bootstrap import Workspace
from paceline.cli.main import app
from paceline.domain.portfolio import FEASIBILITY_KEYS, READINESS_KEYS
from paceline.services.access import operator

PROGRAM_ROLES = (
    "business-owner",
    "program-manager",
    "data-engineer",
    "ml-engineer",
    "security",
    "people",
    "reviewer",
)
OPS = ("ops", "record", "hr-helpdesk", "--metric", "uptime")
JUSTIFY = "The board accepted the open items on 2026-01-10; alice owns the risk."

HELPDESK: dict[str, Any] = {
    "key": "hr-helpdesk",
    "title": "HR helpdesk assistant",
    "owner": "alice",
    "business_process": "HR questions",
    "department": "hr",
    "people_affected": 30,
    "data_categories": ["employee"],
    "ai_act": ["interacts_with_people"],
    "value": {
        "volume_per_year": 50000,
        "minutes_per_task": 8,
        "cost_per_hour": 40,
        "uplift_low": 0.1,
        "uplift_expected": 0.2,
        "uplift_high": 0.3,
    },
    "readiness": {"data_available": 3},
    "feasibility": {"users_involved": 2},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lifecycle-cli") / "ws"
    ws = Workspace.init(home)
    with ws.lifecycle() as lc:
        lc.create(operator(), HELPDESK)
    ws.close()
    return home


def run(home: Path, *args: str) -> tuple[int, str, str]:
    env = {"PACELINE_HOME": str(home), "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def run_json(home: Path, *args: str, code: int = 0) -> Any:
    """Run with --format json: the exit code, and stdout is exactly one JSON document."""
    got, out, err = run(home, *args, "--format", "json")
    assert got == code, err
    return json.loads(out)


def add(home: Path, tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / f"{doc['key']}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(home, "usecase", "add", "--from-file", str(path))
    assert code == 0, err
    assert f"Added use case {doc['key']}" in out


def test_add_list_show_rank_and_tier(home: Path, tmp_path: Path) -> None:
    add(home, tmp_path, {**HELPDESK, "key": "from-file"})
    code, _, err = run(home, "usecase", "add", "--from-file", str(tmp_path / "from-file.json"))
    assert code == 2 and "exists already" in err
    code, out, err = run(
        home,
        "usecase",
        "add",
        "--key",
        "cv-screening",
        "--title",
        "CV screening",
        "--owner",
        "bob",
        "--ai-act",
        "employment_recruitment",
        "--set",
        "value.volume_per_year=20000",
        "--set",
        "value.minutes_per_task=15",
        "--set",
        "value.cost_per_hour=45",
        "--set",
        "readiness.data_available=4",
    )
    assert code == 0, err
    assert "cv-screening" in out and "high (Annex III" in out

    listed = run_json(home, "usecase", "list")["use_cases"]
    tiers = {u["key"]: (u["ai_act_tier"], u["phase"]) for u in listed}
    assert tiers["from-file"] == ("limited", 1) and tiers["cv-screening"][0] == "high"

    code, out, _ = run(home, "usecase", "show", "hr-helpdesk")
    assert code == 0
    assert "Phase 1 of 6" in out and "limited (Art. 50(1))" in out
    assert "Business case" in out and "Next gate: phase 1 → 2 blocked" in out
    page = run_json(home, "usecase", "show", "hr-helpdesk")
    assert page["use_case"]["key"] == "hr-helpdesk" and page["ai_act"]["rule"] == "Art. 50(1)"
    assert page["business_case"]["value"]["net"]["expected"] > 0 and page["gate"]["passed"] is False

    ranked = run_json(home, "usecase", "rank")["portfolio"]
    assert [c["rank"] for c in ranked] == list(range(1, len(ranked) + 1))
    assert {"use_case", "priority", "ai_act_tier", "ai_act_rule", "reasons"} <= set(ranked[0])
    code, out, _ = run(home, "usecase", "rank")
    assert code == 0 and "Portfolio by priority" in out and "hr-helpdesk" in out

    code, out, _ = run(home, "usecase", "tier", "cv-screening")
    assert code == 0 and "tier high" in out and "Obligations:" in out
    tier = run_json(home, "usecase", "tier", "cv-screening")
    assert tier["tier"] == "high" and tier["rule"].startswith("Annex III") and tier["obligations"]


def test_edit_merges_answers_and_refuses_the_phase(home: Path) -> None:
    code, _, err = run(
        home, "usecase", "edit", "hr-helpdesk", "--set", "readiness.labels_exist=2", "--set", "goal=Faster"
    )
    assert code == 0, err
    uc = run_json(home, "usecase", "show", "hr-helpdesk")["use_case"]
    assert uc["readiness"] == {"data_available": 3, "labels_exist": 2} and uc["goal"] == "Faster"
    assert uc["value"]["volume_per_year"] == 50000  # untouched value inputs are kept
    code, _, err = run(home, "usecase", "edit", "hr-helpdesk", "--set", "phase=3")
    assert code == 2 and "phase cannot be changed" in err and "gate" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["usecase", "add", "--key", "x-1", "--title", "X", "--owner", "a", "--set", "colour=red"], "colour"),
        (["usecase", "add", "--key", "Bad Key", "--title", "X", "--owner", "a"], "key 'Bad Key'"),
        (
            [
                "usecase",
                "add",
                "--key",
                "x-2",
                "--title",
                "X",
                "--owner",
                "a",
                "--set",
                "readiness.data_available=9",
            ],
            "readiness.data_available",
        ),
        (
            ["usecase", "add", "--key", "x-3", "--title", "X", "--owner", "a", "--ai-act", "nope"],
            "ai_act 'nope'",
        ),
        (["usecase", "add", "--key", "x-4", "--title", "X"], "owner is required"),
        (["usecase", "edit", "hr-helpdesk", "--set", "title"], "--set 'title' is not FIELD=VALUE"),
        (["usecase", "show", "no-such-case"], "no use case 'no-such-case'"),
        (["usecase", "assign", "hr-helpdesk", "--role", "wizard", "--person", "x"], "role 'wizard'"),
        (["gate", "signoff", "hr-helpdesk", "nonsense"], "no checkpoint 'nonsense'"),
        (["gate", "deliverable", "hr-helpdesk", "api_integrations", "--status", "done"], "needs a link"),
        (["gate", "deliverable", "hr-helpdesk", "value_model", "--status", "done", "--link", "x"], "derived"),
        (["gate", "advance", "hr-helpdesk", "--justification", "too short"], "at least 20 characters"),
        (
            ["requirement", "add", "hr-helpdesk", "--kind", "speed", "--title", "t", "--target", "x"],
            "kind 'speed'",
        ),
        (
            [*OPS, "--value", "99.8", "--start", "2025-05-01", "--end", "2025-05-31", "--source", "m"],
            "not a share",
        ),
        (
            [*OPS, "--value", "0.9", "--start", "2025-05-xx", "--end", "2025-05-31", "--source", "m"],
            "start '2025-05-xx' is not a date",
        ),
        (["review", "complete", "hr-helpdesk", "day45"], "kind 'day45'"),
        (["training", "import", "missing.csv"], "cannot read the file"),
    ],
)
def test_bad_input_exits_2_naming_the_field(home: Path, args: list[str], message: str) -> None:
    code, out, err = run(home, *args)
    assert code == 2, (out, err)
    assert message in err and "Fix:" in err


def test_bad_files_exit_2(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"key": "x", ', encoding="utf-8")
    code, _, err = run(home, "usecase", "add", "--from-file", str(broken))
    assert code == 2 and "not valid JSON" in err and str(broken) in err
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    code, _, err = run(home, "usecase", "add", "--from-file", str(listed))
    assert code == 2 and "one object" in err
    option = tmp_path / "option.json"
    option.write_text(json.dumps({"name": "B", "scores": {"apis": 7}}), encoding="utf-8")
    code, _, err = run(home, "tech", "add", "hr-helpdesk", "--from-file", str(option))
    assert code == 2 and "apis score 7" in err


def test_yaml_files_or_a_clear_message(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text("key: kb-search\ntitle: KB search\nowner: carol\n", encoding="utf-8")
    code, out, err = run(home, "usecase", "add", "--from-file", str(path))
    try:
        import yaml  # noqa: F401
    except ImportError:
        assert code == 2 and "PyYAML" in err and "JSON" in err
    else:
        assert code == 0 and "kb-search" in out


def test_blocked_gate_exits_1_and_an_override_is_in_the_history(home: Path, tmp_path: Path) -> None:
    add(home, tmp_path, {**HELPDESK, "key": "blocked-case"})
    code, out, _ = run(home, "gate", "check", "blocked-case")
    assert code == 1 and "blocked" in out and "PENDING" in out and "Business case approved" in out
    decision = run_json(home, "gate", "check", "blocked-case", code=1)
    assert decision["passed"] is False and "business_case_approved" in decision["blocking"]

    code, out, err = run(home, "gate", "advance", "blocked-case")
    assert code == 1
    assert "Business case approved" in out and "Phase 1 deliverables complete" in out
    assert "blocked" in err and "justification" in err
    blocked = run_json(home, "gate", "advance", "blocked-case", code=1)
    assert blocked["passed"] is False and blocked["blocking"]
    assert run_json(home, "gate", "history", "blocked-case")["history"] == []

    code, out, err = run(home, "gate", "advance", "blocked-case", "--justification", JUSTIFY)
    assert code == 0, err
    assert "moved from phase 1 to 2" in out and "Overridden" in out and JUSTIFY in out
    history = run_json(home, "gate", "history", "blocked-case")["history"]
    assert len(history) == 1
    assert history[0]["overridden"] is True and history[0]["justification"] == JUSTIFY
    assert (history[0]["from_phase"], history[0]["to_phase"]) == (1, 2)
    code, out, _ = run(home, "gate", "history", "blocked-case")
    assert code == 0 and "overridden" in out

    code, out, err = run(home, "gate", "send-back", "blocked-case", "--justification", JUSTIFY)
    assert code == 0 and "moved from phase 2 to 1" in out, err
    assert run_json(home, "usecase", "show", "blocked-case")["use_case"]["phase"] == 1


def test_complete_evidence_passes_the_gate(home: Path, tmp_path: Path) -> None:
    answers = {
        "readiness": dict.fromkeys(sorted(READINESS_KEYS), 3),
        "feasibility": dict.fromkeys(sorted(FEASIBILITY_KEYS), 3),
    }
    add(home, tmp_path, {**HELPDESK, **answers, "key": "ready-case"})
    for role in PROGRAM_ROLES:
        code, _, err = run(home, "usecase", "assign", "ready-case", "--role", role, "--person", f"{role}-1")
        assert code == 0, err
    people = run_json(home, "usecase", "stakeholders", "ready-case")
    assert not any(row["unstaffed"] for row in people["map"])
    assert people["assigned"]["security"] == ["security-1"]
    code, out, _ = run(home, "usecase", "stakeholders", "ready-case")
    assert code == 0 and "security-1" in out

    code, out, _ = run(home, "gate", "check", "ready-case")
    assert code == 1 and "Business case approved" in out
    code, out, err = run(home, "gate", "signoff", "ready-case", "business_case_approved", "--note", "board")
    assert code == 0 and "Signed off business_case_approved" in out, err
    code, out, _ = run(home, "gate", "check", "ready-case")
    assert code == 0 and "all 4 checks pass" in out
    moved = run_json(home, "gate", "advance", "ready-case")
    assert moved["passed"] is True and moved["overridden"] is False and moved["to_phase"] == 2


def test_technology_risks_requirements_and_operations(home: Path, tmp_path: Path) -> None:
    scores = dict.fromkeys(
        ("apis", "data_controls", "explainability", "latency", "security", "interoperability"), 4
    )
    options = [
        {
            "name": "VendorA",
            "scores": {**scores, "exportability": 3, "cost": 3},
            "cost": {"licences_per_year": 12000},
        },
        {"name": "InHouse", "kind": "architecture", "scores": {**scores, "exportability": 5, "cost": 2}},
    ]
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options), encoding="utf-8")
    code, out, err = run(home, "tech", "add", "hr-helpdesk", "--from-file", str(path))
    assert code == 0 and "Saved 2 option(s)" in out, err
    code, out, _ = run(home, "tech", "select", "hr-helpdesk", "VendorA")
    assert code == 0 and "running cost now 12k" in out
    listed = run_json(home, "tech", "list", "hr-helpdesk")["options"]
    assert {o["name"]: o["selected"] for o in listed} == {"VendorA": True, "InHouse": False}
    code, _, err = run(home, "tech", "select", "hr-helpdesk", "Nope")
    assert code == 2 and "no option 'Nope'" in err

    register = run_json(home, "risk", "list", "hr-helpdesk")
    assert {r["key"] for r in register["risks"]} >= {"model-drift", "privacy-breach"}
    risk = ["risk", "set", "hr-helpdesk", "--key", "model-drift"]
    saved = run_json(home, *risk, "--residual-likelihood", "1", "--status", "mitigating")
    assert saved["residual_likelihood"] == 1 and saved["status"] == "mitigating"
    code, _, err = run(home, "risk", "set", "hr-helpdesk", "--key", "model-drift", "--residual-impact", "9")
    assert code == 2 and "residual_impact" in err

    code, out, err = run(
        home,
        "requirement",
        "add",
        "hr-helpdesk",
        "--kind",
        "latency",
        "--title",
        "Answers fast",
        "--target",
        "p95 < 2 s",
        "--measured",
        "p95 1.4 s",
        "--met",
    )
    assert code == 0 and "met" in out, err
    code, _, err = run(
        home,
        "requirement",
        "add",
        "hr-helpdesk",
        "--kind",
        "security",
        "--title",
        "SSO",
        "--target",
        "SSO",
        "--met",
    )
    assert code == 2 and "measured" in err
    period = ["--start", "2025-05-01", "--end", "2025-05-31", "--source", "monitor"]
    code, out, err = run(home, *OPS, "--value", "0.998", *period)
    assert code == 0 and "uptime 0.998" in out, err
    page = run_json(home, "usecase", "show", "hr-helpdesk")
    assert page["requirements"][0]["met"] is True and page["ops_figures"][0]["value"] == 0.998


def test_reviews_roi_and_playbook(home: Path, tmp_path: Path) -> None:
    code, out, err = run(home, "review", "golive", "hr-helpdesk", "2025-05-01")
    assert code == 0 and "day30 2025-05-31" in out, err
    code, out, _ = run(home, "review", "complete", "hr-helpdesk", "day30", "--actions", "add KPI targets")
    assert code == 0 and "insufficient_data" in out
    reviews = run_json(home, "review", "list", "hr-helpdesk")["reviews"]
    assert (reviews[0]["kind"], reviews[0]["outcome"]) == ("day30", "insufficient_data")
    assert reviews[0]["actions"] == "add KPI targets"

    program = run_json(home, "roi")
    assert {"use_cases", "program", "growing", "sentence"} <= set(program)
    one = run_json(home, "roi", "hr-helpdesk")
    assert one["use_case"] == "hr-helpdesk" and one["points"] == []
    code, out, _ = run(home, "roi")
    assert code == 0 and "Program ROI" in out

    code, out, _ = run(home, "playbook", "hr-helpdesk")
    assert code == 0 and out.startswith("# Deployment playbook: HR helpdesk assistant (hr-helpdesk)")
    target = tmp_path / "playbook.html"
    code, out, _ = run(home, "playbook", "hr-helpdesk", "--format", "html", "--output", str(target))
    text = target.read_text(encoding="utf-8")
    assert code == 0 and str(target) in out
    assert text.startswith("<!doctype html>") and "<h2>1. Business case</h2>" in text


def test_training_import_quarantines_bad_rows(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "learning.csv"
    path.write_text(
        "record_id,person_id,course,enrolled_on,completed_on,score,pass_mark,use_case\n"
        "t1,p001,ai-basics,2025-03-01,2025-03-10,80,70,hr-helpdesk\n"
        "t2,p002,ai-basics,2025-03-01,,,,hr-helpdesk\n"
        "t3,p003,ai-basics,2025-03-xx,,,,hr-helpdesk\n",
        encoding="utf-8",
    )
    code, out, _ = run(home, "training", "import", str(path))
    assert code == 3
    assert "enrolled_on" in out and "2025-03-xx" in out and "quarantine" in out
    quarantined = sorted((home / "quarantine").glob("training_records-*.jsonl"))
    assert len(quarantined) == 1
    lines = [json.loads(line) for line in quarantined[0].read_text(encoding="utf-8").splitlines()]
    assert [(q["row"], q["column"], q["record"]["record_id"]) for q in lines] == [(3, "enrolled_on", "t3")]

    report = run_json(home, "training", "import", str(path), code=3)
    assert (report["rows_read"], report["loaded"], report["duplicates"], report["quarantined"]) == (
        3,
        0,
        2,
        1,
    )
    assert report["problems"][0]["row"] == 3 and report["quarantine_file"]

    good = tmp_path / "good.csv"
    good.write_text(
        "record_id,person_id,course,enrolled_on\nt4,p004,ai-basics,2025-03-01\n", encoding="utf-8"
    )
    report = run_json(home, "training", "import", str(good))
    assert report["loaded"] == 1 and report["quarantine_file"] is None
    training = run_json(home, "usecase", "show", "hr-helpdesk")["training"]["courses"]
    # t4 names no use case: a general course counts for every use case
    assert training == [{"course": "ai-basics", "enrolled": 3, "completed": 1, "assessed": 1, "passed": 1}]
