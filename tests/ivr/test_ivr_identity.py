"""An `ivr` key is bound like an agent key: it can frame no console user, and no credential can pose as the
service's own keypad flow."""

from __future__ import annotations

import pytest

from verify_service.errors import ValidationFailed


def test_an_ivr_key_asserting_a_console_username_is_forbidden_and_counts_nothing(ivr_harness):
    ivr_harness.services.users.create("rtvictim", "agent", "a-long-enough-password-1")
    pin = ivr_harness.register()
    wrong = "000001" if pin != "000001" else "000002"
    response = ivr_harness.call("POST", "/v1/verifications", "ivr",
                                {"account_id": "JP1001", "channel": "phone", "agent_id": "rtvictim", "pin": wrong})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert ivr_harness.check(pin=wrong).get_json()["attempts_remaining"] == 4


@pytest.mark.parametrize("username", ["ivr", "IVR"])
def test_no_console_user_can_hold_the_keypad_flows_agent_id(ivr_harness, username):
    with pytest.raises(ValidationFailed) as refused:
        ivr_harness.services.users.create(username, "agent", "a-long-enough-password-1")
    assert "reserved" in str(refused.value.details["username"])


def test_no_key_can_be_named_as_the_keypad_flows_actor(ivr_harness):
    with pytest.raises(ValidationFailed) as refused:
        ivr_harness.services.keys.create("twilio-ivr", ["agent"])
    assert "reserved" in str(refused.value.details["name"])
