"""Enablement through the workspace: catalogue, xAPI imports, privacy of individual records, the matrix,
champions, team goals, frontline sessions, the change log, and the phase-4 gate on these records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.privacy import pseudonymise
from paceline.domain.roles import Grant, Role
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator

OP = operator()
HR = Principal("hr", (Grant(Role.PEOPLE),))
PM = Principal("pm", (Grant(Role.PROGRAM_MANAGER),))
VIEWER = Principal("ana", (Grant(Role.REVIEWER, "uc"),))
OUTSIDER = Principal("bob", (Grant(Role.REVIEWER, "other"),))
UC = "uc"
CATALOGUE = {
    "competencies": [
        {"key": "prompting", "title": "Working with suggestions"},
        {"key": "verification", "title": "Verifying output"},
    ],
    "courses": [
        {
            "key": "basics",
            "title": "Basics",
            "kind": "micro-lesson",
            "minutes": 15,
            "use_case": UC,
            "grants": {"prompting": 1},
            "activity_ids": ["https://lms.example/c/uc-basics"],
        },
        {
            "key": "cert",
            "title": "Certificate",
            "kind": "certification",
            "minutes": 45,
            "use_case": UC,
            "pass_mark": 0.7,
            "grants": {"prompting": 2, "verification": 2},
        },
    ],
    "curricula": [
        {
            "key": "agents",
            "title": "Agents",
            "use_case": UC,
            "role": "agent",
            "path": ["basics", "cert"],
            "targets": {"prompting": 2, "verification": 2},
        },
    ],
}


def xapi(
    person: str, verb: str, course: str, day: str, score: float | None = None, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{person}{verb}{course}{day}")),
        "actor": {"account": {"homePage": "https://lms.example", "name": person}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": f"https://lms.example/c/{course}"},
        "timestamp": f"{day}T10:00:00Z",
    }
    if score is not None:
        doc["result"] = {"score": {"scaled": score}}
    return doc | extra


def history() -> list[dict[str, Any]]:
    """t1: six agents, four certified; t2: six agents, all certified; small: three agents, one certified."""
    out = []
    for i in range(15):
        person = f"e{i}"
        out.append(xapi(person, "registered", "uc-basics", "2025-02-03"))
        out.append(xapi(person, "completed", "uc-basics", "2025-02-05"))
        certified = (i < 6 and i < 4) or 6 <= i < 12 or i == 12
        out.append(
            xapi(person, "passed" if certified else "failed", "cert", "2025-02-20", 0.8 if certified else 0.5)
        )
    return out


def write_people(folder: Path) -> tuple[Path, Path]:
    people, assign = folder / "people.csv", folder / "assignments.csv"
    team = ["t1"] * 6 + ["t2"] * 6 + ["small"] * 3
    people.write_text(
        "person_id,team,role\n" + "".join(f"e{i},{team[i]},agent\n" for i in range(15)), encoding="utf-8"
    )
    assign.write_text(
        "person_id,use_case,cohort,eligible_from,ai_enabled_from\n"
        + "".join(f"e{i},{UC},pilot,2025-01-06,2025-02-03\n" for i in range(15)),
        encoding="utf-8",
    )
    return people, assign


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    """The shared workspace fixture (SQLite, and PostgreSQL under the test services) with the records."""
    for table, path in zip(("people", "assignments"), write_people(tmp_path), strict=True):
        workspace.ingest(table, path)
    with workspace.enablement(HR) as en:
        for section, save in (
            ("competencies", en.save_competency),
            ("courses", en.save_course),
            ("curricula", en.save_curriculum),
        ):
            for item in CATALOGUE[section]:
                save(HR, item)
        report = en.import_xapi(HR, history(), "lms")
    assert report.loaded == 45
    yield workspace


# --- imports ------------------------------------------------------------------------------------
def test_imports_are_idempotent_and_report_every_statement(ws: Workspace) -> None:
    bad_actor = xapi("e1", "completed", "basics", "2025-03-01") | {"actor": {"mbox": "e1@firm.example"}}
    docs = [
        *history()[:3],  # duplicates of the first load
        xapi("e1", "experienced", "basics", "2025-03-01"),  # a verb Paceline does not read
        bad_actor,
        xapi("e1", "completed", "Basics Course!", "2025-03-01"),
        {"id": "x"},
    ]
    with ws.enablement(HR) as en:
        report = en.import_xapi(HR, docs, "lms-again").to_dict()
    assert (
        report["rows_read"]
        == 7
        == report["loaded"] + report["duplicates"] + report["ignored"] + report["quarantined"]
    )
    assert (report["duplicates"], report["ignored"], report["quarantined"]) == (3, 1, 3)
    assert report["ignored_verbs"] == {"experienced": 1}
    actor = next(p for p in report["problems"] if p["column"] == "actor.mbox")
    assert "e1" not in str(actor["value"])  # a raw person id is never echoed
    with ws.enablement(readonly=True) as en:
        imports = en.imports(OP)
    assert [i["loaded"] for i in imports] == [0, 45] and len(imports[1]["digest"]) == 64


def test_a_voiding_statement_withdraws_an_earlier_one(ws: Workspace) -> None:
    target = history()[-1]  # e14 failed the certificate
    void = {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:lms@firm.example"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": target["id"]},
    }
    with ws.enablement(HR) as en:
        assert en.import_xapi(HR, [void], "lms").voided == 1
    with ws.enablement(HR) as en:
        assert en.import_xapi(HR, [void], "lms").duplicates == 1
    with ws.enablement(readonly=True) as en:
        courses = {c["course"]: c for c in en.person_learning(HR, "e14")["courses"]}
    assert "cert" not in courses and courses["basics"]["done"]  # the failed attempt is gone


def test_entering_records_checks_the_course_verb_and_score(ws: Workspace) -> None:
    with ws.enablement(HR) as en:
        doc = en.enter(HR, "e14", "cert", "completed", date(2025, 3, 3), 0.9)
    assert doc["verb"] == "completed" and "person_id" not in doc
    with ws.enablement(readonly=True) as en:
        cert = {c["course"]: c for c in en.person_learning(HR, "e14")["courses"]}["cert"]
    assert cert["passed"] is True and cert["best_score"] == 0.9
    for args, field in (
        (("e1", "nope", "completed", date(2025, 3, 3), None), "course"),
        (("e1", "cert", "finished", date(2025, 3, 3), None), "verb"),
        (("e1", "cert", "completed", date(2025, 3, 3), 2.0), "score"),
        (("", "cert", "completed", date(2025, 3, 3), None), "person"),
    ):
        with ws.enablement(HR) as en, pytest.raises((ValidationError, NotFound)) as err:
            en.enter(HR, *args)
        assert err.value.details["field"] == field
    with ws.enablement(VIEWER) as en, pytest.raises(PermissionDenied):
        en.enter(VIEWER, "e1", "cert", "completed", date(2025, 3, 3))


def test_catalogue_changes_need_the_training_role_and_valid_links(ws: Workspace) -> None:
    with ws.enablement(VIEWER) as en, pytest.raises(PermissionDenied):
        en.save_competency(VIEWER, {"key": "x", "title": "X"})
    with ws.enablement(HR) as en, pytest.raises(ValidationError, match="not a known competency"):
        en.save_course(HR, {"key": "y", "title": "Y", "minutes": 5, "grants": {"unknown": 1}})
    with ws.enablement(readonly=True) as en:
        doc = en.catalogue_doc(VIEWER, UC)
    assert [c["key"] for c in doc["curricula"]] == ["agents"] and len(doc["courses"]) == 2


# --- privacy ------------------------------------------------------------------------------------
def test_individual_records_are_for_the_person_and_hr_only(ws: Workspace) -> None:
    with ws.enablement(readonly=True) as en:
        with pytest.raises(NotFound, match="not linked"):
            en.my_learning(VIEWER)
        with pytest.raises(PermissionDenied, match=r"learning\.read_individual: another person"):
            en.person_learning(PM, "e0")
        assert en.person_learning(HR, "e0")["competencies"][0]["gap"] == 0
    with ws.enablement(HR) as en:
        en.link_learner(HR, "ana", "e4")
    with ws.enablement(readonly=True) as en:
        mine = en.my_learning(VIEWER)
    assert mine["team"] == "t1" and mine["paths"][0]["done_on"] is None  # e4 failed the certificate
    assert {s["competency"]: s["gap"] for s in mine["competencies"]} == {"prompting": 1, "verification": 2}


def test_the_matrix_shows_teams_and_hides_small_groups(ws: Workspace) -> None:
    with ws.enablement(readonly=True) as en:
        doc = en.matrix(VIEWER, UC)
        with pytest.raises(PermissionDenied):
            en.matrix(VIEWER)  # program-wide figures need a global grant
        with pytest.raises(PermissionDenied):
            en.matrix(OUTSIDER, UC)
    cells = {(c["team"], c["competency"]): c for c in doc["cells"]}
    assert cells[("t1", "verification")]["share_meeting"] == pytest.approx(4 / 6)
    assert cells[("t2", "verification")]["mean_gap"] == 0
    assert (
        cells[("small", "verification")]["suppressed"] and cells[("small", "verification")]["meeting"] is None
    )
    paths = {r["team"]: r for r in doc["completions"]}
    assert paths["t1"]["completed"] == 4 and paths["small"]["completed"] is None


# --- the gate -----------------------------------------------------------------------------------
def test_the_phase_4_gate_reads_the_learning_paths(ws: Workspace) -> None:
    with ws.lifecycle(OP) as lc:
        lc.create(OP, {"key": UC, "title": "UC", "owner": "pm", "phase": 4})
    with ws.gates(readonly=True) as gates:
        ev = gates.evidence(OP, UC)
    t = ev.training
    assert t is not None and (t.eligible, t.completed, t.assessed, t.passed) == (15, 11, 15, 11)
    states = {
        k: v.status
        for k, v in ev.deliverables.items()
        if k in ("curriculum", "competency_matrix", "incentives", "champions_network")
    }
    assert states == {
        "curriculum": "done",
        "competency_matrix": "done",
        "incentives": "missing",
        "champions_network": "missing",
    }


# --- champions, goals, sessions, changes ----------------------------------------------------------
def test_champions_cover_teams_and_count_their_sessions(ws: Workspace) -> None:
    with ws.enablement_network(HR) as net:
        first = net.add_champion(
            HR, {"team": "t1", "use_case": UC, "person_id": "e0", "name": "A. Martin", "since": "2025-02-20"}
        )
        with pytest.raises(ValidationError) as err:
            net.add_champion(
                HR, {"team": "nowhere", "use_case": UC, "person_id": "e1", "name": "B", "since": "2025-02-20"}
            )
        assert err.value.details["field"] == "team"
        plan = net.plan_sessions(HR, UC, date(2025, 3, 3), date(2025, 3, 24), champion_id=first["id"])
        assert (plan["cadence"], plan["planned"]) == ("weekly", 4)
        assert (
            net.plan_sessions(HR, UC, date(2025, 3, 3), date(2025, 3, 24))["planned"] == 0
        )  # already planned
        sessions = net.sessions(HR, UC, date(2025, 3, 20))["sessions"]
        net.record_session(
            HR,
            sessions[0]["id"],
            {"held_on": "2025-03-03", "attendees": 7, "feedback": ["the score is hard to read"]},
        )
        with pytest.raises(NotFound):
            net.record_session(HR, 999, {"status": "cancelled"})
    with ws.enablement_network(readonly=True) as net:
        doc = net.champions(VIEWER, UC)
        summary = net.sessions(VIEWER, UC, date(2025, 3, 20))["summary"]
    assert doc["champions"][0]["sessions_held"] == 1 and doc["champions"][0]["name"] == "A. Martin"
    assert doc["coverage"] == {
        "teams": 3,
        "covered": 1,
        "share": pytest.approx(1 / 3),
        "uncovered": ["small", "t2"],
    }
    assert (summary["held"], summary["overdue"], summary["next_on"]) == (1, 2, "2025-03-24")
    with ws.enablement_network(readonly=True) as net:
        rows = [c for c in net.repo.champions(UC)]
    assert rows[0]["person_id"] == pseudonymise(ws.secret, "e0")  # stored pseudonymised


def test_goals_need_a_team_of_at_least_k_people(ws: Workspace) -> None:
    goal = {
        "key": "t1-adoption",
        "team": "t1",
        "use_case": UC,
        "kpi": "adoption_rate",
        "kind": "adoption",
        "target": 0.7,
        "since": "2025-02-01",
        "due": "2025-06-30",
        "incentive": "team offsite",
    }
    with ws.enablement_network(HR) as net:
        net.save_goal(HR, goal)
        with pytest.raises(ValidationError, match="individual target") as err:
            net.save_goal(HR, goal | {"key": "small-adoption", "team": "small"})
        assert err.value.details["field"] == "team"
    with ws.enablement_network(readonly=True) as net:
        goals = net.goals(VIEWER, UC, date(2025, 4, 1))
    assert goals[0]["key"] == "t1-adoption" and goals[0]["open"]
    assert goals[0]["current"] == 0.0 and goals[0]["met"] is False  # assigned, nobody used the tool yet
    with ws.lifecycle(OP) as lc:
        lc.create(OP, {"key": UC, "title": "UC", "owner": "pm", "phase": 4})
    with ws.gates(readonly=True) as gates:
        assert gates.evidence(OP, UC).deliverables["incentives"].status == "done"


def test_the_change_log_lists_workflow_flag_changes_for_everyone(ws: Workspace) -> None:
    ws.runtime.flags.set_kill("claims-triage", True, "user:ml", "wrong routes after the release")
    with ws.enablement_network(readonly=True) as net:
        changes = net.change_log(VIEWER)
        with pytest.raises(ValidationError):
            net.change_log(VIEWER, 0)
    assert changes[0]["kind"] == "workflow" and changes[0]["subject"] == "kill.claims-triage"
    assert changes[0]["reason"] == "wrong routes after the release" and changes[0]["by"] == "user:ml"


def test_the_change_log_reads_the_model_registrys_stage_changes(ws: Workspace) -> None:
    from paceline.services.model_registry import VersionIn

    with ws.lifecycle(OP) as lc:
        lc.create(OP, {"key": UC, "title": "UC", "owner": "pm"})
    lineage = {"files": [{"path": "train.parquet", "sha256": "b" * 64}]}
    with ws.models(OP) as models:
        models.register_model(OP, "uc-router", UC)
        models.register_version(OP, "uc-router", VersionIn("1.0.0", "s3://m/1.joblib", "a" * 64, lineage, {}))
    with ws.enablement_network(readonly=True) as net:
        (change,) = net.change_log(VIEWER)
    assert (change["kind"], change["subject"]) == ("model", "uc-router")
    assert change["what"] == "version 1.0.0: new → candidate (registered)"
