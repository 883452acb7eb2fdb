"""POST /v1/verifications and GET /v1/verifications/{id}: the contract's answers and lockout rules."""

import pytest


@pytest.fixture
def pin(harness):
    return harness.register()


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


def test_right_pin_is_verified(harness, pin):
    response = harness.check(pin=pin, ticket_ref="T-2026-000123")
    assert response.status_code == 200
    body = response.get_json()
    assert body["verification_id"].startswith("ver_")
    assert {k: v for k, v in body.items() if k != "verification_id"} == {
        "account_id": "JP1001", "verified": True, "result": "verified",
        "factors": {"pin": "match", "code": "not_checked"}, "level": 1, "attempts_remaining": 5,
        "locked_until": None, "checked_at": "2026-11-23T04:05:06Z", "valid_until": "2026-11-23T04:20:06Z",
        "entry": "agent"}


def test_wrong_pin_is_rejected_with_attempts_remaining(harness, pin):
    body = harness.check(pin=wrong(pin)).get_json()
    assert (body["verified"], body["result"], body["level"], body["attempts_remaining"]) == (False, "rejected", 0, 4)
    assert body["factors"]["pin"] == "mismatch" and body["valid_until"] is None


def test_fifth_wrong_pin_is_rejected_with_zero_left_and_the_lock_end(harness, pin):
    bodies = [harness.check(pin=wrong(pin)).get_json() for _ in range(5)]
    assert [b["attempts_remaining"] for b in bodies] == [4, 3, 2, 1, 0]
    assert bodies[-1]["result"] == "rejected" and bodies[-1]["locked_until"] == "2026-11-24T04:05:06Z"


def test_sixth_wrong_pin_is_locked_not_rejected(harness, pin):
    for _ in range(5):
        harness.check(pin=wrong(pin))
    harness.clock.advance(3600)
    body = harness.check(pin=wrong(pin)).get_json()
    assert body["result"] == "locked" and body["locked_until"] == "2026-11-24T04:05:06Z"
    assert body["factors"] == {"pin": "not_checked", "code": "not_checked"} and body["attempts_remaining"] == 0


def test_right_pin_during_the_lock_is_locked(harness, pin):
    for _ in range(5):
        harness.check(pin=wrong(pin))
    assert harness.check(pin=pin).get_json()["result"] == "locked"


def test_lock_lasts_exactly_the_lock_period(harness, pin):
    for _ in range(5):
        harness.check(pin=wrong(pin))
    harness.clock.advance(24 * 3600 - 1)
    assert harness.check(pin=pin).get_json()["result"] == "locked"
    harness.clock.advance(1)
    assert harness.check(pin=pin).get_json()["result"] == "verified"


def test_expired_lock_resets_the_count(harness, pin):
    for _ in range(5):
        harness.check(pin=wrong(pin))
    harness.clock.advance(24 * 3600)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4


def test_verified_check_resets_the_count(harness, pin):
    for _ in range(4):
        harness.check(pin=wrong(pin))
    assert harness.check(pin=pin).get_json()["attempts_remaining"] == 5
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4


def test_failures_outside_the_window_do_not_count(make_harness, mode):
    harness = make_harness(mode, failure_window_seconds=600)
    pin = harness.register()
    for _ in range(4):
        harness.check(pin=wrong(pin))
    harness.clock.advance(601)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4


def test_configured_threshold_and_lock_period_apply(make_harness, mode):
    harness = make_harness(mode, lockout_threshold=2, lockout_seconds=60)
    pin = harness.register()
    bodies = [harness.check(pin=wrong(pin)).get_json() for _ in range(3)]
    assert [b["result"] for b in bodies] == ["rejected", "rejected", "locked"]
    assert bodies[1]["locked_until"] == "2026-11-23T04:06:06Z"


def test_failures_are_counted_across_channels_and_agents(harness, pin):
    harness.check(pin=wrong(pin), channel="chat", agent_id="chat-7")
    body = harness.check(pin=wrong(pin), channel="phone", agent_id="agent-1").get_json()
    assert body["attempts_remaining"] == 3


def test_a_code_without_a_pending_code_is_a_mismatch_and_a_failed_attempt(harness, pin):
    body = harness.check(pin=pin, code="123123").get_json()
    assert body["result"] == "rejected" and body["factors"] == {"pin": "match", "code": "mismatch"}
    assert body["attempts_remaining"] == 4 and body["level"] == 0


@pytest.mark.parametrize("change, field", [
    ({"pin": "12345"}, "pin"), ({"pin": "1234567"}, "pin"), ({"pin": 123456}, "pin"), ({"pin": "12345a"}, "pin"),
    ({"pin": "１２３４５６"}, "pin"), ({"pin": "123456\n"}, "pin"), ({"code": "12 456"}, "code"),
    ({"channel": "email"}, "channel"), ({"channel": None}, "channel"), ({"agent_id": ""}, "agent_id"),
    ({"agent_id": "a" * 65}, "agent_id"), ({"ticket_ref": "t" * 65}, "ticket_ref"),
    ({"account_id": "JP 1001"}, "account_id"), ({"extra": 1}, "extra"),
])
def test_bad_input_is_400_and_not_a_failed_attempt(harness, pin, change, field):
    body = {"account_id": "JP1001", "pin": wrong(pin), "channel": "phone", "agent_id": "a-1", **change}
    response = harness.call("POST", "/v1/verifications", "agent", body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 0


def test_neither_pin_nor_code_is_400(harness, pin):
    response = harness.call("POST", "/v1/verifications", "agent",
                            {"account_id": "JP1001", "channel": "phone", "agent_id": "a"})
    assert response.status_code == 400 and "pin" in response.get_json()["error"]["details"]


@pytest.mark.parametrize("missing", ["account_id", "channel", "agent_id"])
def test_required_fields_are_required(harness, pin, missing):
    body = {"account_id": "JP1001", "pin": pin, "channel": "phone", "agent_id": "a"}
    del body[missing]
    response = harness.call("POST", "/v1/verifications", "agent", body)
    assert response.status_code == 400 and missing in response.get_json()["error"]["details"]


def test_unknown_account_is_404(harness):
    response = harness.check("NOPE", pin="583920")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ["portal", "admin"])
def test_only_agents_run_checks(harness, pin, role):
    response = harness.call("POST", "/v1/verifications", role,
                            {"account_id": "JP1001", "pin": pin, "channel": "phone", "agent_id": "a"})
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_a_record_can_be_confirmed_while_valid(harness, pin, role):
    created = harness.check(pin=pin, ticket_ref="T-1").get_json()
    record = harness.call("GET", f"/v1/verifications/{created['verification_id']}", role).get_json()
    assert record["valid"] is True and record["ticket_ref"] == "T-1" and record["agent_id"] == "agent-42"
    assert {k: record[k] for k in created} == created
    harness.clock.advance(15 * 60)
    assert harness.call("GET", f"/v1/verifications/{created['verification_id']}", role).get_json()["valid"] is False


def test_a_rejected_record_is_never_valid(harness, pin):
    created = harness.check(pin=wrong(pin)).get_json()
    record = harness.call("GET", f"/v1/verifications/{created['verification_id']}", "agent").get_json()
    assert record["valid"] is False and record["result"] == "rejected"


def test_unknown_record_is_404_and_portal_may_not_read_records(harness, pin):
    assert harness.call("GET", "/v1/verifications/ver_nope", "agent").status_code == 404
    created = harness.check(pin=pin).get_json()
    assert harness.call("GET", f"/v1/verifications/{created['verification_id']}", "portal").status_code == 403
