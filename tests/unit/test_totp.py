"""Authenticator apps with fakes: TotpService enrol, confirm, one use per time step, removal; no secret leaks."""

import pyotp
import pytest

from tests.unit.worlds import ACCOUNT, ACTOR, VAULT, holds, make_world
from verify_service.domain.totp import STEP_SECONDS
from verify_service.errors import Conflict, NotFound


@pytest.fixture
def world():
    return make_world()


def app_of(enrolment):
    app = pyotp.parse_uri(enrolment.otpauth_uri)
    assert isinstance(app, pyotp.TOTP)
    return app


def step_of(world):
    return int(world.clock.now().timestamp()) // STEP_SECONDS


def other_code(app, world):
    """A six-digit code that is none of the app's codes around now."""
    near = {app.at(world.clock.now(), counter_offset=offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_enrol_keeps_a_sealed_pending_secret_and_changes_nothing_else(world):
    enrolment = world.totp.enrol(ACCOUNT, ACTOR)
    app = app_of(enrolment)
    stored = world.uow.store.customers[ACCOUNT]
    assert stored.totp is None and stored.second_factor == "sms" and stored.totp_pending is not None
    assert app.secret.encode() not in stored.totp_pending.blob
    assert VAULT.open(ACCOUNT, stored.totp_pending, purpose="totp") == app.secret
    assert "issuer=Support" in enrolment.otpauth_uri and ACCOUNT in enrolment.otpauth_uri
    assert enrolment.qr_svg.startswith("<svg")
    assert "totp_enrolled" not in world.event_names()


def test_confirm_with_the_app_s_current_code_activates_it(world):
    app = app_of(world.totp.enrol(ACCOUNT, ACTOR))
    customer = world.totp.confirm(ACCOUNT, app.at(world.clock.now()), ACTOR)
    stored = world.uow.store.customers[ACCOUNT]
    assert customer.second_factor == stored.second_factor == "totp"
    assert stored.totp is not None and stored.totp_pending is None and stored.updated_at == world.clock.now()
    assert stored.totp_last_step == step_of(world)  # the confirming code is used up
    [event] = [e.event for e in world.uow.store.events if e.event.event == "totp_enrolled"]
    assert (event.account_id, event.actor, event.ip) == (ACCOUNT, "agent-key", "10.0.0.1")


def test_the_confirming_code_cannot_be_used_again_in_its_step(world):
    app = world.enrol_totp()
    code = app.at(world.clock.now())
    assert world.totp.check(world.customer(), code, world.clock.now()) is False
    assert world.evaluate(code) == "mismatch"


def test_a_code_is_accepted_once_per_time_step(world):
    app = world.enrol_totp()
    world.clock.advance(STEP_SECONDS)
    code = app.at(world.clock.now())
    assert world.totp.check(world.customer(), code, world.clock.now()) is True
    assert world.totp.check(world.customer(), code, world.clock.now()) is False
    assert world.uow.store.customers[ACCOUNT].totp_last_step == step_of(world)


def test_an_older_step_s_code_is_refused_after_a_newer_one_was_used(world):
    app = world.enrol_totp()
    world.clock.advance(2 * STEP_SECONDS)
    now = world.clock.now()
    assert world.totp.check(world.customer(), app.at(now), now) is True
    previous = app.at(now, counter_offset=-1)  # still inside the ±1 step drift window
    assert world.totp.check(world.customer(), previous, now) is False


def test_one_step_of_clock_drift_is_allowed_and_no_more(world):
    app = world.enrol_totp()
    world.clock.advance(3 * STEP_SECONDS)
    now = world.clock.now()
    assert world.totp.check(world.customer(), app.at(now, counter_offset=2), now) is False
    assert world.totp.check(world.customer(), app.at(now, counter_offset=1), now) is True


def test_a_wrong_code_is_a_mismatch_conflict_and_the_enrolment_stays_pending(world):
    app = app_of(world.totp.enrol(ACCOUNT, ACTOR))
    with pytest.raises(Conflict) as refused:
        world.totp.confirm(ACCOUNT, other_code(app, world), ACTOR)
    assert refused.value.details == {"reason": "mismatch"}
    stored = world.uow.store.customers[ACCOUNT]
    assert stored.totp is None and stored.totp_pending is not None and stored.second_factor == "sms"
    assert "totp_enrolled" not in world.event_names()
    world.totp.confirm(ACCOUNT, app.at(world.clock.now()), ACTOR)
    assert world.customer().second_factor == "totp"


def test_a_wrong_code_is_refused_by_the_check(world):
    app = world.enrol_totp()
    world.clock.advance(STEP_SECONDS)
    assert world.totp.check(world.customer(), other_code(app, world), world.clock.now()) is False
    assert world.evaluate(other_code(app, world)) == "mismatch"


def test_confirm_without_an_enrolment_is_a_not_pending_conflict(world):
    with pytest.raises(Conflict) as refused:
        world.totp.confirm(ACCOUNT, "123456", ACTOR)
    assert refused.value.details == {"reason": "not_pending"}
    with pytest.raises(NotFound):
        world.totp.enrol("NOPE", ACTOR)


def test_the_code_factor_takes_the_app_s_code_once(world):
    app = world.enrol_totp()
    world.clock.advance(STEP_SECONDS)
    code = app.at(world.clock.now())
    assert world.evaluate(code) == "match"
    assert world.evaluate(code) == "mismatch"


def test_a_pending_sms_code_and_the_app_s_code_are_both_accepted(world):
    app = world.enrol_totp()
    challenge = world.send(channel="sms")
    world.clock.advance(STEP_SECONDS)
    assert world.evaluate(app.at(world.clock.now())) == "match"
    assert world.stored(challenge.challenge_id).wrong_entries == 0  # the app's code is no wrong SMS entry
    assert world.evaluate(world.code_of(challenge)) == "match"


def test_a_new_enrolment_replaces_the_app_only_once_confirmed(world):
    old = world.enrol_totp()
    new = app_of(world.totp.enrol(ACCOUNT, ACTOR))
    world.clock.advance(STEP_SECONDS)
    assert world.evaluate(old.at(world.clock.now())) == "match"  # the old app works until the new one is confirmed
    world.clock.advance(STEP_SECONDS)
    world.totp.confirm(ACCOUNT, new.at(world.clock.now()), ACTOR)
    world.clock.advance(STEP_SECONDS)
    now = world.clock.now()
    if old.at(now) != new.at(now):
        assert world.evaluate(old.at(now)) == "mismatch"
    assert world.evaluate(new.at(now)) == "match"


def test_removal_returns_the_customer_to_sms_and_is_audited_once(world):
    app = world.enrol_totp()
    world.totp.remove(ACCOUNT, ACTOR)
    stored = world.uow.store.customers[ACCOUNT]
    assert (stored.totp, stored.totp_pending, stored.second_factor) == (None, None, "sms")
    world.totp.remove(ACCOUNT, ACTOR)
    assert world.event_names().count("totp_removed") == 1
    world.clock.advance(STEP_SECONDS)
    assert world.evaluate(app.at(world.clock.now())) == "mismatch"
    assert world.send().channel == "sms"  # no channel needed any more


def test_removal_also_drops_a_pending_enrolment(world):
    world.totp.enrol(ACCOUNT, ACTOR)
    world.totp.remove(ACCOUNT, ACTOR)
    assert world.uow.store.customers[ACCOUNT].totp_pending is None
    assert world.event_names().count("totp_removed") == 1
    with pytest.raises(Conflict):
        world.totp.confirm(ACCOUNT, "123456", ACTOR)


def test_secrets_and_codes_never_appear_in_audit_events_or_queued_messages():
    world = make_world(security_events=True)
    app = world.enrol_totp()
    confirming = app.at(world.clock.now())
    world.clock.advance(STEP_SECONDS)
    used = app.at(world.clock.now())
    world.evaluate(used)
    world.totp.remove(ACCOUNT, ACTOR)
    text = world.audit_text()
    assert {"totp_enrolled", "totp_removed"} <= set(world.event_names())
    assert app.secret not in text and app.secret.lower() not in text
    assert not holds(text, confirming) and not holds(text, used)
    [row] = [r for r in world.rows() if r.kind == "event"]
    assert world.payload(row)["event"] == "totp_enrolled" and app.secret not in repr(world.payload(row))
    assert app.secret.encode() not in row.payload.blob
