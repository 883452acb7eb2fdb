"""Approval requests with fakes and a fake clock: supersede, cap, expiry, answers, the deny count, single use, level."""

from datetime import timedelta

import pytest

from tests.fakes import FakeAttemptCounter
from tests.unit.worlds import ACCOUNT, ACTOR, POLICY, TEXTS, make_world
from verify_service.bootstrap import approval_policy_from
from verify_service.config import load_settings
from verify_service.domain.approvals import ApprovalAsk, ApprovalPolicy, render_pending_message
from verify_service.domain.checks import CheckRequest
from verify_service.domain.model import Actor
from verify_service.errors import ConfigError, Conflict, DependencyUnavailable, NotFound, RateLimited

REASON = "change withdrawal address"
PORTAL = Actor("portal-key", "10.0.0.2")


@pytest.fixture
def world():
    return make_world()


def ask(world, account_id=ACCOUNT, reason=REASON, **extra):
    return world.approvals.request(ApprovalAsk(account_id, reason, "agent-42", "phone", **extra), ACTOR)


def check(world, pin=None, approval_id=None, code=None):
    request = CheckRequest(ACCOUNT, "phone", "agent-42", pin=pin, code=code, approval_id=approval_id)
    return world.checks.check(request, ACTOR)


def pin_of(world):
    return world.customers.view_pin(ACCOUNT, ACTOR).pin


def status(world, approval):
    return world.approvals.get(approval.approval_id).status_at(world.clock.now())


# --- requests -------------------------------------------------------------------------------------------------------


def test_a_request_is_pending_for_five_minutes_and_audited_with_its_reason(world):
    approval = ask(world, ticket_ref="T-1")
    assert approval.approval_id.startswith("apr_") and approval.status == "pending"
    assert approval.expires_at == world.clock.now() + timedelta(minutes=5) and approval.answered_at is None
    event = world.uow.store.events[-1].event
    assert event.event == "approval_requested" and event.details["reason"] == REASON
    assert (event.agent_id, event.ticket_ref, event.actor) == ("agent-42", "T-1", ACTOR.key_name)
    assert world.approval_outcomes == ["requested"]


def test_a_new_request_supersedes_the_pending_one(world):
    first = ask(world)
    second = ask(world, reason="raise the card limit")
    assert status(world, first) == "superseded" and status(world, second) == "pending"
    assert world.uow.store.events[-1].event.details["superseded"] == [first.approval_id]
    assert [a.approval_id for a in world.approvals.pending(ACCOUNT).approvals] == [second.approval_id]


def test_requests_are_capped_per_customer_per_hour_with_a_retry_after(world):
    for _ in range(5):
        ask(world)
        world.clock.advance(60)
    with pytest.raises(RateLimited) as refused:
        ask(world)
    assert refused.value.retry_after == 3600 - 5 * 60
    world.clock.advance(refused.value.retry_after)
    assert ask(world).status == "pending"  # the oldest left the hour


@pytest.mark.parametrize("block", ["frozen", "locked"])
def test_a_locked_or_frozen_customer_gets_no_request(world, block):
    if block == "frozen":
        world.locks.freeze(ACCOUNT, "suspected takeover", ACTOR)
    else:
        for _ in range(POLICY.threshold):
            check(world, pin="000000")
    with pytest.raises(Conflict):
        ask(world)
    assert world.uow.store.approvals == {}


def test_an_unknown_customer_or_request_is_not_found(world):
    with pytest.raises(NotFound):
        ask(world, account_id="JP9999")
    with pytest.raises(NotFound):
        world.approvals.get("apr_nothing")


# --- the account page -----------------------------------------------------------------------------------------------


def test_the_pending_message_is_in_the_customer_s_locale_with_english_fallback():
    assert render_pending_message(TEXTS.language("en"), brand="Support", reason=REASON) == (
        "Support is asking you to approve: change withdrawal address. Approve only if you are talking to "
        "Support right now and you asked for this.")
    assert REASON in render_pending_message(TEXTS.language("ja"), brand="Support", reason=REASON)
    assert "承認" in render_pending_message(TEXTS.language("ja"), brand="Support", reason=REASON)
    assert render_pending_message(TEXTS.language("zh"), brand="S", reason=None) == "没有需要批准的请求。"
    assert render_pending_message(TEXTS.language("ko"), brand="S", reason=None) == "승인할 요청이 없습니다."
    assert render_pending_message(TEXTS.language("xx"), brand="S", reason=None) == "There is nothing to approve."


