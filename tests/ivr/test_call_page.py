"""The screen pop, /console/calls/<call_ref>, through the test client: a call's checks, never a digit."""

from __future__ import annotations

import re

import pytest

from tests.ivr.conftest import add_ivr_key

PASSWORD = "correct horse battery staple"
CALL = "CA" + "12" * 16


@pytest.fixture
def desk(make_harness, mode):
    harness = make_harness(mode)
    add_ivr_key(harness)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.pin = harness.register()
    return harness


def signed_in(harness, language="en"):
    web = harness.client
    web.set_cookie("lang", language)
    page = web.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    web.post("/console/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    return web


def keypad(harness, pin):
    body = {"account_id": "JP1001", "channel": "phone", "agent_id": "flow", "pin": pin, "call_ref": CALL}
    return harness.call("POST", "/v1/verifications", "ivr", body).get_json()


def wrong(pin):
    return "739184" if pin != "739184" else "739185"


def test_the_screen_pop_shows_the_calls_checks_and_how_the_pin_was_entered(desk):
    keypad(desk, wrong(desk.pin))
    desk.clock.advance(10)
    verified = keypad(desk, desk.pin)
    response = signed_in(desk).get(f"/console/calls/{CALL}")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert text.index(verified["verification_id"]) < text.index("REJECTED")
    assert "VERIFIED · Level 1" in text and "on the caller's keypad" in text
    assert desk.pin not in text and wrong(desk.pin) not in text


def test_the_screen_pop_is_in_japanese_too(desk):
    keypad(desk, desk.pin)
    text = signed_in(desk, "ja").get(f"/console/calls/{CALL}").get_data(as_text=True)
    assert "本人確認済み" in text and "お客様が電話のキーパッドで入力" in text


def test_a_call_without_checks_says_so_and_a_bad_reference_is_404(desk):
    web = signed_in(desk)
    assert "No checks on this call yet." in web.get("/console/calls/CA-nothing").get_data(as_text=True)
    assert web.get("/console/calls/a%20b").status_code == 404


def test_the_screen_pop_needs_a_signed_in_user(desk):
    response = desk.client.get(f"/console/calls/{CALL}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/login")
