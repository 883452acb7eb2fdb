"""Agent ids bound to credentials, through the API on SQLite and on PostgreSQL + Redis (issue 17, items 2-4).

A contact belongs to the key that started it; a key asserts only the agent_ids it may (never a console user's
name); a name tied to keys is shown only for their contacts; a blocked agent is refused every act of trust, and
those acts count their customers.
"""

import logging

import pytest

from verify_service.domain.model import Actor

START = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-100"}
PASSWORD = "a long console password"


def new_key(h, name, agent_ids=(), roles=("agent",)):
    """Another key on the harness's app; returns its secret."""
    if agent_ids:
        return h.services.keys.create(name, list(roles), agent_ids)[1]
    return h.services.keys.create(name, list(roles))[1]


def call(h, secret, method, path, body=None):
    return h.client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {secret}"})


def start(h, secret, account_id="JP1001", **body):
    return call(h, secret, "POST", f"/v1/customers/{account_id}/contacts", {**START, **body})


def check(h, secret, agent_id, account_id="JP1001", pin="000001"):
    body = {"account_id": account_id, "channel": "phone", "agent_id": agent_id, "pin": pin}
    return call(h, secret, "POST", "/v1/verifications", body)


def anomalies(h):
    return h.call("GET", "/v1/agents/anomalies?open=true", "admin").get_json()["anomalies"]


# Item 2: a contact belongs to the key that started it.

def test_another_key_can_neither_read_nor_end_a_contact_it_did_not_start(harness):
    harness.register()
    other = new_key(harness, "desk-b")
    contact = start(harness, harness.keys["agent"]).get_json()
    path = f"/v1/contacts/{contact['contact_id']}"
    for method in ("GET", "DELETE"):
        refused = call(harness, other, method, path)
        assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_found"
        assert contact["phrase"] not in refused.get_data(as_text=True)
    mine = harness.call("GET", path, "agent").get_json()
    assert mine["status"] == "active" and mine["phrase"] == contact["phrase"]


def test_another_key_starting_the_ticket_gets_a_409_that_names_no_contact_and_no_phrase(harness):
    harness.register()
    harness.services.agents.name("agent-42", "Kato", Actor("cli"))
    other = new_key(harness, "desk-b")
    contact = start(harness, harness.keys["agent"]).get_json()
    for agent_id in ("mallory", "agent-42"):  # as itself, or taking over A's agent_id
        refused = start(harness, other, agent_id=agent_id)
        text = refused.get_data(as_text=True)
        assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "conflict", text
        assert contact["contact_id"] not in text and contact["phrase"] not in text and "Kato" not in text
    again = start(harness, harness.keys["agent"])  # the owner still gets its contact back
    assert again.status_code == 200 and again.get_json()["phrase"] == contact["phrase"]


def test_the_owner_s_409_for_another_of_its_agents_names_its_own_contact(harness):
    harness.register()
    contact = start(harness, harness.keys["agent"]).get_json()
    refused = start(harness, harness.keys["agent"], agent_id="agent-7")
    assert refused.status_code == 409 and refused.get_json()["error"]["details"]["contact_id"] == [
        contact["contact_id"]]


def test_an_admin_reads_any_contact_but_never_its_phrase(harness):
    harness.register()
    contact = start(harness, harness.keys["agent"]).get_json()
    seen = harness.call("GET", f"/v1/contacts/{contact['contact_id']}", "admin")
    assert seen.status_code == 200 and seen.get_json()["status"] == "active" and seen.get_json()["phrase"] is None


# Item 3: agent ids bound to credentials.

def test_a_key_asserting_an_agent_id_outside_its_patterns_is_forbidden(harness, caplog):
    harness.register()
    desk = new_key(harness, "desk1", agent_ids=["desk1-*"])
    assert check(harness, desk, "desk1-007").status_code == 200
    assert start(harness, desk, agent_id="desk1-007").status_code == 201
    caplog.set_level(logging.WARNING)
    refusals = [check(harness, desk, "agent-42"), check(harness, desk, "desk1"), check(harness, desk, "xdesk1-1"),
                start(harness, desk, agent_id="agent-42", ticket_ref="T-2"),
                call(harness, desk, "POST", "/v1/customers/JP1001/approvals",
                     {"reason": "routine", "agent_id": "agent-42", "channel": "phone"}),
                call(harness, desk, "POST", "/v1/customers/JP1001/codes", {"agent_id": "agent-42"})]
    for refused in refusals:
        assert refused.status_code == 403, refused.get_json()
        assert refused.get_json()["error"]["code"] == "forbidden"
    assert "desk1" in caplog.text and "agent-42" in caplog.text and desk not in caplog.text
    records = harness.call("GET", "/v1/audit?event=verification_failed", "admin").get_json()["events"]
    assert all(event["agent_id"] != "agent-42" for event in records)  # a refused check records nothing


