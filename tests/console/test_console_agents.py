"""The supervisor's agent alerts page and the blocked agent's message, through the test client."""

import re

import pytest

from tests.console.test_console import PASSWORD, csrf, post, sign_in


@pytest.fixture
def console(make_harness, mode):
    harness = make_harness(mode, agent_block=True, agent_max_failures=2)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    return harness


def client_in(console, lang):
    web = console.app.test_client()
    web.set_cookie("lang", lang)
    return web


def block_alice(console):
    """Two wrong checks from alice's console session: her checks are paused."""
    pin = console.register("C000")
    alice = client_in(console, "en")
    sign_in(alice)
    bad = "000001" if pin != "000001" else "000002"
    for _ in range(2):
        post(alice, "/console/verify", account_id="C000", pin=bad, channel="phone")
    return alice, pin


def test_a_blocked_agent_sees_that_checks_are_paused_and_nothing_is_evaluated(console):
    alice, pin = block_alice(console)
    page = post(alice, "/console/verify", account_id="C000", pin=pin, channel="phone")
    assert page.status_code == 429
    assert "Your account is paused by security (checks, codes, contacts, approval requests and customer pages); " \
        "ask your supervisor." in page.get_data(as_text=True)
    assert console.call("GET", "/v1/customers/C000/lock", "admin").get_json()["failed_attempts"] == 2


def test_the_paused_message_is_in_japanese_too(console):
    alice, pin = block_alice(console)
    alice.set_cookie("lang", "ja")
    page = post(alice, "/console/send-code", account_id="C000", channel="phone")
    assert page.status_code == 429 and "スーパーバイザーに連絡してください" in page.get_data(as_text=True)


def test_the_supervisor_sees_open_anomalies_in_words_and_clears_one(console):
    block_alice(console)
    sam = client_in(console, "en")
    sign_in(sam, "sam")
    page = sam.get("/console/agents").get_data(as_text=True)
    assert "Agent alice" in page and "Failed checks (limit 2 in 10 min)" in page and '<td class="count">2</td>' in page
    assert 'href="/console/agents"' in sam.get("/console").get_data(as_text=True)  # in the supervisor's menu
    anomaly_id = re.search(r'id="(ano_[^"]+)"', page).group(1)
    refused = sam.post(f"/console/agents/{anomaly_id}/clear", data={"csrf_token": csrf(sam, "/console"),
                                                                      "reason": "  "})
    assert refused.status_code == 302 and console.call("GET", "/v1/agents/anomalies?open=true", "admin"
                                                       ).get_json()["anomalies"]
    done = sam.post(f"/console/agents/{anomaly_id}/clear", data={"csrf_token": csrf(sam, "/console"),
                                                                   "reason": "coaching done"})
    assert done.status_code == 302
    assert "No open agent alerts." in sam.get("/console/agents").get_data(as_text=True)
    [cleared] = console.call("GET", "/v1/agents/anomalies?open=false", "admin").get_json()["anomalies"]
    assert cleared["cleared_by"] == "sam" and cleared["clear_reason"] == "coaching done"


def test_the_alerts_page_speaks_japanese(console):
    block_alice(console)
    sam = client_in(console, "ja")
    sign_in(sam, "sam")
    page = sam.get("/console/agents").get_data(as_text=True)
    assert "担当者 alice" in page and "確認の失敗回数（上限：10分間に2回）" in page and "解除" in page


def test_agents_cannot_open_the_alerts_page(console):
    alice = client_in(console, "en")
    sign_in(alice)
    assert alice.get("/console/agents").status_code == 403
    assert 'href="/console/agents"' not in alice.get("/console").get_data(as_text=True)
