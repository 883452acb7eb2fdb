"""The console under agent ids bound to credentials (issue 17): a contact is its starter's, a blocked user keeps no
tool of trust."""

import re

import pytest

from tests.console.test_console import PASSWORD, csrf, post, sign_in


@pytest.fixture
def console(make_harness, mode):
    harness = make_harness(mode, agent_block=True, agent_max_failures=2)
    for name, role in (("alice", "agent"), ("bob", "agent"), ("sam", "supervisor")):
        harness.services.users.create(name, role, PASSWORD)
    harness.register(locale="en")
    return harness


def signed_in(console, username):
    web = console.app.test_client()
    web.set_cookie("lang", "en")
    sign_in(web, username)
    return web


def start(client, **form):
    return post(client, "/console/contacts", **{"account_id": "JP1001", "channel": "phone", "ticket_ref": "T-1",
                                                **form})


def test_another_console_user_can_neither_see_nor_end_a_users_contact(console):
    alice, bob = signed_in(console, "alice"), signed_in(console, "bob")
    cid = re.search(r"(con_[A-Za-z0-9_-]+)", start(alice).headers["Location"]).group(1)
    phrase = console.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"][0]["phrase"]
    seen = bob.get(f"/console/contacts/{cid}")
    assert seen.status_code == 404 and phrase not in seen.get_data(as_text=True)
    ended = bob.post(f"/console/contacts/{cid}/end", data={"csrf_token": csrf(bob, "/console")})
    assert ended.status_code == 404
    assert console.call("GET", f"/v1/contacts/{cid}", "agent").status_code == 404  # nor an API key
    assert f'id="contact-phrase">{phrase}<' in alice.get(f"/console/contacts/{cid}").get_data(as_text=True)


def test_an_api_key_s_contact_is_not_found_on_the_console(console):
    body = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-9"}
    cid = console.call("POST", "/v1/customers/JP1001/contacts", "agent", body).get_json()["contact_id"]
    assert signed_in(console, "alice").get(f"/console/contacts/{cid}").status_code == 404


def test_a_blocked_console_user_cannot_start_a_contact_or_read_a_customer(console):
    alice = signed_in(console, "alice")
    pin = console.register("C000", phone="+819011112222")
    bad = "000001" if pin != "000001" else "000002"
    for _ in range(2):
        post(alice, "/console/verify", account_id="C000", pin=bad, channel="phone")
    refused = start(alice)
    assert refused.status_code == 429 and "contact-phrase" not in refused.get_data(as_text=True)
    assert "Your account is paused by security" in refused.get_data(as_text=True)
    assert console.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"] == []
    sam = signed_in(console, "sam")
    for account in ("C000", "JP1001"):  # sam touches two customers; alice's block is hers alone
        assert sam.get(f"/console/customers?account_id={account}").status_code == 200


def test_a_blocked_supervisor_cannot_read_a_customer_s_page(make_harness, mode):
    console = make_harness(mode, agent_block=True, agent_max_customers=1)
    console.services.users.create("sam", "supervisor", PASSWORD)
    console.register("C000")
    console.register("C001", phone="+819011112222")
    sam = signed_in(console, "sam")
    assert sam.get("/console/customers?account_id=C000").status_code == 200
    assert sam.get("/console/customers?account_id=C001").status_code == 200  # the 2nd customer raises
    refused = sam.get("/console/customers?account_id=C000")
    assert refused.status_code == 429 and "paused by security" in refused.get_data(as_text=True)
