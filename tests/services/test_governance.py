"""Governance on a real workspace: catalogues, firm imports, evidence from records and uploads,
expiry, findings, management reviews, the score, its trend, the KPI tile and the phase-6 gate."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal, operator

OP = operator()
TODAY = date.today()
FIRM = """
key: acme-ai
title: Acme AI policy
applies: {phase_from: 2}
controls:
  - id: ACME-1
    title: A named owner signs the security review
    evidence: [security_review]
  - id: ACME-2
    title: Policy document on file
    evidence: [document]
    max_age_days: 90
"""


def who(role: Role, use_case: str | None = None) -> Principal:
    return Principal(f"someone-{role.value}", (Grant(role, use_case),))


@pytest.fixture
def ws(sqlite_workspace: Workspace) -> Workspace:
    with sqlite_workspace.lifecycle() as lc:
        lc.create(
            OP,
            {"key": "claims", "title": "Claims", "owner": "bo", "phase": 5, "data_categories": ["personal"]},
        )
        lc.create(OP, {"key": "notes", "title": "Notes", "owner": "bo", "phase": 1})
    return sqlite_workspace


def states(ws: Workspace, key: str, day: date = TODAY) -> dict[str, str]:
    with ws.governance(readonly=True) as g:
        return {s.control.ref: s.state.value for s in g.statuses(OP, key, day)}


def test_catalogues_adopt_idempotently(ws: Workspace) -> None:
    with ws.governance() as g:
        first = g.adopt(OP, "eu-ai-act-deployer")
        again = g.adopt(OP, "eu-ai-act-deployer")
        nist = g.adopt(OP, "nist-ai-rmf")
        iso = g.adopt(OP, "iso-42001")
    assert first["created"] == 8 and again == {**first, "created": 0, "unchanged": 8}
    assert nist["controls"] == 72 and iso["controls"] == 62
    with ws.governance(readonly=True) as g:
        assert [f.key for f in g.frameworks(OP)] == ["eu-ai-act-deployer", "iso-42001", "nist-ai-rmf"]
    with pytest.raises(ValidationError, match="no built-in catalogue 'cobit'"), ws.governance() as g:
        g.adopt(OP, "cobit")


def test_a_firm_imports_its_own_framework_as_yaml_or_json(ws: Workspace) -> None:
    with ws.governance() as g:
        created = g.import_text(OP, FIRM, "acme.yaml")
        same_as_json = g.import_text(OP, json.dumps(__import__("yaml").safe_load(FIRM)), "acme.json")
        changed = g.import_text(OP, FIRM.replace("Policy document on file", "AI policy on file"), "acme.yaml")
    assert (created["created"], same_as_json["unchanged"], changed["updated"]) == (2, 2, 1)
    shorter = FIRM.split("  - id: ACME-2")[0]
    with ws.governance() as g:
        assert g.import_text(OP, shorter, "acme.yaml")["removed"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("key: [unclosed", "not valid YAML or JSON at line 1"),
        (
            "key: acme\ntitle: A\ncontrols:\n  - {id: X, title: Y, evidence: [carrier-pigeon]}",
            "controls\\[0\\].evidence",
        ),
        ("- just\n- a list", "must hold a mapping"),
    ],
)
def test_bad_imports_say_where_and_change_nothing(ws: Workspace, text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message), ws.governance() as g:
        g.import_text(OP, text, "bad.yaml")
    with ws.governance(readonly=True) as g:
        assert g.frameworks(OP) == []


def test_applicability_by_phase_and_evidence_from_a_signoff(ws: Workspace) -> None:
    with ws.governance() as g:
        g.import_text(OP, FIRM)
    assert states(ws, "notes") == {}  # phase 1: the framework applies from phase 2
    assert states(ws, "claims") == {"acme-ai/ACME-1": "open", "acme-ai/ACME-2": "open"}
    with ws.lifecycle() as lc:
        lc.sign_off(OP, "claims", "security_review", "pen test passed")
    assert states(ws, "claims")["acme-ai/ACME-1"] == "met"
    with ws.governance(readonly=True) as g:
        view = g.control_view(OP, "acme-ai/ACME-1", TODAY)
    row = view["use_cases"][0]
    assert row["use_case"] == "claims" and row["evidence"][0]["kind"] == "security_review"
    assert row["evidence"][0]["current"] is True


def test_an_uploaded_document_expires_and_the_control_opens_again(ws: Workspace) -> None:
    with ws.governance() as g:
        g.import_text(OP, FIRM)
        doc = g.upload(
            OP,
            b"%PDF policy",
            "AI policy v2.pdf",
            "AI policy",
            "ciso",
            TODAY - timedelta(days=10),
            use_case="claims",
            control="acme-ai/ACME-2",
            expires=TODAY + timedelta(days=5),
        )
    assert doc["sha256"] == __import__("hashlib").sha256(b"%PDF policy").hexdigest()
    assert doc["filename"] == "AI_policy_v2.pdf" and (ws.home / "evidence" / doc["sha256"]).exists()
    assert states(ws, "claims")["acme-ai/ACME-2"] == "met"
    assert states(ws, "claims", TODAY + timedelta(days=5))["acme-ai/ACME-2"] == "expired"
    with ws.governance(readonly=True) as g:
        _, path = g.document(OP, doc["id"])
        assert path.read_bytes() == b"%PDF policy"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"content": b""}, "file"),
        ({"content": b"x" * 2_000}, "file"),  # above the workspace's limit set below
        ({"expires": TODAY - timedelta(days=30)}, "expires"),
        ({"dated": "02/03/2026"}, "dated"),
        ({"title": " "}, "title"),
    ],
)
def test_bad_uploads_are_refused_by_field(ws: Workspace, kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "content": b"doc",
        "filename": "a.txt",
        "title": "A",
        "owner": "me",
        "dated": TODAY - timedelta(days=1),
    } | kwargs
    with ws.governance() as g:
        g.max_upload = 1_000
        with pytest.raises(ValidationError) as err:
            g.upload(OP, **args)
    assert err.value.details["field"] == field


def test_upload_needs_the_right_and_a_known_use_case_and_control(ws: Workspace) -> None:
    with ws.governance() as g:
        with pytest.raises(PermissionDenied, match=r"evidence\.upload"):
            g.upload(who(Role.AUDITOR), b"x", "a", "A", "me", TODAY)
        with pytest.raises(NotFound):
            g.upload(OP, b"x", "a", "A", "me", TODAY, use_case="nope")
        with pytest.raises(NotFound, match="no control"):
            g.upload(OP, b"x", "a", "A", "me", TODAY, control="acme-ai/NOPE")


def test_findings_lower_the_score_and_closing_them_raises_it(ws: Workspace) -> None:
    with ws.governance() as g:
        g.import_text(OP, FIRM)
    with ws.compliance() as c:
        before = c.score(OP, "claims", TODAY)
    with ws.governance() as g:
        f = g.raise_finding(
            OP,
            {
                "title": "No log review",
                "severity": "critical",
                "owner": "ciso",
                "use_case": "claims",
                "due": (TODAY + timedelta(days=14)).isoformat(),
                "actions": [{"action": "Review logs weekly", "owner": "secops", "due": TODAY.isoformat()}],
            },
        )
    with ws.compliance() as c:
        during = c.score(OP, "claims", TODAY)
    assert during["status"] == "red" and "open critical audit finding: No log review" in during["red_reasons"]
    # controls, findings, incidents (none: 1.0) and the seeded risk register count (40+20+20+20); a
    # critical finding is 10 of the 20 points the findings component allows: the score falls by 10
    assert during["value"] == pytest.approx(before["value"] - 10.0, abs=0.1)
    assert any(x["kind"] == "finding" and x["clears_red"] for x in during["fixes"])
    with ws.governance() as g:
        done = g.update_finding(OP, f["id"], {"done": [0], "closed_on": TODAY.isoformat()})
    assert done["actions"][0]["done_on"] == TODAY.isoformat() and done["closed_on"] == TODAY.isoformat()
    with ws.compliance() as c:
        assert c.score(OP, "claims", TODAY)["value"] == before["value"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"title": "x", "severity": "grave", "owner": "a"}, "severity"),
        ({"title": "x", "severity": "low", "owner": ""}, "owner"),
        ({"title": "x", "severity": "low", "owner": "a", "colour": 1}, "colour"),
        (
            {"title": "x", "severity": "low", "owner": "a", "raised_on": "2026-03-02", "due": "2026-03-01"},
            "due",
        ),
        ({"title": "x", "severity": "low", "owner": "a", "actions": [{"action": "do"}]}, "actions[0].owner"),
    ],
)
def test_bad_findings_name_the_field(ws: Workspace, doc: dict[str, Any], field: str) -> None:
    with ws.governance() as g, pytest.raises(ValidationError) as err:
        g.raise_finding(OP, doc)
    assert err.value.details["field"] == field


def test_a_management_review_is_program_wide_evidence(ws: Workspace) -> None:
    with ws.governance() as g:
        g.adopt(OP, "iso-42001")
        g.record_management_review(
            OP,
            {
                "held_on": TODAY.isoformat(),
                "title": "Q1 AI steering",
                "attendees": ["cio", "ciso"],
                "decisions": "Adopt ISO 42001",
                "actions": [{"action": "Write the policy", "owner": "cio"}],
            },
        )
    assert states(ws, "claims")["iso-42001/9.3"] == "met"
    assert states(ws, "notes")["iso-42001/9.3"] == "met"
    assert states(ws, "claims", TODAY - timedelta(days=1))["iso-42001/9.3"] == "open"


def test_the_auditor_reads_everything_and_changes_nothing(ws: Workspace) -> None:
    auditor = who(Role.AUDITOR)
    with ws.governance() as g:
        g.import_text(OP, FIRM)
        for attempt in (
            lambda: g.import_text(auditor, FIRM),
            lambda: g.raise_finding(auditor, {"title": "x", "severity": "low", "owner": "a"}),
            lambda: g.record_management_review(auditor, {"title": "x"}),
        ):
            with pytest.raises(PermissionDenied, match=r"governance\.manage"):
                attempt()
        assert g.statuses(auditor, "claims", TODAY)
    with ws.compliance() as c:
        assert c.score(auditor, None, TODAY)["value"] is not None


def test_a_use_case_grant_sees_its_own_score_but_not_the_program(ws: Workspace) -> None:
    owner = Principal("bo", (Grant(Role.BUSINESS_OWNER, "claims"),))
    with ws.compliance() as c:
        assert c.score(owner, "claims", TODAY)["use_case"] == "claims"
        with pytest.raises(PermissionDenied, match="own use cases"):
            c.score(owner, None, TODAY)


def test_the_trend_is_recomputed_from_dated_records(ws: Workspace) -> None:
    with ws.governance() as g:
        g.import_text(OP, FIRM)
        g.upload(
            OP,
            b"p",
            "p.pdf",
            "Policy",
            "ciso",
            TODAY - timedelta(days=20),
            use_case="claims",
            control="acme-ai/ACME-2",
        )
    with ws.compliance() as c:
        doc = c.score(OP, "claims", TODAY, trend_weeks=4)
    values = [p["value"] for p in doc["trend"]]
    assert [p["day"] for p in doc["trend"]][-1] == TODAY.isoformat() and len(values) == 5
    assert values[0] == values[1] < values[3] == values[4]  # the upload counts from its date on


def test_kpi_8_tiles_and_the_phase_6_gate(ws: Workspace) -> None:
    with ws.lifecycle() as lc:
        lc.create(OP, {"key": "scaled", "title": "Scaled", "owner": "bo", "phase": 6})
    with ws.governance() as g:
        g.import_text(OP, FIRM)
    tiles = [t for t in ws.overview()["tiles"] if t["framework_kpi"] == 8]
    assert [t["use_case"] for t in tiles] == [None]  # no event data: the overview shows the program only
    assert tiles[0]["key"] == "compliance_score" and len(tiles[0]["series"]) == 13
    scores = ws.compliance_scores(["scaled", "not-in-inventory", None])
    assert set(scores) == {"scaled", None}
    with ws.gates(readonly=True) as gates:
        check = next(r for r in gates.evaluate(OP, "scaled").results if r.rule == "compliance_score")
    assert check.status.value == "fail" and "(red)" in check.reason  # 0 of 2 controls met, no risks
    with ws.lifecycle() as lc:
        lc.sign_off(OP, "scaled", "security_review")
    with ws.governance() as g:
        g.upload(OP, b"p", "p.pdf", "Policy", "ciso", TODAY, use_case="scaled", control="acme-ai/ACME-2")
    with ws.gates(readonly=True) as gates:
        check = next(r for r in gates.evaluate(OP, "scaled").results if r.rule == "compliance_score")
    assert check.status.value == "pass" and "green" in check.reason
    with ws.program(readonly=True) as program:  # the use-case page shows the same gate
        shown = next(
            r for r in program.page(OP, "scaled")["gate"]["checks"] if r["rule"] == "compliance_score"
        )
    assert shown["status"] == "pass" and shown["reason"] == check.reason


def test_incidents_count_in_the_score_and_as_evidence(ws: Workspace) -> None:
    firm = "key: ops\ntitle: Ops\ncontrols:\n  - {id: OPS-1, title: Incidents handled, evidence: [incident]}"
    with ws.governance() as g:
        g.import_text(OP, firm)
    with ws.incidents() as inc:
        opened = inc.open(OP, {"title": "Wrong codes at scale", "severity": "sev1", "use_case": "claims"})
    with ws.compliance() as c:
        doc = c.score(OP, "claims", TODAY)
    assert doc["status"] == "red" and "open critical incident: Wrong codes at scale" in doc["red_reasons"]
    assert next(x for x in doc["components"] if x["key"] == "incidents")["value"] == pytest.approx(0.5)
    assert states(ws, "claims")["ops/OPS-1"] == "open"
    with ws.incidents() as inc:
        inc.resolve(OP, opened["id"], "rolled back to v3")
    with ws.compliance() as c:
        doc = c.score(OP, "claims", TODAY)
    # resolved the same day: within the one-day target, so a quarter of the points
    assert doc["red_reasons"] == []
    incidents = next(x for x in doc["components"] if x["key"] == "incidents")
    assert incidents["value"] == pytest.approx(1 - 2.5 / 20)
    assert states(ws, "claims")["ops/OPS-1"] == "met"


def test_issuing_the_worker_notice_is_evidence_for_art_26_7(ws: Workspace) -> None:
    with ws.lifecycle() as lc:
        lc.update(OP, "claims", {"ai_act": ["worker_monitoring_evaluation"]})
    with ws.governance() as g:
        g.adopt(OP, "eu-ai-act-deployer")
        text = g.notice(OP, "claims").to_markdown()
        with pytest.raises(ValidationError, match="kind 'poster'"):
            g.notice(OP, "claims", "poster")
        with pytest.raises(PermissionDenied, match=r"evidence\.upload"):
            g.issue_notice(who(Role.AUDITOR), "claims")
    assert states(ws, "claims")["eu-ai-act-deployer/Art. 26(7)"] == "open"
    with ws.governance() as g:
        issued = g.issue_notice(OP, "claims")
    assert issued["sha256"] == __import__("hashlib").sha256(text.encode()).hexdigest()
    assert states(ws, "claims")["eu-ai-act-deployer/Art. 26(7)"] == "met"
