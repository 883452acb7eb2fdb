"""Every check records how its PIN was entered (issue 18 part 3); the `ivr` role makes keypad checks only."""

from __future__ import annotations

import pytest

from tests.ivr.conftest import add_ivr_key

BODY = {"account_id": "JP1001", "channel": "phone", "agent_id": "agent-42"}


def wrong(pin: str) -> str:
    return "000001" if pin != "000001" else "000002"


def keypad(harness, pin, **extra):
    """A check as a voice platform's flow sends it, with the ivr key."""
    return harness.call("POST", "/v1/verifications", "ivr", {**BODY, "agent_id": "connect-flow", "pin": pin,
                                                               **extra})


def audit_details(harness, event):
    return [e["details"] for e in harness.call("GET", f"/v1/audit?event={event}", "admin").get_json()["events"]]


def test_an_agent_keys_check_is_entry_agent_in_the_answer_the_record_and_the_audit(ivr_harness):
    pin = ivr_harness.register()
    answer = ivr_harness.check(pin=pin).get_json()
    record = ivr_harness.call("GET", f"/v1/verifications/{answer['verification_id']}", "agent").get_json()
    assert (answer["entry"], record["entry"], record["call_ref"]) == ("agent", "agent", None)
    assert audit_details(ivr_harness, "verification_succeeded")[0]["entry"] == "agent"


def test_an_ivr_keys_check_is_entry_keypad_with_its_call_ref(ivr_harness):
    pin = ivr_harness.register()
    answer = keypad(ivr_harness, pin, call_ref="3f2a-contact-id").get_json()
    assert (answer["result"], answer["entry"]) == ("verified", "keypad")
    record = ivr_harness.call("GET", f"/v1/verifications/{answer['verification_id']}", "admin").get_json()
    assert (record["entry"], record["call_ref"], record["channel"]) == ("keypad", "3f2a-contact-id", "phone")
    details = audit_details(ivr_harness, "verification_succeeded")[0]
    assert (details["entry"], details["call_ref"]) == ("keypad", "3f2a-contact-id")
    assert keypad(ivr_harness, pin, entry="keypad").get_json()["entry"] == "keypad"


@pytest.mark.parametrize("entry", ["keypad", "link"])
def test_an_agent_key_claiming_keypad_or_link_entry_is_forbidden_and_counts_nothing(ivr_harness, entry):
    pin = ivr_harness.register()
    response = ivr_harness.check(pin=wrong(pin), entry=entry)
    assert response.status_code == 403
    assert response.get_json()["error"]["details"] == {"reason": "entry_not_allowed", "allowed": ["agent"]}
    assert ivr_harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4


@pytest.mark.parametrize("entry", ["agent", "link"])
def test_an_ivr_key_claiming_agent_or_link_entry_is_forbidden(ivr_harness, entry):
    pin = ivr_harness.register()
    response = keypad(ivr_harness, pin, entry=entry)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/verifications/ver_abcdef"), ("GET", "/v1/customers/JP1001"), ("GET", "/v1/customers/JP1001/lock"),
    ("GET", "/v1/customers/JP1001/pin"), ("POST", "/v1/customers/JP1001/codes"), ("GET", "/v1/audit"),
    ("DELETE", "/v1/customers/JP1001/lock"), ("PUT", "/v1/customers/JP1001")])
def test_an_ivr_key_may_do_nothing_but_keypad_checks(ivr_harness, method, path):
    ivr_harness.register()
    assert ivr_harness.call(method, path, "ivr", {}).status_code == 403


def test_a_key_with_the_ivr_role_can_be_made(harness):
    key, _ = harness.services.keys.create("voice-flow", ["ivr"])
    assert key.roles == ("ivr",)


def test_with_agent_pin_entry_off_an_agents_pin_is_409_naming_keypad_and_link(make_harness, mode):
    harness = make_harness(mode, agent_pin_entry=False)
    add_ivr_key(harness)
    pin = harness.register()
    response = harness.check(pin=wrong(pin))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["details"] == {"reason": "keypad_or_link_entry_required", "entries": ["keypad", "link"]}
    assert "keypad" in error["message"] and "link" in error["message"] and pin not in str(error)
    answer = keypad(harness, wrong(pin)).get_json()
    assert (answer["result"], answer["attempts_remaining"]) == ("rejected", 4)  # the refused one counted nothing
    assert keypad(harness, pin).get_json()["result"] == "verified"


def test_agent_pin_entry_is_on_by_default_and_read_from_the_environment():
    from verify_service.config import Settings, load_settings

    assert Settings().agent_pin_entry is True
    assert load_settings({"VERIFY_AGENT_PIN_ENTRY": "false"}).agent_pin_entry is False


def test_the_lock_security_event_says_how_the_pin_was_entered(make_harness, mode, gateway):
    harness = make_harness(mode, events_webhook_url=gateway.url + "/events",
                           events_webhook_secret="events-secret-for-tests-000000000")
    add_ivr_key(harness)
    pin = harness.register()
    for _ in range(4):
        harness.check(pin=wrong(pin))
    assert keypad(harness, wrong(pin)).get_json()["locked_until"] is not None
    while harness.services.outbox.dispatch_due():
        pass
    locked = [r.json() for r in gateway.received if r.json()["event"] == "customer_locked"]
    assert [event["details"]["entry"] for event in locked] == ["keypad"]


def test_keypad_and_agent_checks_share_one_lockout_counter(ivr_harness):
    pin = ivr_harness.register()
    remaining = []
    for index in range(5):
        response = keypad(ivr_harness, wrong(pin)) if index % 2 else ivr_harness.check(pin=wrong(pin))
        remaining.append(response.get_json()["attempts_remaining"])
    assert remaining == [4, 3, 2, 1, 0]
    assert keypad(ivr_harness, pin).get_json()["result"] == "locked"
    assert ivr_harness.check(pin=pin).get_json()["result"] == "locked"


def test_agents_and_admins_find_a_calls_checks_by_call_ref_newest_first(ivr_harness):
    pin = ivr_harness.register()
    first = keypad(ivr_harness, wrong(pin), call_ref="CA-call-1").get_json()
    ivr_harness.clock.advance(5)
    second = keypad(ivr_harness, pin, call_ref="CA-call-1").get_json()
    keypad(ivr_harness, pin, call_ref="CA-call-2")
    ivr_harness.check(pin=pin)  # no call_ref
    for role in ("agent", "admin"):
        body = ivr_harness.call("GET", "/v1/verifications?call_ref=CA-call-1", role).get_json()
        found = body["verifications"]
        assert [v["verification_id"] for v in found] == [second["verification_id"], first["verification_id"]]
        assert [(v["result"], v["entry"], v["valid"], v["call_ref"]) for v in found] == [
            ("verified", "keypad", True, "CA-call-1"), ("rejected", "keypad", False, "CA-call-1")]
    assert ivr_harness.call("GET", "/v1/verifications?call_ref=CA-none", "agent").get_json() == {"verifications": []}


@pytest.mark.parametrize("query", ["", "?call_ref=", "?call_ref=a%20b", "?call_ref=x&call_ref=y",
                                   "?call_ref=x&limit=0", "?call_ref=x&other=1"])
def test_a_bad_call_ref_query_is_400(ivr_harness, query):
    response = ivr_harness.call("GET", f"/v1/verifications{query}", "agent")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("role", ["ivr", "portal"])
def test_only_agents_and_admins_read_a_calls_checks(ivr_harness, role):
    assert ivr_harness.call("GET", "/v1/verifications?call_ref=CA-1", role).status_code == 403
