"""Approval requests over HTTP on SQLite and PostgreSQL + Redis: roles, answers, the deny count, single use."""

import threading

import pytest

from tests.servers import RedisServer, flush_redis

REASON = "change withdrawal address"


def ask(h, account="JP1001", role="agent", **body):
    payload = {"reason": REASON, "agent_id": "agent-42", "channel": "phone", **body}
    return h.call("POST", f"/v1/customers/{account}/approvals", role, payload)


def answer(h, approval_id, verdict, account="JP1001", role="portal"):
    return h.call("POST", f"/v1/customers/{account}/approvals/{approval_id}/answer", role, {"answer": verdict})


def approved_id(h):
    approval_id = ask(h).get_json()["approval_id"]
    assert answer(h, approval_id, "approve").status_code == 200
    return approval_id


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


def failures(h):
    return h.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"]


def test_a_request_answers_201_pending_for_five_minutes(harness):
    harness.register()
    response = ask(harness, ticket_ref="T-7")
    assert response.status_code == 201
    body = response.get_json()
    assert body["approval_id"].startswith("apr_") and body["status"] == "pending"
    assert {k: body[k] for k in ("account_id", "reason", "agent_id", "channel", "ticket_ref", "answered_at")} == {
        "account_id": "JP1001", "reason": REASON, "agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-7",
        "answered_at": None}
    assert (body["created_at"], body["expires_at"]) == ("2026-11-23T04:05:06Z", "2026-11-23T04:10:06Z")


@pytest.mark.parametrize("body,field", [({"reason": "   "}, "reason"), ({"reason": "x" * 201}, "reason"),
                                        ({"reason": None}, "reason"), ({"channel": "sms"}, "channel"),
                                        ({"agent_id": ""}, "agent_id"), ({"extra": 1}, "extra")])
def test_bad_request_bodies_are_400_and_create_nothing(harness, body, field):
    harness.register()
    response = ask(harness, **body)
    assert response.status_code == 400 and field in response.get_json()["error"]["details"]
    assert harness.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()["approvals"] == []


def test_roles_are_enforced_on_every_endpoint(harness):
    harness.register()
    approval_id = ask(harness).get_json()["approval_id"]
    assert ask(harness, role="portal").status_code == 403
    assert harness.call("GET", "/v1/customers/JP1001/approvals/pending", "agent").status_code == 403
    assert answer(harness, approval_id, "approve", role="agent").status_code == 403
    assert answer(harness, approval_id, "approve", role="admin").status_code == 403
    assert harness.call("GET", f"/v1/approvals/{approval_id}", "portal").status_code == 403
    for role in ("agent", "admin"):
        assert harness.call("GET", f"/v1/approvals/{approval_id}", role).get_json()["status"] == "pending"
    assert harness.call("GET", f"/v1/approvals/{approval_id}", None).status_code == 401


def test_the_account_page_gets_the_request_and_a_sentence_in_the_customer_s_locale(harness):
    harness.register(locale="en")
    first = ask(harness).get_json()
    second = ask(harness, reason="raise the card limit").get_json()
    body = harness.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()
    assert [a["approval_id"] for a in body["approvals"]] == [second["approval_id"]]
    assert set(body["approvals"][0]) == {"approval_id", "reason", "channel", "ticket_ref", "created_at", "expires_at"}
    assert body["message"] == ("Customer Support is asking you to approve: raise the card limit. Approve only if "
                               "you are talking to Customer Support right now and you asked for this.")
    assert harness.call("GET", f"/v1/approvals/{first['approval_id']}", "agent").get_json()["status"] == "superseded"


def test_the_hourly_cap_answers_429_with_retry_after(harness):
    harness.register()
    for _ in range(5):
        assert ask(harness).status_code == 201
    refused = ask(harness)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) == 3600


def test_a_locked_or_frozen_customer_gets_409_and_nothing_is_created(harness):
    harness.register()
    harness.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "takeover"})
    assert ask(harness).status_code == 409
    harness.call("DELETE", "/v1/customers/JP1001/freeze", "admin", {"reason": "fine"})
    pin = harness.call("GET", "/v1/customers/JP1001/pin", "portal").get_json()["pin"]
    for _ in range(5):
        harness.check(pin=wrong(pin))
    assert ask(harness).status_code == 409
    assert harness.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()["approvals"] == []


