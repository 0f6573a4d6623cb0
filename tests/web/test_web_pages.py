"""The HTML pages, the login flow, the session cookie and CSRF, without a browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from paceline.bootstrap import Workspace
from paceline.domain.tables import TABLES
from paceline.web.app import create_app
from paceline.web.auth import safe_next
from paceline.web.security import COOKIE_NAME, KEY_LABEL, Session, SessionCodec, derive_key
from tests.web.web_helpers import TestClient, csrf_from, log_in, make_workspace


def cookie_header(response: object) -> str:
    header: str = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert header.startswith(f"{COOKIE_NAME}=")
    return header


def nav_labels(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    return re.findall(r">([^<]+)</a>", nav.group(1)) if nav else []


# --- redirects and the session cookie ---------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/audit", "/users", "/audit/verify"])
def test_html_pages_redirect_to_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_redirect_keeps_the_query_string(client: TestClient) -> None:
    response = client.get("/audit?x=1", follow_redirects=False)
    assert response.headers["location"] == "/login?next=/audit%3Fx%3D1"


def test_htmx_request_without_session_makes_htmx_load_the_login_page(client: TestClient) -> None:
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/audit"}
    response = client.get("/audit/verify", headers=headers, follow_redirects=False)
    assert response.status_code == 204
    assert response.headers["hx-redirect"] == "/login?next=/audit"


def test_login_page_sets_a_hardened_session_cookie(client: TestClient, ws: Workspace) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    header = cookie_header(response).lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    assert f"max-age={ws.settings.session_max_age_seconds}" in header
    assert "secure" not in header
    assert 'name="csrf_token"' in response.text


def test_cookie_is_secure_when_the_setting_says_so(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", secure_cookies=True, session_max_age_seconds=600)
    try:
        with TestClient(create_app(ws)) as client:
            header = cookie_header(client.get("/login")).lower()
    finally:
        ws.close()
    assert "; secure" in header and "max-age=600" in header


def test_login_and_logout(client: TestClient) -> None:
    before = csrf_from(client.get("/login").text)
    response = log_in(client, "ada", next_path="/audit")
    assert response.status_code == 303 and response.headers["location"] == "/audit"
    assert "httponly" in cookie_header(response).lower()
    home = client.get("/")
    assert home.status_code == 200 and "Signed in as <strong>ada</strong>" in home.text
    after = csrf_from(home.text)
    assert after != before, "login must issue a new CSRF token"

    out = client.post("/logout", data={"csrf_token": after}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "max-age=0" in cookie_header(out).lower()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_shows_the_error_on_the_form(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login", data={"login": "ada", "password": "not the password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "wrong login or password" in response.text
    assert 'role="alert"' in response.text and 'value="ada"' in response.text
    assert "Traceback" not in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_logged_in_user_visiting_login_is_sent_on(admin: TestClient) -> None:
    response = admin.get("/login", params={"next": "/users"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/users"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example",
        "/\\evil",
        "javascript:alert(1)",
        "",
        "/ok\r\nSet-Cookie: x=1",
    ],
)
def test_login_never_redirects_off_site(target: str) -> None:
    assert safe_next(target) == "/"


def test_login_redirects_to_a_local_next(client: TestClient) -> None:
    response = log_in(client, "ada", next_path="//evil.example/")
    assert response.headers["location"] == "/"


def test_forged_or_foreign_cookie_is_ignored(client: TestClient, ws: Workspace) -> None:
    raw_key = URLSafeTimedSerializer(ws.secret, salt="paceline.session")
    client.cookies.set(COOKIE_NAME, raw_key.dumps({"login": "ada", "csrf": "x"}))
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE_NAME, "garbage.value.sig")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_session_key_is_derived_not_the_raw_secret(ws: Workspace) -> None:
    key = derive_key(ws.secret)
    assert key != ws.secret and len(key) == 32
    assert derive_key(ws.secret, KEY_LABEL + b"-other") != key


def test_expired_session_is_ignored(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    codec = SessionCodec(ws.secret, max_age=60, secure=False)
    value = codec.dumps(Session.for_login("ada"))
    assert codec.loads(value) == codec.loads(value) is not None
    import itsdangerous.timed

    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + 120)
    assert codec.loads(value) is None


# --- CSRF ------------------------------------------------------------------------


def test_login_without_csrf_token_is_403(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"login": "ada", "password": "correct horse battery"})
    assert response.status_code == 403
    assert "<h1>Forbidden</h1>" in response.text and "reload the page" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_with_a_wrong_csrf_token_is_403(client: TestClient) -> None:
    client.get("/login")
    data = {"login": "ada", "password": "correct horse battery", "csrf_token": "forged"}
    assert client.post("/login", data=data).status_code == 403


def test_login_without_any_session_cookie_is_403(client: TestClient) -> None:
    data = {"login": "ada", "password": "correct horse battery", "csrf_token": "anything"}
    assert client.post("/login", data=data).status_code == 403


def test_logout_needs_the_csrf_token(admin: TestClient) -> None:
    assert admin.post("/logout", data={}).status_code == 403
    assert admin.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert admin.get("/", follow_redirects=False).status_code == 200


# --- pages ---------------------------------------------------------------------------


def test_home_shows_the_workspace_summary(admin: TestClient) -> None:
    html = admin.get("/").text
    for name in TABLES:
        assert f"<code>{name}</code>" in html
    people_row = re.search(r"<code>people</code></th><td>[^<]*</td><td class=\"num\">(\d+)", html)
    assert people_row is not None and people_row.group(1) == "2"
    assert "people.csv" in html  # the latest ingest run
    assert "<li>admin" in html  # the user's roles


def test_navigation_shows_only_permitted_pages(client: TestClient) -> None:
    log_in(client, "rita")
    assert nav_labels(client.get("/").text) == [
        "Home",
        "Portfolio",
        "Pilots",
        "KPIs",
        "Models",
        "Alerts",
        "Incidents",
        "Enablement",
        "Compliance",
        "Reviews",
    ]


def test_navigation_of_an_admin(admin: TestClient) -> None:
    html = admin.get("/users").text
    assert nav_labels(html) == [
        "Home",
        "Portfolio",
        "Pilots",
        "KPIs",
        "Models",
        "Alerts",
        "Incidents",
        "Enablement",
        "Compliance",
        "Reviews",
        "Audit log",
        "Users",
    ]
    assert '<a href="/users" aria-current="page">Users</a>' in html


def test_forbidden_page_is_an_html_403(client: TestClient) -> None:
    log_in(client, "rita")
    response = client.get("/audit")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "rita (reviewer) may not audit.read" in response.text


def test_unknown_page_is_an_html_404(admin: TestClient) -> None:
    response = admin.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "nothing at /no/such/page" in response.text
    assert nav_labels(response.text) == [
        "Home",
        "Portfolio",
        "Pilots",
        "KPIs",
        "Models",
        "Alerts",
        "Incidents",
        "Enablement",
        "Compliance",
        "Reviews",
        "Audit log",
        "Users",
    ]


def test_error_page_of_a_logged_out_visitor_has_no_navigation(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and nav_labels(response.text) == []
    assert 'href="/login"' in response.text


def test_audit_page_lists_entries_with_a_verify_button(client: TestClient) -> None:
    log_in(client, "alan")
    html = client.get("/audit").text
    assert "Verify chain" in html and 'hx-get="/audit/verify"' in html
    assert "<code>users" in html and "<code>role_grants" in html and "cli:operator" in html


def test_verify_returns_a_fragment_for_htmx(client: TestClient) -> None:
    log_in(client, "alan")
    fragment = client.get("/audit/verify", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Chain intact" in fragment.text and "<html" not in fragment.text
    full = client.get("/audit/verify")
    assert "Chain intact" in full.text and "<html" in full.text


def test_users_page_lists_users_and_roles_without_secrets(admin: TestClient) -> None:
    html = admin.get("/users").text
    for login, role in (("ada", "admin"), ("alan", "auditor"), ("rita", "reviewer")):
        assert re.search(rf"<th scope=\"row\">{login}</th>\s*<td>active</td>\s*<td>\s*{role}", html)
    assert "argon2" not in html and "password" not in html.lower()


def test_users_page_needs_user_read(client: TestClient) -> None:
    log_in(client, "rita")
    assert client.get("/users").status_code == 403


# --- assets and headers ----------------------------------------------------------------


def test_assets_and_plotly_are_served_locally(client: TestClient) -> None:
    htmx = client.get("/assets/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:200]
    assert client.get("/assets/paceline.css").status_code == 200
    plotly = client.get("/plotly/plotly.min.js")
    assert plotly.status_code == 200
    assert plotly.headers["content-type"].startswith("text/javascript")
    assert len(plotly.content) > 1_000_000


def test_pages_reference_no_remote_resources(admin: TestClient) -> None:
    for path in ("/", "/audit", "/users", "/login"):
        html = admin.get(path).text
        assert not re.search(r"(src|href)=\"(https?:)?//", html), path
    assert "plotly.min.js" not in admin.get("/").text  # only pages with charts load it


def test_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
