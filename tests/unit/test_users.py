"""Console users with fakes: UserService creates, signs in (throttled, audited) and ends sessions."""

import pytest

from tests.fakes import FakeAttemptCounter, FakeClock, FakePasswordHasher, FakeUnitOfWorkFactory
from verify_service.domain.users import MIN_PASSWORD, SignInFailed, UserService
from verify_service.errors import Conflict, NotFound, RateLimited, ValidationFailed

PASSWORD = "correct horse battery"
WRONG = "not the password"
IP = "10.0.0.7"


class World:
    def __init__(self):
        self.clock, self.uow, self.counter = FakeClock(), FakeUnitOfWorkFactory(), FakeAttemptCounter()
        self.hasher = FakePasswordHasher()
        self.users = UserService(uow=self.uow, hasher=self.hasher, counter=self.counter, clock=self.clock)

    def events(self, name=None):
        return [e.event for e in self.uow.store.events if name is None or e.event.event == name]


@pytest.fixture
def world():
    w = World()
    w.users.create("alice", "supervisor", PASSWORD)
    return w


def test_create_stores_the_user_with_a_hash_of_the_password_only(world):
    user = world.uow.store.users["alice"]
    assert (user.username, user.role, user.created_at) == ("alice", "supervisor", world.clock.now())
    assert (user.disabled_at, user.session_epoch) == (None, 0)
    assert PASSWORD not in user.password_hash and world.hasher.verify(PASSWORD, user.password_hash)


def test_a_password_needs_twelve_characters(world):
    with pytest.raises(ValidationFailed) as refused:
        world.users.create("bob", "agent", "x" * (MIN_PASSWORD - 1))
    assert list(refused.value.details) == ["password"]
    assert "bob" not in world.uow.store.users
    assert world.users.create("bob", "agent", "x" * MIN_PASSWORD).username == "bob"


@pytest.mark.parametrize("username", ["", "with space", "x" * 65, "semi;colon", "ünïcode"])
def test_a_username_outside_the_allowed_characters_is_refused(world, username):
    with pytest.raises(ValidationFailed) as refused:
        world.users.create(username, "agent", PASSWORD)
    assert list(refused.value.details) == ["username"] and len(world.uow.store.users) == 1


def test_a_role_outside_agent_and_supervisor_is_refused(world):
    with pytest.raises(ValidationFailed) as refused:
        world.users.create("bob", "admin", PASSWORD)
    assert list(refused.value.details) == ["role"] and "bob" not in world.uow.store.users


def test_a_taken_username_is_a_conflict_and_keeps_the_first_user(world):
    first = world.uow.store.users["alice"]
    with pytest.raises(Conflict):
        world.users.create("alice", "agent", "another password here")
    assert world.uow.store.users["alice"] == first


def test_the_right_password_signs_in_and_is_audited_without_it(world):
    user = world.users.sign_in("alice", PASSWORD, IP)
    assert (user.username, user.role) == ("alice", "supervisor")
    [event] = world.events("console_signed_in")
    assert (event.actor, event.agent_id, event.ip, event.account_id) == ("console", "alice", IP, None)
    assert PASSWORD not in repr(world.events())


def test_a_wrong_password_fails_and_is_audited_under_the_real_user(world):
    with pytest.raises(SignInFailed):
        world.users.sign_in("alice", WRONG, IP)
    [event] = world.events("console_sign_in_failed")
    assert (event.agent_id, event.ip) == ("alice", IP) and WRONG not in repr(world.events())


def test_an_unknown_user_fails_like_a_wrong_password_and_the_typed_name_is_not_kept(world):
    with pytest.raises(SignInFailed) as unknown:
        world.users.sign_in("correct-horse-battery", PASSWORD, IP)  # a password typed into the name field
    with pytest.raises(SignInFailed) as wrong:
        world.users.sign_in("alice", WRONG, IP)
    assert unknown.value.message == wrong.value.message
    assert [e.agent_id for e in world.events("console_sign_in_failed")] == [None, "alice"]
    assert "correct-horse-battery" not in repr(world.events())
    assert len(world.hasher.verified) == 2  # a dummy hash was checked for the unknown user: timing tells nothing


def test_a_malformed_username_fails_without_counting_or_auditing(world):
    with pytest.raises(SignInFailed):
        world.users.sign_in("no such name!", PASSWORD, IP)
    assert world.events("console_sign_in_failed") == [] and world.counter.records == {}


def test_a_disabled_user_cannot_sign_in_with_the_right_password(world):
    world.users.disable("alice")
    with pytest.raises(SignInFailed):
        world.users.sign_in("alice", PASSWORD, IP)
    assert world.hasher.verified[-1] != world.uow.store.users["alice"].password_hash  # checked against the dummy
    assert [e.agent_id for e in world.events("console_sign_in_failed")] == ["alice"]


