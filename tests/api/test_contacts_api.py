"""Reverse verification through the HTTP API: agents start and end contacts, the portal shows and reports them."""

import logging
import re

import pytest
import sqlalchemy as sa

from tests.api.test_concurrency import fire_together
from verify_service.adapters.sql.tables import audit_events, contacts
from verify_service.domain.contacts import PHRASE_ALPHABET
from verify_service.domain.model import Actor

START = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-1"}
SECRET = "events-secret-for-tests-000000000"


def start(h, account_id="JP1001", **body):
    return h.call("POST", f"/v1/customers/{account_id}/contacts", "agent", {**START, **body})


def active(h, account_id="JP1001"):
    return h.call("GET", f"/v1/customers/{account_id}/contacts/active", "portal")


def report(h, contact_id, account_id="JP1001", body=None):
    return h.call("POST", f"/v1/customers/{account_id}/contacts/{contact_id}/report", "portal", body)


def test_starting_a_contact_returns_the_phrase_and_the_generic_name(harness):
    harness.register(locale="en")
    response = start(harness)
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["contact_id"].startswith("con_") and body["status"] == "active"
    assert re.fullmatch(f"[{PHRASE_ALPHABET}]{{4}}", body["phrase"])
    assert body["display_name"] == "Customer Support" and body["agent_id"] == "agent-42"
    assert body["reported"] is False and body["reported_at"] is None
    assert set(body) == {"contact_id", "account_id", "agent_id", "display_name", "channel", "ticket_ref", "phrase",
                         "status", "started_at", "expires_at", "reported", "reported_at"}


def test_starting_again_for_the_same_ticket_returns_the_same_contact_with_200(harness):
    harness.register()
    first = start(harness).get_json()
    again = start(harness)
    assert again.status_code == 200
    assert again.get_json()["contact_id"] == first["contact_id"] and again.get_json()["phrase"] == first["phrase"]
    other_ticket = start(harness, ticket_ref="T-2")
    assert other_ticket.status_code == 201 and other_ticket.get_json()["contact_id"] != first["contact_id"]


def test_another_agent_cannot_take_over_a_ticket_s_active_contact(harness):
    harness.register()
    first = start(harness).get_json()
    taken = start(harness, agent_id="agent-7")
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "conflict"
    assert first["phrase"] not in taken.get_data(as_text=True)


def test_the_customer_sees_active_contacts_with_a_sentence_in_their_locale(harness):
    harness.register(locale="en")
    harness.services.agents.name("agent-42", "Kato", Actor(key_name="cli"))
    contact = start(harness).get_json()
    assert contact["display_name"] == "Kato"
    body = active(harness).get_json()
    assert body["account_id"] == "JP1001" and [c["contact_id"] for c in body["contacts"]] == [contact["contact_id"]]
    assert "agent_id" not in body["contacts"][0] and body["contacts"][0]["phrase"] == contact["phrase"]
    assert body["message"] == (f"Kato from Customer Support is contacting you now about ticket T-1. "
                               f"They will read you this phrase: {contact['phrase']}.")


def test_with_no_contact_the_customer_is_told_to_hang_up_on_anyone_claiming_to_be_support(harness):
    harness.register(locale="ja")
    body = active(harness).get_json()
    assert body["contacts"] == [] and "電話を切り" in body["message"]


def test_an_expired_contact_stops_showing_at_once(harness):
    harness.register()
    contact = start(harness).get_json()
    harness.clock.advance(600)
    assert active(harness).get_json()["contacts"] == []
    seen = harness.call("GET", f"/v1/contacts/{contact['contact_id']}", "agent").get_json()
    assert seen["status"] == "expired" and seen["phrase"] is None
    assert start(harness).status_code == 201  # the ticket may have a new contact now


def test_ending_a_contact_early(harness):
    harness.register()
    contact = start(harness).get_json()
    ended = harness.call("DELETE", f"/v1/contacts/{contact['contact_id']}", "agent")
    assert ended.status_code == 200 and ended.get_json()["status"] == "ended" and ended.get_json()["phrase"] is None
    assert active(harness).get_json()["contacts"] == []
    again = harness.call("DELETE", f"/v1/contacts/{contact['contact_id']}", "agent")
    assert again.status_code == 200
    events = harness.call("GET", "/v1/audit?event=contact_ended", "admin").get_json()["events"]
    assert len(events) == 1 and events[0]["details"]["contact_id"] == contact["contact_id"]


