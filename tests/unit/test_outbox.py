"""The outbox with fakes: OutboxService delivers through a recording sender, retries, gives up, holds a lease."""

from datetime import timedelta

import pytest

from tests.unit.worlds import ACCOUNT, ACTOR, VAULT, FakeSender, make_world
from verify_service.domain.delivery import DeliveryPolicy, OutboxService, backoff, new_message
from verify_service.domain.model import rfc3339


@pytest.fixture
def world():
    return make_world()


def only_row(world):
    [row] = world.rows()
    return row


def queue_event(world, n):
    """Queue an event message directly, as any transaction may."""
    with world.uow(write=True) as uow:
        uow.outbox.add(new_message(VAULT, "event", {"n": n}, world.clock.now()))
        uow.commit()


def test_a_due_message_is_delivered_once_and_marked_sent(world):
    challenge = world.send()
    code = world.code_of(challenge)
    assert world.outbox.backlog() == (1, world.clock.now())
    assert world.outbox.dispatch_due() == 1
    [(message_id, payload)] = world.sms.delivered
    row = only_row(world)
    assert message_id == row.message_id and code in payload["text"] and payload["to"] == "+819012345678"
    assert (row.status, row.attempts, row.sent_at, row.claim_token) == ("sent", 1, world.clock.now(), None)
    assert world.stored(challenge.challenge_id).delivery == "sent"
    assert world.results == [("sms", "sent")]
    assert world.outbox.dispatch_due() == 0 and len(world.sms.tried) == 1
    assert world.outbox.backlog() == (0, None)


def test_a_refused_message_is_retried_with_doubling_backoff_until_it_goes(world):
    challenge = world.send()
    world.sms.failures = 3
    world.outbox.dispatch_due()
    row = only_row(world)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "gateway answered HTTP 503")
    assert row.next_attempt_at == world.clock.now() + timedelta(seconds=1) and row.claimed_until is None
    assert world.outbox.dispatch_due() == 0  # not due yet
    waits = []
    for _ in range(3):
        waits.append((only_row(world).next_attempt_at - world.clock.now()).total_seconds())
        world.clock.advance(waits[-1])
        assert world.outbox.dispatch_due() == 1
    assert waits == [1, 2, 4]
    assert (only_row(world).status, only_row(world).attempts) == ("sent", 4)
    assert len(world.sms.tried) == 4 and len(world.sms.delivered) == 1
    assert world.stored(challenge.challenge_id).delivery == "sent"
    assert world.results == [("sms", "retry")] * 3 + [("sms", "sent")]


def test_the_challenge_shows_queued_while_its_message_is_retried(world):
    challenge = world.send()
    world.sms.failures = 1
    world.outbox.dispatch_due()
    assert world.codes.get(challenge.challenge_id).delivery == "queued"


def test_backoff_doubles_from_a_second_and_is_capped_at_a_minute():
    assert [backoff(n).total_seconds() for n in (0, 1, 2, 3, 6, 7, 30)] == [1, 1, 2, 4, 32, 60, 60]


def test_a_message_still_refused_after_the_give_up_time_fails_and_is_audited():
    world = make_world(delivery=DeliveryPolicy(give_up=timedelta(seconds=60)))
    challenge = world.send()
    world.sms.failures = 1000
    for _ in range(8):
        world.outbox.dispatch_due()
        world.clock.advance(30)
    row = only_row(world)
    assert (row.status, row.last_error) == ("failed", "gateway answered HTTP 503")
    assert row.attempts == len(world.sms.tried) and world.sms.delivered == []
    assert world.stored(challenge.challenge_id).delivery == "failed"
    [failed] = [e.event for e in world.uow.store.events if e.event.event == "code_delivery_failed"]
    assert failed.details == {"challenge_id": challenge.challenge_id, "message_id": row.message_id,
                              "reason": "gateway answered HTTP 503"}
    assert world.results[-1] == ("sms", "failed")
    world.clock.advance(3600)
    assert world.outbox.dispatch_due() == 0


def test_a_code_message_undelivered_when_its_code_expires_is_dropped_unsent(world):
    challenge = world.send()
    world.sms.failures = 1
    world.outbox.dispatch_due()
    world.clock.advance(300)
    assert world.outbox.dispatch_due() == 1
    assert world.sms.delivered == [] and len(world.sms.tried) == 1
    assert only_row(world).status == "failed" and world.stored(challenge.challenge_id).delivery == "failed"
    [failed] = [e.event for e in world.uow.store.events if e.event.event == "code_delivery_failed"]
    assert failed.details["reason"] == "the code expired before it could be delivered"


@pytest.mark.parametrize("retire", ["used", "killed"])
def test_a_code_message_whose_code_was_used_or_killed_first_is_dropped(world, retire):
    challenge = world.send()
    code = world.code_of(challenge)
    if retire == "used":
        assert world.evaluate(code) == "match"
    else:
        for _ in range(3):
            world.evaluate("000000" if code != "000000" else "111111")
    assert world.outbox.dispatch_due() == 1
    assert world.sms.tried == []
    row = only_row(world)
    assert (row.status, row.attempts, row.last_error) == ("failed", 0, "the code was replaced before delivery")
    assert world.stored(challenge.challenge_id).delivery == "failed"
    assert "code_delivery_failed" not in world.event_names()


def test_only_the_newest_code_is_delivered_when_both_wait(world):
    first = world.send()
    world.clock.advance(30)
    second = world.send()
    assert world.outbox.dispatch_due() == 2
    [(_, payload)] = world.sms.delivered
    assert world.code_of(second) in payload["text"]
    assert world.stored(first.challenge_id).delivery == "failed"
    assert world.stored(second.challenge_id).delivery == "sent"