def test_five_wrong_passwords_throttle_the_user_even_with_the_right_one(world):
    for _ in range(5):
        with pytest.raises(SignInFailed):
            world.users.sign_in("alice", WRONG, IP)
    with pytest.raises(RateLimited) as throttled:
        world.users.sign_in("alice", PASSWORD, "10.9.9.9")
    assert throttled.value.retry_after == 15 * 60
    assert len(world.hasher.verified) == 5  # the throttled try never reached the password check
    world.clock.advance(15 * 60)
    assert world.users.sign_in("alice", PASSWORD, IP).username == "alice"


def test_the_throttle_is_audited_once_per_window_not_per_refused_try(world):
    for _ in range(5):
        with pytest.raises(SignInFailed):
            world.users.sign_in("alice", WRONG, IP)
    for _ in range(4):
        with pytest.raises(RateLimited):
            world.users.sign_in("alice", WRONG, IP)
    [event] = world.events("console_sign_in_throttled")
    assert (event.agent_id, event.ip) == (None, IP)
    world.clock.advance(15 * 60)  # the lock and the audit's window end together
    for _ in range(5):
        with pytest.raises(SignInFailed):
            world.users.sign_in("alice", WRONG, IP)
    with pytest.raises(RateLimited):
        world.users.sign_in("alice", WRONG, IP)
    assert len(world.events("console_sign_in_throttled")) == 2


def test_the_user_throttle_ignores_the_case_of_the_name(world):
    for name in ("alice", "Alice", "ALICE", "aLiCe", "alicE"):
        with pytest.raises(SignInFailed):
            world.users.sign_in(name, WRONG, IP)
    with pytest.raises(RateLimited):
        world.users.sign_in("alice", PASSWORD, IP)


def test_a_successful_sign_in_clears_the_user_s_count(world):
    for _ in range(4):
        with pytest.raises(SignInFailed):
            world.users.sign_in("alice", WRONG, IP)
    world.users.sign_in("alice", PASSWORD, IP)
    for _ in range(4):
        with pytest.raises(SignInFailed):
            world.users.sign_in("alice", WRONG, IP)
    assert world.users.sign_in("alice", PASSWORD, IP).username == "alice"


def test_twenty_failures_from_one_address_throttle_the_address_for_every_user(world):
    for n in range(20):
        with pytest.raises(SignInFailed):
            world.users.sign_in(f"guess{n}", WRONG, IP)
    with pytest.raises(RateLimited) as throttled:
        world.users.sign_in("alice", PASSWORD, IP)
    assert throttled.value.retry_after == 15 * 60
    assert world.users.sign_in("alice", PASSWORD, "10.0.0.8").username == "alice"
    assert len(world.events("console_sign_in_throttled")) == 1


def test_bump_sessions_moves_the_epoch_so_open_sessions_end(world):
    assert world.users.current("alice").session_epoch == 0
    world.users.bump_sessions("alice")
    world.users.bump_sessions("alice")
    assert world.users.current("alice").session_epoch == 2
    world.users.bump_sessions("nobody")  # signing out an unknown name changes nothing
    assert set(world.uow.store.users) == {"alice"}


def test_disable_ends_every_session_and_the_user(world):
    epoch = world.users.current("alice").session_epoch
    world.clock.advance(5)
    world.users.disable("alice")
    stored = world.uow.store.users["alice"]
    assert stored.disabled_at == world.clock.now() and stored.session_epoch == epoch + 1
    assert world.users.current("alice") is None


def test_disabling_an_unknown_user_is_not_found(world):
    with pytest.raises(NotFound):
        world.users.disable("nobody")
    assert world.uow.log[-1] == "rollback"


def test_audit_records_a_console_event_under_the_user(world):
    world.users.audit("console_signed_out", "alice", IP, reason="button")
    [event] = world.events("console_signed_out")
    assert (event.agent_id, event.ip, event.details, event.at) == ("alice", IP, {"reason": "button"},
                                                                   world.clock.now())


def test_a_lock_ends_by_itself_after_the_window(world):
    for _ in range(5):
        with pytest.raises(SignInFailed):
            world.users.sign_in("alice", WRONG, IP)
    world.clock.advance(15 * 60 - 1)
    with pytest.raises(RateLimited) as throttled:
        world.users.sign_in("alice", PASSWORD, IP)
    assert throttled.value.retry_after == 1
    world.clock.advance(1)
    assert world.users.sign_in("alice", PASSWORD, IP).username == "alice"
