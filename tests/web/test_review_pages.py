"""The review pages through the test client: the queue, claiming, one item and its decision form.

The confidence shows as a band (the number only in a tooltip), with rationale, sources, rule hits and
the payload; a refused decision re-renders the form naming the field; forms are CSRF-checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from paceline.bootstrap import Workspace
from paceline.domain.workflow import CaseContext, Suggestion
from paceline.errors import ValidationError
from paceline.runtime.registry import REGISTRY
from paceline.runtime.reviews import ReviewQueue
from paceline.runtime.worker import Worker
from paceline.services.access import operator
from paceline.web.review_pages import as_text, field_kind, parse_field, safe_href
from tests.runtime.flows import ExpenseCheck
from tests.web.web_helpers import USERS, TestClient, csrf_from

PASSWORD = "a long enough password"
PEOPLE = {"rex": ("reviewer", "claims-triage"), "rosa": ("reviewer", "clinical-documentation")}
BIG = {"amount": 5000, "category": "travel", "description": "flights"}


class SourcedExpense(ExpenseCheck):
    """The expense check with sources, one of them a link that must never be rendered as one."""

    name = "expense-sourced"
    queue = "finance-docs"
    example_payload: ClassVar[dict[str, Any]] = {"amount": 10.0, "category": "gifts"}

    def suggest(self, ctx: CaseContext, features: dict[str, Any], call: Any) -> Suggestion:
        sources = (
            {"label": "Receipt 17", "href": "https://dms.example/receipts/17"},
            {"label": "Bad link", "href": "javascript:alert(1)"},
        )
        return Suggestion(
            {**call.prediction, "amount": features["amount"], "urgent": False},
            0.62,
            ("no category rule for gifts",),
            sources,
        )


@pytest.fixture(autouse=True)
def workflows() -> Iterator[None]:
    REGISTRY.register(ExpenseCheck)
    REGISTRY.register(SourcedExpense)
    yield
    for name in (ExpenseCheck.name, SourcedExpense.name):
        REGISTRY._workflows.pop(name, None)


@pytest.fixture
def site(client: TestClient, ws: Workspace) -> Any:
    """``site(login)``: the client logged in as *login*."""
    with ws.access() as access:
        for login, (role, use_case) in PEOPLE.items():
            access.add_user(operator(), login, role, use_case, password=PASSWORD)

    def as_user(login: str) -> TestClient:
        client.cookies.clear()
        form = client.get("/login")
        password = USERS[login][1] if login in USERS else PASSWORD
        data = {"login": login, "password": password, "csrf_token": csrf_from(form.text), "next": "/"}
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        return client

    return as_user


def waiting(
    ws: Workspace, workflow: str = "expense-check", external_id: str = "big-1", payload: Any = None
) -> int:
    """Start a case that goes to review and run it there; the id of its review item."""
    case, _ = ws.runtime.start(workflow, external_id, payload or BIG, "cli:test")
    Worker(ws.runtime, "test", 1).run(until_idle=True)
    return int(ws.runtime.case(case["id"])["reviews"][0]["id"])


def post(client: TestClient, path: str, data: dict[str, Any], page: str) -> Any:
    token = csrf_from(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def nav(html: str) -> list[str]:
    block = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    return re.findall(r">([^<]+)</a>", block.group(1)) if block else []


def test_reviewers_and_admins_see_reviews_in_the_navigation(site: Any) -> None:
    assert "Reviews" in nav(site("rita").get("/").text)
    assert "Reviews" in nav(site("ada").get("/").text)
    assert "Reviews" in nav(site("rex").get("/").text)
    assert "Reviews" not in nav(site("alan").get("/").text)


def test_the_queue_page_counts_items_with_their_sla(site: Any, ws: Workspace) -> None:
    waiting(ws, external_id="big-1")
    waiting(ws, external_id="big-2")
    html = site("rita").get("/reviews").text
    row = re.search(
        r'<tr><th scope="row"><a href="/reviews\?queue=finance">finance</a></th>(.*?)</tr>', html, re.S
    )
    assert row is not None
    assert re.findall(r'<td class="num">(\d+)</td>', row.group(1)) == ["2", "0", "0", "0"]
    assert '<span class="sla on_track">on track</span>' in row.group(1) and "UTC" in row.group(1)
    assert "Claim next in finance" in row.group(1) and 'id="claim-next"' in html
    assert html.count('<span class="band high" title="Model confidence 0.95">high</span>') == 2
    assert '<script src="/assets/review.js" defer></script>' in html
    auditor = site("alan").get("/reviews")
    assert auditor.status_code == 200 and "#1" in auditor.text and "Claim next" not in auditor.text
    assert "No item waits" in site("rosa").get("/reviews").text


def test_claim_next_opens_the_item_then_says_nothing_is_left(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    client = site("rita")
    claimed = post(client, "/reviews/claim", {"queue": "finance"}, "/reviews")
    assert claimed.status_code == 303 and claimed.headers["location"] == f"/reviews/{item}"
    assert "claimed by you until" in client.get(f"/reviews/{item}").text
    again = post(client, "/reviews/claim", {"queue": ""}, "/reviews")
    assert again.headers["location"] == "/reviews?done=empty"
    assert "Nothing to claim" in client.get("/reviews?done=empty").text
    assert client.post("/reviews/claim", data={"queue": "finance"}).status_code == 403  # no CSRF token
    refused = post(site("rosa"), "/reviews/claim", {"queue": "finance"}, "/reviews")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]


def test_the_item_page_shows_band_rationale_sources_hits_and_payload(site: Any, ws: Workspace) -> None:
    item = waiting(ws, "expense-sourced", "gift-1", {"amount": 40, "category": "gifts"})
    html = site("rita").get(f"/reviews/{item}").text
    assert '<span class="band low" id="confidence-band" title="Model confidence 0.62">low</span>' in html
    assert html.count("0.62") == 1  # the number only in the tooltip
    assert "<li>no category rule for gifts</li>" in html
    assert '<a href="https://dms.example/receipts/17" rel="noopener noreferrer">Receipt 17</a>' in html
    assert "javascript:" not in html and "<li>Bad link</li>" in html
    assert "No rule fired" in html and "<dt>category</dt><dd>gifts</dd>" in html
    assert 'id="case-status">awaiting review<' in html
    # editable fields prefilled with the suggestion, typed by the suggested value
    assert re.search(r'<input type="text" id="output-decision" name="output.decision" value="query"', html)
    assert re.search(
        r'<input type="number" id="output-amount" name="output.amount" step="any" value="40.0"', html
    )
    assert re.search(r'<select id="output-urgent" name="output.urgent"', html)
    for key, label in (("a", "Accept"), ("e", "Edit"), ("o", "Override"), ("r", "Reject"), ("x", "Escalate")):
        assert f'aria-keyshortcuts="{key}"' in html and f"{label} <kbd>{key}</kbd>" in html
    assert 'id="time-spent"' in html and 'name="time_spent_ms"' in html
    assert "<script>" not in html and '<script src="/assets/review.js" defer></script>' in html
    assert "wrong_field" in html and "Thumbs up" in html


def test_the_rule_hit_shows(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    html = site("rex").get(f"/reviews/{item}").text
    assert "<code>amount_limit</code>: amount 5000.0 is over the 1000 limit" in html


def test_a_decision_without_a_reason_re_renders_naming_the_field(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    client = site("rita")
    page = f"/reviews/{item}"
    data = {
        "decision": "reject",
        "comment": "not ours",
        "time_spent_ms": "5000",
        "output.decision": "approve",
    }
    response = post(client, f"{page}/decision", data, page)
    assert response.status_code == 422
    assert "a reason_code is required for reject" in response.text and "(field: reason_code)" in response.text
    assert '<select id="reason_code" name="reason_code" aria-invalid="true">' in response.text
    assert re.search(r'value="reject" aria-keyshortcuts="r"\s+checked', response.text)
    assert ">not ours</textarea>" in response.text and 'value="5000"' in response.text


def test_accept_with_a_changed_field_is_refused(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    page = f"/reviews/{item}"
    response = post(
        site("rita"), f"{page}/decision", {"decision": "accept", "output.decision": "query"}, page
    )
    assert response.status_code == 422 and "(field: output.decision)" in response.text
    assert re.search(r'name="output.decision" value="query"[^>]*aria-invalid="true"', response.text)


def test_a_bad_field_value_is_named(site: Any, ws: Workspace) -> None:
    item = waiting(ws, "expense-sourced", "gift-1", {"amount": 40, "category": "gifts"})
    page = f"/reviews/{item}"
    data = {
        "decision": "edit",
        "reason_code": "wrong_field",
        "output.amount": "forty",
        "output.decision": "query",
    }
    response = post(site("rita"), f"{page}/decision", data, page)
    assert response.status_code == 422 and "(field: output.amount)" in response.text


def test_an_edit_is_recorded_and_moves_the_case_on(site: Any, ws: Workspace) -> None:
    item = waiting(ws, "expense-sourced", "gift-1", {"amount": 40, "category": "gifts"})
    client = site("rex")
    page = f"/reviews/{item}"
    data = {
        "decision": "edit",
        "reason_code": "wrong_field",
        "output.decision": "approve",
        "output.amount": "40",
        "output.urgent": "true",
        "comment": "gift within policy",
        "time_spent_ms": "12345",
    }
    response = post(client, f"{page}/decision", data, page)
    assert response.status_code == 303 and response.headers["location"] == f"{page}?done=decided"
    html = client.get(response.headers["location"]).text
    assert "Your decision is recorded" in html and "<dt>Decision</dt><dd>edit</dd>" in html
    assert 'id="decision-form"' not in html
    decided = ReviewQueue(ws.runtime).get(item)
    assert decided["output"] == {"decision": "approve", "amount": 40.0, "urgent": True}
    assert decided["time_spent_ms"] == 12345 and decided["assignee"] == "rex"
    assert ws.runtime.case(decided["case_id"])["status"] == "running"
    Worker(ws.runtime, "test", 1).run(until_idle=True)
    assert ws.runtime.case(decided["case_id"])["status"] == "completed"


def test_escalate_reports_it(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    page = f"/reviews/{item}"
    response = post(
        site("rita"), f"{page}/decision", {"decision": "escalate", "reason_code": "needs_expert"}, page
    )
    assert response.headers["location"] == f"{page}?done=escalated"
    assert "finance:escalated" in site("rita").get(response.headers["location"]).text


def test_feedback_is_recorded(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    client = site("rita")
    page = f"/reviews/{item}"
    response = post(client, f"{page}/feedback", {"thumbs": "up", "comment": "spot on"}, page)
    assert response.status_code == 303 and response.headers["location"].endswith("done=feedback#feedback")
    assert "Recorded: thumbs up (spot on) by rita." in client.get(page).text
    bad = post(client, f"{page}/feedback", {"thumbs": "sideways"}, page)
    assert bad.status_code == 422 and "(field: thumbs)" in bad.text


def test_read_only_and_other_use_cases(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    page = f"/reviews/{item}"
    auditor = site("alan").get(page)
    assert auditor.status_code == 200 and "You may read this item but not decide it." in auditor.text
    assert 'id="decision-form"' not in auditor.text and "Thumbs up" not in auditor.text
    refused = post(site("alan"), f"{page}/decision", {"decision": "accept"}, page)
    assert refused.status_code == 403 and "review.decide" in refused.text
    assert site("rosa").get(page).status_code == 403
    assert site("rita").get("/reviews/9999").status_code == 404
    assert site("rita").get("/reviews/abc").status_code == 422


def test_someone_elses_lease_hides_the_form(site: Any, ws: Workspace) -> None:
    item = waiting(ws)
    post(site("rex"), "/reviews/claim", {"queue": "finance"}, "/reviews")
    html = site("rita").get(f"/reviews/{item}").text
    assert "rex is working on this item" in html and 'id="decision-form"' not in html


def test_the_script_is_served(client: TestClient) -> None:
    response = client.get("/assets/review.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert "time_spent_ms" in response.text and "requestSubmit" in response.text


@pytest.mark.parametrize(
    ("suggested", "kind", "text", "parsed"),
    [
        (True, "bool", "false", False),
        (3, "int", "4", 4),
        (2.5, "number", "3", 3.0),
        ({"a": 1}, "json", '{"a": 2}', {"a": 2}),
        ("x", "text", "y", "y"),
        (None, "text", "", None),
    ],
)
def test_fields_keep_the_suggested_type(suggested: Any, kind: str, text: str, parsed: Any) -> None:
    assert field_kind(suggested) == kind
    assert parse_field("f", as_text(suggested), suggested) == suggested
    assert parse_field("f", text, suggested) == parsed


@pytest.mark.parametrize(
    ("suggested", "text"),
    [(True, "yes"), (3, "3.5"), (2.5, "x"), (2.5, "nan"), (2.5, "inf"), ([1], "[1"), ([1], "[NaN]")],
)
def test_a_field_that_does_not_parse_is_named(suggested: Any, text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_field("f", text, suggested)
    assert caught.value.details["field"] == "output.f"


def test_only_web_and_site_links_are_links() -> None:
    assert safe_href("https://a.example/x") == "https://a.example/x"
    assert safe_href("/cases/1") == "/cases/1"
    for bad in ("javascript:alert(1)", "//evil.example", "data:text/html,x", None, 3):
        assert safe_href(bad) is None