def test_no_key_asserts_a_console_username_so_none_can_frame_its_user(make_harness, mode):
    h = make_harness(mode, agent_block=True)
    h.services.users.create("rtvictim", "agent", PASSWORD)
    h.register()
    scoped = new_key(h, "desk-rt", agent_ids=["rt*"])
    for secret, agent_id in [(h.keys["agent"], "rtvictim"), (h.keys["agent"], "RTVictim"),
                             (h.keys["agent"], "ｒｔｖｉｃｔｉｍ"), (scoped, "rtvictim")]:
        for _ in range(10):
            refused = check(h, secret, agent_id)
            assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
        assert start(h, secret, agent_id=agent_id).status_code == 403
    assert anomalies(h) == []  # nothing counted for agent:rtvictim, so nothing blocks the real user
    assert check(h, h.keys["agent"], "agent-42").status_code == 200  # other agent_ids work as before


def test_a_name_tied_to_keys_is_shown_only_for_contacts_those_keys_started(harness):
    harness.register(locale="en")
    tied = new_key(harness, "desk-kato")
    harness.services.agents.name("agent-42", "Kato", Actor("cli"), ["desk-kato"])
    own = start(harness, tied).get_json()
    harness.clock.advance(1)
    borrowed = start(harness, harness.keys["agent"], ticket_ref="T-200").get_json()
    assert own["display_name"] == "Kato" and borrowed["display_name"] == "Customer Support"
    shown = harness.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()
    assert [c["display_name"] for c in shown["contacts"]] == ["Kato", "Customer Support"]
    assert shown["message"].count("Kato") == 1


def test_an_anomaly_names_both_the_key_and_the_agent_id(make_harness, mode):
    h = make_harness(mode, agent_max_failures=2)
    pin = h.register()
    desk = new_key(h, "desk-9", agent_ids=["agent-*"])
    wrong = "000001" if pin != "000001" else "000002"
    check(h, desk, "agent-9", pin=wrong)
    check(h, desk, "agent-9", pin=wrong)
    found = {a["subject"]: a for a in anomalies(h)}
    assert set(found) == {"agent", "key"}
    for anomaly in found.values():
        assert anomaly["agent_id"] == "agent-9" and anomaly["key"] == "desk-9"
    events = h.call("GET", "/v1/audit?event=agent_anomaly", "admin").get_json()["events"]
    assert len(events) == 2
    for event in events:
        assert event["details"]["agent_id"] == "agent-9" and event["details"]["key"] == "desk-9"
        assert event["agent_id"] == "agent-9" and event["actor"] == "desk-9"


def test_production_start_up_warns_about_each_unrestricted_agent_key(harness, caplog):
    from verify_service.bootstrap import warn_unrestricted_agent_keys

    new_key(harness, "desk-scoped", agent_ids=["desk-*"])
    new_key(harness, "desk-open")
    new_key(harness, "desk-gone")
    harness.services.keys.revoke("desk-gone")
    caplog.set_level(logging.WARNING)
    named = warn_unrestricted_agent_keys(harness.services)
    assert sorted(named) == sorted([harness.services.keys.list()[0].name, "desk-open"])
    assert "'desk-open'" in caplog.text and "--agent-ids" in caplog.text
    assert "desk-scoped" not in caplog.text and "desk-gone" not in caplog.text


# Item 4: a blocked agent keeps none of the tools of trust, and those acts count.

def block_the_key(h):
    """Two failed checks raise a failures anomaly on the harness's agent key (and agent-42)."""
    pin = h.register("C999")
    wrong = "000001" if pin != "000001" else "000002"
    h.check("C999", wrong)
    h.check("C999", wrong)
    assert {a["subject"] for a in anomalies(h)} == {"agent", "key"}


