"""The agent watch over keypad checks: an IVR serves every caller, so only its failures are judged (a PIN spray)."""

from __future__ import annotations

import pytest

from tests.ivr.conftest import add_ivr_key
from tests.ivr.test_twilio_calls import EN_NUMBER, JA_NUMBER, PUBLIC, TOKEN, WORKFLOW, Call, says, wrong
from verify_service.domain.agent_watch import WatchPolicy, subjects_of
from verify_service.domain.model import Actor

IVR_SETTINGS = dict(ivr_public_url=PUBLIC, twilio_auth_token=TOKEN, ivr_transfer=f"workflow:{WORKFLOW}",
                    ivr_languages=((JA_NUMBER, "ja"), (EN_NUMBER, "en")), ivr_account_prefix="JP")


@pytest.fixture
def watched_ivr(make_harness, mode):
    """Keypad entry on, a tight watch (3 customers, 3 failures for agents; 4 failures for keypad flows), blocking."""
    harness = make_harness(mode, agent_max_customers=3, agent_max_failures=3, agent_keypad_max_failures=4,
                           agent_block=True, **IVR_SETTINGS)
    harness.pins = {f"JP{1000 + n}": harness.register(f"JP{1000 + n}", phone=f"+8190123456{n:02d}")
                    for n in range(1, 9)}
    return harness


def keypad_call(harness, account_digits, pin, n):
    """One whole call: the account number, one PIN entry; returns the last answer."""
    call = Call(harness, call_sid="CA" + f"{n:032x}")
    call.start()
    call.enter(account_digits)
    return call.enter(pin)


def anomalies(harness):
    return harness.call("GET", "/v1/agents/anomalies", "admin").get_json()["anomalies"]


def test_an_ivr_key_is_watched_as_a_key_alone_under_the_keypad_thresholds():
    flow = Actor("twilio-ivr", roles=("ivr",))
    assert [s.key for s in subjects_of("ivr", flow)] == ["key:twilio-ivr"]
    policy = WatchPolicy(max_customers=30, max_failures=10, keypad_max_failures=100)
    assert policy.for_actor(flow).max_failures == 100
    assert policy.for_actor(flow).max_customers > 10**9  # distinct callers are what an IVR is for
    assert policy.for_actor(Actor("crm", roles=("agent",))) is policy


def test_a_busy_ivr_verifying_many_customers_raises_nothing(watched_ivr):
    for n, (account, pin) in enumerate(watched_ivr.pins.items()):
        answer = keypad_call(watched_ivr, account.removeprefix("JP"), pin, n)
        assert says(answer)[0] == "ありがとうございます。ご本人確認ができました。"
    assert anomalies(watched_ivr) == []  # 8 customers, over the agents' 3


def test_a_pin_spray_through_the_ivr_raises_an_anomaly_and_then_puts_callers_through_unchecked(watched_ivr):
    accounts = list(watched_ivr.pins)
    for n, account in enumerate(accounts[:4]):  # one wrong PIN on each of four accounts: no account near its lock
        keypad_call(watched_ivr, account.removeprefix("JP"), wrong(watched_ivr.pins[account]), n)
    raised = anomalies(watched_ivr)
    assert [(a["subject"], a["subject_id"], a["kind"], a["count"], a["threshold"]) for a in raised] == [
        ("key", "twilio-ivr", "failures", 4, 4)]
    victim = accounts[5]
    answer = keypad_call(watched_ivr, victim.removeprefix("JP"), watched_ivr.pins[victim], 99)
    assert says(answer)[0] == "ただいまPINを確認できません。"  # no check: put through to an agent
    listed = watched_ivr.call("GET", f"/v1/verifications?call_ref=CA{99:032x}", "agent").get_json()
    assert listed["verifications"] == []
    # Agents are not paused by the flow's anomaly: the desk goes on verifying callers the old way.
    assert watched_ivr.check(victim, pin=watched_ivr.pins[victim]).get_json()["result"] == "verified"


def test_another_platforms_ivr_key_is_watched_under_its_own_name(watched_ivr):
    add_ivr_key(watched_ivr)
    for account in list(watched_ivr.pins)[:4]:
        response = watched_ivr.call("POST", "/v1/verifications", "ivr", json={
            "account_id": account, "pin": wrong(watched_ivr.pins[account]), "channel": "phone",
            "agent_id": "connect-flow", "entry": "keypad", "call_ref": "contact-1"})
        assert response.status_code == 200, response.get_json()
    raised = anomalies(watched_ivr)
    assert [(a["subject"], a["kind"]) for a in raised] == [("key", "failures")]
    assert raised[0]["subject_id"].startswith("ivr-")
    blocked = watched_ivr.call("POST", "/v1/verifications", "ivr", json={
        "account_id": "JP1006", "pin": watched_ivr.pins["JP1006"], "channel": "phone", "agent_id": "connect-flow",
        "entry": "keypad", "call_ref": "contact-2"})
    assert blocked.status_code == 429 and blocked.get_json()["error"]["details"]["reason"] == "agent_blocked"
