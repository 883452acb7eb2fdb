"""The console on a closed account: the agent and the supervisor are told so, in their language."""

from tests.console.test_console import PASSWORD, post, sign_in

CLOSED_EN = "This account was closed: it can no longer be verified or changed."
CLOSED_JA = "このアカウントは解約済みです。本人確認も変更もできません。"


def closed_customer(make_harness):
    harness = make_harness("sqlite")
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    pin = harness.register()
    assert harness.call("DELETE", "/v1/customers/JP1001", "portal", {"reason": "customer left"}).status_code == 200
    return harness, pin


def test_an_agent_verifying_a_closed_account_is_told_it_was_closed(make_harness):
    harness, pin = closed_customer(make_harness)
    client = harness.client
    client.set_cookie("lang", "en")
    sign_in(client)
    page = post(client, "/console/verify", account_id="JP1001", pin=pin, channel="phone", ticket_ref="T-9")
    assert CLOSED_EN in page.get_data(as_text=True) and "VERIFIED" not in page.get_data(as_text=True)


def test_a_supervisor_opening_a_closed_account_reads_it_in_japanese(make_harness):
    harness, _ = closed_customer(make_harness)
    client = harness.client
    client.set_cookie("lang", "ja")
    sign_in(client, "sam")
    page = client.get("/console/customers?account_id=JP1001")
    assert page.status_code == 410 and CLOSED_JA in page.get_data(as_text=True)
