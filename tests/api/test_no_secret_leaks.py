"""No PIN appears in any log line, audit event, or agent or admin response."""

import logging

import pytest
import sqlalchemy as sa

from verify_service.adapters.sql.tables import audit_events, customers
from verify_service.domain.model import SealedSecret
from verify_service.errors import DependencyUnavailable


def test_no_pin_in_logs_audit_or_agent_and_admin_responses(harness, caplog):
    caplog.set_level(logging.DEBUG)
    pin = harness.register()
    wrong = "000001" if pin != "000001" else "000002"
    seen = []

    def call(method, path, role, body=None):
        response = harness.call(method, path, role, body)
        if role != "portal":
            seen.append(response.get_data(as_text=True))
            seen.append(str(dict(response.headers)))
        return response

    check = {"account_id": "JP1001", "channel": "phone", "agent_id": "a-1"}
    ok = call("POST", "/v1/verifications", "agent", {**check, "pin": pin}).get_json()
    call("GET", f"/v1/verifications/{ok['verification_id']}", "agent")
    call("GET", f"/v1/verifications/{ok['verification_id']}", "admin")
    new_pin = harness.call("POST", "/v1/customers/JP1001/pin/rotate", "portal").get_json()["pin"]
    for _ in range(6):
        call("POST", "/v1/verifications", "agent", {**check, "pin": pin})
    call("POST", "/v1/verifications", "agent", {**check, "pin": "12345x"})
    call("POST", "/v1/verifications", "agent", {**check, "pin": wrong, "code": "123123"})
    for role in ("agent", "admin"):
        call("GET", "/v1/customers/JP1001", role)
        call("GET", "/v1/customers/JP1001/lock", role)
        call("GET", "/v1/customers/JP1001/pin", role)
    call("DELETE", "/v1/customers/JP1001/lock", "admin", {"reason": "ok"})
    call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "attack"})
    call("GET", "/v1/audit?limit=500", "admin")

    with harness.services.db.engine.connect() as conn:
        audit_rows = [str(tuple(row)) for row in conn.execute(sa.select(audit_events))]
        stored = conn.execute(sa.select(customers.c.pin_blob)).scalar_one()
    logs = [record.getMessage() for record in caplog.records] + [caplog.text]
    assert len(audit_rows) > 10 and len(seen) > 20
    for secret in (pin, new_pin):
        for place, texts in (("response", seen), ("audit", audit_rows), ("log", logs)):
            leaks = [text for text in texts if secret in text]
            assert not leaks, f"PIN found in {place}: {leaks[:1]}"
        assert secret.encode() not in stored


def test_pins_at_rest_are_sealed_and_bound_to_their_account(harness):
    harness.register("A1")
    harness.register("B2")
    with harness.services.db.engine.connect() as conn:
        rows = conn.execute(sa.select(customers.c.account_id, customers.c.pin_key_id, customers.c.pin_blob)).all()
    blobs = {row.account_id: row for row in rows}
    assert blobs["A1"].pin_key_id == "k2" and len(blobs["A1"].pin_blob) == 12 + 6 + 16
    vault = harness.services.vault
    swapped = SealedSecret(blobs["B2"].pin_key_id, bytes(blobs["B2"].pin_blob))
    with pytest.raises(DependencyUnavailable):
        vault.open("A1", swapped)
