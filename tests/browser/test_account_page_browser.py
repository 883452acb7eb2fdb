"""The customer's side in a real browser: the example account page (examples/account_page) beside the agent console.

The account page is the platform's backend with a portal key; the agent uses the console. Both are served over
real HTTP from one harness, and Playwright drives one tab for the agent and one for the customer.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from examples.account_page.app import create_app as create_account_page
from tests.browser.conftest import PASSWORD, served, shot
from tests.browser.conftest import sign_in as agent_signs_in
from verify_service.domain.model import Actor

DEMO_PASSWORD = "demo password for the example page"


@pytest.fixture
def site(make_harness, gateway):
    """verify-service with an agent, and the example account page talking to it with the portal key."""
    harness = make_harness("sqlite", delivery_backend="webhook", sms_webhook_url=gateway.url)
    harness.services.users.create("alice", "agent", PASSWORD)
    with served(harness.app) as base_url:
        harness.base_url = base_url
        page_app = create_account_page(verify_url=base_url, portal_key=harness.keys["portal"],
                                       demo_password=DEMO_PASSWORD)
        with served(page_app) as account_url:
            harness.account_url = account_url
            yield harness


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


def agent_starts_contact(agent, site, account_id="JP1001", ticket="T-1"):
    agent_signs_in(agent, site)
    agent.fill("input[name=account_id]", account_id)
    agent.fill("input[name=ticket_ref]", ticket)
    with agent.expect_navigation():
        agent.click("text=Start contact")
    return agent.inner_text("#contact-phrase").strip()


def test_with_no_contact_the_account_page_says_hang_up(site, customer):
    site.register(locale="en")
    customer_signs_in(customer, site)
    text = customer.inner_text("#contacts")
    assert "No one from Customer Support is contacting you now" in text and "hang up" in text
    assert "Support support" not in text
    assert customer.locator("#contacts .phrase").count() == 0


def test_the_customer_sees_the_phrase_the_agent_reads_and_reports_it(site, agent, customer):
    site.register(locale="en")
    site.services.agents.name("alice", "Kato", Actor("cli"))
    phrase = agent_starts_contact(agent, site)
    customer_signs_in(customer, site)
    text = customer.inner_text("#contacts")
    assert "Kato" in text and "T-1" in text and "alice" not in text
    assert customer.inner_text("#contacts .phrase") == phrase  # the same phrase on both screens
    shot(customer, "account-page-contact")
    with customer.expect_navigation():
        customer.click("#contacts button.report")
    assert "security team has been told" in customer.inner_text("#notice")
    agent.wait_for_selector("#contact-warning", timeout=15000)  # the card checks itself every 3 s
    events = site.call("GET", "/v1/audit?event=contact_reported", "admin").get_json()["events"]
    assert len(events) == 1 and phrase not in str(events)
    shot(agent, "console-contact-reported-by-customer")


def test_a_japanese_customer_reads_the_contact_in_japanese(site, agent, customer):
    site.register(locale="ja")
    agent_starts_contact(agent, site)
    customer_signs_in(customer, site)
    text = customer.inner_text("body")
    assert "本当にサポートからの連絡ですか" in text and "心当たりがない" in text
    shot(customer, "account-page-contact-ja")


def agent_asks_for_approval(agent, site, reason="change withdrawal address"):
    agent_signs_in(agent, site)
    agent.fill("input[name=account_id]", "JP1001")
    agent.fill("input[name=reason]", reason)
    agent.click("#send-approval")  # sent without reloading the page (what the agent typed stays)
    agent.wait_for_selector("#approval-status")


def test_the_customer_approves_on_the_account_page_and_the_agent_verifies_at_level_two(site, agent, customer):
    pin = site.register(locale="en")
    agent_asks_for_approval(agent, site)
    customer_signs_in(customer, site)
    assert "change withdrawal address" in customer.inner_text("#approvals .approval .reason")
    shot(customer, "account-page-approval")
    with customer.expect_navigation():
        customer.click("#approvals button.approve")
    assert customer.inner_text("#notice") == "Approved."
    assert customer.locator("#approvals .approval").count() == 0  # answered: nothing left to approve
    agent.click("#approval-refresh")  # refreshed in place
    agent.wait_for_selector("#approval-status:not(.approval-pending)")
    agent.fill("input[name=pin]", pin)
    with agent.expect_navigation():
        agent.click("#verify-with-approval")
    text = agent.inner_text("#result")
    assert "VERIFIED" in text and "Level 2" in text and "PIN: matched" in text
    assert "match" not in text.replace("matched", "")  # words, not the API's values
    shot(agent, "console-verified-with-approval")


def test_a_denial_on_the_account_page_counts_as_a_failed_attempt_and_warns_security(site, agent, customer):
    site.register(locale="en")
    agent_asks_for_approval(agent, site)
    customer_signs_in(customer, site)
    with customer.expect_navigation():
        customer.click("#approvals button.deny")
    assert "security team has been told" in customer.inner_text("#notice")
    agent.click("#approval-refresh")  # refreshed in place
    agent.wait_for_selector("#approval-status:not(.approval-pending)")
    assert agent.locator("#verify-with-approval").count() == 0
    assert site.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 1
    events = site.call("GET", "/v1/audit?event=approval_denied", "admin").get_json()["events"]
    assert len(events) == 1
    shot(agent, "console-approval-denied")


def test_each_contact_has_its_own_block_with_its_reported_state(site, customer):
    site.register(locale="en")
    started = [site.call("POST", "/v1/customers/JP1001/contacts", "agent",
                         {"agent_id": agent_id, "channel": "phone", "ticket_ref": ticket}).get_json()
               for agent_id, ticket in (("agent-1", "T-1"), ("agent-2", "T-2"))]
    site.call("POST", f"/v1/customers/JP1001/contacts/{started[0]['contact_id']}/report", "portal", {})
    customer_signs_in(customer, site)
    blocks = customer.locator("#contacts .contact")
    assert blocks.count() == 2
    reported = customer.locator(f"#contacts .contact[data-contact-id='{started[0]['contact_id']}']")
    other = customer.locator(f"#contacts .contact[data-contact-id='{started[1]['contact_id']}']")
    assert "T-1" in reported.inner_text() and "You reported this contact" in reported.inner_text()
    assert reported.locator("button.report").count() == 0
    assert "T-2" in other.inner_text() and "Customer Support" in other.inner_text()
    assert other.locator("button.report").count() == 1 and "You reported" not in other.inner_text()
    shot(customer, "account-page-two-contacts")


def lock_out(site, pin):
    wrong = "000001" if pin != "000001" else "000002"
    for _ in range(5):
        site.check(pin=wrong)
    assert site.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["locked"]


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_a_locked_out_customer_unlocks_on_their_account_page_after_typing_their_password(site, browser, locale):
    lock_out(site, site.register(locale=locale))
    customer = tab(browser, {"en": "en-US", "ja": "ja-JP"}[locale])
    customer_signs_in(customer, site)
    words = {"en": ("Support cannot check your PIN", "Wrong password", "Unlocked."),
             "ja": ("ロックされています", "パスワードが違います", "ロックを解除しました")}[locale]
    assert words[0] in customer.inner_text("#lock")
    customer.fill("#lock input[name=password]", "not my password")
    with customer.expect_navigation():
        customer.click("#lock button.unlock")
    assert words[1] in customer.inner_text("#notice")
    assert site.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["locked"]  # nothing unlocked
    customer.fill("#lock input[name=password]", DEMO_PASSWORD)
    with customer.expect_navigation():
        customer.click("#lock button.unlock")
    assert words[2] in customer.inner_text("#notice") and customer.locator("#lock").count() == 0
    assert site.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 0
    [event] = site.call("GET", "/v1/audit?event=customer_unlocked", "admin").get_json()["events"]
    assert event["actor"] == site.services.keys.authenticate(site.keys["portal"]).name
    assert event["details"]["reason"] == "Unlocked by the customer on their account page (password confirmed)"
    shot(customer, f"account-page-unlocked-{locale}")
    customer.context.close()


@pytest.mark.parametrize(("locale", "zone"), [("en", "America/New_York"), ("ja", "Asia/Tokyo")])
def test_an_approval_s_expiry_is_shown_in_the_customer_s_own_time(site, browser, locale, zone):
    site.register(locale=locale)
    asked = site.call("POST", "/v1/customers/JP1001/approvals", "agent",
                      {"agent_id": "agent-1", "channel": "phone", "reason": "change address"}).get_json()
    context = browser.new_context(locale={"en": "en-US", "ja": "ja-JP"}[locale], timezone_id=zone)
    customer = context.new_page()
    customer_signs_in(customer, site)
    shown = customer.inner_text("#approvals .approval .expires")
    expires = datetime.fromisoformat(asked["expires_at"].replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    hour = (expires.hour % 12 or 12) if locale == "en" else expires.hour  # en-US: 12-hour clock; ja: 24-hour
    clock = f"{hour}:{expires.minute:02d}"
    assert clock in shown and asked["expires_at"] not in shown and not re.search(r"\d{4}-\d{2}-\d{2}T", shown)
    shot(customer, f"account-page-approval-expiry-{locale}")
    context.close()
