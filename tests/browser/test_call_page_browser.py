"""The screen pop in a real browser: a CTI opens /console/calls/<CallSid> after a keypad call (issue 18)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import served, shot, sign_in
from tests.ivr.conftest import add_ivr_key

PASSWORD = "correct horse battery staple"
CALL = "CA" + "34" * 16


@pytest.fixture
def site(make_harness):
    harness = make_harness("sqlite")
    add_ivr_key(harness)
    harness.services.users.create("alice", "agent", PASSWORD)
    with served(harness.app) as base_url:
        harness.base_url = base_url
        yield harness


def keypad(site, pin):
    body = {"account_id": "JP1001", "channel": "phone", "agent_id": "flow", "pin": pin, "call_ref": CALL}
    return site.call("POST", "/v1/verifications", "ivr", body).get_json()


def test_the_screen_pop_shows_a_keypad_calls_result_and_never_a_digit(site, page):
    pin = site.register()
    wrong = "739184" if pin != "739184" else "739185"
    keypad(site, wrong)
    site.clock.advance(10)
    verified = keypad(site, pin)
    sign_in(page, site)
    page.goto(f"{site.base_url}/console/calls/{CALL}")
    newest = page.locator("section.call-check").first
    assert newest.get_attribute("id") == verified["verification_id"]
    assert "VERIFIED · Level 1" in newest.inner_text() and "on the caller's keypad" in newest.inner_text()
    assert "Checked: " in newest.inner_text() and "(Asia/Tokyo)" not in newest.inner_text()  # Babel's local time
    assert page.locator("section.call-check").nth(1).inner_text().startswith("REJECTED")
    content = page.content()
    assert pin not in content and wrong not in content
    shot(page, "call-screen-pop")


def test_a_cti_link_asks_a_signed_out_agent_to_sign_in_first(site, page):
    site.register()
    page.goto(f"{site.base_url}/console/calls/{CALL}")
    assert page.url.endswith("/console/login")
    sign_in(page, site)
    page.goto(f"{site.base_url}/console/calls/{CALL}")
    assert page.inner_text("#no-checks") == "No checks on this call yet."
