"""Text that customers or agents read: every free-text field refuses format and separator characters, one
ticket written many ways is one contact, and a quoted phrase is redacted however it is spelled."""

import pytest
import sqlalchemy as sa

from tests.api.test_concurrency import fire_together
from verify_service.adapters.sql.tables import audit_events, contacts

# Bidi override and pop, zero-width space and joiner, NEL, line and paragraph separators, BOM, soft hyphen,
# word joiner, a tag character (invisible "ASCII smuggling").
REFUSED = ["\u202e", "\u202c", "\u200b", "\u200d", "\x85", "\u2028", "\u2029", "\ufeff", "\xad", "\u2060",
           "\U000e0041"]
START = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-100"}
CHECK = {"account_id": "JP1001", "pin": "000001", "channel": "phone", "agent_id": "agent-42"}
APPROVAL = {"reason": "change withdrawal address", "agent_id": "agent-42", "channel": "phone"}
# (method, path, role, body, field): every free-text field of every body.
FIELDS = [
    ("POST", "/v1/verifications", "agent", CHECK, "agent_id"),
    ("POST", "/v1/verifications", "agent", CHECK, "ticket_ref"),
    ("POST", "/v1/customers/JP1001/codes", "agent", {}, "agent_id"),
    ("POST", "/v1/customers/JP1001/codes", "agent", {}, "ticket_ref"),
    ("POST", "/v1/customers/JP1001/approvals", "agent", APPROVAL, "reason"),
    ("POST", "/v1/customers/JP1001/approvals", "agent", APPROVAL, "agent_id"),
    ("POST", "/v1/customers/JP1001/approvals", "agent", APPROVAL, "ticket_ref"),
    ("POST", "/v1/customers/JP1001/contacts", "agent", START, "agent_id"),
    ("POST", "/v1/customers/JP1001/contacts", "agent", START, "ticket_ref"),
    ("POST", "/v1/customers/JP1001/freeze", "admin", {}, "reason"),
    ("DELETE", "/v1/customers/JP1001/lock", "admin", {}, "reason"),
    ("POST", "/v1/agents/anomalies/ano_none/clear", "admin", {}, "reason"),
]


def start(h, **body):
    return h.call("POST", "/v1/customers/JP1001/contacts", "agent", {**START, **body})


@pytest.mark.parametrize("method, path, role, body, field", FIELDS, ids=[f"{f[1]} {f[4]}" for f in FIELDS])
def test_every_free_text_field_refuses_format_and_separator_characters(harness, method, path, role, body, field):
    harness.register()
    events_before = len(harness.call("GET", "/v1/audit?limit=500", "admin").get_json()["events"])
    for c in REFUSED:
        response = harness.call(method, path, role, {**body, field: f"ok {c}text"})
        error = response.get_json()["error"]
        assert response.status_code == 400 and error["code"] == "validation_error", (repr(c), error)
        assert list(error["details"]) == [field], repr(c)
    assert len(harness.call("GET", "/v1/audit?limit=500", "admin").get_json()["events"]) == events_before


def test_the_reversed_approval_reason_is_refused_and_never_reaches_the_customer(harness):
    harness.register()
    response = harness.call("POST", "/v1/customers/JP1001/approvals", "agent",
                            {**APPROVAL, "reason": "routine check \u202eevorppa\u202c\x85"})
    assert response.status_code == 400 and list(response.get_json()["error"]["details"]) == ["reason"]
    pending = harness.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()
    assert pending["approvals"] == []


def test_a_report_reason_with_a_format_character_is_refused(harness):
    harness.register()
    contact = start(harness).get_json()
    response = harness.call("POST", f"/v1/customers/JP1001/contacts/{contact['contact_id']}/report", "portal",
                            {"reason": "they said N\u200bM\u200b7\u200bM"})
    assert response.status_code == 400 and list(response.get_json()["error"]["details"]) == ["reason"]
    assert harness.call("GET", f"/v1/contacts/{contact['contact_id']}", "agent").get_json()["reported"] is False


def test_one_ticket_written_six_ways_is_one_contact_under_one_name(harness):
    harness.register()
    first = start(harness)
    assert first.status_code == 201
    for written in ["T-100 ", "t-100", "\uff34-100", "T\u2010100", "T\u2212100", "\uff34\uff0d\uff11\uff10\uff10"]:
        again = start(harness, ticket_ref=written)
        assert again.status_code == 200 and again.get_json()["contact_id"] == first.get_json()["contact_id"]
        assert start(harness, agent_id="agent-7", ticket_ref=written).status_code == 409, repr(written)
    zero_width = start(harness, agent_id="agent-7", ticket_ref="T-100\u200b")
    assert zero_width.status_code == 400 and list(zero_width.get_json()["error"]["details"]) == ["ticket_ref"]
    shown = harness.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"]
    assert [c["ticket_ref"] for c in shown] == ["T-100"]  # what the agent typed, once
    with harness.services.db.engine.connect() as conn:
        assert conn.execute(sa.select(contacts.c.ticket_ref, contacts.c.ticket_key)).all() == [("T-100", "t-100")]


def test_a_ticket_blank_or_too_long_once_normalised_is_400_not_500(harness):
    harness.register()
    for written in ("\u3000\u3000", "\ufdfa" * 15):
        response = start(harness, ticket_ref=written)
        assert response.status_code == 400 and list(response.get_json()["error"]["details"]) == ["ticket_ref"]


@pytest.mark.parametrize("spell", ["{0} {1} {2} {3}", "{0}-{1}-{2}-{3}", "{0}.{1}.{2}.{3}", "full-width",
                                   "{0}\u3000{1}\u3000{2}\u3000{3}"])
def test_a_report_quoting_the_phrase_stores_and_audits_no_phrase(harness, spell):
    harness.register()
    contact = start(harness).get_json()
    phrase = contact["phrase"]
    quoted = "".join(chr(ord(c) + 0xFEE0) for c in phrase) if spell == "full-width" else spell.format(*phrase)
    response = harness.call("POST", f"/v1/customers/JP1001/contacts/{contact['contact_id']}/report", "portal",
                            {"reason": f"they said {quoted} and asked for my code"})
    assert response.status_code == 200
    event = harness.call("GET", "/v1/audit?event=contact_reported", "admin").get_json()["events"][0]
    assert event["details"]["reason"] == "they said [phrase] and asked for my code"
    with harness.services.db.engine.connect() as conn:
        stored = conn.execute(sa.select(contacts.c.report_reason)).scalar_one()
        details = [str(row.details) for row in conn.execute(sa.select(audit_events))]
    assert stored == "they said [phrase] and asked for my code"
    assert not [d for d in details if quoted in d]


def test_simultaneous_starts_of_one_ticket_spelled_differently_make_one_contact(make_harness, mode):
    h = make_harness(mode)
    h.register()
    spellings = ["T-100", "t-100", "\uff34-100", "T\u2010100", "T-100 ", "T\u2212100", "t\uff0d100", "T-100\u3000"]

    def send(i):
        response = start(h, ticket_ref=spellings[i])
        return response.status_code, response.get_json()["contact_id"]

    results = fire_together(len(spellings), send)
    assert sorted(status for status, _ in results) == [200] * (len(spellings) - 1) + [201]
    assert len({contact_id for _, contact_id in results}) == 1
