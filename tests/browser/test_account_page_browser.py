"""The customer's side in a real browser: the example account page (examples/account_page) beside the agent console.

The account page is the platform's backend with a portal key; the agent uses the console. Both are served over
real HTTP from one harness, and Playwright drives one tab for the agent and one for the customer.
"""

import threading

import pytest
from werkzeug.serving import make_server

from examples.account_page.app import create_app as create_account_page
from tests.browser.test_console_browser import CHROMIUM, FLAGS, PASSWORD, shot
from tests.servers import free_port

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make test does)")
DEMO_PASSWORD = "demo password for the example page"


def serve(app):
    """Serve a WSGI app on a free port in a thread; return its base URL and server."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def site(make_harness, gateway):
    """verify-service with an agent, and the example account page talking to it with the portal key."""
    harness = make_harness("sqlite", delivery_backend="webhook", sms_webhook_url=gateway.url)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.base_url, service = serve(harness.app)
    page_app = create_account_page(verify_url=harness.base_url, portal_key=harness.keys["portal"],
                                   demo_password=DEMO_PASSWORD)
    harness.account_url, account_server = serve(page_app)
    yield harness
    for server in (service, account_server):
        server.shutdown()
        server.server_close()


def tab(browser, locale):
    """A new browser tab in its own context (own cookies) and language."""
    context = browser.new_context(locale=locale, timezone_id="Asia/Tokyo", viewport={"width": 900, "height": 900})
    return context.new_page()


@pytest.fixture
def agent(browser):
    page = tab(browser, "en-US")
    yield page
    page.context.close()


@pytest.fixture
def customer(browser):
    page = tab(browser, "en-US")
    yield page
    page.context.close()


def customer_signs_in(page, site, account_id="JP1001"):
    page.goto(site.account_url + "/login")
    page.fill("input[name=account_id]", account_id)
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_the_customer_sees_their_pin_on_the_account_page_and_the_view_is_audited(site, customer):
    pin = site.register(locale="en")
    customer_signs_in(customer, site)
    assert pin not in customer.content()
    with customer.expect_navigation():
        customer.click("text=Show my support PIN")
    assert customer.inner_text("#pin .pin") == pin
    events = site.call("GET", "/v1/audit?event=pin_viewed", "admin").get_json()["events"]
    assert len(events) == 2  # the harness's own view when it registered, and this one
    shot(customer, "account-page-pin")


def test_a_wrong_demo_password_does_not_sign_in(site, customer):
    site.register(locale="en")
    customer.goto(site.account_url + "/login")
    customer.fill("input[name=account_id]", "JP1001")
    customer.fill("input[name=password]", "not it")
    with customer.expect_navigation():
        customer.click("button[type=submit]")
    assert "Wrong account number or password" in customer.content()
