"""The supervisor's acts said back, and an agent's or a key's recent checks, through the test client."""

import pytest

from tests.console.test_console import csrf, post, sign_in


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


@pytest.mark.parametrize(("action", "said", "status"), [("freeze", "JP1001 frozen; reason: r1", "frozen"),
                                                       ("unfreeze", "JP1001 unfrozen; reason: r1", "active"),
                                                       ("unlock", "JP1001 unlocked; reason: r1", "active")])
def test_each_supervisor_action_acts_and_says_so_with_the_reason(console, sam, action, said, status):
    console.register()
    if action == "unfreeze":
        post(sam, "/console/customers/JP1001/actions/freeze", reason="r0")
    answer = post(sam, f"/console/customers/JP1001/actions/{action}", reason="r1")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/customers?account_id=JP1001")
    assert said in sam.get("/console/customers?account_id=JP1001").get_data(as_text=True)
    assert console.call("GET", "/v1/customers/JP1001", "admin").get_json()["status"] == status


@pytest.mark.parametrize("action", ["close", "delete", "ACTIONS_DONE", "unlock_"])
def test_an_action_the_console_does_not_offer_is_not_found_and_changes_nothing(console, sam, action):
    console.register()
    trail = console.call("GET", "/v1/audit?account_id=JP1001", "admin").get_json()["events"]
    answer = post(sam, f"/console/customers/JP1001/actions/{action}", reason="please")
    assert answer.status_code == 404 and "No customer with that account number." in answer.get_data(as_text=True)
    assert console.call("GET", "/v1/customers/JP1001", "admin").get_json()["status"] == "active"
    assert console.call("GET", "/v1/audit?account_id=JP1001", "admin").get_json()["events"] == trail


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
