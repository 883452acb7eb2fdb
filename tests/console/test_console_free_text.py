"""The console's forms follow the API's free-text rules: one ticket however typed, no format characters."""

import re

import pytest

from tests.console.test_console import PASSWORD, post, sign_in


@pytest.fixture
def console(make_harness, mode):
    harness = make_harness(mode)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.register(locale="en")
    return harness


@pytest.fixture
def client(console):
    web = console.client
    web.set_cookie("lang", "en")
    sign_in(web)
    return web


def start(client, ticket_ref):
    return post(client, "/console/contacts", account_id="JP1001", channel="phone", ticket_ref=ticket_ref)


def test_a_ticket_typed_full_width_or_in_lower_case_resumes_the_same_contact(console, client):
    first = start(client, "T-100")
    assert first.status_code == 302
    for typed in ("t-100", "\uff34\uff0d\uff11\uff10\uff10", "T\u2010100"):
        again = start(client, typed)
        assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"], typed
    assert len(console.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"]) == 1


def test_a_ticket_with_a_zero_width_character_is_refused_in_the_agent_s_words(console, client):
    response = start(client, "T-\u200b100")
    assert response.status_code == 400
    assert "The ticket reference is too long or has characters that are not allowed." in response.get_data(
        as_text=True)
    assert console.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"] == []


def test_an_approval_reason_with_a_bidi_override_is_refused(console, client):
    response = post(client, "/console/approvals", account_id="JP1001", channel="phone", ticket_ref="T-1",
                    reason="routine check \u202eevorppa\u202c")
    assert response.status_code == 400
    assert not re.search("\u202e", response.get_data(as_text=True))
    assert console.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()["approvals"] == []
