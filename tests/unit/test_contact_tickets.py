"""Contacts match tickets by their normalised key, and a quoted phrase is redacted however it is spelled."""

import pytest

from tests.unit.test_contacts import PORTAL, World
from tests.unit.worlds import ACCOUNT
from verify_service.errors import Conflict, ValidationFailed

ONE_TICKET = ["T-100", "T-100 ", "t-100", "\uff34-100", "T\u2010100", "T\u2212100", "\uff34\uff0d\uff11\uff10\uff10"]


@pytest.fixture
def world():
    return World()


def test_one_ticket_written_many_ways_is_one_contact(world):
    first, created = world.start(ticket_ref="T-100")
    assert created
    for written in ONE_TICKET[1:]:
        again, created = world.start(ticket_ref=written)
        assert not created and again.contact_id == first.contact_id and again.ticket_ref == "T-100", written
        with pytest.raises(Conflict):
            world.start(agent_id="agent-7", ticket_ref=written)
    assert len(world.uow.store.contacts) == 1 and len(world.contacts.active(ACCOUNT).contacts) == 1


def test_the_contact_keeps_the_ticket_as_the_agent_typed_it(world):
    view, _ = world.start(ticket_ref="\uff34-100 ")
    assert view.ticket_ref == "\uff34-100 " and world.uow.store.contacts[view.contact_id].ticket_key == "t-100"


@pytest.mark.parametrize("written", ["T-100\u200b", "\u202eT-100", "T-100\x85", "T\u2028-100", "\u3000"])
def test_a_ticket_with_a_format_character_or_nothing_visible_starts_nothing(world, written):
    with pytest.raises(ValidationFailed) as refused:
        world.start(ticket_ref=written)
    assert set(refused.value.details) == {"ticket_ref"} and world.uow.store.contacts == {}


@pytest.mark.parametrize("spell", ["{}", "{0} {1} {2} {3}", "{0}-{1}-{2}-{3}", "{0}\u200b{1}\u200b{2}\u200b{3}",
                                   "full-width"])
def test_a_report_quoting_the_phrase_spelled_out_stores_and_sends_no_phrase(spell):
    world = World(security_events=True)
    view, _ = world.start()
    phrase = view.phrase
    quoted = ("".join(chr(ord(c) + 0xFEE0) for c in phrase) if spell == "full-width"
              else spell.format(*phrase) if spell != "{}" else phrase.lower())
    world.contacts.report(ACCOUNT, view.contact_id, f"they said {quoted} and asked for my code", PORTAL)
    stored = world.uow.store.contacts[view.contact_id].report_reason
    event = world.events("contact_reported")[0]
    sent = [e for e in world.outbox_events() if e["event"] == "contact_reported"][0]
    assert stored == event.details["reason"] == sent["details"]["reason"] == \
        "they said [phrase] and asked for my code"
