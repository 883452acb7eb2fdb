"""One-time codes with fakes: CodeService sends (refusals, limits, the sealed outbox message) and the code factor."""

import re
from datetime import datetime, timedelta

import pytest

from tests.unit.worlds import ACCOUNT, ACTOR, PHONE, POLICY, VAULT, holds, make_world
from verify_service.domain.checks import CheckRequest
from verify_service.domain.codes import CodePolicy
from verify_service.domain.masking import mask_phone
from verify_service.domain.phone_refs import phone_ref
from verify_service.domain.sms_guard import SmsCaps
from verify_service.errors import Conflict, NotFound, RateLimited


@pytest.fixture
def world():
    return make_world()


def nothing_was_sent(world):
    assert world.uow.store.challenges == {} and world.uow.store.outbox == [] and world.sent == []
    assert "code_sent" not in world.event_names()


# --- sending --------------------------------------------------------------------------------------------------------


def test_a_send_stores_a_pending_challenge_and_reports_it_once(world):
    now = world.clock.now()
    challenge = world.send(agent_id="agent-42", ticket_ref="T-1")
    assert world.uow.log[-1] == "commit"
    stored = world.stored(challenge.challenge_id)
    assert (stored.status, stored.delivery, stored.wrong_entries, stored.channel) == ("pending", "queued", 0, "sms")
    assert stored.expires_at == now + timedelta(minutes=5) and stored.resend_available_at == now + timedelta(seconds=30)
    assert stored.destination_masked == mask_phone(PHONE) == "+81 *******678" and stored.actor == "agent-key"
    assert (stored.agent_id, stored.ticket_ref) == ("agent-42", "T-1")
    assert world.sent == [challenge] and world.codes.get(challenge.challenge_id) == stored


def test_the_message_is_queued_sealed_with_the_code_only_inside(world):
    challenge = world.send()
    [row] = world.rows()
    assert (row.kind, row.status, row.attempts, row.account_id) == ("sms", "pending", 0, ACCOUNT)
    assert row.challenge_id == challenge.challenge_id and row.expires_at == challenge.expires_at
    assert row.next_attempt_at == world.clock.now()
    code = world.code_of(challenge)
    assert code.encode() not in row.payload.blob and PHONE.encode() not in row.payload.blob
    payload = world.payload(row)
    assert payload["to"] == PHONE and payload["channel"] == "sms" and payload["locale"] == "ja"
    assert code in payload["text"] and "カスタマーサポート" in payload["text"] and "5分" in payload["text"]


def test_the_code_itself_is_kept_only_as_a_mac(world):
    challenge = world.send()
    code = world.code_of(challenge)
    assert code not in repr(world.stored(challenge.challenge_id)) and code.encode() not in challenge.code_mac.blob


def test_a_send_writes_one_code_sent_event_without_the_code(world):
    challenge = world.send(agent_id="agent-42", ticket_ref="T-1")
    [event] = [e.event for e in world.uow.store.events if e.event.event == "code_sent"]
    assert event.account_id == ACCOUNT and event.actor == "agent-key" and event.ip == "10.0.0.1"
    assert (event.agent_id, event.ticket_ref) == ("agent-42", "T-1")
    assert event.details == {"challenge_id": challenge.challenge_id, "channel": "sms",
                             "phone_ref": phone_ref(VAULT, PHONE)[0], "phone_ref_key": "t", "phone_country": "+81"}
    assert "*" not in repr(event.details) and not holds(repr(event.details), PHONE[-4:])  # no fragment of it
    assert not holds(world.audit_text(), world.code_of(challenge))


def test_a_new_send_supersedes_the_pending_code(world):
    first = world.send()
    world.clock.advance(30)
    second = world.send()
    assert world.stored(first.challenge_id).status == "superseded"
    assert world.stored(second.challenge_id).status == "pending"
    assert world.sent == [first, second] and len(world.rows()) == 2


def test_an_expired_code_stays_expired_when_a_new_one_is_sent(world):
    first = world.send()
    world.clock.advance(300)
    world.send()
    assert world.stored(first.challenge_id).status == "pending"  # never superseded: it had expired
    assert world.codes.get(first.challenge_id).status_at(world.clock.now()) == "expired"


def test_a_frozen_customer_gets_no_code(world):
    world.locks.freeze(ACCOUNT, "suspected takeover", ACTOR)
    with pytest.raises(Conflict, match="frozen"):
        world.send()
    nothing_was_sent(world)
    assert world.uow.log[-1] == "rollback"


