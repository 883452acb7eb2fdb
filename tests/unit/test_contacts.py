"""Reverse verification in the domain, with fakes and a fake clock."""

import json
from collections import Counter

import pytest

from tests.fakes import FakeClock, FakeUnitOfWorkFactory
from tests.unit.worlds import ACCOUNT, ACTOR, PHONE, VAULT
from verify_service.adapters.texts import BabelTexts
from verify_service.config import load_settings
from verify_service.domain.agents import AgentNames
from verify_service.domain.contacts import (
    PHRASE_ALPHABET,
    PHRASE_LENGTH,
    ContactPolicy,
    ContactService,
    StartRequest,
    generate_phrase,
)
from verify_service.domain.customers import CustomerService
from verify_service.domain.model import Actor
from verify_service.errors import ConfigError, Conflict, NotFound

PORTAL = Actor("portal-key", "10.0.0.2")


class World:
    """A contact service over fakes, one customer registered."""

    def __init__(self, *, locale="en", security_events=False, brand="Acme"):
        self.clock = FakeClock()
        self.uow = FakeUnitOfWorkFactory(events_vault=VAULT if security_events else None)
        self.contacts = ContactService(uow=self.uow, vault=VAULT, clock=self.clock, policy=ContactPolicy(brand=brand),
                                       texts=BabelTexts())
        self.agents = AgentNames(uow=self.uow, clock=self.clock)
        CustomerService(uow=self.uow, vault=VAULT, clock=self.clock, default_locale="ja").register_or_update(
            ACCOUNT, {"phone": PHONE, "locale": locale}, ACTOR)

    def start(self, agent_id="agent-42", ticket_ref="T-1", channel="phone"):
        return self.contacts.start(StartRequest(ACCOUNT, agent_id, channel, ticket_ref), ACTOR)

    def events(self, name):
        return [e.event for e in self.uow.store.events if e.event.event == name]

    def outbox_events(self):
        rows = [row for row in self.uow.store.outbox if row.kind == "event"]
        return [json.loads(VAULT.open(row.account_id or "-", row.payload, purpose="outbox")) for row in rows]


@pytest.fixture
def world():
    return World()


def test_phrases_use_only_the_unambiguous_alphabet_and_have_the_set_length():
    phrases = [generate_phrase() for _ in range(2000)]
    assert all(len(p) == PHRASE_LENGTH and set(p) <= set(PHRASE_ALPHABET) for p in phrases)
    assert not set("0O1IL2Z5S8BUV") & set(PHRASE_ALPHABET)
    assert len(Counter("".join(phrases))) == len(PHRASE_ALPHABET)  # every character is used


def test_a_new_contact_is_active_for_the_ttl_and_sealed(world):
    view, created = world.start()
    assert created and view.status == "active" and view.phrase and view.expires_at == view.started_at + \
        ContactPolicy().ttl
    stored = world.uow.store.contacts[view.contact_id]
    assert view.phrase.encode() not in stored.phrase.blob
    assert VAULT.open(ACCOUNT, stored.phrase, purpose="contact") == view.phrase


def test_one_active_contact_per_ticket(world):
    first, _ = world.start()
    again, created = world.start(channel="chat")
    assert not created and again.contact_id == first.contact_id and again.phrase == first.phrase
    assert len(world.uow.store.contacts) == 1 and len(world.events("contact_started")) == 1
    with pytest.raises(Conflict):
        world.start(agent_id="agent-7")


def test_several_agents_may_contact_one_customer_about_different_tickets(world):
    world.start()
    world.clock.advance(1)
    world.start(agent_id="agent-7", ticket_ref="T-2")
    shown = world.contacts.active(ACCOUNT)
    assert [c.ticket_ref for c in shown.contacts] == ["T-1", "T-2"]
    assert shown.message.count("is contacting you now") == 2


def test_a_contact_expires_by_the_clock(world):
    view, _ = world.start()
    world.clock.advance(599)
    assert world.contacts.get(view.contact_id, ACTOR).status == "active"
    world.clock.advance(1)
    expired = world.contacts.get(view.contact_id, ACTOR)
    assert expired.status == "expired" and expired.phrase is None
    assert world.contacts.active(ACCOUNT).contacts == []
    renewed, created = world.start()
    assert created and renewed.contact_id != view.contact_id


