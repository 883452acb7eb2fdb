"""Reverse verification in a real browser: the agent starts a contact, the customer reports it, the agent sees it."""

import pytest

from tests.browser.conftest import PASSWORD, served, shot, sign_in
from tests.browser.test_console_browser import in_browser_zone
from verify_service.domain.model import Actor


@pytest.fixture
def site(make_harness):
    """The app served over real HTTP, with an agent who has a display name and one customer."""
    harness = make_harness("sqlite")
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.agents.name("alice", "Alice", Actor("cli"))
    harness.register(locale="en")
    with served(harness.app) as base_url:
        harness.base_url = base_url
        yield harness


def test_the_agent_sees_the_phrase_then_the_customer_s_report(site, page):
    sign_in(page, site)
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=ticket_ref]", "T-1")
    with page.expect_navigation():
        page.click("text=Start contact")
    phrase = page.inner_text("#contact-phrase").strip()
    shown = site.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()
    assert [c["phrase"] for c in shown["contacts"]] == [phrase]
    assert "Alice from Customer Support is contacting you now about ticket T-1" in shown["message"]
    card = page.inner_text("#contact")
    assert "The customer sees you as: Alice" in card and "STOP" not in card
    assert f"Expires at {in_browser_zone(shown['contacts'][0]['expires_at'])}." in card
    shot(page, "contact-started")
    contact_id = shown["contacts"][0]["contact_id"]
    reported = site.call("POST", f"/v1/customers/JP1001/contacts/{contact_id}/report", "portal",
                         {"reason": "I did not ask for this"})
    assert reported.status_code == 200
    page.click("#contact-refresh")  # refreshed in place (the card also polls by itself)
    page.wait_for_selector("#contact-warning")
    warning = page.locator("#contact-warning")
    assert warning.is_visible() and "THE CUSTOMER REPORTED THIS CONTACT" in warning.inner_text()
    assert float(warning.locator(".big").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    shot(page, "contact-reported")
