"""Account closure: DELETE /v1/customers/{account_id} erases personal data and secrets; the id stays, closed."""

import json
import logging
import re
import threading

import pytest
import redis
import sqlalchemy as sa

from verify_service.domain.model import SealedSecret

PHONE, NEW_PHONE, EMAIL = "+819012345678", "+819087654321", "Hanako.Yamada@example.net"
CLOSE = {"reason": "customer asked to close the account"}
SECRET = "events-secret-for-tests-000000000"


def needles():
    """How the customer's phone numbers and email could appear: E.164, digits alone, any case."""
    return [PHONE, PHONE[1:], NEW_PHONE, NEW_PHONE[1:], EMAIL, EMAIL.lower()]


def close(h, role="portal", body=CLOSE, account="JP1001"):
    return h.call("DELETE", f"/v1/customers/{account}", role, body)


@pytest.fixture
def h(make_harness, mode, gateway):
    return make_harness(mode, delivery_backend="webhook", sms_webhook_url=gateway.url + "/sms",
                        sms_webhook_secret="sms-secret-for-tests-0000000000",
                        events_webhook_url=gateway.url + "/events", events_webhook_secret=SECRET)


def live_customer(h):
    """A customer with something of every kind: PIN, codes (sent and pending), checks, TOTP, contact, approval."""
    pin = h.register(phone=PHONE, email=EMAIL)
    assert h.call("POST", "/v1/customers/JP1001/codes", "agent", {"agent_id": "agent-42"}).status_code == 201
    while h.services.outbox.dispatch_due():
        pass
    h.clock.advance(3600)  # past the resend cooldown and the hourly cap
    assert h.call("PUT", "/v1/customers/JP1001", "portal", {"phone": NEW_PHONE}).status_code == 200
    assert h.check(pin=pin).get_json()["result"] == "verified"
    assert h.check(pin="000001" if pin != "000001" else "000002").get_json()["result"] == "rejected"
    assert h.call("POST", "/v1/customers/JP1001/totp", "portal").status_code in (200, 201)
    contact = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-1"}
    assert h.call("POST", "/v1/customers/JP1001/contacts", "agent", contact).status_code == 201
    approval = {"reason": "change withdrawal address", "agent_id": "agent-42", "channel": "phone"}
    assert h.call("POST", "/v1/customers/JP1001/approvals", "agent", approval).status_code == 201
    return pin


def every_row(h):
    """Every row of every table in the database, read back through plain SQL."""
    engine = h.services.db.engine
    with engine.connect() as conn:
        for name in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                yield name, row


def leaks_in_tables(h):
    """(table, needle) for every phone or email found in any column of any row."""
    leaks = []
    for table, row in every_row(h):
        for value in row:
            text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
            leaks += [(table, needle) for needle in found_in(text)]
    return leaks


def opened_outbox(h):
    """Every outbox payload, unsealed."""
    with h.services.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT account_id, payload_key_id, payload_blob FROM outbox")).all()
    assert rows  # the security events are still there to search
    return "\n".join(h.services.vault.open(account or "-", SealedSecret(key_id, bytes(blob)), purpose="outbox")
                     for account, key_id, blob in rows)


def tails_in_audit_details(h):
    """(event, tail) for each last three or four digits of either phone found, as a number of its own, in any
    audit event's details; each phone reference is checked for its shape and left out of the search (hex)."""
    events = h.call("GET", "/v1/audit?account_id=JP1001&limit=500", "admin").get_json()["events"]
    found = []
    for event in events:
        details = dict(event["details"])
        for name in ("phone_ref", "previous_phone_ref"):
            assert re.fullmatch(r"ph_[0-9a-f]{16}", details.pop(name, "ph_" + "0" * 16))
        details.pop("challenge_id", None)  # random letters and digits
        text = json.dumps(details)
        found += [(event["event"], "*") for _ in range("*" in text)]
        found += [(event["event"], tail) for phone in (PHONE, NEW_PHONE) for tail in (phone[-3:], phone[-4:])
                  if re.search(rf"(?<![0-9]){tail}(?![0-9])", text)]
    assert {"customer_registered", "customer_updated", "code_sent", "customer_closed"} <= {e["event"] for e in events}
    return found