def test_a_customer_locked_on_the_row_gets_no_code(world):
    world.uow.store.customers[ACCOUNT].locked_until = world.clock.now() + timedelta(hours=1)
    with pytest.raises(Conflict, match="locked"):
        world.send()
    nothing_was_sent(world)


def test_a_lock_only_the_counter_knows_refuses_the_code_too(world):
    for _ in range(POLICY.threshold):
        world.counter.record_failure(ACCOUNT, world.clock.now(), POLICY)
    assert world.customer().locked_until is None
    with pytest.raises(Conflict, match="locked"):
        world.send()
    nothing_was_sent(world)
    world.clock.advance(POLICY.lock_for.total_seconds())
    world.send()


def test_a_totp_customer_gets_an_sms_only_when_asked_for_explicitly(world):
    world.enrol_totp()
    with pytest.raises(Conflict, match="authenticator app"):
        world.send()
    nothing_was_sent(world)
    assert world.send(channel="sms").channel == "sms"


def test_sim_swap_hold_refuses_codes_for_a_day_after_a_phone_change(world):
    world.send()  # the first registration set no hold
    world.clock.advance(60)
    world.customers.register_or_update(ACCOUNT, {"phone": "+819087654321"}, ACTOR)
    changed = world.clock.now()
    with pytest.raises(Conflict, match="phone number changed") as refused:
        world.send()
    assert f"{changed + timedelta(hours=24):%Y-%m-%dT%H:%M:%SZ}" in refused.value.message
    world.clock.advance(24 * 3600 - 1)
    with pytest.raises(Conflict):
        world.send()
    world.clock.advance(1)
    assert world.send().destination_masked == mask_phone("+819087654321")
    assert len(world.uow.store.challenges) == 2


def test_a_second_send_within_the_resend_wait_is_rate_limited(world):
    world.send()
    world.clock.advance(10)
    with pytest.raises(RateLimited, match="moments ago") as refused:
        world.send()
    assert refused.value.retry_after == 20 and len(world.sent) == 1
    world.clock.advance(20)
    world.send()
    assert len(world.sent) == 2


def test_the_hourly_cap_counts_the_customer_s_sends_until_the_oldest_leaves_the_hour(world):
    for _ in range(5):
        world.send()
        world.clock.advance(30)
    with pytest.raises(RateLimited, match="last hour") as refused:
        world.send()
    assert refused.value.retry_after == 3600 - 150 and len(world.sent) == 5
    world.clock.advance(3600 - 150)
    world.send()
    assert len(world.sent) == 6


def test_the_per_number_cap_counts_every_customer_sharing_the_phone():
    world = make_world(caps=SmsCaps(per_number=2))
    for account in ("JP1002", "JP1003"):
        world.customers.register_or_update(account, {"phone": PHONE}, ACTOR)
    world.send(ACCOUNT)
    world.send("JP1002")
    with pytest.raises(RateLimited) as refused:
        world.send("JP1003")
    assert refused.value.details == {"reason": "per_number"} and len(world.sent) == 2
    assert len(set(world.uow.store.locked_destinations)) == 1  # each send locked the (hashed) destination


def test_a_country_outside_the_allow_list_gets_no_code():
    world = make_world(code_policy=CodePolicy(allowed_countries=("GB",)))
    with pytest.raises(Conflict) as refused:
        world.send()
    assert refused.value.details == {"reason": "country"}
    nothing_was_sent(world)


def test_an_unknown_customer_or_challenge_is_not_found(world):
    with pytest.raises(NotFound):
        world.send("NOPE")
    with pytest.raises(NotFound):
        world.codes.get("chl_nope")
    assert world.sent == []


# --- the code factor ------------------------------------------------------------------------------------------------


def test_the_right_code_matches_once_then_is_used_up(world):
    challenge = world.send()
    code = world.code_of(challenge)
    assert world.evaluate(code) == "match"
    assert world.stored(challenge.challenge_id).status == "verified"
    assert world.evaluate(code) == "mismatch"
    assert world.evaluate(code, challenge.challenge_id) == "mismatch"
    assert world.stored(challenge.challenge_id).wrong_entries == 0  # a used code counts no wrong entries


def test_a_named_challenge_matches_too(world):
    challenge = world.send()
    assert world.evaluate(world.code_of(challenge), challenge.challenge_id) == "match"


