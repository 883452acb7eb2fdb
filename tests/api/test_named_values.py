"""Results, factor outcomes, statuses and audit event names are the domain's StrEnums; the document lists them."""

import json

from verify_service.domain.names import AuditEventName, ChallengeStatus, CheckResult, CustomerStatus, FactorResult


def enums_in(document):
    """Every `enum` list anywhere in the OpenAPI document."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list):
                found.append(node["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return found


def test_the_document_s_enumerations_come_from_the_domain(make_harness):
    document = json.loads(make_harness("sqlite").client.get("/openapi.json").get_data(as_text=True))
    enums = enums_in(document)
    for named in (CheckResult, FactorResult, CustomerStatus, ChallengeStatus, AuditEventName):
        assert [member.value for member in named] in enums, named.__name__


def test_every_event_the_service_writes_is_a_named_event(harness):
    pin = harness.register()
    harness.check(pin=pin)
    harness.check(pin="000001" if pin != "000001" else "000002")
    harness.call("POST", "/v1/customers/JP1001/pin/rotate", "portal")
    harness.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "test"})
    harness.check(pin=pin)
    events = harness.call("GET", "/v1/audit?limit=500", "admin").get_json()["events"]
    written = {event["event"] for event in events}
    assert len(written) >= 6 and written <= {member.value for member in AuditEventName}
