"""No PIN and no entry link token in any output: log lines, audit events, API answers (but the 201 that shows the
URL once), the events webhook, and the database (issue 18: "search every output for the PINs used")."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa

from tests.api.test_entry_links_api import PUBLIC, create, form_nonce, wrong
from verify_service.adapters.sql.tables import audit_events, entry_links, metadata

SECRET = "events-secret-for-tests-000000000"


def test_no_pin_and_no_token_in_logs_audit_answers_webhooks_or_rows(make_harness, mode, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    h = make_harness(mode, entry_link_public_url=PUBLIC, events_webhook_url=gateway.url + "/events",
                     events_webhook_secret=SECRET)
    pin = h.register(locale="en")
    made = create(h)
    link_id, url = made.get_json()["entry_link_id"], made.get_json()["url"]
    token = url.rsplit("/", 1)[1]
    path = f"/entry/{token}"
    seen: list[str] = []

    def keep(response):
        seen.extend([response.get_data(as_text=True), str(dict(response.headers))])
        return response

    for typed in (wrong(pin), pin):
        page = h.client.get(path).get_data(as_text=True)
        keep(h.client.post(path, data={"pin": typed, "submission": form_nonce(page)}))
    keep(h.client.get(path))  # dead now
    for role in ("agent", "admin"):
        link = keep(h.call("GET", f"/v1/entry-links/{link_id}", role)).get_json()
        keep(h.call("GET", f"/v1/verifications/{link['verification_id']}", role))
    keep(h.call("GET", "/v1/audit?limit=500", "admin"))
    while h.services.outbox.dispatch_due():
        pass
    webhooks = [request.body.decode() for request in gateway.received]
    assert any('"entry_link_created"' in body for body in webhooks)
    with h.services.db.engine.connect() as conn:
        rows = [str(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(sa.select(table))]
        macs = [bytes(row.token_mac) for row in conn.execute(sa.select(entry_links.c.token_mac))]
        events = conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar_one()
    logs = [record.getMessage() for record in caplog.records] + [caplog.text]
    assert events >= 5 and len(seen) > 10 and len(logs) > 5
    for secret in (pin, wrong(pin), token, token[:16]):
        for place, texts in (("an answer", seen), ("a log line", logs), ("a webhook", webhooks), ("a row", rows)):
            leaks = [text for text in texts if secret in text]
            assert not leaks, f"{secret!r} found in {place}: {leaks[:1]}"
    assert token.encode() not in b"".join(macs) and all(len(mac) == 32 for mac in macs)
    access = [r.getMessage() for r in caplog.records if r.name == "verify_service.access" and "/entry/" in
              r.getMessage()]
    assert access and all(re.fullmatch(r"(GET|POST) /entry/<token> \d{3}", line) for line in access), access
