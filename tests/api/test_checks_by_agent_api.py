"""GET /v1/verifications?agent_id= / ?key= (admin only): an agent's or a key's checks, newest first, page by page."""

import pytest


def key_name(harness, role):
    """The name of the harness's key for a role (what the audit trail's `actor` shows)."""
    return harness.services.keys.authenticate(harness.keys[role]).name


@pytest.fixture
def checks(harness):
    """Five checks by agent-42 (one right PIN, then wrong ones) and one by agent-7, a second apart."""
    pin = harness.register()
    wrong = "000001" if pin != "000001" else "000002"
    made = []
    for index in range(5):
        made.append(harness.check(pin=pin if index == 0 else wrong).get_json()["verification_id"])
        harness.clock.advance(1)
    harness.check(pin=pin, agent_id="agent-7")
    return list(reversed(made))  # newest first


def test_admin_pages_through_an_agents_checks_newest_first(harness, checks):
    first = harness.call("GET", "/v1/verifications?agent_id=agent-42&limit=2", "admin")
    assert first.status_code == 200
    body = first.get_json()
    assert [v["verification_id"] for v in body["verifications"]] == checks[:2] and body["next_cursor"]
    seen = [v["verification_id"] for v in body["verifications"]]
    while body["next_cursor"]:
        body = harness.call("GET", f"/v1/verifications?agent_id=agent-42&limit=2&cursor={body['next_cursor']}",
                            "admin").get_json()
        seen += [v["verification_id"] for v in body["verifications"]]
    assert seen == checks  # every check once, in order; agent-7's is not among them


def test_admin_lists_a_keys_checks_with_the_key_named_and_no_secret(harness, checks):
    name = key_name(harness, "agent")
    body = harness.call("GET", f"/v1/verifications?key={name}&limit=100", "admin").get_json()
    assert len(body["verifications"]) == 6 and body["next_cursor"] is None
    record = body["verifications"][0]
    assert record["actor"] == name and record["agent_id"] == "agent-7"
    assert set(record) == {"verification_id", "account_id", "verified", "result", "factors", "level",
                           "attempts_remaining", "locked_until", "checked_at", "valid_until", "entry", "valid",
                           "channel", "agent_id", "ticket_ref", "call_ref", "actor"}  # never a PIN or a code


@pytest.mark.parametrize("query", ["agent_id=agent-42", "key=anything"])
def test_an_agent_key_may_not_list_checks_by_agent_or_key(harness, checks, query):
    answer = harness.call("GET", f"/v1/verifications?{query}", "agent")
    assert answer.status_code == 403 and answer.get_json()["error"]["details"]["reason"] == "admin_only"
    assert harness.call("GET", f"/v1/verifications?{query}", "portal").status_code == 403


@pytest.mark.parametrize("query", ["", "agent_id=a&key=b", "call_ref=CA1&agent_id=a", "agent_id=a&cursor=12",
                                   "agent_id=a&cursor=999999999999999999.ver_x",
                                   "key=bad%20name", "agent_id=a&limit=101"])
def test_a_malformed_listing_is_a_400(harness, query):
    answer = harness.call("GET", f"/v1/verifications?{query}", "admin")
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "validation_error"


def test_the_call_listing_keeps_its_shape(harness, checks):
    assert harness.call("GET", "/v1/verifications?call_ref=CA-none", "agent").get_json() == {"verifications": []}
