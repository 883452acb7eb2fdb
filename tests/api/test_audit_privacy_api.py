"""GET /v1/audit and the events webhook name phone numbers by keyed reference: no digit beyond the country code."""

import re

import pytest

PHONE, NEW_PHONE, OTHER_PHONE = "+819012345678", "+819087654321", "+14155552671"
REF = re.compile(r"^ph_[0-9a-f]{16}$")
SECRET = "events-secret-for-tests-000000000"


@pytest.fixture
def h(make_harness, mode, gateway):
    return make_harness(mode, events_webhook_url=gateway.url + "/events", events_webhook_secret=SECRET)


def details(h, event, account_id="JP1001"):
    """The details of the account's events of that name, oldest first, as the admin API shows them."""
    response = h.call("GET", f"/v1/audit?account_id={account_id}&event={event}&limit=500", "admin")
    assert response.status_code == 200
    return [e["details"] for e in reversed(response.get_json()["events"])]


def no_fragment(values, phone):
    """True when neither a masked form nor the last four digits (alone) nor the digits of the number appear."""
    text = repr(values)
    return "*" not in text and re.search(rf"(?<![0-9]){phone[-4:]}(?![0-9])", text) is None and phone[1:] not in text


def send_code(h, account_id="JP1001"):
    response = h.call("POST", f"/v1/customers/{account_id}/codes", "agent", {"agent_id": "agent-42"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_registration_and_a_code_send_name_the_number_by_one_reference(h):
    h.register(phone=PHONE)
    sent = send_code(h)
    assert sent["destination"] == "+81 *******678"  # the live answer to the agent stays masked
    [registered], [code_sent] = details(h, "customer_registered"), details(h, "code_sent")
    assert REF.match(registered["phone_ref"]) and code_sent["phone_ref"] == registered["phone_ref"]
    key = h.services.vault.newest_key_id()
    assert registered["phone_ref_key"] == code_sent["phone_ref_key"] == key
    assert registered["phone_country"] == code_sent["phone_country"] == "+81"
    assert "destination" not in code_sent and "phone" not in registered
    assert no_fragment([registered, code_sent["phone_ref"], code_sent["phone_country"]], PHONE)


def test_customers_sharing_a_number_share_its_reference_and_others_differ(h):
    h.register("JP1001", phone=PHONE)
    h.register("JP1002", phone=PHONE)
    h.register("US1003", phone=OTHER_PHONE)
    refs = {account: details(h, "customer_registered", account)[0] for account in ("JP1001", "JP1002", "US1003")}
    assert refs["JP1001"]["phone_ref"] == refs["JP1002"]["phone_ref"] != refs["US1003"]["phone_ref"]
    assert refs["US1003"]["phone_country"] == "+1" and no_fragment(refs["US1003"], OTHER_PHONE)


def test_a_phone_change_is_traceable_by_reference_in_the_trail_and_the_security_event(h, gateway):
    h.register(phone=PHONE)
    assert h.call("PUT", "/v1/customers/JP1001", "portal", {"phone": NEW_PHONE}).status_code == 200
    h.clock.advance(24 * 3600 + 1)  # past the SIM-swap hold
    send_code(h)
    [registered], [updated] = details(h, "customer_registered"), details(h, "customer_updated")
    [code_sent] = details(h, "code_sent")
    assert updated["fields"] == ["phone"] and updated["phone_changed"] is True
    assert updated["previous_phone_ref"] == registered["phone_ref"] != updated["phone_ref"]
    assert code_sent["phone_ref"] == updated["phone_ref"]  # the code went to the new number
    assert no_fragment(updated, PHONE) and no_fragment(updated, NEW_PHONE)
    while h.services.outbox.dispatch_due():
        pass
    [changed] = [r.json() for r in gateway.received if r.json()["event"] == "phone_changed"]
    assert changed["details"] == updated
    assert no_fragment(changed, PHONE) and no_fragment(changed, NEW_PHONE)
