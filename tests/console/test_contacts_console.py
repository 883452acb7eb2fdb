"""The console's contacts: start one from the verify form, see the phrase, the customer's report, and end it."""

import re

import pytest

from tests.console.test_console import PASSWORD, csrf, post, sign_in
from verify_service.domain.model import Actor


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


def start(client, **form):
    return post(client, "/console/contacts", **{"account_id": "JP1001", "channel": "phone", "ticket_ref": "T-1",
                                                **form})


def contact_id_of(response):
    return re.search(r"/console/contacts/(con_[A-Za-z0-9_-]+)", response.headers["Location"]).group(1)


def test_the_verify_page_has_a_start_contact_button_in_the_verify_form(client):
    page = client.get("/console").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="verify-form".*?</form>', page, re.S).group(0)
    assert re.search(r'<button type="submit" formaction="/console/contacts"[^>]*>Start contact</button>', form)


def test_starting_a_contact_shows_the_phrase_the_name_and_the_expiry(console, client):
    console.services.agents.name("alice", "Alice", Actor("cli"))
    response = start(client)
    assert response.status_code == 302
    cid = contact_id_of(response)
    page = client.get(f"/console/contacts/{cid}").get_data(as_text=True)
    phrase = console.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"][0]["phrase"]
    assert f'id="contact-phrase">{phrase}<' in page and "The customer sees you as: Alice" in page
    assert "Expires at" in page and "STOP" not in page
    assert 'value="T-1"' in page  # the form stays filled in for the check that follows
    event = console.call("GET", "/v1/audit?event=contact_started", "admin").get_json()["events"][0]
    assert event["agent_id"] == "alice" and event["actor"] == "console"


def test_a_reported_contact_shows_the_warning_in_large_type(console, client):
    cid = contact_id_of(start(client))
    console.call("POST", f"/v1/customers/JP1001/contacts/{cid}/report", "portal", {"reason": "not me"})
    page = client.get(f"/console/contacts/{cid}").get_data(as_text=True)
    warning = re.search(r'id="contact-warning">(.*?)</div>', page, re.S).group(1)
    assert 'class="big"' in warning and "THE CUSTOMER REPORTED THIS CONTACT" in warning
    assert "hand over to security" in warning
    assert "Read this phrase" not in page and 'id="contact-status"' not in page and "data-poll" not in page


def test_starting_again_for_the_ticket_resumes_the_same_contact(client):
    assert contact_id_of(start(client)) == contact_id_of(start(client))


def test_a_contact_needs_a_ticket_and_a_known_customer(client):
    missing = start(client, ticket_ref="")
    assert missing.status_code == 400 and "Ticket reference" in missing.get_data(as_text=True)
    unknown = start(client, account_id="JP9999")
    assert unknown.status_code == 404 and "No customer" in unknown.get_data(as_text=True)


def test_ending_a_contact_from_the_console(console, client):
    cid = contact_id_of(start(client))
    ended = client.post(f"/console/contacts/{cid}/end", data={"csrf_token": csrf(client, "/console")})
    assert ended.status_code == 302
    page = client.get(f"/console/contacts/{cid}").get_data(as_text=True)
    assert "Ended: the customer no longer sees this contact." in page and "contact-phrase" not in page
    assert "data-poll" not in page  # an ended contact is not polled
    assert console.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"] == []


def test_an_expired_contact_shows_expired_without_the_phrase(console, client):
    cid = contact_id_of(start(client))
    console.clock.advance(601)
    page = client.get(f"/console/contacts/{cid}").get_data(as_text=True)
    assert "Expired: the customer no longer sees this contact." in page and "contact-phrase" not in page


def test_an_unknown_contact_is_a_404_page(client):
    assert client.get("/console/contacts/con_nope").status_code == 404
    assert client.get("/console/contacts/bad id").status_code == 404


def test_starting_needs_the_csrf_token(client):
    response = client.post("/console/contacts", data={"account_id": "JP1001", "ticket_ref": "T-1"})
    assert response.status_code == 400


def test_the_japanese_page(console, client):
    client.set_cookie("lang", "ja")
    cid = contact_id_of(start(client))
    console.call("POST", f"/v1/customers/JP1001/contacts/{cid}/report", "portal")
    page = client.get(f"/console/contacts/{cid}").get_data(as_text=True)
    assert "セキュリティ担当に引き継いでください" in page and "連絡を開始" in page
    assert "この合言葉をお客様に読み上げてください" not in page and "進行中" not in page  # only the stop order
