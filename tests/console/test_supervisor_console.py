"""The supervisor's acts said back, and an agent's or a key's recent checks, through the test client."""

import pytest

from tests.console.test_console import PASSWORD, csrf, post, sign_in


@pytest.fixture
def console(make_harness, mode):
    harness = make_harness(mode)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    return harness


@pytest.fixture
def client(console):
    web = console.client
    web.set_cookie("lang", "en")
    return web


@pytest.fixture
def sam(console, client):
    sign_in(client, "sam")
    return client


def test_an_unlock_says_what_happened_with_the_reason_and_the_event_shows_it(console, sam):
    console.register()
    answer = post(sam, "/console/customers/JP1001/actions/freeze", reason="suspected takeover")
    assert answer.status_code == 302
    page = sam.get("/console/customers?account_id=JP1001").get_data(as_text=True)
    assert "JP1001 frozen; reason: suspected takeover" in page
    assert '<td class="reason">suspected takeover</td>' in page


def test_a_blank_reason_is_refused_in_words_and_nothing_changes(console, sam):
    console.register()
    post(sam, "/console/customers/JP1001/actions/freeze", reason="   ")
    page = sam.get("/console/customers?account_id=JP1001").get_data(as_text=True)
    assert "Enter a reason: it must not be blank or too long." in page
    assert console.call("GET", "/v1/customers/JP1001", "admin").get_json()["status"] == "active"


def test_a_supervisor_sees_an_agents_recent_checks_newest_first(console, sam):
    pin = console.register()
    first = console.check(pin=pin, agent_id="desk-9").get_json()["verification_id"]
    console.clock.advance(1)
    second = console.check(pin=pin, agent_id="desk-9").get_json()["verification_id"]
    page = sam.get("/console/checks?agent_id=desk-9").get_data(as_text=True)
    assert page.index(second) < page.index(first) and "Recent checks by agent desk-9" in page
    assert pin not in page


@pytest.mark.parametrize("query", ["", "agent_id=a&key=b", "key=bad%20name", "agent_id=a&cursor=nonsense"])
def test_a_checks_page_without_one_agent_or_key_is_not_found(sam, query):
    assert sam.get(f"/console/checks?{query}").status_code == 404


def test_agents_may_not_see_a_colleagues_checks_nor_act_on_customers(console, client):
    console.register()
    sign_in(client)
    assert client.get("/console/checks?agent_id=desk-9").status_code == 403
    answer = client.post("/console/customers/JP1001/actions/unlock",
                         data={"csrf_token": csrf(client, "/console"), "reason": "please"})
    assert answer.status_code == 403
