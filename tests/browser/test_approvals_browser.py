"""Approval requests in a real browser (Playwright driving Debian's Chromium): the agent's side of push approval."""

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.servers import free_port

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make test does)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed: apt-get install -y --no-install-recommends chromium fonts-liberation",
                allow_module_level=True)

ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct horse battery staple"
REASON = "change withdrawal address"
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
    """The app served over real HTTP, with an agent."""
    harness = make_harness("sqlite")
    harness.services.users.create("alice", "agent", PASSWORD)
    server = make_server("127.0.0.1", free_port(), harness.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    harness.base_url = f"http://127.0.0.1:{server.server_port}"
    yield harness
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", timezone_id="Asia/Tokyo", viewport={"width": 1000, "height": 1100})
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


def send_request(page):
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=reason]", REASON)
    with page.expect_navigation():
        page.click("#send-approval")
    return page.inner_text("#approval-status")


def customer_answers(site, verdict):
    """The signed-in customer answers on their account page (its backend calls the portal API)."""
    pending = site.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()
    (approval,) = pending["approvals"]
    assert approval["reason"] == REASON
    path = f"/v1/customers/JP1001/approvals/{approval['approval_id']}/answer"
    assert site.call("POST", path, "portal", {"answer": verdict}).status_code == 200


def refresh(page):
    with page.expect_navigation():
        page.click("#approval-refresh")
    return page.inner_text("#approval-status")


def test_send_an_approval_request_refresh_and_verify_with_it_at_level_two(site, page):
    pin = site.register()
    sign_in(page, site)
    status = send_request(page)
    assert "PENDING" in status and REASON in status
    shot(page, "approval-pending")
    customer_answers(site, "approve")
    assert "APPROVED" in refresh(page)
    shot(page, "approval-approved")
    page.fill("input[name=pin]", pin)
    with page.expect_navigation():
        page.click("#verify-with-approval")
    result = page.inner_text("#result")
    assert "VERIFIED" in result and "Level 2" in result and "Approval: match" in result
    assert pin not in page.content()
    shot(page, "approval-verified")


def test_a_denied_request_shows_denied_and_offers_no_verify_button(site, page):
    site.register()
    sign_in(page, site)
    send_request(page)
    customer_answers(site, "deny")
    assert "DENIED" in refresh(page)
    assert page.locator("#verify-with-approval").count() == 0
    assert site.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 1
    shot(page, "approval-denied")


def test_enter_in_the_pin_field_still_runs_the_plain_check(site, page):
    pin = site.register()
    sign_in(page, site)
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=pin]", pin)
    page.focus("input[name=pin]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Level 1" in page.inner_text("#result")
    assert site.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()["approvals"] == []