def test_a_report_is_idempotent_and_the_agent_sees_it(harness):
    harness.register()
    contact = start(harness).get_json()
    first = report(harness, contact["contact_id"], body={"reason": "I did not ask for this"})
    assert first.status_code == 200 and first.get_json()["reported"] is True
    assert report(harness, contact["contact_id"], body={}).get_json()["reported_at"] == first.get_json()["reported_at"]
    polled = harness.call("GET", f"/v1/contacts/{contact['contact_id']}", "agent").get_json()
    assert polled["reported"] is True and polled["status"] == "active"
    events = harness.call("GET", "/v1/audit?event=contact_reported", "admin").get_json()["events"]
    assert len(events) == 1 and events[0]["details"]["reason"] == "I did not ask for this"
    assert harness.call("GET", "/v1/customers/JP1001", "agent").get_json()["status"] == "active"  # nothing frozen


def test_an_ended_or_expired_contact_can_still_be_reported(harness):
    harness.register()
    contact = start(harness).get_json()
    harness.call("DELETE", f"/v1/contacts/{contact['contact_id']}", "agent")
    harness.clock.advance(3600)
    reported = report(harness, contact["contact_id"])
    assert reported.status_code == 200 and reported.get_json()["reported"] is True
    event = harness.call("GET", "/v1/audit?event=contact_reported", "admin").get_json()["events"][0]
    assert event["details"]["status"] == "ended"


def test_another_customer_s_contact_is_not_found(harness):
    harness.register("JP1001")
    harness.register("JP2002", phone="+819011112222")
    contact = start(harness).get_json()
    response = report(harness, contact["contact_id"], account_id="JP2002")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert harness.call("GET", f"/v1/contacts/{contact['contact_id']}", "agent").get_json()["reported"] is False


@pytest.mark.parametrize("path", ["/v1/contacts/con_nope", "/v1/contacts/not-a-contact"])
def test_unknown_or_malformed_contacts_are_not_found(harness, path):
    assert harness.call("GET", path, "agent").status_code == 404
    assert harness.call("DELETE", path, "agent").status_code == 404


def test_unknown_customers_are_not_found(harness):
    assert start(harness, account_id="JP9999").status_code == 404
    assert active(harness, account_id="JP9999").status_code == 404
    assert report(harness, "con_abc", account_id="JP9999").status_code == 404


@pytest.mark.parametrize("body", [
    {"channel": "phone", "ticket_ref": "T-1"},
    {**START, "channel": "sms"},
    {**START, "ticket_ref": ""},
    {**START, "ticket_ref": "   "},
    {**START, "ticket_ref": "x" * 65},
    {**START, "agent_id": "a\x00b"},
    {**START, "extra": 1},
])
def test_bad_start_bodies_are_400_validation_error(harness, body):
    harness.register()
    response = harness.call("POST", "/v1/customers/JP1001/contacts", "agent", body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_a_too_long_report_reason_is_400(harness):
    harness.register()
    contact = start(harness).get_json()
    response = report(harness, contact["contact_id"], body={"reason": "x" * 501})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_agents_cannot_call_the_portal_endpoints_and_the_portal_cannot_call_the_agent_s(harness):
    harness.register()
    contact = start(harness).get_json()
    cid = contact["contact_id"]
    assert harness.call("GET", "/v1/customers/JP1001/contacts/active", "agent").status_code == 403
    assert harness.call("POST", f"/v1/customers/JP1001/contacts/{cid}/report", "agent").status_code == 403
    assert harness.call("POST", "/v1/customers/JP1001/contacts", "portal", START).status_code == 403
    assert harness.call("GET", f"/v1/contacts/{cid}", "portal").status_code == 403
    assert harness.call("DELETE", f"/v1/contacts/{cid}", "portal").status_code == 403
    assert harness.call("DELETE", f"/v1/contacts/{cid}", "admin").status_code == 403
    assert harness.call("GET", f"/v1/contacts/{cid}", "admin").status_code == 200


def test_locked_and_frozen_customers_may_still_be_contacted(harness):
    pin = harness.register()
    for _ in range(5):
        harness.check(pin="000001" if pin != "000001" else "000002")
    assert start(harness).status_code == 201
    harness.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "suspected takeover"})
    assert start(harness, ticket_ref="T-2").status_code == 201


