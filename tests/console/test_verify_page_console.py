"""The verify page through the test client: the current call's checks, the level-2 flow marker, the masked PIN
field, polling that is not activity (issue 18 part 4, issue 19 traps 1 and 4)."""

import re
import time

import pytest

from tests.ivr.conftest import add_ivr_key

PASSWORD = "correct horse battery staple"
CALL = "CA" + "78" * 16


@pytest.fixture
def console(make_harness):
    harness = make_harness("sqlite")
    harness.services.users.create("alice", "agent", PASSWORD)
    add_ivr_key(harness)
    return harness


def signed_in(harness):
    client = harness.client
    client.set_cookie("lang", "en")
    token = csrf(client, "/console/login")
    client.post("/console/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    return client


def csrf(client, path="/console"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def keypad(harness, pin):
    body = {"account_id": "JP1001", "channel": "phone", "agent_id": "flow", "pin": pin, "call_ref": CALL}
    return harness.call("POST", "/v1/verifications", "ivr", body).get_json()


def test_the_verify_page_lists_the_call_s_checks_without_a_digit(console):
    pin = console.register()
    checked = keypad(console, pin)
    page = signed_in(console).get(f"/console?call_ref={CALL}&account_id=JP1001").get_data(as_text=True)
    assert f'id="call-{checked["verification_id"]}"' in page and "on the caller's keypad" in page
    assert f'name="call_ref" value="{CALL}"' in page and "data-poll" in page
    assert pin not in page


def test_an_agent_s_check_on_the_call_is_recorded_on_it_and_listed(console):
    pin = console.register()
    client = signed_in(console)
    page = client.post("/console/verify", data={"csrf_token": csrf(client), "account_id": "JP1001", "pin": pin,
                                                 "channel": "phone", "call_ref": CALL}).get_data(as_text=True)
    (check,) = console.call("GET", f"/v1/verifications?call_ref={CALL}", "agent").get_json()["verifications"]
    assert check["entry"] == "agent" and f'id="call-{check["verification_id"]}"' in page
    assert "typed by an agent" in page and pin not in page


@pytest.mark.parametrize("call_ref", ["", "bad ref!", "x" * 65])
def test_without_a_valid_call_reference_the_page_has_no_call_list(console, call_ref):
    page = signed_in(console).get(f"/console?call_ref={call_ref}").get_data(as_text=True)
    assert 'id="call-slot"' not in page and "Verify" in page


def test_the_pin_field_is_a_masked_text_field_that_nothing_fills(console):
    page = signed_in(console).get("/console").get_data(as_text=True)
    field = re.search(r'<input name="pin"[^>]*>', page).group(0)
    assert 'type="text"' in field and 'class="secret"' in field and 'autocomplete="off"' in field
    assert "value=" not in field


def test_a_code_sent_marks_the_form_as_a_level_two_flow(console):
    console.register()
    client = signed_in(console)
    page = client.post("/console/send-code", data={"csrf_token": csrf(client), "account_id": "JP1001",
                                                    "channel": "phone"}).get_data(as_text=True)
    assert 'id="code-sent"' in page and 'name="flow" id="flow" value="level2"' in page


def test_polling_is_not_activity_for_the_idle_sign_out(make_harness):
    harness = make_harness("sqlite", console_idle_seconds=2)
    harness.services.users.create("alice", "agent", PASSWORD)
    client = signed_in(harness)
    for _ in range(2):
        time.sleep(1.2)
        polled = client.get("/console", headers={"X-Console-Poll": "1"})
    assert polled.status_code == 302 and polled.location.endswith("/console/login")
