"""Request ids, JSON log lines, security headers, per-key rate limits and /metrics."""

import json
import logging

from verify_service.logs import JsonFormatter


def test_a_given_request_id_is_returned_and_a_missing_one_is_made(harness):
    response = harness.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    made = harness.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert len(made) == 32 and " " not in made


def test_security_headers_are_set(harness):
    response = harness.call("GET", "/v1/customers/NOPE", "agent")
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store" and "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"


def test_each_request_logs_one_json_line_with_request_key_and_agent(harness, caplog):
    caplog.set_level(logging.INFO, logger="verify_service.access")
    pin = harness.register()
    caplog.clear()
    harness.call("POST", "/v1/verifications", "agent", {"account_id": "JP1001", "pin": pin, "channel": "phone",
                                                         "agent_id": "agent-42"}, headers={"X-Request-ID": "r-1"})
    record = [r for r in caplog.records if r.name == "verify_service.access"][-1]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r-1" and line["key"].startswith("agent-") and line["agent_id"] == "agent-42"
    assert line["status"] == 200 and line["msg"] == "POST /v1/verifications 200" and pin not in json.dumps(line)


def test_one_key_over_its_rate_gets_429_and_others_are_unaffected(make_harness):
    harness = make_harness("sqlite", rate_limit_per_second=2)
    statuses = [harness.call("GET", "/v1/customers/NOPE", "agent").status_code for _ in range(15)]
    assert 429 in statuses and statuses[0] == 404
    limited = harness.call("GET", "/v1/customers/NOPE", "agent")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert harness.call("GET", "/v1/customers/NOPE", "admin").status_code == 404


def test_metrics_count_requests_checks_locks_codes_and_the_backlog(harness):
    pin = harness.register()
    for _ in range(5):
        harness.check(pin="000001" if pin != "000001" else "000002")
    harness.call("POST", "/v1/customers/JP1001/lock", "admin")
    harness.call("DELETE", "/v1/customers/JP1001/lock", "admin", {"reason": "ok"})
    harness.call("POST", "/v1/customers/JP1001/codes", "agent", {})
    text = harness.client.get("/metrics").get_data(as_text=True)
    assert 'verify_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/verifications"' in text
    assert 'verify_verifications_total{channel="phone",result="rejected"}' in text
    assert "verify_customer_locks_total" in text and 'verify_codes_total{outcome="sent"}' in text
    assert "verify_outbox_backlog 1.0" in text and "verify_outbox_oldest_age_seconds" in text


def test_invented_http_methods_do_not_become_new_metric_labels(harness):
    for index in range(20):
        harness.client.open("/v1/customers/JP1001", method=f"BREW{index}")
    text = harness.client.get("/metrics").get_data(as_text=True)
    assert "BREW" not in text
    assert 'method="OTHER"' in text


def test_metrics_show_how_long_ago_the_newest_audit_anchor_was_taken(make_harness, mode, tmp_path):
    harness = make_harness(mode, audit_anchor_file=str(tmp_path / "anchors.jsonl"), audit_anchor_seconds=60)
    text = harness.client.get("/metrics").get_data(as_text=True)
    assert "verify_audit_anchor_period_seconds 60.0" in text
    assert "verify_audit_anchor_age_seconds" not in text  # no anchor yet: no age to show
    assert harness.services.anchors.run_if_due() is not None
    harness.clock.advance(150)  # the schedule stopped: two and a half periods without an anchor
    text = harness.client.get("/metrics").get_data(as_text=True)
    assert "verify_audit_anchor_age_seconds 150.0" in text


def test_without_anchoring_there_is_no_anchor_age(harness):
    text = harness.client.get("/metrics").get_data(as_text=True)
    assert "verify_audit_anchor" not in text