def found_in(text):
    return [needle for needle in needles() if needle in text]


def redis_dump(url):
    """Every key of the test's Redis database with its value, as text."""
    client = redis.Redis.from_url(url, decode_responses=False)
    out = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value = {"string": client.get, "hash": client.hgetall, "list": lambda k: client.lrange(k, 0, -1),
                 "set": client.smembers, "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                 "stream": lambda k: client.xrange(k)}.get(kind, lambda k: b"")(key)
        out.append(f"{key!r} {value!r}")
    return "\n".join(out)


def test_after_closure_no_table_log_audit_event_or_redis_key_holds_the_phone_or_email(h, caplog):
    caplog.set_level(logging.DEBUG)
    live_customer(h)
    assert {("customers", NEW_PHONE), ("customers", EMAIL)} <= set(leaks_in_tables(h))  # the search finds them
    assert close(h).status_code == 200
    while h.services.outbox.dispatch_due():
        pass
    assert leaks_in_tables(h) == []
    assert found_in(opened_outbox(h)) == []  # the sealed payloads that stay (security events) hold none either
    audit = h.call("GET", "/v1/audit?limit=500", "admin")
    assert audit.status_code == 200 and "customer_closed" in audit.get_data(as_text=True)
    assert found_in(audit.get_data(as_text=True)) == []
    assert tails_in_audit_details(h) == []  # not even the masked tail ("+81 *******678") of either number
    assert found_in(caplog.text + "\n".join(r.getMessage() for r in caplog.records)) == []
    if h.services.settings.redis_url:
        assert found_in(redis_dump(h.services.settings.redis_url)) == []


def test_closure_erases_secrets_and_traces_and_keeps_the_id_marked_closed(h):
    live_customer(h)
    response = close(h)
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "closed" and body["account_id"] == "JP1001"
    assert body["erased"]["codes"] >= 1 and body["erased"]["contacts"] == 1 and body["erased"]["approvals"] == 1
    with h.services.db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM customers WHERE account_id = 'JP1001'")).mappings().one()
        counts = {name: conn.execute(sa.text(f"SELECT count(*) FROM {name} WHERE account_id = 'JP1001'")).scalar()
                  for name in ("challenges", "contacts", "approvals")}
        kinds = [r[0] for r in conn.execute(sa.text("SELECT kind FROM outbox WHERE account_id = 'JP1001'"))]
    assert row["closed_at"] is not None and row["phone"] == "" and row["email"] is None
    assert row["pin_blob"] is None and row["totp_blob"] is None and row["totp_pending_blob"] is None
    assert counts == {"challenges": 0, "contacts": 0, "approvals": 0}
    assert set(kinds) == {"event"}  # the security events for the platform stay; the SMS messages are gone


def test_every_call_on_a_closed_account_answers_410_account_closed(h):
    pin = live_customer(h)
    closed_at = close(h).get_json()["closed_at"]
    calls = [("GET", "/v1/customers/JP1001", "agent", None), ("GET", "/v1/customers/JP1001/pin", "portal", None),
             ("POST", "/v1/customers/JP1001/pin/rotate", "portal", None),
             ("PUT", "/v1/customers/JP1001", "portal", {"phone": PHONE}),
             ("POST", "/v1/customers/JP1001/codes", "agent", {"agent_id": "agent-42"}),
             ("GET", "/v1/customers/JP1001/lock", "admin", None),
             ("DELETE", "/v1/customers/JP1001/lock", "admin", {"reason": "r"}),
             ("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "r"}),
             ("POST", "/v1/customers/JP1001/totp", "portal", None),
             ("POST", "/v1/customers/JP1001/contacts", "agent", {"agent_id": "agent-42", "channel": "phone",
                                                                 "ticket_ref": "T-2"})]
    for method, path, role, body in calls:
        response = h.call(method, path, role, body)
        error = response.get_json()["error"]
        assert (response.status_code, error["code"]) == (410, "account_closed"), (method, path)
        assert error["details"] == {"reason": "account_closed", "closed_at": closed_at}
    check = h.check(pin=pin)
    assert check.status_code == 410 and check.get_json()["error"]["code"] == "account_closed"


def test_a_check_verified_before_the_closure_no_longer_confirms_anyone(h):
    pin = h.register(phone=PHONE)
    verification = h.check(pin=pin, call_ref="CA0001").get_json()["verification_id"]
    assert h.call("GET", f"/v1/verifications/{verification}", "agent").get_json()["valid"] is True
    assert len(h.call("GET", "/v1/verifications?call_ref=CA0001", "agent").get_json()["verifications"]) == 1
    close(h)
    response = h.call("GET", f"/v1/verifications/{verification}", "agent")
    assert response.status_code == 410 and response.get_json()["error"]["code"] == "account_closed"
    assert h.call("GET", "/v1/verifications?call_ref=CA0001", "agent").get_json()["verifications"] == []


def test_concurrent_deletes_close_once(h):
    h.register(phone=PHONE)
    answers, start = [], threading.Barrier(4)

    def delete():
        start.wait()
        answers.append(close(h).get_json())

    threads = [threading.Thread(target=delete) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({answer["closed_at"] for answer in answers}) == 1
    assert sum(1 for answer in answers if answer["erased"]) == 1
    assert len(h.call("GET", "/v1/audit?event=customer_closed", "admin").get_json()["events"]) == 1


def test_a_second_delete_changes_nothing_and_answers_the_first_closure(h):
    h.register(phone=PHONE)
    first = close(h).get_json()
    h.clock.advance(60)
    again = close(h, role="admin", body={"reason": "retry after a timeout"})
    assert again.status_code == 200 and again.get_json()["closed_at"] == first["closed_at"]
    assert again.get_json()["erased"] == {}
    events = h.call("GET", "/v1/audit?event=customer_closed", "admin").get_json()["events"]
    assert len(events) == 1 and events[0]["details"]["reason"] == CLOSE["reason"]


def test_agents_may_not_close_an_account_and_a_reason_is_required(h):
    h.register(phone=PHONE)
    assert close(h, role="agent").status_code == 403
    assert close(h, body={}).status_code == 400
    assert close(h, body={"reason": "  "}).status_code == 400
    assert close(h, account="NOPE1").status_code == 404
    assert close(h, account="bad id!").status_code == 400
    assert h.call("GET", "/v1/customers/JP1001", "agent").status_code == 200


@pytest.mark.parametrize("reason", [f"asked by {PHONE}", "call back on 090-1234-5678", f"mail {EMAIL.upper()}"])
def test_a_reason_holding_the_customers_phone_or_email_is_refused_and_nothing_is_erased(h, reason):
    h.register(phone=PHONE, email=EMAIL)
    response = close(h, body={"reason": reason})
    assert response.status_code == 400 and "reason" in response.get_json()["error"]["details"]
    assert h.call("GET", "/v1/customers/JP1001", "agent").status_code == 200


def test_the_closure_is_audited_and_sent_as_a_security_event(h, gateway):
    h.register(phone=PHONE)
    close(h)
    while h.services.outbox.dispatch_due():
        pass
    events = [json.loads(r.body) for r in gateway.received if r.path == "/events"]
    closed = [e for e in events if e["event"] == "customer_closed"]
    assert len(closed) == 1 and closed[0]["account_id"] == "JP1001"
    assert closed[0]["details"]["reason"] == CLOSE["reason"] and "erased" in closed[0]["details"]


def test_checks_racing_the_closure_end_in_410_and_none_confirms_afterwards(h):
    pin = h.register(phone=PHONE)
    answers, lock, start = [], threading.Lock(), threading.Barrier(5)

    def checker():
        start.wait()
        for _ in range(8):
            response = h.check(pin=pin)
            with lock:
                answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=checker) for _ in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    assert close(h).status_code == 200
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} <= {200, 410}
    assert h.check(pin=pin).status_code == 410
    for status, body in answers:
        if status == 200 and body["verified"]:
            assert h.call("GET", f"/v1/verifications/{body['verification_id']}", "agent").status_code == 410