def test_ending_is_audited_once(world):
    view, _ = world.start()
    assert world.contacts.end(view.contact_id, ACTOR).status == "ended"
    assert world.contacts.end(view.contact_id, ACTOR).status == "ended"
    assert len(world.events("contact_ended")) == 1


def test_ending_an_expired_contact_changes_nothing(world):
    view, _ = world.start()
    world.clock.advance(601)
    assert world.contacts.end(view.contact_id, ACTOR).status == "expired"
    assert world.events("contact_ended") == []


def test_a_report_is_idempotent_and_raises_one_security_event():
    world = World(security_events=True)
    view, _ = world.start()
    first = world.contacts.report(ACCOUNT, view.contact_id, "not me", PORTAL)
    world.clock.advance(5)
    second = world.contacts.report(ACCOUNT, view.contact_id, "again", PORTAL)
    assert first.reported and second.reported_at == first.reported_at
    assert len(world.events("contact_reported")) == 1
    sent = [e for e in world.outbox_events() if e["event"] == "contact_reported"]
    assert len(sent) == 1 and sent[0]["details"]["reason"] == "not me"
    assert world.uow.store.customers[ACCOUNT].frozen_at is None  # a report freezes nothing by itself


def test_a_late_report_of_an_ended_contact_is_taken(world):
    view, _ = world.start()
    world.contacts.end(view.contact_id, ACTOR)
    world.clock.advance(86400)
    assert world.contacts.report(ACCOUNT, view.contact_id, None, PORTAL).reported
    assert world.events("contact_reported")[0].details["status"] == "ended"


def test_another_customer_cannot_report_or_see_a_contact(world):
    CustomerService(uow=world.uow, vault=VAULT, clock=world.clock, default_locale="ja").register_or_update(
        "JP2002", {"phone": "+819011112222"}, ACTOR)
    view, _ = world.start()
    with pytest.raises(NotFound):
        world.contacts.report("JP2002", view.contact_id, None, PORTAL)
    assert world.contacts.active("JP2002").contacts == []
    assert world.events("contact_reported") == []


def test_no_phrase_in_any_audit_event_even_when_the_customer_quotes_it(world):
    view, _ = world.start()
    world.contacts.report(ACCOUNT, view.contact_id, f"they said {view.phrase.lower()}", PORTAL)
    world.contacts.end(view.contact_id, ACTOR)
    trail = repr([e.event for e in world.uow.store.events])
    assert view.phrase not in trail and view.phrase.lower() not in trail and "[phrase]" in trail
    assert view.phrase.lower() not in (world.uow.store.contacts[view.contact_id].report_reason or "")


def test_the_customer_sees_the_display_name_never_the_agent_id(world):
    world.agents.name("agent-42", "Kato", Actor("cli"))
    view, _ = world.start()
    shown = world.contacts.active(ACCOUNT)
    assert view.display_name == "Kato" and "agent-42" not in shown.message
    assert shown.message == (f"Kato from Acme is contacting you now about ticket T-1. "
                             f"They will read you this phrase: {view.phrase}.")


@pytest.mark.parametrize("locale, generic, nobody", [
    ("en", "Acme support", "No one from Acme is contacting you now."),
    ("ja", "Acmeサポート", "現在、Acmeからお客様にご連絡している者はおりません。"),
    ("zh", "Acme客服", "目前没有Acme的人员在联系您。"),
    ("ko", "Acme 고객지원팀", "현재 Acme에서 고객님께 연락하는 사람은 없습니다."),
])
def test_texts_follow_the_customer_s_locale(locale, generic, nobody):
    world = World(locale=locale)
    assert world.contacts.active(ACCOUNT).message.startswith(nobody)
    view, _ = world.start()
    message = world.contacts.active(ACCOUNT).message
    assert view.display_name == generic and message.startswith(generic) and view.phrase in message


def test_locked_or_frozen_customers_can_be_contacted(world):
    customer = world.uow.store.customers[ACCOUNT]
    customer.frozen_at = world.clock.now()
    customer.locked_until = world.clock.now()
    assert world.start()[1]


@pytest.mark.parametrize("raw", ["0", "ten", "-5"])
def test_a_bad_contact_ttl_setting_fails_fast_naming_the_variable(raw):
    with pytest.raises(ConfigError, match="VERIFY_CONTACT_TTL_SECONDS"):
        load_settings({"VERIFY_CONTACT_TTL_SECONDS": raw})
    assert load_settings({"VERIFY_CONTACT_TTL_SECONDS": "120"}).contact_ttl_seconds == 120
