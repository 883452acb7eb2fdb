"""The console's entry links: Send entry link on the verify page, the URL once, the result live; never a digit."""

from __future__ import annotations

import re

import pytest

from tests.api.test_entry_links_api import PUBLIC, form_nonce, wrong
from tests.console.test_console import PASSWORD, post, sign_in


@pytest.fixture
def console(make_harness, mode):
    harness = make_harness(mode, entry_link_public_url=PUBLIC)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.users.create("bob", "agent", PASSWORD)
    harness.pin = harness.register(locale="en")
    return harness


@pytest.fixture
def client(console):
    web = console.client
    web.set_cookie("lang", "en")
    sign_in(web)
    return web


def send(client, **form):
    return post(client, "/console/entry-links", **{"account_id": "JP1001", "channel": "chat", "ticket_ref": "T-9",
                                                   **form})


def made(response):
    """(link id, URL path) shown on the page that made the link."""
    page = response.get_data(as_text=True)
    url = re.search(r'id="entry-link-url" value="([^"]+)"', page).group(1)
    link_id = re.search(r"/console/entry-links/(eln_[A-Za-z0-9_-]+)/status", page).group(1)
    return link_id, url[len(PUBLIC):]


def test_the_verify_page_has_a_send_entry_link_button_in_the_verify_form(client):
    page = client.get("/console").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="verify-form".*?</form>', page, re.S).group(0)
    assert re.search(r'<button type="submit" formaction="/console/entry-links"[^>]*>Send entry link</button>', form)


def test_no_button_when_entry_links_are_off(make_harness):
    h = make_harness("sqlite")
    h.services.users.create("alice", "agent", PASSWORD)
    web = h.client
    web.set_cookie("lang", "en")
    sign_in(web)
    assert "Send entry link" not in web.get("/console").get_data(as_text=True)


def test_sending_shows_the_url_once_as_the_signed_in_agent(console, client):
    response = send(client)
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    link_id, path = made(response)
    assert "Paste this link into the chat." in page and "WAITING" in page and 'value="T-9"' in page
    link = console.call("GET", f"/v1/entry-links/{link_id}", "admin").get_json()
    assert link["agent_id"] == "alice" and link["channel"] == "chat" and link["ticket_ref"] == "T-9"
    again = client.get(f"/console/entry-links/{link_id}").get_data(as_text=True)
    assert path not in again and "was shown once" in again and 'id="entry-link-url"' not in again


def test_the_live_view_follows_the_customers_entries_and_never_shows_a_digit(console, client):
    link_id, path = made(send(client))
    url = f"/console/entry-links/{link_id}/status"
    assert client.get(url).get_json()["status"] == "pending"
    customer = console.app.test_client()
    for typed in (wrong(console.pin), console.pin):
        nonce = form_nonce(customer.get(path).get_data(as_text=True))
        customer.post(path, data={"pin": typed, "submission": nonce})
        body = client.get(url).get_json()
        text = str(body) + client.get(f"/console/entry-links/{link_id}").get_data(as_text=True)
        assert console.pin not in text and wrong(console.pin) not in text
    assert body["status"] == "verified" and body["done"] is True and body["detail"].startswith("Level 1 · Valid")
    assert body["words"].startswith("VERIFIED") and body["verification_id"].startswith("ver_")


def test_another_agents_link_is_not_found(console, client):
    link_id, _ = made(send(client))
    other = console.app.test_client()
    other.set_cookie("lang", "en")
    sign_in(other, "bob")
    assert other.get(f"/console/entry-links/{link_id}/status").status_code == 404
    assert other.get(f"/console/entry-links/{link_id}").status_code == 404
    assert client.get("/console/entry-links/nonsense/status").status_code == 404


def test_refusals_read_as_words_on_the_verify_page(console, client):
    console.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "takeover"})
    frozen = send(client)
    assert frozen.status_code == 409 and 'id="entry-link-url"' not in frozen.get_data(as_text=True)
    assert send(client, account_id="bad id!").status_code == 400
    assert send(client, account_id="NOPE1").status_code == 404


def test_signed_out_users_and_posts_without_the_csrf_token_are_refused(console, client):
    assert client.post("/console/entry-links", data={"account_id": "JP1001"}).status_code == 400
    signed_out = console.app.test_client()
    assert signed_out.get("/console/entry-links/eln_x/status").status_code == 302
