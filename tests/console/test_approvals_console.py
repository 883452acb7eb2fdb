"""The console's approval requests through the test client: send, refresh, verify with it, in English and Japanese."""

import re

import pytest

PASSWORD = "correct horse battery staple"
REASON = "change withdrawal address"


@pytest.fixture
def console(make_harness, mode):
    harness = make_harness(mode)
    harness.services.users.create("alice", "agent", PASSWORD)
    return harness


def signed_in_client(console, lang="en"):
    client = console.client
    client.set_cookie("lang", lang)
    token = csrf(client, "/console/login")
    client.post("/console/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    return client


@pytest.fixture
def client(console):
    return signed_in_client(console)


def csrf(client, path="/console"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf(client), **data})


def send(client, account_id="JP1001", reason=REASON):
    return post(client, "/console/approvals", account_id=account_id, reason=reason, channel="phone", ticket_ref="T-3")


def approval_id_of(page):
    return re.search(r"/console/approvals/(apr_[A-Za-z0-9_-]+)", page).group(1)


def answer(console, approval_id, verdict):
    path = f"/v1/customers/JP1001/approvals/{approval_id}/answer"
    assert console.call("POST", path, "portal", {"answer": verdict}).status_code == 200


def test_sending_a_request_shows_it_pending_with_a_refresh_link(console, client):
    console.register()
    response = send(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Approval request sent" in page
    assert "PENDING" in page and REASON in page and "Refresh" in page
    assert "Verify with approval" not in page
    approval = console.call("GET", f"/v1/approvals/{approval_id_of(page)}", "agent").get_json()
    assert (approval["agent_id"], approval["ticket_ref"], approval["channel"]) == ("alice", "T-3", "phone")


@pytest.mark.parametrize("verdict,word", [("approve", "APPROVED"), ("deny", "DENIED")])
def test_refresh_shows_the_customer_s_answer_in_words(console, client, verdict, word):
    console.register()
    approval_id = approval_id_of(send(client).get_data(as_text=True))
    answer(console, approval_id, verdict)
    page = client.get(f"/console/approvals/{approval_id}").get_data(as_text=True)
    assert word in page and ("Verify with approval" in page) == (verdict == "approve")
    assert 'value="JP1001"' in page  # the form is filled for the same customer


def test_refresh_shows_an_expired_request(console, client):
    console.register()
    approval_id = approval_id_of(send(client).get_data(as_text=True))
    console.clock.advance(301)
    assert "EXPIRED" in client.get(f"/console/approvals/{approval_id}").get_data(as_text=True)


def test_verify_with_the_approval_and_the_pin_is_level_two(console, client):
    pin = console.register()
    approval_id = approval_id_of(send(client).get_data(as_text=True))
    answer(console, approval_id, "approve")
    page = post(client, "/console/verify", account_id="JP1001", pin=pin, channel="phone",
                approval_id=approval_id).get_data(as_text=True)
    assert "VERIFIED" in page and "Level 2" in page and "Approval: match" in page and pin not in page
    assert console.call("GET", f"/v1/approvals/{approval_id}", "agent").get_json()["status"] == "used"


def test_verify_with_approval_posted_twice_answers_the_first_check_and_counts_nothing(console, client):
    pin = console.register()
    approval_id = approval_id_of(send(client).get_data(as_text=True))
    answer(console, approval_id, "approve")
    form = {"account_id": "JP1001", "pin": pin, "channel": "phone", "approval_id": approval_id, "flow": "level2"}
    first = post(client, "/console/verify", **form).get_data(as_text=True)
    again = post(client, "/console/verify", **form)
    page = again.get_data(as_text=True)
    assert "Level 2" in first and again.status_code == 200 and "Level 2" in page and pin not in page
    assert "You pressed the button twice" in page and "Level 1 only" not in page
    lock = console.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert (lock["failed_attempts"], lock["locked"]) == (0, False)


def test_another_agent_s_used_approval_is_still_a_failed_attempt(console, client):
    """The repeat guard covers the agent who asked for the approval, not anyone holding its id."""
    pin = console.register()
    approval_id = approval_id_of(send(client).get_data(as_text=True))
    answer(console, approval_id, "approve")
    post(client, "/console/verify", account_id="JP1001", pin=pin, channel="phone", approval_id=approval_id)
    console.services.users.create("bob", "agent", PASSWORD)
    bob = console.app.test_client()
    bob.set_cookie("lang", "en")
    token = csrf(bob, "/console/login")
    bob.post("/console/login", data={"username": "bob", "password": PASSWORD, "csrf_token": token})
    page = post(bob, "/console/verify", account_id="JP1001", pin=pin, channel="phone",
                approval_id=approval_id).get_data(as_text=True)
    assert "NOT VERIFIED" in page and "Approval: wrong" in page
    assert console.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 1


def test_a_level_one_answer_in_a_level_two_flow_says_it_is_not_enough(console, client):
    console.register()
    approval_id = approval_id_of(send(client).get_data(as_text=True))
    answer(console, approval_id, "approve")
    page = post(client, "/console/verify", account_id="JP1001", channel="phone", approval_id=approval_id,
                flow="level2").get_data(as_text=True)
    assert "Level 1" in page and "Level 1 only: not enough for account changes." in page
    assert "do not change the account" in page and "Identity confirmed" not in page


def test_verifying_before_the_customer_answers_explains_and_counts_nothing(console, client):
    pin = console.register()
    approval_id = approval_id_of(send(client).get_data(as_text=True))
    response = post(client, "/console/verify", account_id="JP1001", pin=pin, channel="phone", approval_id=approval_id)
    assert response.status_code == 409 and "has not approved the request yet" in response.get_data(as_text=True)
    assert console.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 0


@pytest.mark.parametrize("form,status,text", [
    ({"reason": "   "}, 400, "Enter a reason: it must not be blank"), ({"account_id": "JP9999"}, 404, "No customer"),
    ({"account_id": "bad id!"}, 404, "No customer")])
def test_bad_requests_are_explained_never_a_500(console, client, form, status, text):
    console.register()
    response = post(client, "/console/approvals", **{"account_id": "JP1001", "reason": REASON, **form})
    assert response.status_code == status and text in response.get_data(as_text=True)


def test_an_unknown_or_malformed_approval_is_a_404_page(client):
    for approval_id in ("apr_missing", "nope"):
        response = client.get(f"/console/approvals/{approval_id}")
        assert response.status_code == 404 and "No such approval request" in response.get_data(as_text=True)


def test_the_hourly_cap_is_explained(console, client):
    console.register()
    for _ in range(5):
        send(client)
    response = send(client)
    assert response.status_code == 429 and "Please wait 3600 s" in response.get_data(as_text=True)


def test_japanese_status_words(console):
    console.register()
    client = signed_in_client(console, "ja")
    page = send(client).get_data(as_text=True)
    assert "承認待ち" in page and "承認リクエストを送信" in page
    answer(console, approval_id_of(page), "approve")
    assert "お客様が承認しました" in client.get(f"/console/approvals/{approval_id_of(page)}").get_data(as_text=True)


def test_signed_out_agents_cannot_send_or_read_requests(console):
    client = console.client
    assert client.get("/console/approvals/apr_x").status_code == 302
    assert client.post("/console/approvals", data={"account_id": "JP1001", "reason": REASON}).status_code == 302
