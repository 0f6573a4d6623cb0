"""The compliance & risk score: golden numbers worked by hand, red rules, and the ranked fixes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain.compliance_score import (
    ControlFact,
    FindingFact,
    IncidentFact,
    RiskFact,
    ScoreInputs,
    Thresholds,
    fixes,
    score,
)

DAY = date(2026, 3, 2)


def inputs() -> ScoreInputs:
    controls = tuple(ControlFact(f"f/C{i}", f"control {i}", met=i < 3) for i in range(4))
    findings = (
        FindingFact(1, "No AI policy", "high", DAY - timedelta(days=5), due=DAY + timedelta(days=5)),
        FindingFact(2, "Old training", "medium", DAY - timedelta(days=40), due=DAY - timedelta(days=1)),
        FindingFact(
            3, "Closed one", "critical", DAY - timedelta(days=90), closed_on=DAY - timedelta(days=60)
        ),
    )
    incidents = (
        IncidentFact("i1", "Outage", "critical", DAY - timedelta(days=20), DAY - timedelta(days=18)),
        IncidentFact("i2", "Typo", "low", DAY - timedelta(days=3)),
        IncidentFact("i3", "Ancient", "high", DAY - timedelta(days=200), DAY - timedelta(days=199)),
    )
    risks = (
        RiskFact("r1", "Bias", 12),
        RiskFact("r2", "Leak", 4),
        RiskFact("r3", "Drift", 6),
        RiskFact("r4", "Gone", 25, "closed"),
    )
    return ScoreInputs(DAY, controls, findings, incidents, risks)


def test_golden_score_worked_by_hand() -> None:
    s = score(inputs())
    parts = {c.key: c.value for c in s.components}
    assert parts["controls"] == pytest.approx(0.75)  # 3 of 4
    assert parts["findings"] == pytest.approx(1 - (5 + 2 * 2) / 20)  # high 5, medium overdue 2x2
    assert parts["incidents"] == pytest.approx(1 - (10 * 0.5 + 0.5) / 20)  # critical late, low open in target
    assert parts["risks"] == pytest.approx(1 - (0.5 + 0 + 0.15) / 3)  # the closed risk does not count
    assert s.value == pytest.approx(30 + 11 + 14.5 + 20 * (1 - 0.65 / 3))
    assert s.value == pytest.approx(71.1667, abs=1e-4)
    assert s.status == "amber" and s.red_reasons == ()


def test_fixes_are_ranked_by_score_gain() -> None:
    ranked = fixes(inputs())
    assert [f["kind"] + ":" + f["ref"] for f in ranked] == [
        "control:f/C3",
        "finding:1",
        "finding:2",
        "risk:r1",
        "risk:r3",
        "incident:i2",
    ]
    assert [f["gain"] for f in ranked] == [10.0, 5.0, 4.0, 3.33, 1.0, 0.38]


def test_an_open_critical_finding_turns_it_red_whatever_the_number() -> None:
    base = inputs()
    bad = replace(base, findings=(*base.findings, FindingFact(9, "Logs deleted", "critical", DAY)))
    s = score(bad)
    assert s.status == "red" and s.red_reasons == ("open critical audit finding: Logs deleted",)
    assert s.fixes[0]["ref"] == "9" or any(f["ref"] == "9" and f["clears_red"] for f in s.fixes)


def test_a_critical_residual_risk_and_an_open_critical_incident_turn_it_red() -> None:
    base = inputs()
    s = score(replace(base, risks=(RiskFact("x", "Harm", 15),)))
    assert s.status == "red" and "residual score of 15" in s.red_reasons[0]
    s = score(replace(base, incidents=(IncidentFact("i9", "Down", "critical", DAY),)))
    assert s.red_reasons == ("open critical incident: Down",)


def test_thresholds_decide_the_colour() -> None:
    s = score(inputs(), Thresholds(red_below=75, amber_below=90))
    assert s.status == "red" and s.red_reasons == ()
    assert score(inputs(), Thresholds(red_below=50, amber_below=70)).status == "green"


def test_components_without_data_are_left_out_not_counted_perfect() -> None:
    only_controls = ScoreInputs(DAY, (ControlFact("a", "a", True), ControlFact("b", "b", False)))
    s = score(only_controls)
    assert s.value == pytest.approx(
        100 * (40 * 0.5 + 20 * 1.0) / 60
    )  # controls and findings; no incident source
    assert next(c for c in s.components if c.key == "incidents").value is None
    assert score(ScoreInputs(DAY)).value is None and score(ScoreInputs(DAY)).status == "none"


def test_findings_and_incidents_as_of_a_day() -> None:
    f = FindingFact(1, "x", "high", DAY, due=DAY + timedelta(days=2), closed_on=DAY + timedelta(days=5))
    assert (
        not f.open_on(DAY - timedelta(days=1)) and f.open_on(DAY) and not f.open_on(DAY + timedelta(days=5))
    )
    assert f.points(DAY) == 5 and f.points(DAY + timedelta(days=3)) == 10
    i = IncidentFact("i", "x", "medium", DAY, DAY + timedelta(days=10))
    assert i.points(DAY + timedelta(days=8)) == 4  # open past its 7-day target: doubled
    assert i.points(DAY + timedelta(days=11)) == 1  # resolved late: half
    assert not i.counted_on(DAY + timedelta(days=101))


severities = st.sampled_from(["low", "medium", "high", "critical"])


@given(
    st.lists(st.booleans(), max_size=30),
    st.lists(severities, max_size=10),
    st.lists(st.integers(1, 25), max_size=10),
)
def test_the_score_stays_between_0_and_100_and_a_fix_never_lowers_it(
    met: list[bool], sev: list[str], residuals: list[int]
) -> None:
    data = ScoreInputs(
        DAY,
        tuple(ControlFact(f"c{i}", "c", m) for i, m in enumerate(met)),
        tuple(FindingFact(i, "f", s, DAY) for i, s in enumerate(sev)),
        None,
        tuple(RiskFact(f"r{i}", "r", r) for i, r in enumerate(residuals)),
    )
    s = score(data)
    if s.value is not None:
        assert 0 <= s.value <= 100
        assert all(f["gain"] >= 0 for f in s.fixes)
