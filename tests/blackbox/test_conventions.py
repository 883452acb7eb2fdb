"""API.md, Conventions: media types, sizes, JSON errors, unknown fields, 405, account_id format, times."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.blackbox.conftest import (
    Service,
    expect,
    expect_error,
    new_account_id,
    parse_time,
    utcnow,
)

KIB64 = 64 * 1024


# ---------------------------------------------------------------- health


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer_200_without_auth(service: Service, path: str) -> None:
    response = service.request("GET", path, role=None)
    assert response.status == 200, str(response)


# ---------------------------------------------------------------- 415


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_put_customer_with_non_json_body_is_415(service: Service, content_type: str | None) -> None:
    account_id = new_account_id()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal",
                               body=json.dumps({"phone": "+819012345678"}).encode(), content_type=content_type)
    expect_error(response, 415, "unsupported_media_type")
    expect_error(service.request("GET", f"/v1/customers/{account_id}"), 404, "not_found")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_verification_with_non_json_body_is_415_and_not_counted(
        service: Service, account: tuple[str, str], content_type: str | None) -> None:
    account_id, _ = account
    body = json.dumps({"account_id": account_id, "pin": "258147", "channel": "phone", "agent_id": "a"}).encode()
    response = service.request("POST", "/v1/verifications", body=body, content_type=content_type)
    expect_error(response, 415, "unsupported_media_type")
    assert service.lock_state(account_id)["failed_attempts"] == 0


@pytest.mark.parametrize("method,suffix,role", [
    ("DELETE", "/lock", "admin"),
    ("POST", "/freeze", "admin"),
    ("DELETE", "/freeze", "admin"),
])
def test_reason_bodies_must_be_json(service: Service, account: tuple[str, str], method: str, suffix: str,
                                    role: str) -> None:
    account_id, _ = account
    response = service.request(method, f"/v1/customers/{account_id}{suffix}", role=role,
                               body=b'{"reason": "test"}', content_type="text/plain")
    expect_error(response, 415, "unsupported_media_type")


def test_json_content_type_with_charset_is_accepted(service: Service) -> None:
    account_id = new_account_id()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal",
                               body=b'{"phone": "+819012345678"}', content_type="application/json; charset=utf-8")
    expect(response, 201)


# ---------------------------------------------------------------- 413


def test_body_over_64_kib_is_413(service: Service) -> None:
    account_id = new_account_id()
    body = json.dumps({"phone": "+819012345678", "email": "a" * (KIB64 + 100) + "@example.com"}).encode()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal", body=body)
    expect_error(response, 413, "payload_too_large")


def test_verification_body_one_byte_over_64_kib_is_413(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    prefix = json.dumps({"account_id": account_id, "channel": "phone", "agent_id": "a", "pin": "258147"})
    body = (prefix[:-1] + " " * (KIB64 + 1 - len(prefix)) + "}").encode()
    assert len(body) == KIB64 + 1
    expect_error(service.request("POST", "/v1/verifications", body=body), 413, "payload_too_large")
    assert service.lock_state(account_id)["failed_attempts"] == 0


def test_body_of_exactly_64_kib_is_not_413(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    prefix = json.dumps({"account_id": account_id, "channel": "phone", "agent_id": "a", "pin": "258147"})
    body = (prefix[:-1] + " " * (KIB64 - len(prefix)) + "}").encode()
    assert len(body) == KIB64
    body_json = expect(service.request("POST", "/v1/verifications", body=body), 200)
    assert body_json["result"] == "rejected"


def test_chunked_body_over_64_kib_is_413(service: Service) -> None:
    account_id = new_account_id()
    body = json.dumps({"phone": "+819012345678", "email": "b" * (KIB64 * 2) + "@example.com"}).encode()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal", body=body, chunked=True)
    expect_error(response, 413, "payload_too_large")


# ---------------------------------------------------------------- 400 invalid_json / validation_error


@pytest.mark.parametrize("raw", [b"{", b'{"phone": "+819012345678",}', b"not json", b"\xff\xfe{}",
                                 b'{"phone": "+8190\xff"}'])
def test_malformed_json_is_400_invalid_json(service: Service, raw: bytes) -> None:
    account_id = new_account_id()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal", body=raw)
    expect_error(response, 400, "invalid_json")


@pytest.mark.parametrize("raw", [b"[]", b'"+819012345678"', b"null", b"42", b""])
def test_json_that_is_not_an_object_is_400(service: Service, raw: bytes) -> None:
    account_id = new_account_id()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal", body=raw)
    expect_error(response, 400, ("invalid_json", "validation_error"))


def test_malformed_json_verification_is_400_and_not_counted(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    raw = ('{"account_id": "' + account_id + '", "pin": "258147", "channel": "phone", "agent_id": "a"').encode()
    expect_error(service.request("POST", "/v1/verifications", body=raw), 400, "invalid_json")
    assert service.lock_state(account_id)["failed_attempts"] == 0


# ---------------------------------------------------------------- unknown fields


def test_unknown_field_on_customer_put_is_rejected(service: Service) -> None:
    account_id = new_account_id()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal",
                               json_body={"phone": "+819012345678", "emial": "a@example.com"})
    expect_error(response, 400, "validation_error")
    expect_error(service.request("GET", f"/v1/customers/{account_id}"), 404, "not_found")


def test_unknown_field_on_customer_update_is_rejected(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal",
                               json_body={"locale": "en", "status": "active"})
    expect_error(response, 400, "validation_error")
    assert service.customer(account_id)["locale"] == "ja"


def test_unknown_field_on_verification_is_rejected_and_not_counted(service: Service,
                                                                    account: tuple[str, str]) -> None:
    account_id, _ = account
    response = service.check(account_id, "258147", pinn="258147")
    expect_error(response, 400, "validation_error")
    assert service.lock_state(account_id)["failed_attempts"] == 0


@pytest.mark.parametrize("method,suffix", [("DELETE", "/lock"), ("POST", "/freeze"), ("DELETE", "/freeze")])
def test_unknown_field_on_reason_bodies_is_rejected(service: Service, account: tuple[str, str], method: str,
                                                    suffix: str) -> None:
    account_id, _ = account
    if method == "DELETE" and suffix == "/freeze":
        expect(service.request("POST", f"/v1/customers/{account_id}/freeze", role="admin",
                               json_body={"reason": "suspected takeover"}), 200)
    response = service.request(method, f"/v1/customers/{account_id}{suffix}", role="admin",
                               json_body={"reason": "ok", "resaon": "typo"})
    expect_error(response, 400, "validation_error")


# ---------------------------------------------------------------- 405 / 404 routes


@pytest.mark.parametrize("method,path,role", [
    ("PATCH", "/v1/customers/{a}", "portal"),
    ("POST", "/v1/customers/{a}", "portal"),
    ("DELETE", "/v1/customers/{a}/codes", "admin"),  # (DELETE /v1/customers/{a} closes the account: issue 20)
    ("DELETE", "/v1/verifications", "agent"),  # GET lists a call's checks (issue 18)
    ("PUT", "/v1/verifications", "agent"),
    ("POST", "/v1/customers/{a}/pin", "portal"),
    ("DELETE", "/v1/customers/{a}/pin", "portal"),
    ("GET", "/v1/customers/{a}/pin/rotate", "portal"),
    ("POST", "/v1/customers/{a}/lock", "admin"),
    ("GET", "/v1/customers/{a}/freeze", "admin"),
    ("POST", "/v1/audit", "admin"),
    ("DELETE", "/v1/audit", "admin"),
])
def test_wrong_method_is_405_method_not_allowed(service: Service, account: tuple[str, str], method: str,
                                                path: str, role: str) -> None:
    account_id, _ = account
    response = service.request(method, path.format(a=account_id), role=role, json_body={})
    expect_error(response, 405, "method_not_allowed")


def test_unknown_route_is_404_in_error_shape(service: Service) -> None:
    expect_error(service.request("GET", "/v1/no-such-thing", role="admin"), 404, "not_found")


# ---------------------------------------------------------------- account_id format

BAD_IDS = ["a" * 65, "bad.id", "bad%20id", "caf%C3%A9", "bad!id", "bad%2Bid", "bad*id"]

ACCOUNT_ENDPOINTS = [
    ("GET", "/v1/customers/{a}", "agent", None),
    ("PUT", "/v1/customers/{a}", "portal", {"phone": "+819012345678"}),
    ("GET", "/v1/customers/{a}/pin", "portal", None),
    ("POST", "/v1/customers/{a}/pin/rotate", "portal", None),
    ("GET", "/v1/customers/{a}/lock", "agent", None),
    ("DELETE", "/v1/customers/{a}/lock", "admin", {"reason": "caller proved identity"}),
    ("POST", "/v1/customers/{a}/freeze", "admin", {"reason": "suspected takeover"}),
    ("DELETE", "/v1/customers/{a}/freeze", "admin", {"reason": "resolved"}),
]


@pytest.mark.parametrize("method,path,role,body", ACCOUNT_ENDPOINTS)
@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_malformed_path_account_id_is_400_validation_error(service: Service, method: str, path: str, role: str,
                                                           body: object, bad_id: str) -> None:
    kwargs = {"json_body": body} if body is not None else {}
    response = service.request(method, path.format(a=bad_id), role=role, **kwargs)
    expect_error(response, 400, "validation_error")


@pytest.mark.parametrize("method,path,role,body", [e for e in ACCOUNT_ENDPOINTS if e[0:2] != ("PUT",
                                                                                            "/v1/customers/{a}")])
def test_well_formed_unknown_account_id_is_404_not_found(service: Service, method: str, path: str, role: str,
                                                         body: object) -> None:
    kwargs = {"json_body": body} if body is not None else {}
    unknown = "Zz_-" + "9" * 60
    assert len(unknown) == 64
    response = service.request(method, path.format(a=unknown), role=role, **kwargs)
    expect_error(response, 404, "not_found")


@pytest.mark.parametrize("account_id", ["a" * 64, "A", "0", "_-_", "JP1001"])
def test_account_id_edges_of_the_format_are_accepted(service: Service, account_id: str) -> None:
    account_id = account_id if len(account_id) == 64 else account_id + new_account_id("x")[:20]
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal",
                               json_body={"phone": "+819012345678"})
    assert response.status in (200, 201), str(response)
    assert expect(service.request("GET", f"/v1/customers/{account_id}"), 200)["account_id"] == account_id


@pytest.mark.parametrize("bad_id", ["a" * 65, "bad.id", "bad id", "", "é", 12345])
def test_malformed_account_id_in_verification_body_is_400(service: Service, bad_id: object) -> None:
    response = service.request("POST", "/v1/verifications",
                               json_body={"account_id": bad_id, "pin": "258147", "channel": "phone",
                                          "agent_id": "agent-42"})
    expect_error(response, 400, "validation_error")


def test_verification_for_unknown_account_is_404(service: Service) -> None:
    expect_error(service.check(new_account_id("unknown"), "258147"), 404, "not_found")


# ---------------------------------------------------------------- times


def test_times_are_rfc3339_utc_and_current(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    before = utcnow() - timedelta(seconds=2)
    summary = service.customer(account_id)
    pin_body = expect(service.request("GET", f"/v1/customers/{account_id}/pin", role="portal"), 200)
    check = service.check_ok(account_id, pin)
    after = utcnow() + timedelta(seconds=2)
    for value in (summary["created_at"], summary["pin_issued_at"], pin_body["issued_at"], check["checked_at"]):
        moment = parse_time(value)
        assert before - timedelta(seconds=30) <= moment <= after, f"time {value} is not now (UTC)"
    assert before <= parse_time(check["checked_at"]) <= after
    parse_time(check["valid_until"])
    events = service.audit_events(account_id=account_id)
    assert events
    for event in events:
        assert before - timedelta(seconds=30) <= parse_time(event["at"]) <= after


def test_small_chunked_json_body_is_accepted(service: Service) -> None:
    account_id = new_account_id()
    body = json.dumps({"phone": "+819012345678"}).encode()
    response = service.request("PUT", f"/v1/customers/{account_id}", role="portal", body=body, chunked=True)
    expect(response, 201)


# ---------------------------------------------------------------- bad input is never a 500


def _nested(depth: int) -> bytes:
    return b'{"phone": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("raw", [_nested(20000), b'{"phone": "+819012345678", "locale": NaN}',
                                 b'{"phone": 1e400}', b'{"phone": "+819012345678", "email": {"a": [1, {"b": null}]}}'],
                         ids=["deeply-nested", "NaN", "huge-number", "object-for-string"])
def test_odd_json_for_a_customer_is_400_not_500(service: Service, raw: bytes) -> None:
    response = service.request("PUT", f"/v1/customers/{new_account_id()}", role="portal", body=raw)
    expect_error(response, 400, ("invalid_json", "validation_error"))


def test_deeply_nested_json_for_a_check_is_400_and_not_counted(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    raw = ('{"account_id": "' + account_id + '", "pin": "258147", "channel": "phone", "agent_id": "a", '
           '"ticket_ref": ').encode() + b"[" * 20000 + b"]" * 20000 + b"}"
    expect_error(service.request("POST", "/v1/verifications", body=raw), 400, ("invalid_json", "validation_error"))
    assert service.lock_state(account_id)["failed_attempts"] == 0


STRANGE = ["a\u0000b", "\udc80", "\ud800x", "\u202e\u200b", "😀" * 10]


@pytest.mark.parametrize("value", STRANGE, ids=["nul", "lone-low-surrogate", "lone-high-surrogate", "bidi",
                                                "emoji"])
@pytest.mark.parametrize("field", ["agent_id", "ticket_ref"])
def test_strange_strings_in_a_check_are_never_a_500(service: Service, account: tuple[str, str], field: str,
                                                    value: str) -> None:
    account_id, pin = account
    response = service.check(account_id, pin, **{field: value})
    assert response.status in (200, 400), str(response)
    if response.status == 400:
        expect_error(response, 400, ("validation_error", "invalid_json"))
    else:
        assert response.json["result"] == "verified"
        assert service.audit_events(account_id=account_id, event="verification_succeeded")


@pytest.mark.parametrize("value", STRANGE, ids=["nul", "lone-low-surrogate", "lone-high-surrogate", "bidi",
                                                "emoji"])
@pytest.mark.parametrize("field", ["email", "locale"])
def test_strange_strings_in_a_customer_are_never_a_500(service: Service, field: str, value: str) -> None:
    response = service.request("PUT", f"/v1/customers/{new_account_id()}", role="portal",
                               json_body={"phone": "+819012345678", field: value})
    assert response.status in (201, 400), str(response)
    if response.status == 400:
        expect_error(response, 400, ("validation_error", "invalid_json"))


@pytest.mark.parametrize("value", STRANGE, ids=["nul", "lone-low-surrogate", "lone-high-surrogate", "bidi",
                                                "emoji"])
@pytest.mark.parametrize("method,suffix", [("DELETE", "/lock"), ("POST", "/freeze")])
def test_strange_reasons_are_never_a_500(service: Service, account: tuple[str, str], method: str, suffix: str,
                                         value: str) -> None:
    account_id, _ = account
    response = service.request(method, f"/v1/customers/{account_id}{suffix}", role="admin",
                               json_body={"reason": value})
    assert response.status in (200, 400), str(response)
    if response.status == 400:
        expect_error(response, 400, ("validation_error", "invalid_json"))
    else:
        assert service.audit_events(account_id=account_id)


@pytest.mark.parametrize("vid", ["ver_" + "x" * 300, "ver_%00", "ver_%C3%A9", "%F0%9F%98%80", "x", "ver_%ED%B2%80"])
def test_odd_verification_ids_are_404_or_400_never_500(service: Service, vid: str) -> None:
    response = service.request("GET", f"/v1/verifications/{vid}", role="agent")
    assert response.status in (400, 404), str(response)
    expect_error(response, response.status, ("not_found", "validation_error"))


@pytest.mark.parametrize("query", ["account_id=a%00", "event=" + "x" * 2000, "cursor=%ED%B2%80",
                                   "since=2026-01-01T00:00:00%2B09:00", "until=%00", "limit=%FF"],
                         ids=["nul-account", "long-event", "bad-utf8-cursor", "offset-since", "nul-until",
                              "bad-utf8-limit"])
def test_odd_audit_queries_are_never_a_500(service: Service, query: str) -> None:
    response = service.request("GET", f"/v1/audit?{query}", role="admin")
    assert response.status in (200, 400), str(response)
    if response.status == 400:
        expect_error(response, 400, "validation_error")


def test_rotate_with_a_non_json_body_is_415(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    response = service.request("POST", f"/v1/customers/{account_id}/pin/rotate", role="portal",
                               body=b"rotate please", content_type="text/plain")
    expect_error(response, 415, "unsupported_media_type")
    assert service.pin(account_id) == pin


def test_rotate_with_an_oversized_body_is_413(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    response = service.request("POST", f"/v1/customers/{account_id}/pin/rotate", role="portal",
                               body=b"{" + b" " * (KIB64 + 10) + b"}")
    expect_error(response, 413, "payload_too_large")
    assert service.pin(account_id) == pin
