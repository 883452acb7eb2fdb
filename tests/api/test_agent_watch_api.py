"""Agent misuse detection through the API, on SQLite and on PostgreSQL + Redis."""

import threading

import pytest
import redis

from verify_service.adapters.redis.agent_watch import RedisAgentActivity
from verify_service.adapters.redis.client import connect

SECRET = "events-secret-for-tests-000000000"


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


def register_many(h, count, prefix="C"):
    return {f"{prefix}{i:03d}": h.register(f"{prefix}{i:03d}") for i in range(count)}


def anomalies(h, query="?open=true"):
    response = h.call("GET", f"/v1/agents/anomalies{query}", "admin")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["anomalies"]


def test_the_31st_distinct_customer_raises_an_anomaly_for_the_agent_and_its_key(make_harness, mode, gateway):
    h = make_harness(mode, events_webhook_url=gateway.url + "/events", events_webhook_secret=SECRET)
    pins = register_many(h, 31)
    for account, pin in list(pins.items())[:30]:
        assert h.check(account, pin).get_json()["result"] == "verified"
    assert anomalies(h) == []
    h.check("C030", pins["C030"])
    found = sorted(anomalies(h), key=lambda a: a["subject"])
    assert [(a["subject"], a["kind"], a["count"], a["threshold"], a["window_seconds"]) for a in found] == [
        ("agent", "distinct_customers", 31, 30, 600), ("key", "distinct_customers", 31, 30, 600)]
    assert found[0]["subject_id"] == "agent-42" and found[0]["anomaly_id"].startswith("ano_") and found[0]["open"]
    h.check("C000", pins["C000"])  # the same episode: no second anomaly
    assert len(anomalies(h)) == 2
    while h.services.outbox.dispatch_due():
        pass
    sent = [r.json() for r in gateway.received if r.json()["event"] == "agent_anomaly"]
    assert len(sent) == 2 and {e["details"]["subject"] for e in sent} == {"agent", "key"}
    agent = next(e["details"] for e in sent if e["details"]["subject"] == "agent")
    assert agent["agent_id"] == "agent-42" and agent["kind"] == "distinct_customers" and agent["count"] == 31


def test_the_10th_failed_check_raises_a_failures_anomaly(harness):
    pins = register_many(harness, 2)
    for account in ("C000", "C001"):
        for _ in range(4):
            harness.check(account, wrong(pins[account]))
    assert anomalies(harness) == []
    harness.check("C000", wrong(pins["C000"]))
    assert anomalies(harness) == []
    harness.check("C001", wrong(pins["C001"]))  # the 10th `rejected`
    found = anomalies(harness)
    assert {(a["subject"], a["kind"], a["count"], a["threshold"]) for a in found} == {
        ("agent", "failures", 10, 10), ("key", "failures", 10, 10)}
    events = harness.call("GET", "/v1/audit?event=agent_anomaly", "admin").get_json()["events"]
    assert len(events) == 2 and events[0]["account_id"] is None


def test_with_block_a_blocked_agent_is_refused_before_anything_is_evaluated(make_harness, mode):
    h = make_harness(mode, agent_block=True, agent_max_failures=2)
    pin = h.register("C000")
    h.check("C000", wrong(pin))
    h.check("C000", wrong(pin))
    refused = h.check("C000", pin)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "600"
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and error["details"]["reason"] == "agent_blocked"
    assert h.check("C000", wrong(pin)).status_code == 429
    lock = h.call("GET", "/v1/customers/C000/lock", "admin").get_json()  # the blocked agent key may not read it
    assert lock["failed_attempts"] == 2  # the refused wrong check counted no failure
    checks = h.call("GET", "/v1/audit?event=verification_failed", "admin").get_json()["events"]
    assert len(checks) == 2
    send = h.call("POST", "/v1/customers/C000/codes", "agent", {"agent_id": "agent-42"})
    assert send.status_code == 429 and send.get_json()["error"]["details"]["reason"] == "agent_blocked"
    other_agent = h.check("C000", pin, agent_id="agent-99")  # the key is blocked too
    assert other_agent.status_code == 429