def test_a_blocked_key_cannot_start_contacts_ask_approvals_or_read_a_customer_s_state(make_harness, mode):
    h = make_harness(mode, agent_block=True, agent_max_failures=2)
    h.register()
    block_the_key(h)
    refused = [h.call("POST", "/v1/customers/JP1001/contacts", "agent", {**START, "agent_id": "agent-7"}),
               h.call("POST", "/v1/customers/JP1001/approvals", "agent",
                      {"reason": "routine", "agent_id": "agent-7", "channel": "phone"}),
               h.call("GET", "/v1/customers/JP1001/lock", "agent"),
               h.call("GET", "/v1/customers/JP1001", "agent")]
    for response in refused:
        assert response.status_code == 429, response.get_json()
        assert response.get_json()["error"]["details"]["reason"] == "agent_blocked"
        assert "phrase" not in response.get_data(as_text=True)
    other = new_key(h, "desk-ok")  # another key, asserting the blocked agent_id: refused too
    assert start(h, other).get_json()["error"]["details"] == {"reason": "agent_blocked", "subject": "agent"}
    assert h.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"] == []


@pytest.mark.parametrize("act", ["lock", "contact", "approval"])
def test_acts_of_trust_on_distinct_customers_raise_a_distinct_customers_anomaly(make_harness, mode, act):
    h = make_harness(mode, agent_max_customers=3)
    for index in range(4):
        account = f"D{index:03d}"
        h.register(account, phone=f"+8190111100{index:02d}")
        if act == "lock":
            response = h.call("GET", f"/v1/customers/{account}/lock", "agent")
        elif act == "contact":
            response = h.call("POST", f"/v1/customers/{account}/contacts", "agent", START)
        else:
            response = h.call("POST", f"/v1/customers/{account}/approvals", "agent",
                              {"reason": "routine", "agent_id": "agent-42", "channel": "phone"})
        assert response.status_code in (200, 201), response.get_json()
        if index < 3:
            assert anomalies(h) == []
    expected = {"key"} if act == "lock" else {"agent", "key"}  # a lock read asserts no agent_id
    found = anomalies(h)
    assert {a["subject"] for a in found} == expected
    assert {(a["kind"], a["count"]) for a in found} == {("distinct_customers", 4)}


def test_a_refused_act_about_a_customer_still_counts_them_but_an_unknown_customer_does_not(make_harness, mode):
    h = make_harness(mode, agent_max_customers=1)
    h.register("E001")
    h.register("E002", phone="+819011112222")
    h.call("POST", "/v1/customers/E001/freeze", "admin", {"reason": "suspected takeover"})
    asked = h.call("POST", "/v1/customers/E001/approvals", "agent",
                   {"reason": "routine", "agent_id": "agent-42", "channel": "phone"})
    assert asked.status_code == 409  # says the customer is frozen: it touched them
    assert h.call("GET", "/v1/customers/NOPE01/lock", "agent").status_code == 404
    assert anomalies(h) == []
    assert h.call("GET", "/v1/customers/E002/lock", "agent").status_code == 200
    assert {a["kind"] for a in anomalies(h)} == {"distinct_customers"}


def test_the_production_app_warns_at_start_up(make_harness, databases, caplog):
    from tests.conftest import make_settings
    from verify_service import create_app

    harness = make_harness("sqlite")
    new_key(harness, "desk-open")
    caplog.set_level(logging.WARNING)
    app = create_app(settings=make_settings(**databases["sqlite"], env="production"))
    app.extensions["verify"].close()
    warned = [r.getMessage() for r in caplog.records if "may assert any agent_id" in r.getMessage()]
    assert len(warned) == 2 and any("'desk-open'" in message for message in warned)


def test_a_key_s_patterns_hold_on_every_instance_with_cached_keys(make_harness):
    first = make_harness("postgres_redis")
    second = make_harness("postgres_redis", clean=False)
    first.register()
    desk = new_key(first, "desk1", agent_ids=["desk1-*"])
    for h in (first, second, first, second):  # the second round is served from each instance's key cache
        assert check(h, desk, "desk1-1").status_code == 200
        assert check(h, desk, "agent-42").status_code == 403
