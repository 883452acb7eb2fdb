"""API.md, Customers: PUT 201/200, the summary, E.164, masking, locale, never the full phone."""

from __future__ import annotations

import json

import pytest

from tests.blackbox.conftest import (
    ROLES,
    Service,
    expect,
    expect_error,
    new_account_id,
    parse_time,
    run_simultaneously,
)

SUMMARY_FIELDS = {"account_id", "phone_masked", "email_masked", "locale", "second_factor", "pin_issued_at",
                  "status", "locked_until", "created_at"}


def _put(service: Service, account_id: str, body: object) -> object:
    return service.request("PUT", f"/v1/customers/{account_id}", role="portal", json_body=body)


def test_registering_a_new_customer_is_201_with_the_summary(service: Service) -> None:
    account_id = new_account_id()
    body = expect(_put(service, account_id, {"phone": "+819012345678", "email": "a@example.com"}), 201)
    assert SUMMARY_FIELDS <= set(body), f"summary lacks {SUMMARY_FIELDS - set(body)}"
    assert body["account_id"] == account_id
    assert body["status"] == "active"
    assert body["locked_until"] is None
    assert body["second_factor"] == "sms"
    parse_time(body["created_at"])
    parse_time(body["pin_issued_at"])  # a support PIN is issued on creation


def test_contract_example_is_masked_exactly(service: Service) -> None:
    account_id = new_account_id()
    body = expect(_put(service, account_id, {"phone": "+819012345678", "email": "a@example.com"}), 201)
    assert body["phone_masked"] == "+81 *******678"
    assert body["email_masked"] == "a***@example.com"


def test_updating_an_existing_customer_is_200_with_the_summary(service: Service) -> None:
    account_id = new_account_id()
    created = expect(_put(service, account_id, {"phone": "+819012345678"}), 201)
    updated = expect(_put(service, account_id, {"phone": "+14155552671", "email": "bob@example.org",
                                                "locale": "en"}), 200)
    assert SUMMARY_FIELDS <= set(updated)
    assert updated["account_id"] == account_id
    assert updated["locale"] == "en"
    assert updated["phone_masked"].startswith("+1 ") and updated["phone_masked"].endswith("671")
    assert updated["email_masked"].endswith("@example.org")
    assert updated["created_at"] == created["created_at"]
    assert updated["pin_issued_at"] == created["pin_issued_at"]
    assert service.customer(account_id) == updated


def test_update_does_not_change_the_pin(service: Service) -> None:
    account_id = service.register()
    pin = service.pin(account_id)
    expect(_put(service, account_id, {"phone": "+819087654321", "locale": "en"}), 200)
    assert service.pin(account_id) == pin


def test_update_without_phone_keeps_the_phone(service: Service) -> None:
    account_id = service.register(phone="+819012345678")
    updated = expect(_put(service, account_id, {"email": "new@example.com"}), 200)
    assert updated["phone_masked"] == "+81 *******678"


def test_phone_is_required_on_creation(service: Service) -> None:
    account_id = new_account_id()
    error = expect_error(_put(service, account_id, {"email": "a@example.com"}), 400, "validation_error")
    assert "phone" in (error["details"] or {}), error
    expect_error(service.request("GET", f"/v1/customers/{account_id}"), 404, "not_found")


@pytest.mark.parametrize("phone", [
    "09012345678",          # national format, no +
    "819012345678",         # no +
    "+81",                  # country code alone
    "+",                    # nothing
    "",                     # empty
    "+8190123456789012",    # 16 digits: longer than E.164 allows
    "+819012345678x",       # trailing letter
    "+81-90-1234-5678",     # punctuation is not E.164
    "+0123456789",          # country codes never start with 0
    "phone",
    819012345678,           # not a string
    None,
])
def test_phone_that_is_not_e164_is_rejected(service: Service, phone: object) -> None:
    account_id = new_account_id()
    error = expect_error(_put(service, account_id, {"phone": phone}), 400, "validation_error")
    assert "phone" in (error["details"] or {}), error
    expect_error(service.request("GET", f"/v1/customers/{account_id}"), 404, "not_found")


def test_phone_with_unassigned_country_code_is_rejected(service: Service) -> None:
    account_id = new_account_id()
    expect_error(_put(service, account_id, {"phone": "+999123456789"}), 400, "validation_error")


def test_invalid_phone_on_update_is_rejected_and_keeps_the_old_one(service: Service) -> None:
    account_id = service.register(phone="+819012345678")
    expect_error(_put(service, account_id, {"phone": "12345"}), 400, "validation_error")
    assert service.customer(account_id)["phone_masked"] == "+81 *******678"


