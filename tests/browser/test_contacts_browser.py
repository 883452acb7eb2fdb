"""Reverse verification in a real browser: the agent starts a contact, the customer reports it, the agent sees it."""

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.servers import free_port
from verify_service.domain.model import Actor

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make test does)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed: apt-get install -y --no-install-recommends chromium fonts-liberation",
                allow_module_level=True)

ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct horse battery staple"
FLAGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def site(make_harness):
    """The app served over real HTTP, with an agent who has a display name and one customer."""
    harness = make_harness("sqlite")
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.agents.name("alice", "Alice", Actor("cli"))
    harness.register(locale="en")
    server = make_server("127.0.0.1", free_port(), harness.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    harness.base_url = f"http://127.0.0.1:{server.server_port}"
    yield harness
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", timezone_id="Asia/Tokyo", viewport={"width": 1000, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, site):
    page.goto(site.base_url + "/console/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_the_agent_sees_the_phrase_then_the_customer_s_report(site, page):
    sign_in(page, site)
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=ticket_ref]", "T-1")
    with page.expect_navigation():
        page.click("text=Start contact")
    phrase = page.inner_text("#contact-phrase").strip()
    shown = site.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()
    assert [c["phrase"] for c in shown["contacts"]] == [phrase]
    assert "Alice from Support is contacting you now about ticket T-1" in shown["message"]
    card = page.inner_text("#contact")
    assert "The customer sees you as: Alice" in card and "(Asia/Tokyo)" in card and "STOP" not in card
    shot(page, "contact-started")
    contact_id = shown["contacts"][0]["contact_id"]
    reported = site.call("POST", f"/v1/customers/JP1001/contacts/{contact_id}/report", "portal",
                         {"reason": "I did not ask for this"})
    assert reported.status_code == 200
    with page.expect_navigation():
        page.click("#contact-refresh")
    warning = page.locator("#contact-warning")
    assert warning.is_visible() and "THE CUSTOMER REPORTED THIS CONTACT" in warning.inner_text()
    assert float(warning.locator(".big").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    shot(page, "contact-reported")
