"""Incidents: the status flow, the retrospective, the reporting deadline and MTTR."""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.incidents import (
    TRANSITIONS,
    Incident,
    IncidentKind,
    IncidentStatus,
    Severity,
    check_transition,
    mttr,
    new_incident,
    retrospective_from_dict,
)
from paceline.errors import Conflict, ValidationError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RETRO = {
    "what_happened": "F1 fell to 0.52 after the March tariff change",
    "impact": "412 claims routed to the wrong queue over two days",
    "root_cause": "The tariff codes were new to the model",
    "actions": [{"text": "Retrain with March data", "owner": "ml-lead", "due": "2026-03-20"}],
}


def incident(**changes: object) -> Incident:
    base = Incident(
        id=1,
        title="F1 drop on claims",
        severity=Severity.SEV3,
        kind=IncidentKind.PERFORMANCE_DEGRADATION,
        status=IncidentStatus.OPEN,
        detected_at=NOW - timedelta(hours=6),
        opened_at=NOW - timedelta(hours=5),
        opened_by="user:ada",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_new_incident_validates_and_defaults() -> None:
    fields = new_incident({"title": " Drift ", "severity": "sev2", "serious_incident": True}, NOW)
    assert fields.title == "Drift" and fields.severity is Severity.SEV2 and fields.serious_incident
    assert fields.kind is IncidentKind.MALFUNCTION and fields.detected_at is None
    at = new_incident({"title": "x", "detected_at": "2026-03-01T08:00:00"}, NOW).detected_at
    assert at == datetime(2026, 3, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"title": ""}, "title", "title is empty"),
        ({"title": "x" * 201}, "title", "201 characters"),
        ({"title": "x", "severity": "p1"}, "severity", "sev1, sev2, sev3, sev4"),
        ({"title": "x", "kind": "outage"}, "kind", "not one of"),
        ({"title": "x", "serious_incident": "yes"}, "serious_incident", "not true or false"),
        ({"title": "x", "runbook_url": "wiki/page"}, "runbook_url", "not an http"),
        ({"title": "x", "detected_at": "yesterday"}, "detected_at", "not a time"),
        ({"title": "x", "detected_at": "2027-01-01T00:00:00+00:00"}, "detected_at", "in the future"),
        ({"title": "x", "priority": 1}, "priority", "unknown field"),
    ],
)
def test_bad_incident_fields_are_named(doc: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words) as caught:
        new_incident(doc, NOW)
    assert caught.value.details["field"] == field


def test_the_status_flow_allows_only_its_transitions() -> None:
    assert TRANSITIONS[IncidentStatus.CLOSED] == frozenset()
    check_transition(incident(), IncidentStatus.INVESTIGATING)
    with pytest.raises(Conflict, match="open; it cannot become closed") as caught:
        check_transition(incident(), IncidentStatus.CLOSED)
    assert "investigating, mitigated, resolved" in caught.value.details["fix"]
    with pytest.raises(Conflict, match="cannot become investigating") as caught:
        check_transition(incident(status=IncidentStatus.CLOSED), IncidentStatus.INVESTIGATING)
    assert caught.value.details["fix"] == "next statuses: none: it is closed"
    resolved = incident(status=IncidentStatus.RESOLVED, resolution="rolled back")
    check_transition(resolved, IncidentStatus.INVESTIGATING)  # reopened when the fix did not hold


def test_resolving_needs_a_resolution() -> None:
    with pytest.raises(ValidationError, match="needs a resolution"):
        check_transition(incident(), IncidentStatus.RESOLVED)
    check_transition(incident(), IncidentStatus.RESOLVED, "rolled back to v3")


def test_severe_or_serious_incidents_close_only_after_a_retrospective() -> None:
    resolved = incident(status=IncidentStatus.RESOLVED, resolution="fixed")
    check_transition(resolved, IncidentStatus.CLOSED)  # sev3: optional
    for severe in (replace(resolved, severity=Severity.SEV1), replace(resolved, serious_incident=True)):
        with pytest.raises(Conflict, match="after its retrospective"):
            check_transition(severe, IncidentStatus.CLOSED)
        check_transition(replace(severe, retrospective=retrospective_from_dict(RETRO)), IncidentStatus.CLOSED)


def test_a_retrospective_needs_every_part_and_owned_actions() -> None:
    retro = retrospective_from_dict(RETRO)
    assert retro.actions[0].owner == "ml-lead" and retro.actions[0].due == date(2026, 3, 20)
    assert retro.to_dict()["actions"][0]["due"] == "2026-03-20"
    for missing, words in (("root_cause", "root_cause is empty"), ("actions", "at least one action")):
        with pytest.raises(ValidationError, match=words):
            retrospective_from_dict({k: v for k, v in RETRO.items() if k != missing})
    no_owner = RETRO | {"actions": [{"text": "retrain"}]}
    with pytest.raises(ValidationError, match=r"actions\[0\].owner is empty"):
        retrospective_from_dict(no_owner)
    bad_due = RETRO | {"actions": [{"text": "retrain", "owner": "x", "due": "soon"}]}
    with pytest.raises(ValidationError, match="not a date"):
        retrospective_from_dict(bad_due)


def test_a_serious_incident_has_its_reporting_deadline() -> None:
    assert incident().report_due is None
    assert incident(serious_incident=True).report_due == date(2026, 3, 17)  # 15 days after detection


def test_mttr_runs_from_detection_to_resolution() -> None:
    inc = incident(resolved_at=NOW)
    assert inc.mttr_seconds() == 6 * 3600
    assert inc.to_dict()["mttr_hours"] == 6
    assert incident().mttr_seconds() is None


def test_mttr_summary_counts_incidents_resolved_in_the_period() -> None:
    start, end = NOW - timedelta(days=7), NOW
    incidents = [
        incident(
            id=1, resolved_at=NOW - timedelta(days=1)
        ),  # resolution recorded before the detection time: counts as 0
        incident(
            id=2,
            severity=Severity.SEV1,
            detected_at=NOW - timedelta(days=3),
            resolved_at=NOW - timedelta(days=2),
        ),
        incident(id=3, detected_at=NOW - timedelta(days=4), resolved_at=NOW - timedelta(days=3, hours=12)),
        incident(id=4, detected_at=NOW - timedelta(days=30), resolved_at=NOW - timedelta(days=20)),  # before
        incident(id=5),  # unresolved
    ]
    summary = mttr(incidents, start, end)
    hours = [0.0, 24.0, 12.0]  # incident 1 was resolved before its detection time: clamped to 0
    assert summary.resolved == 3
    assert summary.mean_hours == pytest.approx(statistics.fmean(hours))
    assert summary.median_hours == pytest.approx(12.0)
    assert summary.by_severity["sev1"] == {"resolved": 1, "mean_hours": 24.0, "median_hours": 24.0}
    assert summary.by_severity["sev3"]["resolved"] == 2
    empty = mttr([], start, end)
    assert empty.resolved == 0 and empty.mean_hours is None
    with pytest.raises(ValidationError, match="ends before it starts"):
        mttr([], end, start)


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=20))
def test_mttr_mean_matches_the_plain_mean(minutes: list[int]) -> None:
    incidents = [
        incident(id=i, detected_at=NOW - timedelta(minutes=m + 1), resolved_at=NOW - timedelta(minutes=1))
        for i, m in enumerate(minutes)
    ]
    summary = mttr(incidents, NOW - timedelta(days=30), NOW)
    assert summary.resolved == len(minutes)
    assert summary.mean_hours == pytest.approx(statistics.fmean(m / 60 for m in minutes))