def test_a_second_dispatcher_cannot_take_a_leased_message(world):
    world.send()
    other_sender = FakeSender()
    other = OutboxService(uow=world.uow, vault=VAULT, clock=world.clock, senders={"sms": other_sender},
                          policy=DeliveryPolicy())
    during = []
    world.sms.while_sending.append(lambda: during.append(other.dispatch_due()))
    assert world.outbox.dispatch_due() == 1
    assert during == [0] and other_sender.tried == []
    assert len(world.sms.delivered) == 1 and only_row(world).status == "sent"
    assert other.dispatch_due() == 0 and other_sender.tried == []


def test_a_lease_that_ran_out_is_taken_over_and_the_late_result_is_not_recorded(world):
    world.send()
    other_sender = FakeSender()
    other = OutboxService(uow=world.uow, vault=VAULT, clock=world.clock, senders={"sms": other_sender},
                          policy=DeliveryPolicy())

    def stall_past_the_lease():
        world.clock.advance(91)  # the default lease is 90 s
        assert other.dispatch_due() == 1

    world.sms.while_sending.append(stall_past_the_lease)
    world.outbox.dispatch_due()
    row = only_row(world)
    assert len(other_sender.delivered) == 1 and (row.status, row.attempts) == ("sent", 1)
    assert world.results == []  # the first dispatcher lost its lease: its result was dropped


def test_a_batch_is_claimed_at_a_time_oldest_due_first(world):
    for n in range(12):
        queue_event(world, n)
        world.clock.advance(1)
    assert world.outbox.dispatch_due() == 10
    assert [payload["n"] for _, payload in world.events.delivered] == list(range(10))
    assert world.outbox.dispatch_due() == 2
    assert world.outbox.backlog() == (0, None)


def test_a_message_without_a_sender_is_retried_and_does_not_jam_the_rest(world):
    with world.uow(write=True) as uow:
        uow.outbox.add(new_message(VAULT, "fax", {"to": "nowhere"}, world.clock.now()))
        uow.commit()
    world.send()
    assert world.outbox.dispatch_due() == 2
    fax, sms = world.rows()
    assert (fax.status, fax.attempts, fax.last_error) == ("pending", 1, "cannot deliver: KeyError")
    assert sms.status == "sent" and len(world.sms.delivered) == 1


def test_security_events_are_queued_in_the_same_transaction_and_delivered():
    world = make_world(security_events=True)
    assert world.rows() == []  # registering a customer is no security event
    world.locks.freeze(ACCOUNT, "suspected takeover", ACTOR)
    [row] = world.rows()
    [frozen] = [e for e in world.uow.store.events if e.event.event == "customer_frozen"]
    assert (row.kind, row.account_id, row.challenge_id, row.expires_at) == ("event", ACCOUNT, None, None)
    assert b"suspected takeover" not in row.payload.blob
    assert world.payload(row) == {"event_id": f"evt_{frozen.id}", "event": "customer_frozen", "account_id": ACCOUNT,
                                  "at": rfc3339(frozen.event.at), "details": {"reason": "suspected takeover"}}
    world.outbox.dispatch_due()
    assert world.events.delivered == [(row.message_id, world.payload(row))] and world.sms.tried == []


def test_only_the_contract_s_security_events_are_queued():
    world = make_world(security_events=True)
    world.locks.freeze(ACCOUNT, "r", ACTOR)
    world.locks.unfreeze(ACCOUNT, "r", ACTOR)  # customer_unfrozen is not one
    world.customers.view_pin(ACCOUNT, ACTOR)
    world.customers.register_or_update(ACCOUNT, {"email": "a@example.com"}, ACTOR)  # no phone change
    world.customers.register_or_update(ACCOUNT, {"phone": "+819087654321"}, ACTOR)
    events = [world.payload(row)["event"] for row in world.rows() if row.kind == "event"]
    assert events == ["customer_frozen", "pin_viewed", "phone_changed"]


def test_a_code_send_queues_no_security_event():
    world = make_world(security_events=True)
    world.send()
    assert [row.kind for row in world.rows()] == ["sms"]


def test_without_the_events_webhook_no_security_event_is_queued(world):
    world.locks.freeze(ACCOUNT, "suspected takeover", ACTOR)
    assert world.rows() == [] and "customer_frozen" in world.event_names()


def test_a_security_event_is_never_given_up():
    world = make_world(security_events=True, delivery=DeliveryPolicy(give_up=timedelta(seconds=60)))
    world.locks.freeze(ACCOUNT, "r", ACTOR)
    world.events.failures = 10
    for _ in range(10):
        world.outbox.dispatch_due()
        world.clock.advance(60)
    assert (only_row(world).status, only_row(world).attempts) == ("pending", 10)
    world.outbox.dispatch_due()
    assert only_row(world).status == "sent" and len(world.events.delivered) == 1


def test_a_message_queued_by_a_transaction_that_failed_is_never_sent():
    world = make_world(security_events=True)
    world.locks.freeze(ACCOUNT, "r", ACTOR)
    with pytest.raises(RuntimeError), world.uow(write=True) as uow:
        uow.outbox.add(new_message(VAULT, "event", {"n": 1}, world.clock.now()))
        raise RuntimeError("the transaction fails before its commit")
    assert world.outbox.dispatch_due() == 1
    assert [payload["event"] for _, payload in world.events.delivered] == ["customer_frozen"]
