"""Binding agent ids to credentials, in the domain with fakes (issue 17): who may assert which agent_id, and the
watch's reusable admission for acts of trust (entry links will use `acting(..., "entry_link")`)."""

from datetime import timedelta

import pytest

from tests.fakes import START, FakeAgentActivity, FakeClock, FakeUnitOfWorkFactory
from verify_service.domain.agent_identity import AgentIdentity, check_patterns, matches
from verify_service.domain.agent_watch import AgentWatch, WatchPolicy
from verify_service.domain.model import Actor
from verify_service.domain.users import ConsoleUser
from verify_service.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed

OPEN_KEY = Actor("crm", roles=("agent",))
DESK_KEY = Actor("desk1", roles=("agent",), agent_ids=("desk1-*",))


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def identity_with_users(*names, cache_seconds=0, ticks=None):
    uow = FakeUnitOfWorkFactory()
    for name in names:
        uow.store.users[name] = ConsoleUser(name, "agent", START)
    return AgentIdentity(uow=uow, cache_seconds=cache_seconds, monotonic=ticks or Ticks()), uow


def test_patterns_match_the_whole_agent_id_case_sensitively():
    assert matches(("desk1-*",), "desk1-7") and not matches(("desk1-*",), "xdesk1-7")
    assert not matches(("desk1-*",), "DESK1-7") and matches(("lead-?", "desk1-*"), "lead-9")


@pytest.mark.parametrize("patterns", [["desk[1]"], ["a,b"], ["*"], ["?*"], ["é*"], ["x" * 65], ["a" * 60] * 1 +
                                      [f"p{i}-{'a' * 40}" for i in range(4)]])
def test_bad_patterns_are_refused(patterns):
    with pytest.raises(ValidationFailed) as refusal:
        check_patterns(patterns)
    assert "agent_ids" in refusal.value.details


def test_a_console_session_asserts_its_own_username_only():
    identity, _ = identity_with_users("alice")
    identity.claim("alice", Actor("console", agent_id="alice"))
    identity.claim(None, Actor("console", agent_id="alice"))
    with pytest.raises(Forbidden):
        identity.claim("bob", Actor("console", agent_id="alice"))


def test_no_agent_key_asserts_a_console_username_in_any_case_or_width():
    identity, _ = identity_with_users("rtvictim")
    for name in ("rtvictim", "RTVICTIM", "ｒｔｖｉｃｔｉｍ"):
        with pytest.raises(Forbidden):
            identity.claim(name, OPEN_KEY)
    identity.claim("agent-42", OPEN_KEY)  # unrestricted: any other agent_id, as before


def test_a_restricted_key_asserts_only_what_its_patterns_match():
    identity, _ = identity_with_users("desk1-boss")
    identity.claim("desk1-7", DESK_KEY)
    for agent_id in ("agent-42", "desk1-boss"):
        with pytest.raises(Forbidden):
            identity.claim(agent_id, DESK_KEY)


def test_portal_keys_are_not_agents_tools_and_assert_freely():
    identity, _ = identity_with_users("alice")
    identity.claim("alice", Actor("site", roles=("portal",)))  # a customer's deny carries its request's agent_id


def test_console_usernames_are_cached_for_the_set_time():
    ticks = Ticks()
    identity, uow = identity_with_users(cache_seconds=5, ticks=ticks)
    identity.claim("newbie", OPEN_KEY)
    uow.store.users["newbie"] = ConsoleUser("newbie", "agent", START)
    ticks.now = 4.9
    identity.claim("newbie", OPEN_KEY)  # within the bound: the cached list does not know the new user yet
    ticks.now = 5.0
    with pytest.raises(Forbidden):
        identity.claim("newbie", OPEN_KEY)


def watch(block=True):
    uow = FakeUnitOfWorkFactory()
    policy = WatchPolicy(max_customers=1, max_failures=2, window=timedelta(minutes=10), block=block)
    refused: list[str] = []
    return AgentWatch(uow=uow, activity=FakeAgentActivity(), clock=FakeClock(), policy=policy,
                      on_refused=refused.append), uow, refused


def test_acting_counts_the_customer_after_the_act_and_after_a_refusal_about_them_but_not_an_unknown_one():
    agent_watch, uow, _ = watch(block=False)
    with pytest.raises(NotFound), agent_watch.acting("GHOST", "agent-7", OPEN_KEY, "entry_link"):
        raise NotFound()
    with agent_watch.acting("C1", "agent-7", OPEN_KEY, "entry_link"):
        pass
    assert agent_watch.anomalies() == []
    with pytest.raises(Conflict), agent_watch.acting("C2", "agent-7", OPEN_KEY, "entry_link"):
        raise Conflict("the customer is locked")
    assert {(a.subject, a.kind) for a in agent_watch.anomalies()} == {("agent", "distinct_customers"),
                                                                      ("key", "distinct_customers")}


def test_acting_refuses_a_blocked_agent_before_the_act_runs():
    agent_watch, _, refused = watch()
    for account in ("C1", "C2"):
        with agent_watch.acting(account, "agent-7", OPEN_KEY, "contact_start"):
            pass
    ran = []
    with pytest.raises(RateLimited), agent_watch.acting("C3", "agent-7", OPEN_KEY, "entry_link"):
        ran.append(True)
    assert ran == [] and refused == ["entry_link"]


def test_acting_refuses_an_agent_id_the_key_may_not_assert_before_the_act_runs():
    agent_watch, _, _ = watch()
    with pytest.raises(Forbidden), agent_watch.acting("C1", "agent-42", DESK_KEY, "entry_link"):
        pytest.fail("the act ran")
