"""API.md, Verification checks with the PIN factor, input validation, GET /v1/verifications/{id}."""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from typing import Any

import pytest

from tests.blackbox.conftest import (
    Service,
    expect,
    expect_error,
    parse_time,
    wrong_pin_for,
)

CHECK_FIELDS = {"verification_id", "account_id", "verified", "result", "factors", "level", "attempts_remaining",
                "locked_until", "checked_at", "valid_until"}


def test_correct_pin_is_verified_at_level_one(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    response = service.check(account_id, pin, ticket_ref="T-2026-000123")
    body = expect(response, 200)
    assert CHECK_FIELDS <= set(body), f"check lacks {CHECK_FIELDS - set(body)}"
    assert isinstance(body["verification_id"], str) and body["verification_id"].startswith("ver_")
    assert body["account_id"] == account_id
    assert body["verified"] is True
    assert body["result"] == "verified"
    assert body["factors"] == {"pin": "match", "code": "not_checked"}
    assert body["level"] == 1
    assert body["attempts_remaining"] == service.threshold
    assert body["locked_until"] is None
    checked_at = parse_time(body["checked_at"])
    valid_until = parse_time(body["valid_until"])
    # checked_at is truncated to the second, valid_until (a deadline) rounded up: one second apart at most.
    assert service.ttl_seconds <= (valid_until - checked_at).total_seconds() <= service.ttl_seconds + 1
    assert "pin" not in body
    assert pin not in response.text


def test_wrong_pin_is_rejected_and_counts_one_attempt(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    response = service.check(account_id, wrong_pin_for(pin))
    body = expect(response, 200)
    assert CHECK_FIELDS <= set(body)
    assert body["verified"] is False
    assert body["result"] == "rejected"
    assert body["factors"] == {"pin": "mismatch", "code": "not_checked"}
    assert body["level"] == 0
    assert body["attempts_remaining"] == service.threshold - 1
    assert body["locked_until"] is None
    assert body["valid_until"] is None
    parse_time(body["checked_at"])
    assert pin not in response.text
    assert service.lock_state(account_id)["failed_attempts"] == 1


def test_verification_ids_are_unique(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    ids = {service.check_ok(account_id, pin)["verification_id"] for _ in range(5)}
    assert len(ids) == 5


def test_checks_accept_chat_channel_and_optional_ticket(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    assert service.check_ok(account_id, pin, channel="chat")["result"] == "verified"
    assert service.check_ok(account_id, pin, ticket_ref="T" * 64)["result"] == "verified"
    assert service.check_ok(account_id, pin, agent_id="a" * 64)["result"] == "verified"
    assert service.check_ok(account_id, pin, agent_id="x")["result"] == "verified"


# ---------------------------------------------------------------- input validation

BAD_PINS: list[Any] = ["12345", "1234567", "12345a", "", " 123456", "123456 ", "12 456", "１２３４５６",
                       "١٢٣٤٥٦", "-12345", "+12345", "1234.5", 123456, 258147, ["258147"], True]
BAD_CODES: list[Any] = ["12345", "1234567", "abcdef", "", "１２３４５６", "١٢٣٤٥٦", " 12345", 123456,
                        {"code": "123456"}, False]


def _assert_not_counted(service: Service, account_id: str, pin: str) -> None:
    state = service.lock_state(account_id)
    assert state["failed_attempts"] == 0, f"a 400 counted as a failed attempt: {state}"
    body = service.check_ok(account_id, wrong_pin_for(pin))
    assert body["attempts_remaining"] == service.threshold - 1, body


@pytest.mark.parametrize("bad", BAD_PINS, ids=[repr(p) for p in BAD_PINS])
def test_malformed_pin_is_400_and_not_a_failed_attempt(service: Service, account: tuple[str, str],
                                                       bad: Any) -> None:
    account_id, pin = account
    body = {"account_id": account_id, "pin": bad, "channel": "phone", "agent_id": "agent-42"}
    error = expect_error(service.request("POST", "/v1/verifications", json_body=body), 400, "validation_error")
    assert "pin" in (error["details"] or {}), error
    _assert_not_counted(service, account_id, pin)


@pytest.mark.parametrize("bad", BAD_CODES, ids=[repr(c) for c in BAD_CODES])
def test_malformed_code_is_400_and_not_a_failed_attempt(service: Service, account: tuple[str, str],
                                                        bad: Any) -> None:
    account_id, pin = account
    error = expect_error(service.check(account_id, pin=None, code=bad), 400, "validation_error")
    assert "code" in (error["details"] or {}), error
    _assert_not_counted(service, account_id, pin)


def test_malformed_code_with_a_correct_pin_is_still_400(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    expect_error(service.check(account_id, pin, code="12a456"), 400, "validation_error")
    _assert_not_counted(service, account_id, pin)


@pytest.mark.parametrize("change", [
    {"drop": ["pin"]},                       # neither pin nor code
    {"drop": ["channel"]},
    {"set": {"channel": "email"}},
    {"set": {"channel": "PHONE"}},
    {"set": {"channel": None}},
    {"drop": ["agent_id"]},
    {"set": {"agent_id": ""}},
    {"set": {"agent_id": "a" * 65}},
    {"set": {"agent_id": 42}},
    {"set": {"ticket_ref": "T" * 65}},
    {"set": {"ticket_ref": 7}},
    {"drop": ["account_id"]},
    {"set": {"account_id": ""}},
    {"set": {"pin_code": "123456"}},         # unknown field
], ids=lambda c: repr(c))
def test_invalid_check_body_is_400_and_not_a_failed_attempt(service: Service, account: tuple[str, str],
                                                            change: dict[str, Any]) -> None:
    account_id, pin = account
    body: dict[str, Any] = {"account_id": account_id, "pin": wrong_pin_for(pin), "channel": "phone",
                            "agent_id": "agent-42"}
    for key in change.get("drop", []):
        body.pop(key)
    body.update(change.get("set", {}))
    response = service.request("POST", "/v1/verifications", json_body=body)
    expect_error(response, 400, "validation_error")
    _assert_not_counted(service, account_id, pin)


def test_many_malformed_checks_never_lock(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    for _ in range(service.threshold + 2):
        expect_error(service.check(account_id, "12345"), 400, "validation_error")
    body = service.check_ok(account_id, pin)
    assert body["result"] == "verified"


# ---------------------------------------------------------------- GET /v1/verifications/{id}


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_verified_record_is_readable_and_valid(service: Service, account: tuple[str, str], role: str) -> None:
    account_id, pin = account
    check = service.check_ok(account_id, pin)
    response = service.request("GET", f"/v1/verifications/{check['verification_id']}", role=role)
    record = expect(response, 200)
    for key in CHECK_FIELDS:
        assert record.get(key) == check[key], f"record {key}: {record.get(key)!r} != check {check[key]!r}"
    assert record["valid"] is True
    assert pin not in response.text


def test_rejected_record_is_not_valid(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    check = service.check_ok(account_id, wrong_pin_for(pin))
    record = expect(service.request("GET", f"/v1/verifications/{check['verification_id']}", role="agent"), 200)
    assert record["valid"] is False
    assert record["result"] == "rejected"
    assert record["verified"] is False
    assert record["valid_until"] is None


def test_verified_record_stops_being_valid_after_the_ttl(timed: dict[str, Future[dict[str, Any]]]) -> None:
    seen = timed["ttl"].result(timeout=60)
    check = seen["check"]
    assert check["result"] == "verified"
    assert seen["record_before"]["valid"] is True
    after = seen["record_after"]
    assert after["valid"] is False, f"still valid after valid_until {check['valid_until']}: {after}"
    assert after["result"] == "verified"
    assert after["valid_until"] == check["valid_until"]


def test_unknown_verification_is_404(service: Service) -> None:
    for role in ("agent", "admin"):
        response = service.request("GET", f"/v1/verifications/ver_{uuid.uuid4().hex}", role=role)
        expect_error(response, 404, "not_found")


def test_locked_check_record_is_not_valid(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    for _ in range(service.threshold):
        service.check_ok(account_id, wrong_pin_for(pin))
    locked = service.check_ok(account_id, pin)
    assert locked["result"] == "locked"
    record = expect(service.request("GET", f"/v1/verifications/{locked['verification_id']}", role="agent"), 200)
    assert record["valid"] is False
    assert record["result"] == "locked"