def test_the_account_page_shows_the_pending_request_then_nothing_once_answered(world):
    approval = ask(world)
    shown = world.approvals.pending(ACCOUNT)
    assert [a.reason for a in shown.approvals] == [REASON] and REASON in shown.message  # customer's locale: ja
    world.approvals.answer(ACCOUNT, approval.approval_id, "approve", PORTAL)
    assert world.approvals.pending(ACCOUNT).approvals == []
    assert world.approvals.pending(ACCOUNT).message == "承認が必要な依頼はありません。"


# --- answers --------------------------------------------------------------------------------------------------------


def test_an_approval_is_stamped_and_audited(world):
    approval = ask(world)
    world.clock.advance(30)
    answered = world.approvals.answer(ACCOUNT, approval.approval_id, "approve", PORTAL)
    assert answered.status == "approved" and answered.answered_at == world.clock.now()
    assert world.event_names()[-1] == "approval_approved"
    assert world.approval_outcomes == ["requested", "approved"]


@pytest.mark.parametrize("answer", ["approve", "deny"])
def test_an_expired_request_cannot_be_answered(world, answer):
    approval = ask(world)
    world.clock.advance(300)
    with pytest.raises(Conflict) as refused:
        world.approvals.answer(ACCOUNT, approval.approval_id, answer, PORTAL)
    assert refused.value.details["reason"] == "expired"
    assert world.counter.state(ACCOUNT, world.clock.now(), POLICY).failures == 0


def test_an_answered_or_superseded_request_cannot_be_answered_again(world):
    first = ask(world)
    second = ask(world)
    world.approvals.answer(ACCOUNT, second.approval_id, "approve", PORTAL)
    for approval in (first, second):
        with pytest.raises(Conflict) as refused:
            world.approvals.answer(ACCOUNT, approval.approval_id, "deny", PORTAL)
        assert refused.value.details["reason"] == "not_pending"


def test_another_customer_s_request_is_not_found_when_answering(world):
    world.customers.register_or_update("JP2002", {"phone": "+819011112222"}, ACTOR)
    approval = ask(world, account_id="JP2002")
    with pytest.raises(NotFound):
        world.approvals.answer(ACCOUNT, approval.approval_id, "approve", PORTAL)
    assert status(world, approval) == "pending"


def test_a_denied_approval_counts_as_a_failed_attempt_with_a_stored_check_record(world):
    approval = ask(world)
    denied = world.approvals.answer(ACCOUNT, approval.approval_id, "deny", PORTAL)
    assert denied.status == "denied"
    assert world.counter.state(ACCOUNT, world.clock.now(), POLICY).failures == 1
    (record,) = world.uow.store.verifications.values()
    assert (record.result, record.factors["approval"], record.agent_id) == ("rejected", "mismatch", "agent-42")
    event = world.uow.store.events[-1].event
    assert event.event == "approval_denied" and event.details["verification_id"] == record.verification_id
    assert event.details["attempts_remaining"] == POLICY.threshold - 1 and event.actor == PORTAL.key_name


def test_a_deny_that_reaches_the_threshold_locks_the_customer(world):
    for _ in range(POLICY.threshold - 1):
        check(world, pin="000000" if pin_of(world) != "000000" else "000001")
    approval = ask(world)
    world.approvals.answer(ACCOUNT, approval.approval_id, "deny", PORTAL)
    assert world.customer().locked_until is not None
    assert "customer_locked" in world.event_names() and world.event_names()[-1] == "approval_denied"
    assert check(world, pin=pin_of(world)).result == "locked"


def test_a_deny_whose_count_fails_is_reopened_so_the_retry_counts_once(world, monkeypatch):
    approval = ask(world)

    def down(*args, **kwargs):
        raise DependencyUnavailable(retry_after=2)

    monkeypatch.setattr(FakeAttemptCounter, "record_failure", down)
    with pytest.raises(DependencyUnavailable):
        world.approvals.answer(ACCOUNT, approval.approval_id, "deny", PORTAL)
    assert status(world, approval) == "pending" and "approval_denied" not in world.event_names()
    monkeypatch.undo()
    world.approvals.answer(ACCOUNT, approval.approval_id, "deny", PORTAL)
    assert world.counter.state(ACCOUNT, world.clock.now(), POLICY).failures == 1


# --- the approval factor of a check ---------------------------------------------------------------------------------