def test_another_customer_s_request_is_404_and_malformed_ids_name_nothing(harness):
    harness.register()
    harness.register("JP2002", "+819011112222")
    theirs = ask(harness, account="JP2002").get_json()["approval_id"]
    response = answer(harness, theirs, "approve")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert harness.call("GET", f"/v1/approvals/{theirs}", "agent").get_json()["status"] == "pending"
    assert answer(harness, "not-an-id", "approve").status_code == 404
    assert harness.call("GET", "/v1/approvals/apr_missing", "agent").status_code == 404
    assert answer(harness, theirs, "maybe", account="JP2002").status_code == 400


def test_answers_are_200_with_the_status_then_409(harness):
    harness.register()
    approval_id = ask(harness).get_json()["approval_id"]
    harness.clock.advance(20)
    body = answer(harness, approval_id, "approve").get_json()
    assert (body["status"], body["answered_at"]) == ("approved", "2026-11-23T04:05:26Z")
    again = answer(harness, approval_id, "deny")
    assert again.status_code == 409 and again.get_json()["error"]["details"]["reason"] == "not_pending"
    late = ask(harness).get_json()["approval_id"]
    harness.clock.advance(300)
    expired = answer(harness, late, "approve")
    assert expired.status_code == 409 and expired.get_json()["error"]["details"]["reason"] == "expired"
    assert harness.call("GET", f"/v1/approvals/{late}", "admin").get_json()["status"] == "expired"


def test_pin_and_approval_verify_at_level_two_then_the_approval_is_used(harness):
    pin = harness.register()
    approval_id = approved_id(harness)
    body = harness.check(pin=pin, approval_id=approval_id).get_json()
    assert (body["result"], body["level"], body["factors"]) == (
        "verified", 2, {"pin": "match", "code": "not_checked", "approval": "match"})
    record = harness.call("GET", f"/v1/verifications/{body['verification_id']}", "agent").get_json()
    assert record["factors"]["approval"] == "match" and record["valid"] is True
    assert harness.call("GET", f"/v1/approvals/{approval_id}", "agent").get_json()["status"] == "used"
    again = harness.check(pin=pin, approval_id=approval_id).get_json()
    assert (again["result"], again["factors"]["approval"]) == ("rejected", "mismatch")


def test_approval_alone_is_level_one_and_a_check_without_one_keeps_the_contract_shape(harness):
    pin = harness.register()
    body = harness.check(approval_id=approved_id(harness)).get_json()
    assert (body["result"], body["level"]) == ("verified", 1)
    plain = harness.check(pin=pin).get_json()
    assert plain["factors"] == {"pin": "match", "code": "not_checked"}
    record = harness.call("GET", f"/v1/verifications/{plain['verification_id']}", "agent").get_json()
    assert record["factors"] == {"pin": "match", "code": "not_checked"}


def test_code_and_approval_together_or_neither_is_400(harness):
    pin = harness.register()
    both = harness.check(pin=pin, code="123456", approval_id="apr_x")
    assert both.status_code == 400 and "approval_id" in both.get_json()["error"]["details"]
    neither = harness.check()
    assert neither.get_json()["error"]["details"] == {"pin": ["Give at least one of pin, code and approval_id."]}
    assert failures(harness) == 0


def test_a_check_with_a_pending_approval_is_409_and_counts_nothing(harness):
    pin = harness.register()
    approval_id = ask(harness).get_json()["approval_id"]
    response = harness.check(pin=pin, approval_id=approval_id)
    assert response.status_code == 409 and response.get_json()["error"]["details"]["reason"] == "approval_pending"
    assert failures(harness) == 0
    assert harness.call("GET", f"/v1/approvals/{approval_id}", "agent").get_json()["status"] == "pending"