def test_clearing_lifts_the_block_and_resets_the_counts(make_harness, mode):
    h = make_harness(mode, agent_block=True, agent_max_failures=2)
    pin = h.register("C000")
    h.check("C000", wrong(pin))
    h.check("C000", wrong(pin))
    for anomaly in anomalies(h):
        cleared = h.call("POST", f"/v1/agents/anomalies/{anomaly['anomaly_id']}/clear", "admin",
                         {"reason": "false alarm, training session"})
        assert cleared.status_code == 200
        body = cleared.get_json()
        assert body["open"] is False and body["clear_reason"] == "false alarm, training session"
        assert body["cleared_by"].startswith("admin-") and body["cleared_at"] == "2026-11-23T04:05:06Z"
    assert h.check("C000", wrong(pin)).get_json()["result"] == "rejected"  # one failure since the reset
    assert anomalies(h) == [] and len(anomalies(h, "?open=false")) == 2
    assert h.check("C000", pin).get_json()["result"] == "verified"
    cleared = h.call("GET", "/v1/audit?event=agent_anomaly_cleared", "admin").get_json()["events"]
    assert len(cleared) == 2 and cleared[0]["details"]["reason"] == "false alarm, training session"


def test_clear_refuses_a_blank_reason_an_unknown_id_and_a_second_clear(make_harness, mode):
    h = make_harness(mode, agent_max_failures=1)
    pin = h.register("C000")
    h.check("C000", wrong(pin))
    anomaly_id = anomalies(h)[0]["anomaly_id"]
    path = f"/v1/agents/anomalies/{anomaly_id}/clear"
    assert h.call("POST", path, "admin", {"reason": "   "}).status_code == 400
    assert h.call("POST", path, "admin", {}).status_code == 400
    assert h.call("POST", "/v1/agents/anomalies/ano_nope/clear", "admin", {"reason": "x"}).status_code == 404
    assert h.call("POST", "/v1/agents/anomalies/nope/clear", "admin", {"reason": "x"}).status_code == 404
    assert h.call("POST", path, "admin", {"reason": "ok"}).status_code == 200
    again = h.call("POST", path, "admin", {"reason": "ok"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"


def test_only_admin_keys_see_and_clear_anomalies(harness):
    for role in ("agent", "portal"):
        assert harness.call("GET", "/v1/agents/anomalies", role).status_code == 403
        assert harness.call("POST", "/v1/agents/anomalies/ano_x/clear", role, {"reason": "x"}).status_code == 403
    assert harness.call("GET", "/v1/agents/anomalies", None).status_code == 401


def test_a_bad_query_is_a_400(harness):
    for query in ("?open=maybe", "?limit=0", "?colour=red"):
        response = harness.call("GET", f"/v1/agents/anomalies{query}", "admin")
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_summary_reads_count_per_agent_key_but_not_for_the_portal(make_harness, mode):
    h = make_harness(mode, agent_max_customers=2)
    register_many(h, 3)
    for account in ("C000", "C001", "C002"):
        assert h.call("GET", f"/v1/customers/{account}", "portal").status_code == 200
    assert anomalies(h) == []
    for account in ("C000", "C001", "C002"):
        assert h.call("GET", f"/v1/customers/{account}", "agent").status_code == 200
    [found] = anomalies(h)
    assert found["subject"] == "key" and found["kind"] == "distinct_customers" and found["count"] == 3


def test_concurrent_checks_from_one_agent_on_two_instances_raise_exactly_one_anomaly(make_harness):
    first = make_harness("postgres_redis", agent_max_customers=20)
    second = make_harness("postgres_redis", clean=False, agent_max_customers=20)
    pins = register_many(first, 30)
    barrier = threading.Barrier(30)

    def check(i, account):
        barrier.wait()
        (first, second)[i % 2].check(account, pins[account])

    threads = [threading.Thread(target=check, args=(i, a)) for i, a in enumerate(pins)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    agent = [a for a in anomalies(first, "") if a["subject"] == "agent"]
    assert len(agent) == 1 and agent[0]["count"] > 20
    events = first.call("GET", "/v1/audit?event=agent_anomaly", "admin").get_json()["events"]
    assert [e["details"]["subject"] for e in events] == ["agent"]  # each key made only 15 checks
    customers = RedisAgentActivity(connect(first.services.settings.redis_url, timeout=1)).keys("agent:agent-42")[0]
    assert redis.Redis.from_url(first.services.settings.redis_url).zcard(customers) == 30  # none lost


def test_redis_down_answers_503_never_a_pass(make_harness, own_redis):
    h = make_harness("postgres_redis", redis_url=own_redis.url)
    pin = h.register("C000")
    own_redis.stop()
    response = h.check("C000", pin)
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1


def test_the_watch_store_down_alone_misses_the_act_of_a_recorded_check_which_is_still_answered(make_harness,
                                                                                               own_redis):
    # The watch counts a check it counts on its own after the record: a 503 then would leave a stored check
    # behind it (issue 17, item 9). The act is missed instead (logged, verify_agent_watch_missed_total).
    h = make_harness("postgres_redis")
    pin = h.register("C000")
    for _ in range(5):
        h.check("C000", wrong(pin))  # locked: the next check asks no counter, so the watch counts it itself
    dead = RedisAgentActivity(connect(own_redis.url, timeout=0.2))
    own_redis.stop()
    h.services.watch._activity = dead  # the real adapter, on a Redis that no longer answers
    response = h.check("C000", pin)
    assert response.status_code == 200 and response.get_json()["result"] == "locked"
    assert h.services.checks.get(response.get_json()["verification_id"]).result == "locked"


def test_the_watch_costs_a_check_no_redis_call_of_its_own_and_no_sql_statement(make_harness, monkeypatch):
    from tests.api.test_check_cost import count_statements

    h = make_harness("postgres_redis")
    pin = h.register()
    h.check(pin=pin)
    counter, calls = h.services.counter, []
    for owner, name in ((counter, "_script"), (counter, "_carry"), (h.services.watch._activity, "_script")):
        script = getattr(owner, name)
        monkeypatch.setattr(owner, name,
                            lambda script=script, name=name, **kw: calls.append((name, kw)) or script(**kw))
    assert count_statements(h, lambda: h.check(pin=pin)) == ["SELECT", "WITH"]  # as without the watch
    # One script call: the customer's counter and the check ids it saw, then the agent's and the key's sets.
    assert [(name, len(kw["keys"])) for name, kw in calls] == [("_carry", 8)]


def test_a_carried_failure_counts_for_the_watch_exactly_like_one_counted_on_its_own(make_harness):
    h = make_harness("postgres_redis", agent_max_failures=3)
    pins = [h.register(f"C{n:03}") for n in range(3)]
    for n, pin in enumerate(pins[:2]):
        assert h.check(f"C{n:03}", wrong(pin)).get_json()["result"] == "rejected"
    assert anomalies(h) == []
    assert h.check("C000", pins[0]).get_json()["result"] == "verified"  # a success is no failure
    assert anomalies(h) == []
    assert h.check("C002", wrong(pins[2])).get_json()["result"] == "rejected"  # the third failure in the window
    assert [(a["kind"], a["count"]) for a in anomalies(h)] == [("failures", 3), ("failures", 3)]


def metric(h, line_start):
    text = h.client.get("/metrics").get_data(as_text=True)
    return float(next(line for line in text.splitlines() if line.startswith(line_start)).split()[-1])


def test_metrics_count_anomalies_by_kind_and_refusals_by_action(make_harness):
    h = make_harness("sqlite", agent_block=True, agent_max_failures=2)
    raised = metric(h, 'verify_agent_anomalies_total{kind="failures"}')
    refused = metric(h, 'verify_agent_blocked_total{action="check"}')
    pin = h.register("C000")
    h.check("C000", wrong(pin))
    h.check("C000", wrong(pin))
    h.check("C000", pin)
    assert metric(h, 'verify_agent_anomalies_total{kind="failures"}') == raised + 2  # the agent and its key
    assert metric(h, 'verify_agent_blocked_total{action="check"}') == refused + 1


def test_a_customer_can_still_deny_a_blocked_agents_approval_request_and_it_counts(make_harness, mode):
    h = make_harness(mode, agent_block=True, agent_max_failures=2)
    pin = h.register("C000")
    asked = h.call("POST", "/v1/customers/C000/approvals", "agent",
                   {"reason": "change withdrawal address", "agent_id": "agent-42", "channel": "phone"})
    assert asked.status_code == 201
    h.check("C000", wrong(pin))
    h.check("C000", wrong(pin))  # agent-42 and its key are now blocked
    assert h.check("C000", pin).status_code == 429
    approval_id = asked.get_json()["approval_id"]
    denied = h.call("POST", f"/v1/customers/C000/approvals/{approval_id}/answer", "portal", {"answer": "deny"})
    assert denied.status_code == 200 and denied.get_json()["status"] == "denied"
    assert h.call("GET", "/v1/customers/C000/lock", "admin").get_json()["failed_attempts"] == 3


def test_a_watch_key_of_another_kind_answers_503_and_the_check_writes_and_counts_nothing(make_harness):
    # Only an outside writer could put another kind of value under a watch key; the check fails closed with
    # nothing changed: no record, no audit event, no lockout failure.
    h = make_harness("postgres_redis")
    pin = h.register("C000")
    assert h.check("C000", wrong(pin)).get_json()["result"] == "rejected"
    activity = h.services.watch._activity
    activity.client.set(activity.keys("agent:agent-42")[2], "not a sorted set")
    with h.services.db.engine.connect() as conn:
        before = [conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() for table in
                  ("verifications", "audit_events")]
    response = h.check("C000", wrong(pin))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"]["code"] == "service_unavailable"
    with h.services.db.engine.connect() as conn:
        after = [conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() for table in
                 ("verifications", "audit_events")]
    assert after == before
    activity.client.delete(activity.keys("agent:agent-42")[2])
    assert h.check("C000", wrong(pin)).get_json()["attempts_remaining"] == 3  # the 503 counted no failure


STORED_ACTS = [
    ("code_send", "/v1/customers/C000/codes", {"agent_id": "agent-42"}),
    ("contact_start", "/v1/customers/C000/contacts", {"agent_id": "agent-42", "channel": "chat", "ticket_ref": "T-1"}),
    ("approval_request", "/v1/customers/C000/approvals",
     {"agent_id": "agent-42", "channel": "phone", "reason": "a withdrawal"}),
]


@pytest.mark.parametrize("action, path, body", STORED_ACTS, ids=[a[0] for a in STORED_ACTS])
def test_a_stored_act_the_watch_store_cannot_count_is_answered_and_metered_not_a_503(make_harness, own_redis,
                                                                                    action, path, body):
    # The act is committed before it is counted: a 503 would make the agent's tool retry an act that exists
    # (a second code, a resend refused by the cooldown). It is missed instead: logged and metered.
    h = make_harness("postgres_redis")
    h.register("C000")
    missed = metric(h, "verify_agent_watch_missed_total")
    dead = RedisAgentActivity(connect(own_redis.url, timeout=0.2))
    own_redis.stop()
    h.services.watch._activity = dead  # the real adapter, on a Redis that no longer answers
    response = h.call("POST", path, "agent", body)
    assert response.status_code == 201, response.get_json()
    assert metric(h, "verify_agent_watch_missed_total") == missed + 1


def test_a_lock_read_the_watch_store_cannot_count_is_not_shown(make_harness, own_redis):
    # A read is shown only once counted (a bribed agent's reads during an outage must not go unseen).
    h = make_harness("postgres_redis")
    h.register("C000")
    h.services.watch._activity = RedisAgentActivity(connect(own_redis.url, timeout=0.2))
    own_redis.stop()
    response = h.call("GET", "/v1/customers/C000/lock", "agent")
    assert response.status_code == 503 and "locked" not in response.get_json()
