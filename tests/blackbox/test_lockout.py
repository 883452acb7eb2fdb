"""API.md, Lockout: threshold, attempts_remaining, locked_until, no extension, resets, window, concurrency."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from typing import Any

from tests.blackbox.conftest import (
    THRESHOLD,
    Service,
    expect,
    parse_time,
    run_simultaneously,
    wrong_pin_for,
)


def _fail(service: Service, account_id: str, pin: str, times: int, **extra: Any) -> list[dict[str, Any]]:
    return [service.check_ok(account_id, wrong_pin_for(pin), **extra) for _ in range(times)]


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


def test_locked_checks_do_not_extend_the_lock_and_it_ends_at_locked_until(
        service: Service, timed: dict[str, Future[dict[str, Any]]]) -> None:
    seen = timed["lock_expiry"].result(timeout=60)
    locked_until = seen["fifth"]["locked_until"]
    assert seen["fifth"]["result"] == "rejected" and locked_until is not None
    for key in ("during_wrong", "during_correct"):
        assert seen[key]["result"] == "locked", f"{key}: {seen[key]}"
        assert seen[key]["locked_until"] == locked_until, f"a locked check moved locked_until: {seen[key]}"
    assert seen["correct_after"]["result"] == "verified", (
        f"correct PIN after locked_until {locked_until} answered {seen['correct_after']}")


def test_expired_lock_resets_the_count(service: Service, timed: dict[str, Future[dict[str, Any]]]) -> None:
    seen = timed["lock_expiry"].result(timeout=60)
    after = seen["wrong_after"]
    assert after["result"] == "rejected", f"still locked after locked_until {seen['fifth']['locked_until']}: {after}"
    assert after["attempts_remaining"] == service.threshold - 1, f"an expired lock did not reset the count: {after}"
    assert after["locked_until"] is None


def test_expired_lock_shows_as_unlocked(service: Service, timed: dict[str, Future[dict[str, Any]]]) -> None:
    seen = timed["lock_expiry"].result(timeout=60)
    assert seen["state_after"] == {"locked": False, "locked_until": None, "failed_attempts": 0,
                                   "threshold": service.threshold}
    assert seen["summary_after"]["status"] == "active"
    assert seen["summary_after"]["locked_until"] is None


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


def test_failures_older_than_the_window_are_not_counted(timed: dict[str, Future[dict[str, Any]]]) -> None:
    seen = timed["window"].result(timeout=90)
    early, late = seen["early"], seen["late"]
    assert [b["attempts_remaining"] for b in early] == list(range(THRESHOLD - 1, 0, -1))
    assert late[0]["result"] == "rejected"
    assert late[0]["attempts_remaining"] == THRESHOLD - 1, f"failures outside the window still counted: {late[0]}"
    assert [b["attempts_remaining"] for b in late] == list(range(THRESHOLD - 1, -1, -1))
    assert late[-1]["locked_until"] is not None


def test_lock_state_forgets_failures_older_than_the_window(timed: dict[str, Future[dict[str, Any]]]) -> None:
    state = timed["window"].result(timeout=90)["state_after_window"]
    assert state["locked"] is False
    assert state["failed_attempts"] == 0, f"lock state still reports failures outside the window: {state}"


def test_lock_survives_a_service_restart(timed: dict[str, Future[dict[str, Any]]]) -> None:
    seen = timed["window"].result(timeout=90)
    locked_until = seen["late"][-1]["locked_until"]
    assert locked_until is not None
    check = seen["after_restart_check"]
    assert check["result"] == "locked", f"lock lost across a restart: {check}"
    assert check["locked_until"] == locked_until
    state = seen["after_restart_state"]
    assert state["locked"] is True and state["locked_until"] == locked_until
