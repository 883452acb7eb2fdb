"""Security events go to VERIFY_EVENTS_WEBHOOK_URL, signed, through the outbox."""

import hashlib
import hmac

import pyotp
import pytest

SECRET = "events-secret-for-tests-000000000"


@pytest.fixture
def receiver(gateway):
    return gateway


def test_the_contracts_security_events_are_posted_signed(make_harness, mode, receiver):
    h = make_harness(mode, events_webhook_url=receiver.url + "/events", events_webhook_secret=SECRET)
    pin = h.register()                                                              # pin_viewed
    h.call("POST", "/v1/customers/JP1001/pin/rotate", "portal")                     # pin_rotated
    h.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "+819087654321"})     # phone_changed
    for _ in range(5):
        h.check(pin="000001" if pin != "000001" else "000002")                      # customer_locked
    h.call("DELETE", "/v1/customers/JP1001/lock", "admin", {"reason": "ok"})        # customer_unlocked
    h.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "attack"})    # customer_frozen
    h.call("DELETE", "/v1/customers/JP1001/freeze", "admin", {"reason": "fine"})    # (not a security event)
    uri = h.call("POST", "/v1/customers/JP1001/totp", "portal").get_json()["otpauth_uri"]
    secret = uri.split("secret=")[1].split("&")[0]
    code = pyotp.TOTP(secret).at(h.clock.now().timestamp())
    h.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code})  # totp_enrolled
    while h.services.outbox.dispatch_due():
        pass
    events = [r.json() for r in receiver.received]
    assert [e["event"] for e in events] == ["pin_viewed", "pin_rotated", "phone_changed", "customer_locked",
                                            "customer_unlocked", "customer_frozen", "totp_enrolled"]
    for request in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Verify-Signature"] == expected and request.path == "/events"
        body = request.json()
        assert set(body) == {"event_id", "event", "account_id", "at", "details"}
        assert body["account_id"] == "JP1001" and body["at"].endswith("Z")
        assert pin not in request.body.decode() and secret not in request.body.decode()
    assert len({e["event_id"] for e in events}) == len(events)


def test_no_events_are_queued_without_a_webhook(make_harness, mode):
    h = make_harness(mode)
    h.register()
    assert h.services.outbox.backlog() == (0, None)
