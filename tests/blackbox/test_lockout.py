"""API.md, Lockout: threshold, attempts_remaining, locked_until, no extension, resets, window, concurrency."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tests.blackbox.conftest import (
    Service,
    expect,
    parse_time,
    run_simultaneously,
    utcnow,
    wrong_pin_for,
)


def _fail(service: Service, account_id: str, pin: str, times: int, **extra: Any) -> list[dict[str, Any]]:
    return [service.check_ok(account_id, wrong_pin_for(pin), **extra) for _ in range(times)]


def _sleep_until(moment_text: str, margin: float = 1.1) -> None:
    wait = (parse_time(moment_text) - utcnow()).total_seconds() + margin
    time.sleep(max(wait, 0.0))


def test_attempts_remaining_counts_down_with_each_rejected_check(service: Service,
                                                                 account: tuple[str, str]) -> None:
    account_id, pin = account
    bodies = _fail(service, account_id, pin, service.threshold - 1)
    assert [b["result"] for b in bodies] == ["rejected"] * (service.threshold - 1)
    assert [b["attempts_remaining"] for b in bodies] == list(range(service.threshold - 1, 0, -1))
    assert all(b["locked_until"] is None for b in bodies)
    state = service.lock_state(account_id)
    assert state == {"locked": False, "locked_until": None, "failed_attempts": service.threshold - 1,
                     "threshold": service.threshold}


def test_check_reaching_the_threshold_is_rejected_with_zero_remaining_and_locks(
        service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    last = _fail(service, account_id, pin, service.threshold)[-1]
    assert last["result"] == "rejected"
    assert last["verified"] is False
    assert last["factors"]["pin"] == "mismatch"
    assert last["attempts_remaining"] == 0
    assert last["locked_until"] is not None
    locked_for = (parse_time(last["locked_until"]) - parse_time(last["checked_at"])).total_seconds()
    assert abs(locked_for - service.lockout_seconds) <= 1.0, f"lock lasts {locked_for}s"


def test_sixth_wrong_pin_is_locked_not_rejected(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    fifth = _fail(service, account_id, pin, service.threshold)[-1]
    sixth = service.check_ok(account_id, wrong_pin_for(pin))
    assert sixth["result"] == "locked"
    assert sixth["verified"] is False
    assert sixth["factors"] == {"pin": "not_checked", "code": "not_checked"}
    assert sixth["level"] == 0
    assert sixth["attempts_remaining"] == 0
    assert sixth["locked_until"] == fifth["locked_until"]
    assert sixth["valid_until"] is None


def test_correct_pin_while_locked_is_locked_and_not_evaluated(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    fifth = _fail(service, account_id, pin, service.threshold)[-1]
    body = service.check_ok(account_id, pin)
    assert body["result"] == "locked"
    assert body["verified"] is False
    assert body["factors"] == {"pin": "not_checked", "code": "not_checked"}
    assert body["level"] == 0
    assert body["attempts_remaining"] == 0
    assert body["locked_until"] == fifth["locked_until"]
    assert body["valid_until"] is None


def test_locked_checks_are_not_counted_and_do_not_extend_the_lock(service: Service,
                                                                   account: tuple[str, str]) -> None:
    account_id, pin = account
    fifth = _fail(service, account_id, pin, service.threshold)[-1]
    time.sleep(1.0)
    for attempt in (wrong_pin_for(pin), pin, wrong_pin_for(pin)):
        body = service.check_ok(account_id, attempt)
        assert body["result"] == "locked"
        assert body["locked_until"] == fifth["locked_until"], "a locked check moved locked_until"
    state = service.lock_state(account_id)
    assert state["locked"] is True
    assert state["locked_until"] == fifth["locked_until"]
    assert state["failed_attempts"] == service.threshold
    assert state["threshold"] == service.threshold


def test_lock_shows_in_lock_state_and_summary(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    fifth = _fail(service, account_id, pin, service.threshold)[-1]
    for role in ("agent", "admin"):
        assert service.lock_state(account_id, role=role) == {
            "locked": True, "locked_until": fifth["locked_until"], "failed_attempts": service.threshold,
            "threshold": service.threshold}
    summary = service.customer(account_id)
    assert summary["status"] == "locked"
    assert summary["locked_until"] == fifth["locked_until"]


def test_lock_expiry_resets_the_count(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    fifth = _fail(service, account_id, pin, service.threshold)[-1]
    time.sleep(1.0)
    assert service.check_ok(account_id, wrong_pin_for(pin))["result"] == "locked"
    _sleep_until(fifth["locked_until"])
    state = service.lock_state(account_id)
    summary = service.customer(account_id)
    after = service.check_ok(account_id, wrong_pin_for(pin))
    assert after["result"] == "rejected", f"still locked after locked_until {fifth['locked_until']}: {after}"
    assert after["attempts_remaining"] == service.threshold - 1, "an expired lock did not reset the count"
    assert after["locked_until"] is None
    assert state == {"locked": False, "locked_until": None, "failed_attempts": 0, "threshold": service.threshold}
    assert summary["status"] == "active"
    assert summary["locked_until"] is None
    assert service.check_ok(account_id, pin)["result"] == "verified"


def test_verified_check_resets_the_count(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    _fail(service, account_id, pin, service.threshold - 1)
    verified = service.check_ok(account_id, pin)
    assert verified["result"] == "verified"
    assert verified["attempts_remaining"] == service.threshold
    assert service.lock_state(account_id)["failed_attempts"] == 0
    again = _fail(service, account_id, pin, service.threshold - 1)
    assert [b["result"] for b in again] == ["rejected"] * (service.threshold - 1)
    assert again[0]["attempts_remaining"] == service.threshold - 1
    assert again[-1]["attempts_remaining"] == 1


def test_failures_count_across_agents_channels_and_keys(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    variants = [
        {"agent_id": "agent-1", "channel": "phone"},
        {"agent_id": "agent-2", "channel": "chat", "key": service.keys["agent2"]},
        {"agent_id": "agent-3", "channel": "phone", "key": service.keys["agent2"]},
        {"agent_id": "agent-4", "channel": "chat"},
        {"agent_id": "agent-5", "channel": "phone", "key": service.keys["agent2"]},
    ]
    bodies = []
    for variant in variants[: service.threshold]:
        extra = dict(variant)
        key = extra.pop("key", None)
        bodies.append(expect(service.check(account_id, wrong_pin_for(pin), key=key, **extra), 200))
    assert [b["attempts_remaining"] for b in bodies] == list(range(service.threshold - 1, -1, -1))
    assert bodies[-1]["locked_until"] is not None
    other = expect(service.check(account_id, pin, key=service.keys["agent2"], agent_id="agent-9",
                                 channel="chat"), 200)
    assert other["result"] == "locked"


def test_a_rejected_check_is_one_attempt(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    body = service.check_ok(account_id, wrong_pin_for(pin))
    assert body["attempts_remaining"] == service.threshold - 1
    assert service.lock_state(account_id)["failed_attempts"] == 1


def _simultaneous_wrong_checks(service: Service, account_id: str, pin: str, count: int) -> list[dict[str, Any]]:
    responses = run_simultaneously(
        count, lambda i: service.check(account_id, wrong_pin_for(pin), agent_id=f"agent-{i}",
                                       channel="phone" if i % 2 else "chat",
                                       key=service.keys["agent" if i % 2 else "agent2"]))
    bad = [str(r) for r in responses if r.status != 200]
    assert not bad, f"{len(bad)} of {count} simultaneous checks did not answer 200, e.g. {bad[:3]}"
    return [r.json for r in responses]


def test_simultaneous_wrong_checks_reject_exactly_threshold_and_lock_the_rest(
        service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    count = 30
    bodies = _simultaneous_wrong_checks(service, account_id, pin, count)
    results = Counter(b["result"] for b in bodies)
    assert results == {"rejected": service.threshold, "locked": count - service.threshold}, results
    remaining = sorted(b["attempts_remaining"] for b in bodies if b["result"] == "rejected")
    assert remaining == list(range(service.threshold)), f"rejected attempts_remaining: {remaining}"
    lock_times = {b["locked_until"] for b in bodies if b["result"] == "locked"}
    lockers = [b for b in bodies if b["result"] == "rejected" and b["attempts_remaining"] == 0]
    assert len(lockers) == 1 and lockers[0]["locked_until"] is not None
    assert lock_times == {lockers[0]["locked_until"]}
    state = service.lock_state(account_id)
    assert state["locked"] is True
    assert state["failed_attempts"] == service.threshold


def test_simultaneous_wrong_checks_after_earlier_failures_reject_only_what_is_left(
        service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    earlier = 3
    _fail(service, account_id, pin, earlier)
    count = 20
    bodies = _simultaneous_wrong_checks(service, account_id, pin, count)
    results = Counter(b["result"] for b in bodies)
    left = service.threshold - earlier
    assert results == {"rejected": left, "locked": count - left}, results
    assert service.lock_state(account_id)["failed_attempts"] == service.threshold


def test_failures_older_than_the_window_are_not_counted(window_service: Service) -> None:
    svc = window_service
    account_id = svc.register()
    pin = svc.pin(account_id)
    early = _fail(svc, account_id, pin, svc.threshold - 1)
    assert early[-1]["attempts_remaining"] == 1
    time.sleep(svc.window_seconds + 0.6)
    state = svc.lock_state(account_id)
    late = _fail(svc, account_id, pin, svc.threshold)
    assert late[0]["result"] == "rejected"
    assert late[0]["attempts_remaining"] == svc.threshold - 1, "failures outside the window still counted"
    assert [b["attempts_remaining"] for b in late] == list(range(svc.threshold - 1, -1, -1))
    assert late[-1]["locked_until"] is not None
    assert state["locked"] is False
    assert state["failed_attempts"] == 0, f"lock state still reports failures outside the window: {state}"
