"""The lifecycle pages through the test client: portfolio, intake form, use-case page, its forms, playbook."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from paceline.bootstrap import Workspace
from paceline.services.access import operator
from tests.web.test_lifecycle_api import JUSTIFICATION, OPTION, USE_CASE
from tests.web.web_helpers import TestClient, csrf_from

PEOPLE = {"pm": "program-manager", "bo": "business-owner", "sec": "security", "ml": "ml-engineer", "ada": ""}
PASSWORD = "a long enough password"
PAGE = "/use-cases/claims-triage"


@pytest.fixture
def site(client: TestClient, ws: Workspace) -> Any:
    """``site(login)``: the client logged in as *login*; the use case of the API tests exists."""
    with ws.access() as access:
        for login, role in PEOPLE.items():
            if role:
                access.add_user(operator(), login, role, password=PASSWORD)
    with ws.lifecycle(operator()) as lc:
        lc.create(operator(), USE_CASE)

    def as_user(login: str) -> TestClient:
        from tests.web.web_helpers import USERS

        client.cookies.clear()
        form = client.get("/login")
        password = USERS[login][1] if login in USERS else PASSWORD
        data = {"login": login, "password": password, "csrf_token": csrf_from(form.text), "next": "/"}
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        return client

    return as_user


def post(client: TestClient, path: str, data: dict[str, Any], page: str = PAGE) -> Any:
    """POST a form of *page* with its CSRF token, without following the redirect."""
    token = csrf_from(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_the_portfolio_ranks_and_charts(site: Any) -> None:
    html = site("rita").get("/portfolio").text
    assert '<a href="/portfolio" aria-current="page">Portfolio</a>' in html
    assert '<a href="/use-cases/claims-triage">Claims triage</a>' in html
    assert 'limited <span class="pill">(Art. 50(1))</span>' in html and "Add a use case" not in html
    spec = json.loads(
        re.search(r'<script type="application/json" id="portfolio-chart">(.*?)</script>', html, re.S)[1]
    )
    point = spec["data"][0]
    assert point["text"] == ["claims-triage"] and point["customdata"] == ["/use-cases/claims-triage"]
    assert point["name"] == "medium risk" and point["y"][0] > 0
    assert "Add a use case" in site("bo").get("/portfolio").text


def intake(**changes: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "intake-mail",
        "title": "Mail intake",
        "owner": "bo",
        "business_process": "mail",
        "people_affected": "12",
        "data_categories": ["personal", "customer"],
        "value.volume_per_year": "5000",
        "value.minutes_per_task": "6",
        "value.cost_per_hour": "40",
        "value.uplift_expected": "0.2",
        "value.uplift_high": "0.3",
        "readiness.data_available": "3",
        "readiness.quality_measured": "",
        "feasibility.users_involved": "4",
        "risk_likelihood": "2",
        "risk_impact": "4",
        "ai_act": ["interacts_with_people", "generates_synthetic_content"],
    }
    return data | changes


def test_the_intake_form_adds_a_use_case_and_names_bad_fields(site: Any, ws: Workspace) -> None:
    rita = site("rita")
    assert rita.get("/portfolio/new").status_code == 403
    bo = site("bo")
    form = bo.get("/portfolio/new").text
    assert 'name="readiness.data_available"' in form and 'name="ai_act" value="social_scoring"' in form
    bad = post(bo, "/portfolio/new", intake(**{"value.uplift_expected": "1.5"}), "/portfolio/new")
    assert bad.status_code == 422 and "(field: value.uplift_expected)" in bad.text
    assert re.search(r'name="value.uplift_expected"[^>]*aria-invalid="true"', bad.text)
    assert 'value="Mail intake"' in bad.text and 'value="generates_synthetic_content" checked' in bad.text
    people = post(bo, "/portfolio/new", intake(people_affected="many"), "/portfolio/new")
    assert people.status_code == 422 and "(field: people_affected)" in people.text
    theirs = post(bo, "/portfolio/new", intake(owner="someone-else"), "/portfolio/new")
    assert theirs.status_code == 403 and "may not edit" in theirs.text
    forged = bo.post("/portfolio/new", data={**intake(), "csrf_token": "forged"})
    assert forged.status_code == 403
    good = post(bo, "/portfolio/new", intake(), "/portfolio/new")
    assert good.status_code == 303 and good.headers["location"] == "/use-cases/intake-mail?done=created"
    assert "The use case is in the inventory." in bo.get(good.headers["location"]).text
    with ws.lifecycle(readonly=True) as lc:
        uc = lc.get(operator(), "intake-mail")
    assert uc.readiness == {"data_available": 3} and uc.risk_impact == 4 and uc.value.volume_per_year == 5000
    assert [c.value for c in uc.data_categories] == ["personal", "customer"] and len(uc.ai_act) == 2
    assert post(bo, "/portfolio/new", intake(), "/portfolio/new").status_code == 409


def test_the_use_case_page_shows_its_records(site: Any) -> None:
    html = site("rita").get(PAGE).text
    assert re.search(r'<li class="current" aria-current="step">1\. Assess needs', html)
    for anchor in (
        "gate",
        "history",
        "checkpoints",
        "governance",
        "deliverables",
        "phase-1",
        "phase-6",
        "business-case",
        "ai-act",
        "stakeholders",
        "requirements",
        "technology",
        "risks",
        "pilots",
        "training",
        "reviews",
        "operations",
        "roi",
    ):
        assert f'id="{anchor}"' in html, anchor
    assert "Gate to phase 2" in html and "Business case approved (approval)" in html
    assert "Rule <strong>Art. 50(1)</strong>" in html and "Tell people they are interacting" in html
    assert '<a href="/kpis?use_case=claims-triage">' in html and "/use-cases/claims-triage/playbook" in html
    assert "Pass the gate" not in html and "Override the gate" not in html and "Sign off" not in html
    assert "Poor data quality" in html and "unstaffed" in html
    assert site("rita").get("/use-cases/no-such").status_code == 404


def test_a_blocked_gate_lists_its_failing_checks(site: Any) -> None:
    bo = site("bo")
    page = bo.get(PAGE).text
    assert "Pass the gate" in page and "Override the gate" not in page
    blocked = post(bo, f"{PAGE}/advance", {})
    assert blocked.status_code == 409
    assert (
        'id="failing-checks"' in blocked.text
        and 'id="check-business_case_approved" class="blocking"' in blocked.text
    )
    assert "blocked" in blocked.text and 'ai_act_not_prohibited" class="blocking"' not in blocked.text
    assert "Override the gate" in site("pm").get(PAGE).text


def test_an_override_needs_a_justification_and_is_in_the_history(site: Any) -> None:
    pm = site("pm")
    short = post(pm, f"{PAGE}/advance", {"override": "yes", "justification": "because"})
    assert short.status_code == 422 and "(field: justification)" in short.text
    assert re.search(
        r'<textarea id="justification"[^>]*aria-invalid="true"[^>]*>because</textarea>', short.text
    )
    moved = post(pm, f"{PAGE}/advance", {"override": "yes", "justification": JUSTIFICATION})
    assert moved.status_code == 303 and moved.headers["location"] == f"{PAGE}?done=overridden#gate"
    html = pm.get(moved.headers["location"]).text
    assert "The gate was overridden" in html and JUSTIFICATION in html
    assert re.search(r'<li class="current" aria-current="step">2\. Pilot design', html)
    back = post(pm, f"{PAGE}/send-back", {"justification": "The pilot data turned out to be unusable"})
    assert back.status_code == 303 and "went back" in pm.get(back.headers["location"]).text


def test_sign_off_buttons_only_for_the_checkpoint_roles(site: Any) -> None:
    sec = site("sec")
    html = sec.get(PAGE).text
    assert "Sign off Security review" in html and "Sign off Business case approved" not in html
    refused = post(sec, f"{PAGE}/signoffs", {"check": "business_case_approved"})
    assert refused.status_code == 403 and "needs business-owner" in refused.text
    signed = post(sec, f"{PAGE}/signoffs", {"check": "security_review", "note": "pen test passed"})
    assert signed.status_code == 303
    html = sec.get(signed.headers["location"]).text
    assert "Signed off." in html and "pen test passed" in html and "Sign off Security review" not in html
    assert "Sign off Business case approved" in site("bo").get(PAGE).text


def test_the_record_forms(site: Any, ws: Workspace) -> None:
    ml = site("ml")
    no_link = post(ml, f"{PAGE}/deliverables", {"deliverable": "api_integrations", "status": "done"})
    assert no_link.status_code == 422 and re.search(
        r'id="deliverable-link"[^>]*aria-invalid="true"', no_link.text
    )
    ok = post(
        ml,
        f"{PAGE}/deliverables",
        {"deliverable": "api_integrations", "status": "done", "link": "https://wiki/rb"},
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("#deliverables")
    req = {"kind": "latency", "title": "p95", "target": "< 2 s", "measured": "", "met": "yes"}
    assert post(ml, f"{PAGE}/requirements", req).status_code == 422
    assert post(ml, f"{PAGE}/requirements", req | {"measured": "1.4 s"}).status_code == 303
    figure = {"value": "lots", "period_start": "2025-07-01", "period_end": "2025-07-31", "source": "monitor"}
    assert "(field: value)" in post(ml, f"{PAGE}/ops-figures", figure).text
    assert post(ml, f"{PAGE}/ops-figures", figure | {"value": "0.998"}).status_code == 303
    risk = {"risk": "data-quality", "status": "mitigating", "residual_likelihood": "1", "residual_impact": ""}
    assert post(ml, f"{PAGE}/risks", risk).status_code == 303
    assert "(field: risk)" in post(ml, f"{PAGE}/risks", risk | {"risk": "nope"}).text
    with ws.program(operator()) as program:
        program.save_option(operator(), "claims-triage", OPTION)
    assert post(ml, f"{PAGE}/options/select", {"name": "acme"}).status_code == 403
    bo = site("bo")
    assert post(bo, f"{PAGE}/stakeholders", {"role": "security", "person": "sec"}).status_code == 303
    assert post(bo, f"{PAGE}/options/select", {"name": "acme"}).status_code == 303
    assert post(bo, f"{PAGE}/go-live", {"date": "first of july"}).status_code == 422
    assert post(bo, f"{PAGE}/go-live", {"date": "2025-07-01"}).status_code == 303
    assert post(bo, f"{PAGE}/reviews", {"kind": "day30", "actions": "more training"}).status_code == 303
    html = bo.get(PAGE).text
    for text in (
        "https://wiki/rb",
        "1.4 s",
        "99.80%",
        "mitigating",
        "<td>sec</td>",
        "Live since 2025-07-01",
        "more training",
        "insufficient_data",
        'class="status pass">selected',
    ):
        assert text in html, text


def test_the_playbook_as_a_page_and_as_markdown(site: Any) -> None:
    rita = site("rita")
    html = rita.get(f"{PAGE}/playbook").text
    assert (
        "<h1>Deployment playbook: Claims triage (claims-triage)</h1>" in html and "1. Business case" in html
    )
    md = rita.get(f"{PAGE}/playbook?format=md")
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.headers["content-disposition"] == 'attachment; filename="playbook-claims-triage.md"'
    assert md.text.startswith("# Deployment playbook: Claims triage (claims-triage)")
    assert rita.get(f"{PAGE}/playbook?format=pdf").status_code == 422
    assert rita.get("/use-cases/no-such/playbook").status_code == 404
