"""Approval requests in a real browser (Playwright driving Debian's Chromium): the agent's side of push approval."""

import pytest

from tests.browser.conftest import PASSWORD, served, shot, sign_in

REASON = "change withdrawal address"


@pytest.fixture
def site(make_harness):
    """The app served over real HTTP, with an agent."""
    harness = make_harness("sqlite")
    harness.services.users.create("alice", "agent", PASSWORD)
    with served(harness.app) as base_url:
        harness.base_url = base_url
        yield harness


def send_request(page):
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=reason]", REASON)
    page.click("#send-approval")  # sent without reloading the page (what the agent typed stays)
    page.wait_for_selector("#approval-status")
    return page.inner_text("#approval-status")


def customer_answers(site, verdict):
    """The signed-in customer answers on their account page (its backend calls the portal API)."""
    pending = site.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()
    (approval,) = pending["approvals"]
    assert approval["reason"] == REASON
    path = f"/v1/customers/JP1001/approvals/{approval['approval_id']}/answer"
    assert site.call("POST", path, "portal", {"answer": verdict}).status_code == 200


def refresh(page):
    page.click("#approval-refresh")  # refreshed in place (the page also polls a pending request)
    page.wait_for_selector("#approval-status:not(.approval-pending)")
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