def approved(world):
    approval = ask(world)
    world.approvals.answer(ACCOUNT, approval.approval_id, "approve", PORTAL)
    return approval


def test_pin_and_approval_verify_at_level_two_and_approval_alone_at_level_one(world):
    both = check(world, pin=pin_of(world), approval_id=approved(world).approval_id)
    assert (both.result, both.level, both.factors) == ("verified", 2, {"pin": "match", "code": "not_checked",
                                                                         "approval": "match"})
    alone = check(world, approval_id=approved(world).approval_id)
    assert (alone.result, alone.level) == ("verified", 1)


def test_an_approval_is_single_use(world):
    approval = approved(world)
    assert check(world, approval_id=approval.approval_id).factors["approval"] == "match"
    assert status(world, approval) == "used" and "approval_used" in world.event_names()
    again = check(world, approval_id=approval.approval_id)
    assert (again.result, again.factors["approval"]) == ("rejected", "mismatch")
    assert world.approval_outcomes.count("used") == 1


def test_an_approved_request_past_its_lifetime_is_expired_and_counts(world):
    approval = approved(world)
    world.clock.advance(300)
    result = check(world, approval_id=approval.approval_id)
    assert (result.result, result.factors["approval"], result.attempts_remaining) == ("rejected", "expired", 4)


@pytest.mark.parametrize("kind", ["denied", "superseded", "unknown", "another customer's"])
def test_a_request_that_is_not_approved_is_a_mismatch_and_counts(world, kind):
    world.customers.register_or_update("JP2002", {"phone": "+819011112222"}, ACTOR)
    approval = ask(world, account_id="JP2002" if kind == "another customer's" else ACCOUNT)
    if kind == "another customer's":
        world.approvals.answer("JP2002", approval.approval_id, "approve", PORTAL)
    elif kind == "denied":
        world.approvals.answer(ACCOUNT, approval.approval_id, "deny", PORTAL)
    elif kind == "superseded":
        ask(world)
    failures = world.counter.state(ACCOUNT, world.clock.now(), POLICY).failures
    approval_id = "apr_unknown" if kind == "unknown" else approval.approval_id
    result = check(world, pin=pin_of(world), approval_id=approval_id)
    assert (result.result, result.factors["approval"]) == ("rejected", "mismatch")
    assert world.counter.state(ACCOUNT, world.clock.now(), POLICY).failures == failures + 1
    if kind == "another customer's":
        assert status(world, approval) == "approved"  # not used up by someone else's check


def test_a_check_with_a_pending_request_is_a_conflict_and_counts_nothing(world):
    approval = ask(world)
    with pytest.raises(Conflict) as refused:
        check(world, pin=pin_of(world), approval_id=approval.approval_id)
    assert refused.value.details["reason"] == "approval_pending"
    assert world.counter.state(ACCOUNT, world.clock.now(), POLICY).failures == 0
    assert world.uow.store.verifications == {} and status(world, approval) == "pending"


def test_a_locked_customer_s_check_does_not_evaluate_or_use_the_approval(world):
    approval = approved(world)
    for _ in range(POLICY.threshold):
        check(world, pin="000000" if pin_of(world) != "000000" else "000001")
    result = check(world, approval_id=approval.approval_id)
    assert (result.result, result.factors["approval"]) == ("locked", "not_checked")
    assert status(world, approval) == "approved"


def test_a_check_without_an_approval_keeps_the_contract_s_factors(world):
    assert check(world, pin=pin_of(world)).factors == {"pin": "match", "code": "not_checked"}


def test_the_policy_comes_from_the_settings():
    world = make_world(approval_policy=ApprovalPolicy(ttl=timedelta(seconds=60), max_per_hour=1))
    approval = ask(world)
    assert approval.expires_at - approval.created_at == timedelta(seconds=60)
    with pytest.raises(RateLimited):
        ask(world)


@pytest.mark.parametrize("name,raw", [("VERIFY_APPROVAL_TTL_SECONDS", "0"), ("VERIFY_APPROVAL_MAX_PER_HOUR", "x")])
def test_bad_approval_settings_fail_fast_naming_the_variable(name, raw):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: raw})


def test_approval_settings_are_read_from_the_environment():
    settings = load_settings({"VERIFY_APPROVAL_TTL_SECONDS": "120", "VERIFY_APPROVAL_MAX_PER_HOUR": "3"})
    assert approval_policy_from(settings) == ApprovalPolicy(ttl=timedelta(seconds=120), max_per_hour=3)