def test_the_report_reaches_the_events_webhook_through_the_outbox(make_harness, mode, gateway):
    h = make_harness(mode, events_webhook_url=gateway.url + "/events", events_webhook_secret=SECRET)
    h.register()
    contact = start(h).get_json()
    report(h, contact["contact_id"], body={"reason": f"they read me {contact['phrase'].lower()} and asked for money"})
    report(h, contact["contact_id"])
    while h.services.outbox.dispatch_due():
        pass
    events = [r.json() for r in gateway.received if r.json()["event"] == "contact_reported"]
    assert len(events) == 1
    details = events[0]["details"]
    assert details["contact_id"] == contact["contact_id"] and details["ticket_ref"] == "T-1"
    assert details["reported_agent_id"] == "agent-42" and "[phrase]" in details["reason"]
    assert contact["phrase"].lower() not in gateway.received[-1].body.decode().lower()


def test_the_phrase_is_in_no_audit_event_log_line_or_error_and_sealed_at_rest(harness, caplog):
    caplog.set_level(logging.DEBUG)
    harness.register()
    contact = start(harness).get_json()
    phrase = contact["phrase"]
    texts = [start(harness, agent_id="agent-7").get_data(as_text=True)]
    report(harness, contact["contact_id"], body={"reason": f"they said {phrase}"})
    harness.call("DELETE", f"/v1/contacts/{contact['contact_id']}", "agent")
    texts.append(harness.call("GET", "/v1/audit?limit=500", "admin").get_data(as_text=True))
    with harness.services.db.engine.connect() as conn:
        texts += [str(tuple(row)) for row in conn.execute(sa.select(audit_events))]
        stored = conn.execute(sa.select(contacts)).one()
    texts += [record.getMessage() for record in caplog.records] + [caplog.text]
    assert not [text for text in texts if phrase in text]
    assert phrase.encode() not in stored.phrase_blob and phrase not in str(tuple(stored))


def test_the_contact_lifetime_comes_from_the_setting(make_harness, mode):
    h = make_harness(mode, contact_ttl_seconds=60)
    h.register()
    contact = start(h).get_json()
    h.clock.advance(59)
    assert h.call("GET", f"/v1/contacts/{contact['contact_id']}", "agent").get_json()["status"] == "active"
    h.clock.advance(1)
    assert h.call("GET", f"/v1/contacts/{contact['contact_id']}", "agent").get_json()["status"] == "expired"


def test_the_openapi_document_describes_the_contact_endpoints(harness):
    spec = harness.client.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert set(paths["/v1/customers/{account_id}/contacts"]["post"]["responses"]) >= {"200", "201", "400", "404",
                                                                                   "409"}
    assert "get" in paths["/v1/contacts/{contact_id}"] and "delete" in paths["/v1/contacts/{contact_id}"]
    assert "get" in paths["/v1/customers/{account_id}/contacts/active"]
    assert "post" in paths["/v1/customers/{account_id}/contacts/{contact_id}/report"]
    assert spec["components"]["schemas"]["Contact"]["properties"]["status"]["enum"] == ["active", "ended", "expired"]



def test_simultaneous_starts_for_one_ticket_make_one_contact(make_harness, mode):
    h = make_harness(mode)
    h.register()

    def send(i):
        response = start(h)
        return response.status_code, response.get_json()["contact_id"]

    results = fire_together(8, send)
    assert sorted(status for status, _ in results) == [200] * 7 + [201]
    assert len({contact_id for _, contact_id in results}) == 1


def test_simultaneous_reports_raise_one_event(make_harness, mode):
    h = make_harness(mode)
    h.register()
    contact_id = start(h).get_json()["contact_id"]
    results = fire_together(8, lambda i: report(h, contact_id).status_code)
    assert results == [200] * 8
    assert len(h.call("GET", "/v1/audit?event=contact_reported", "admin").get_json()["events"]) == 1