def test_wrong_entries_are_counted_and_the_third_kills_the_code(world):
    challenge = world.send()
    code = world.code_of(challenge)
    wrong = "000000" if code != "000000" else "111111"
    assert [world.evaluate(wrong) for _ in range(2)] == ["mismatch", "mismatch"]
    stored = world.stored(challenge.challenge_id)
    assert (stored.wrong_entries, stored.status) == (2, "pending")
    assert world.evaluate(wrong) == "mismatch"
    stored = world.stored(challenge.challenge_id)
    assert (stored.wrong_entries, stored.status) == (3, "killed")
    assert world.evaluate(code) == "mismatch"  # the right code is dead too
    assert world.stored(challenge.challenge_id).wrong_entries == 3


def test_two_wrong_entries_leave_the_code_usable(world):
    challenge = world.send()
    code = world.code_of(challenge)
    wrong = "000000" if code != "000000" else "111111"
    world.evaluate(wrong)
    world.evaluate(wrong)
    assert world.evaluate(code) == "match"


def test_an_expired_code_is_expired_and_counts_no_wrong_entry(world):
    challenge = world.send()
    code = world.code_of(challenge)
    world.clock.advance(300)  # the code's lifetime
    assert world.evaluate(code) == "expired"
    assert world.evaluate("000000") == "expired"
    assert world.stored(challenge.challenge_id).wrong_entries == 0


def test_a_superseded_code_no_longer_matches_and_the_new_one_does(world):
    first = world.send()
    world.clock.advance(30)
    second = world.send()
    old, new = world.code_of(first), world.code_of(second)
    assert world.evaluate(old, first.challenge_id) == "mismatch"
    if old != new:
        assert world.evaluate(old) == "mismatch"  # checked against the newest code: a wrong entry on it
        assert world.stored(second.challenge_id).wrong_entries == 1
    assert world.evaluate(new) == "match"


def test_another_customer_s_challenge_never_matches_nor_is_harmed(world):
    world.customers.register_or_update("JP1002", {"phone": "+819011112222"}, ACTOR)
    theirs = world.send("JP1002")
    assert world.evaluate(world.code_of(theirs), theirs.challenge_id) == "mismatch"
    stored = world.stored(theirs.challenge_id)
    assert (stored.status, stored.wrong_entries) == ("pending", 0)
    assert world.evaluate(world.code_of(theirs), account_id="JP1002") == "match"


def test_no_code_sent_is_a_mismatch(world):
    assert world.evaluate("123456") == "mismatch"


def test_a_check_with_pin_and_code_is_level_two_and_a_wrong_code_counts_toward_lockout(world):
    pin = world.customers.view_pin(ACCOUNT, ACTOR).pin
    challenge = world.send()
    code = world.code_of(challenge)
    wrong = "000000" if code != "000000" else "111111"
    failed = world.checks.check(CheckRequest(ACCOUNT, "phone", "agent-42", pin=pin, code=wrong), ACTOR)
    assert failed.result == "rejected" and failed.factors == {"pin": "match", "code": "mismatch"}
    assert failed.attempts_remaining == 4
    verified = world.checks.check(CheckRequest(ACCOUNT, "phone", "agent-42", pin=pin, code=code), ACTOR)
    assert (verified.result, verified.level) == ("verified", 2)
    assert not holds(world.audit_text(), code) and not holds(world.audit_text(), wrong)


def test_of_two_checks_racing_with_the_right_code_only_one_matches(world, monkeypatch):
    from tests import fakes

    challenge = world.send()
    code = world.code_of(challenge)
    real_latest = fakes._Challenges.latest

    def latest_then_a_concurrent_check_uses_it(self, account_id):
        found = real_latest(self, account_id)  # this check read the code as pending...
        self._uow.state.challenges[challenge.challenge_id].status = "verified"  # ...and another check used it
        return found

    monkeypatch.setattr(fakes._Challenges, "latest", latest_then_a_concurrent_check_uses_it)
    assert world.evaluate(code) == "mismatch"
    assert world.stored(challenge.challenge_id).status == "verified"


def test_the_hold_end_shown_in_the_refusal_is_never_early(world):
    world.clock.advance(0.25)  # real clocks have microseconds
    world.customers.register_or_update(ACCOUNT, {"phone": "+819087654321"}, ACTOR)
    with pytest.raises(Conflict) as refused:
        world.send()
    shown = re.search(r"until (\S+Z)", refused.value.message)
    assert shown is not None
    world.clock.current = datetime.fromisoformat(shown.group(1).replace("Z", "+00:00"))
    assert world.send().channel == "sms"  # whoever waits until the time shown is let through
