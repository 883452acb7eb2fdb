"""What the browser tests share: Chromium under Playwright, a tab, screenshots, serving an app, signing in."""

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.servers import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct horse battery staple"
FLAGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run (skips when Playwright or Chromium is missing)."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make test does)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: apt-get install -y --no-install-recommends chromium fonts-liberation")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """An English tab in Tokyo time, in a context (cookies) of its own."""
    context = browser.new_context(locale="en-US", timezone_id="Asia/Tokyo", viewport={"width": 1000, "height": 1100})
    tab = context.new_page()
    yield tab
    context.close()


def shot(page, name):
    """Keep a screenshot of the page under tests/browser/artifacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@contextmanager
def served(app) -> Iterator[str]:
    """Serve a WSGI app over real HTTP on a free port while the block runs; yields its base URL."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def sign_in(page, site, username="alice", password=PASSWORD):
    """Sign in to the agent console by keyboard, as an agent does."""
    page.goto(site.base_url + "/console/login")
    page.focus("input[name=username]")  # it has autofocus; Chromium skips autofocus on some reloads
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