def test_a_deny_counts_and_the_threshold_deny_locks_exactly(harness):
    pin = harness.register()
    for _ in range(4):
        harness.check(pin=wrong(pin))
    approval_id = ask(harness).get_json()["approval_id"]
    body = answer(harness, approval_id, "deny").get_json()
    assert body["status"] == "denied"
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert lock["locked"] is True and lock["failed_attempts"] == 5
    assert harness.check(pin=pin).get_json()["result"] == "locked"
    events = [e["event"] for e in harness.call("GET", "/v1/audit?account_id=JP1001", "admin").get_json()["events"]]
    assert events[1:4] == ["approval_denied", "customer_locked", "verification_failed"]  # after: the locked check


def test_four_denies_leave_one_attempt(harness):
    pin = harness.register()
    for _ in range(4):
        answer(harness, ask(harness).get_json()["approval_id"], "deny")
    body = harness.check(pin=wrong(pin)).get_json()
    assert (body["result"], body["attempts_remaining"], bool(body["locked_until"])) == ("rejected", 0, True)


def test_a_deny_after_redis_forgot_the_count_still_counts_exactly(make_harness):
    h = make_harness("postgres_redis")
    pin = h.register()
    for _ in range(3):
        h.check(pin=wrong(pin))
    answer(h, ask(h).get_json()["approval_id"], "deny")  # the 4th failure
    flush_redis(h.services.settings.redis_url)
    assert failures(h) == 4
    answer(h, ask(h).get_json()["approval_id"], "deny")  # the 5th: locks
    lock = h.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert lock["locked"] is True and lock["failed_attempts"] == 5
    flush_redis(h.services.settings.redis_url)
    assert h.check(pin=pin).get_json()["result"] == "locked"


def test_of_concurrent_checks_with_one_approval_only_one_matches(make_harness):
    # Five mismatches are five failures: with the usual threshold of 5 the lock could land before the matching
    # check's count and answer it `locked` (factors not_checked). This test is about single use, not the lock.
    h = make_harness("postgres_redis", lockout_threshold=10)
    pin = h.register()
    approval_id = approved_id(h)
    results, start = [], threading.Barrier(6)

    def run():
        start.wait()
        results.append(h.check(pin=pin, approval_id=approval_id).get_json()["factors"]["approval"])

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["match"] + ["mismatch"] * 5


def test_a_deny_raises_the_approval_denied_security_event(make_harness, mode, gateway):
    h = make_harness(mode, events_webhook_url=gateway.url + "/events", events_webhook_secret="e" * 32)
    h.register()
    approval_id = ask(h).get_json()["approval_id"]
    answer(h, approval_id, "deny")
    while h.services.outbox.dispatch_due():
        pass
    events = [r.json() for r in gateway.received]
    denied = next(e for e in events if e["event"] == "approval_denied")
    assert denied["details"]["approval_id"] == approval_id and denied["details"]["reason"] == REASON
    assert denied["details"]["attempts_remaining"] == 4
    assert [e["event"] for e in events] == ["pin_viewed", "approval_requested", "approval_denied"]


def test_approvals_are_counted_in_the_metrics(harness):
    pin = harness.register()
    harness.check(pin=pin, approval_id=approved_id(harness))
    answer(harness, ask(harness).get_json()["approval_id"], "deny")
    text = harness.client.get("/metrics").get_data(as_text=True)
    for outcome in ("requested", "approved", "denied", "used"):
        assert f'verify_approvals_total{{outcome="{outcome}"}}' in text


def test_while_redis_is_down_requests_and_denies_answer_503_and_a_deny_stays_answerable(make_harness):
    server = RedisServer().start()
    try:
        h = make_harness("postgres_redis", redis_url=server.url)
        h.register()
        approval_id = ask(h).get_json()["approval_id"]
        server.stop()
        for response in (ask(h), answer(h, approval_id, "deny")):
            assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
        server.start()
        assert h.call("GET", f"/v1/approvals/{approval_id}", "agent").get_json()["status"] == "pending"
        assert answer(h, approval_id, "deny").get_json()["status"] == "denied"
        assert failures(h) == 1
    finally:
        server.stop()
