"""Hostile or odd input gets a clear 4xx, is never a 500 and never counts as a failed attempt."""

import http.client
import json
import os

import pytest
import redis

from tests.api.test_concurrency import Gunicorn
from tests.servers import RedisServer


def failed_attempts(h):
    return h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"]


@pytest.mark.parametrize("field, value", [("agent_id", "a\ud800"), ("ticket_ref", "t\ud800"), ("agent_id", "a\x00b"),
                                          ("ticket_ref", "x\x07"), ("challenge_id", "chl_\x00")])
def test_control_characters_and_lone_surrogates_are_400_and_not_counted(harness, field, value):
    harness.register()
    body = {"account_id": "JP1001", "pin": "000001", "channel": "phone", "agent_id": "a", field: value}
    response = harness.call("POST", "/v1/verifications", "agent", data=json.dumps(body),
                            content_type="application/json")
    assert response.status_code == 400 and field in response.get_json()["error"]["details"]
    assert failed_attempts(harness) == 0


@pytest.mark.parametrize("reason", ["x\ud800", "a\x00b"])
def test_bad_reasons_are_400(harness, reason):
    harness.register()
    response = harness.call("DELETE", "/v1/customers/JP1001/lock", "admin", data=json.dumps({"reason": reason}),
                            content_type="application/json")
    assert response.status_code == 400


def test_a_reason_may_span_lines(harness):
    harness.register()
    assert harness.call("POST", "/v1/customers/JP1001/freeze", "admin",
                        {"reason": "ticket T-1:\n\tcaller failed two checks"}).status_code == 200


def test_deeply_nested_json_is_invalid_json_not_500(harness):
    response = harness.call("POST", "/v1/verifications", "agent", data="[" * 30000 + "]" * 30000,
                            content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


def test_a_body_that_is_not_utf8_is_invalid_json(harness):
    body = json.dumps({"account_id": "JP1001", "pin": "123456", "channel": "phone", "agent_id": "a"})
    response = harness.call("POST", "/v1/verifications", "agent", data=body.encode("utf-16"),
                            content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("content_type", ["application/vnd.x+json", "text/plain", "application/x-www-form-urlencoded"])
def test_only_application_json_bodies_are_accepted(harness, content_type):
    response = harness.call("POST", "/v1/verifications", "agent", data="{}", content_type=content_type)
    assert response.status_code == 415


def test_json_with_a_charset_parameter_is_fine(harness):
    harness.register()
    response = harness.call("POST", "/v1/verifications", "agent", content_type="application/json; charset=utf-8",
                            data=json.dumps({"account_id": "JP1001", "pin": "123456", "channel": "phone",
                                             "agent_id": "a"}))
    assert response.status_code == 200


def test_a_get_with_a_non_json_body_is_415(harness):
    harness.register()
    response = harness.call("GET", "/v1/customers/JP1001", "agent", data="hello", content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize("query", ["cursor=9999999999999999999", "since=0001-01-01T00:00:00%2B01:00",
                                   "until=9999-12-31T23:59:59-01:00", "limit=1&limit=500"])
def test_out_of_range_or_repeated_query_values_are_400(harness, query):
    response = harness.call("GET", f"/v1/audit?{query}", "admin")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/v1/verifications/ver_%00x", "/v1/verifications/" + "v" * 300,
                                  "/v1/codes/chl_%00", "/v1/codes/nope"])
def test_malformed_record_ids_are_404(harness, path):
    response = harness.call("GET", path, "admin")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_redis_refusing_writes_fails_closed_with_503(make_harness):
    server = RedisServer().start()
    try:
        harness = make_harness("postgres_redis", redis_url=server.url)
        pin = harness.register()
        redis.Redis.from_url(server.url).config_set("maxmemory", 1)
        response = harness.check(pin="000001" if pin != "000001" else "000002")  # counting needs a write
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "service_unavailable"
        assert harness.client.get("/readyz").status_code == 503
        redis.Redis.from_url(server.url).config_set("maxmemory", 0)
        assert harness.check(pin=pin).get_json()["result"] == "verified"
    finally:
        server.stop()


@pytest.mark.slow
def test_a_chunked_body_over_64_kib_is_413_through_gunicorn(make_harness, databases):
    harness = make_harness("sqlite")
    env = {**os.environ, "VERIFY_ENV": "test", "VERIFY_DATABASE_URL": harness.services.settings.database_url,
           "VERIFY_PIN_KEYS": harness.services.settings.pin_keys}
    env.pop("VERIFY_REDIS_URL", None)
    server = Gunicorn(env)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = b'{"account_id": "' + b"x" * 70000 + b'"}'
        conn.request("POST", "/v1/verifications", body=iter([body[:30000], body[30000:]]), encode_chunked=True,
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                              "Authorization": f"Bearer {harness.keys['agent']}"})
        response = conn.getresponse()
        assert response.status == 413 and json.loads(response.read())["error"]["code"] == "payload_too_large"
        conn.close()
    finally:
        server.stop()
