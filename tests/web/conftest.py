"""Fixtures of the web tests: a workspace with users, the app, HTTP clients, a live server
and a headless Chromium with an axe-core accessibility check."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from fastapi import FastAPI

from paceline.bootstrap import Workspace
from paceline.web.app import create_app
from tests.web.web_helpers import TestClient, log_in, make_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture
def app(ws: Workspace) -> FastAPI:
    return create_app(ws)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The client, logged in as the admin ``ada``."""
    assert log_in(client, "ada").status_code == 303
    return client


# --- the real server and the browser ---------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a background thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page whose CSP is bypassed, so that axe can be injected as a script tag."""
    context = browser.new_context(bypass_csp=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def strict_page(browser: Browser) -> Iterator[Page]:
    """A fresh page with the app's CSP enforced; axe is preloaded as an init script."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    yield context.new_page()
    context.close()


def _axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    script = """async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')),
        }));
    }"""
    violations: list[dict[str, Any]] = page.evaluate(script)
    return violations


@pytest.fixture
def assert_accessible() -> Callable[[Page], None]:
    """A check to run on every page a browser test visits: no serious or critical axe issue."""

    def check(page: Page) -> None:
        blocking = [v for v in _axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
        listing = "\n".join(
            f"- [{v['impact']}] {v['id']}: {v['help']} at {', '.join(v['nodes'][:5])}" for v in blocking
        )
        assert not blocking, f"accessibility violations on {page.url}:\n{listing}"

    return check