@pytest.mark.parametrize("phone,country,last3", [
    ("+819012345678", "+81", "678"),
    ("+14155552671", "+1", "671"),
    ("+447911123456", "+44", "456"),
    ("+33612345678", "+33", "678"),
])
def test_valid_e164_numbers_are_accepted_and_masked(service: Service, phone: str, country: str,
                                                    last3: str) -> None:
    account_id = new_account_id()
    body = expect(_put(service, account_id, {"phone": phone}), 201)
    masked = body["phone_masked"]
    assert masked.startswith(country + " "), masked
    assert masked.endswith(last3), masked
    assert "*" in masked
    national = phone[len(country):]
    assert national not in masked and phone not in masked
    assert sum(ch.isdigit() for ch in masked[len(country):]) == 3, f"more than 3 national digits shown: {masked}"


@pytest.mark.parametrize("role", ROLES)
def test_summary_never_contains_the_full_phone_or_pin(service: Service, role: str) -> None:
    account_id = service.register(phone="+819012345678", email="alice@example.com")
    pin = service.pin(account_id)
    response = service.request("GET", f"/v1/customers/{account_id}", role=role)
    body = expect(response, 200)
    assert SUMMARY_FIELDS <= set(body)
    text = response.text
    for secret in ("+819012345678", "819012345678", "9012345678", "09012345678", pin):
        assert secret not in text, f"summary as {role} contains {secret!r}: {text}"
    assert "pin" not in body
    assert "phone" not in body
    assert "alice@" not in text


def test_put_response_never_contains_the_full_phone_or_pin(service: Service) -> None:
    account_id = new_account_id()
    created = _put(service, account_id, {"phone": "+14155552671"})
    expect(created, 201)
    pin = service.pin(account_id)
    updated = _put(service, account_id, {"phone": "+14155552672"})
    expect(updated, 200)
    for response in (created, updated):
        assert "4155552671" not in response.text and "4155552672" not in response.text
        assert pin not in response.text
        assert "pin" not in json.loads(response.text)


def test_locale_defaults_to_ja(service: Service) -> None:
    account_id = service.register()
    assert service.customer(account_id)["locale"] == "ja"


def test_locale_can_be_set_and_updated(service: Service) -> None:
    account_id = new_account_id()
    assert expect(_put(service, account_id, {"phone": "+819012345678", "locale": "en"}), 201)["locale"] == "en"
    assert service.customer(account_id)["locale"] == "en"
    assert expect(_put(service, account_id, {"locale": "ja"}), 200)["locale"] == "ja"
    assert service.customer(account_id, role="admin")["locale"] == "ja"


@pytest.mark.parametrize("locale", [123, ["ja"], {"code": "ja"}])
def test_locale_of_wrong_type_is_rejected(service: Service, locale: object) -> None:
    account_id = new_account_id()
    expect_error(_put(service, account_id, {"phone": "+819012345678", "locale": locale}), 400,
                 "validation_error")


def test_email_is_optional(service: Service) -> None:
    account_id = new_account_id()
    body = expect(_put(service, account_id, {"phone": "+819012345678"}), 201)
    assert body["email_masked"] in (None, "")


def test_unknown_customer_is_404(service: Service) -> None:
    for role in ROLES:
        expect_error(service.request("GET", f"/v1/customers/{new_account_id()}", role=role), 404, "not_found")


def test_summary_is_the_same_for_every_reader(service: Service) -> None:
    account_id = service.register(email="a@example.com")
    summaries = [service.customer(account_id, role=role) for role in ROLES]
    assert summaries[0] == summaries[1] == summaries[2]


def test_simultaneous_registration_creates_once(service: Service) -> None:
    account_id = new_account_id()
    responses = run_simultaneously(
        8, lambda i: service.request("PUT", f"/v1/customers/{account_id}", role="portal",
                                     json_body={"phone": "+819012345678"}))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * 7 + [201], f"statuses: {statuses}; e.g. {[str(r) for r in responses][:2]}"
    assert len(service.audit_events(account_id=account_id, event="customer_registered")) == 1
    assert len(service.audit_events(account_id=account_id, event="pin_issued")) == 1
    service.pin(account_id)


def test_update_keeps_a_frozen_customer_frozen(service: Service) -> None:
    account_id = service.register()
    pin = service.pin(account_id)
    expect(service.request("POST", f"/v1/customers/{account_id}/freeze", role="admin",
                           json_body={"reason": "suspected takeover"}), 200)
    updated = expect(_put(service, account_id, {"phone": "+819011112222", "locale": "en"}), 200)
    assert updated["status"] == "frozen"
    assert service.check_ok(account_id, pin)["result"] == "frozen"


def test_update_keeps_a_locked_customer_locked(service: Service) -> None:
    account_id = service.register()
    pin = service.pin(account_id)
    locker: dict[str, object] = {}
    for _ in range(service.threshold):
        locker = service.check_ok(account_id, "258147" if pin != "258147" else "369258")
    updated = expect(_put(service, account_id, {"email": "x@example.com"}), 200)
    assert updated["status"] == "locked"
    assert updated["locked_until"] == locker["locked_until"]
    assert service.check_ok(account_id, pin)["result"] == "locked"
