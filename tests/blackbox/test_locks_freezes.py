"""API.md, Locks and freezes: GET/DELETE lock (admin, portal), POST/DELETE freeze (admin)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.blackbox.conftest import Service, expect, expect_error, new_account_id, wrong_pin_for


def _lock(service: Service, account_id: str, pin: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for _ in range(service.threshold):
        last = service.check_ok(account_id, wrong_pin_for(pin))
    assert last["locked_until"] is not None
    return last


def _unlock(service: Service, account_id: str, role: str = "admin", reason: Any = "caller verified") -> Any:
    return service.request("DELETE", f"/v1/customers/{account_id}/lock", role=role, json_body={"reason": reason})


def _freeze(service: Service, account_id: str, reason: str = "suspected takeover") -> Any:
    return service.request("POST", f"/v1/customers/{account_id}/freeze", role="admin", json_body={"reason": reason})


def _unfreeze(service: Service, account_id: str, reason: str = "customer confirmed") -> Any:
    return service.request("DELETE", f"/v1/customers/{account_id}/freeze", role="admin",
                           json_body={"reason": reason})


def test_lock_state_of_a_fresh_customer(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    assert service.lock_state(account_id, role="agent") == {"locked": False, "locked_until": None,
                                                            "failed_attempts": 0, "threshold": service.threshold}


@pytest.mark.parametrize("role", ["admin", "portal"])
def test_unlock_clears_the_lock_and_resets_the_count(service: Service, account: tuple[str, str],
                                                     role: str) -> None:
    account_id, pin = account
    _lock(service, account_id, pin)
    body = expect(_unlock(service, account_id, role=role), 200)
    assert body == {"locked": False, "locked_until": None, "failed_attempts": 0, "threshold": service.threshold}
    assert service.lock_state(account_id) == body
    assert service.customer(account_id)["status"] == "active"
    after = service.check_ok(account_id, wrong_pin_for(pin))
    assert after["result"] == "rejected"
    assert after["attempts_remaining"] == service.threshold - 1
    assert service.check_ok(account_id, pin)["result"] == "verified"


def test_unlock_of_an_unlocked_customer_resets_the_count(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    for _ in range(2):
        service.check_ok(account_id, wrong_pin_for(pin))
    body = expect(_unlock(service, account_id), 200)
    assert body["locked"] is False
    assert body["failed_attempts"] == 0
    assert service.check_ok(account_id, wrong_pin_for(pin))["attempts_remaining"] == service.threshold - 1


@pytest.mark.parametrize("reason", ["x", "r" * 500, "日本語の理由"])
def test_unlock_reason_of_1_to_500_chars_is_accepted(service: Service, account: tuple[str, str],
                                                     reason: str) -> None:
    account_id, pin = account
    _lock(service, account_id, pin)
    assert expect(_unlock(service, account_id, reason=reason), 200)["locked"] is False


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "r" * 501}, {"reason": None}, {"reason": 5},
                                  {"reason": ["why"]}], ids=repr)
def test_unlock_without_a_valid_reason_is_400_and_keeps_the_lock(service: Service, account: tuple[str, str],
                                                                 body: dict[str, Any]) -> None:
    account_id, pin = account
    locker = _lock(service, account_id, pin)
    response = service.request("DELETE", f"/v1/customers/{account_id}/lock", role="admin", json_body=body)
    error = expect_error(response, 400, "validation_error")
    assert "reason" in (error["details"] or {}), error
    state = service.lock_state(account_id)
    assert state["locked"] is True and state["locked_until"] == locker["locked_until"]


def test_unlock_without_a_body_is_400(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    _lock(service, account_id, pin)
    response = service.request("DELETE", f"/v1/customers/{account_id}/lock", role="admin")
    expect_error(response, 400, ("validation_error", "invalid_json"))
    assert service.lock_state(account_id)["locked"] is True


def test_freeze_returns_the_frozen_summary(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    body = expect(_freeze(service, account_id), 200)
    assert body["account_id"] == account_id
    assert body["status"] == "frozen"
    assert {"phone_masked", "locale", "second_factor", "created_at"} <= set(body)
    for role in ("agent", "portal", "admin"):
        assert service.customer(account_id, role=role)["status"] == "frozen"


def test_frozen_customer_answers_frozen_and_evaluates_nothing(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    expect(_freeze(service, account_id), 200)
    for attempt in (pin, wrong_pin_for(pin)):
        body = service.check_ok(account_id, attempt)
        assert body["result"] == "frozen"
        assert body["verified"] is False
        assert body["factors"] == {"pin": "not_checked", "code": "not_checked"}
        assert body["level"] == 0
        assert body["attempts_remaining"] == 0
        assert body["valid_until"] is None


def test_frozen_checks_count_nothing(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    for _ in range(2):
        service.check_ok(account_id, wrong_pin_for(pin))
    expect(_freeze(service, account_id), 200)
    for _ in range(service.threshold + 3):
        assert service.check_ok(account_id, wrong_pin_for(pin))["result"] == "frozen"
    assert service.lock_state(account_id)["failed_attempts"] == 2
    summary = expect(_unfreeze(service, account_id), 200)
    assert summary["status"] == "active"
    after = service.check_ok(account_id, wrong_pin_for(pin))
    assert after["result"] == "rejected"
    assert after["attempts_remaining"] == service.threshold - 3


def test_unfreeze_returns_the_active_summary_and_checks_work_again(service: Service,
                                                                   account: tuple[str, str]) -> None:
    account_id, pin = account
    expect(_freeze(service, account_id), 200)
    body = expect(_unfreeze(service, account_id), 200)
    assert body["account_id"] == account_id
    assert body["status"] == "active"
    assert service.customer(account_id)["status"] == "active"
    assert service.check_ok(account_id, pin)["result"] == "verified"


@pytest.mark.parametrize("body", [{}, {"reason": None}, {"reason": 3}], ids=repr)
def test_freeze_requires_a_reason(service: Service, account: tuple[str, str], body: dict[str, Any]) -> None:
    account_id, pin = account
    response = service.request("POST", f"/v1/customers/{account_id}/freeze", role="admin", json_body=body)
    expect_error(response, 400, "validation_error")
    assert service.customer(account_id)["status"] == "active"
    assert service.check_ok(account_id, pin)["result"] == "verified"


@pytest.mark.parametrize("body", [{}, {"reason": None}, {"reason": 3}], ids=repr)
def test_unfreeze_requires_a_reason(service: Service, account: tuple[str, str], body: dict[str, Any]) -> None:
    account_id, _ = account
    expect(_freeze(service, account_id), 200)
    response = service.request("DELETE", f"/v1/customers/{account_id}/freeze", role="admin", json_body=body)
    expect_error(response, 400, "validation_error")
    assert service.customer(account_id)["status"] == "frozen"


def test_freeze_and_unfreeze_of_unknown_customer_is_404(service: Service) -> None:
    unknown = new_account_id("ghost")
    expect_error(_freeze(service, unknown), 404, "not_found")
    expect_error(_unfreeze(service, unknown), 404, "not_found")
    expect_error(_unlock(service, unknown), 404, "not_found")
    expect_error(service.request("GET", f"/v1/customers/{unknown}/lock", role="agent"), 404, "not_found")


def test_unlock_does_not_unfreeze(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    expect(_freeze(service, account_id), 200)
    expect(_unlock(service, account_id), 200)
    assert service.check_ok(account_id, pin)["result"] == "frozen"
    assert service.customer(account_id)["status"] == "frozen"
