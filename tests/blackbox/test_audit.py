"""API.md, Audit: GET /v1/audit filters, limits, cursor pagination, event fields, hash chain, no PIN, CLI verify."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.blackbox.conftest import (
    Response,
    Service,
    contains_pin,
    expect,
    expect_error,
    parse_time,
    rfc3339,
    run_simultaneously,
    utcnow,
    wrong_pin_for,
)

EVENT_FIELDS = {"id", "at", "event", "account_id", "actor", "agent_id", "channel", "ticket_ref", "ip", "details",
                "prev_hash", "hash"}


def _audit(service: Service, **params: Any) -> Response:
    return service.request("GET", "/v1/audit", role="admin", params=params)


def _lifecycle(service: Service) -> tuple[str, list[str], list[Response]]:
    """Drive one customer through every in-scope event; return (account_id, every PIN, agent/admin answers)."""
    seen: list[Response] = []

    def agent_check(pin: str, **extra: Any) -> dict[str, Any]:
        response = service.check(pin=pin, account_id=account_id, **extra)
        seen.append(response)
        return expect(response, 200)  # type: ignore[no-any-return]

    def admin(method: str, path: str, body: Any = None) -> Response:
        response = service.request(method, path, role="admin",
                                   **({"json_body": body} if body is not None else {}))
        seen.append(response)
        return response

    account_id = service.register(email="life@example.com")
    pins = [service.pin(account_id)]
    expect(service.request("PUT", f"/v1/customers/{account_id}", role="portal", json_body={"locale": "en"}), 200)
    rotated = service.request("POST", f"/v1/customers/{account_id}/pin/rotate", role="portal")
    assert rotated.status in (200, 201), str(rotated)
    pins.append(rotated.json["pin"])
    pin = pins[-1]
    verified = agent_check(pin, channel="chat", agent_id="agent-7", ticket_ref="T-2026-000777")
    assert verified["result"] == "verified"
    for response in (service.request("GET", f"/v1/verifications/{verified['verification_id']}", role="agent"),
                     service.request("GET", f"/v1/customers/{account_id}", role="agent"),
                     service.request("GET", f"/v1/customers/{account_id}/lock", role="agent")):
        expect(response, 200)
        seen.append(response)
    # wrong attempts use the *old* PIN, so a leak of it would show too
    for _ in range(service.threshold):
        agent_check(pins[0], agent_id="agent-8", ticket_ref="T-8")
    assert agent_check(pin)["result"] == "locked"
    seen.append(service.request("GET", f"/v1/verifications/{verified['verification_id']}", role="admin"))
    expect(admin("GET", f"/v1/customers/{account_id}/lock"), 200)
    expect(admin("DELETE", f"/v1/customers/{account_id}/lock", {"reason": "caller verified by supervisor"}), 200)
    expect(admin("POST", f"/v1/customers/{account_id}/freeze", {"reason": "suspected takeover"}), 200)
    assert agent_check(pin)["result"] == "frozen"
    expect(admin("DELETE", f"/v1/customers/{account_id}/freeze", {"reason": "customer confirmed"}), 200)
    expect(admin("GET", f"/v1/customers/{account_id}"), 200)
    seen.append(_audit(service, account_id=account_id, limit=500))
    return account_id, pins, seen


def test_lifecycle_events_appear_newest_first(service: Service) -> None:
    account_id, _, _ = _lifecycle(service)
    events = service.audit_events(account_id=account_id)
    names = [e["event"] for e in events]
    counts = {name: names.count(name) for name in set(names)}
    for name in ("customer_registered", "customer_updated", "pin_issued", "pin_viewed", "pin_rotated",
                 "verification_succeeded", "verification_failed", "verification_blocked", "customer_locked",
                 "customer_unlocked", "customer_frozen", "customer_unfrozen"):
        assert name in counts, f"no {name} event; got {names}"
    assert counts["customer_registered"] == 1
    assert counts["verification_failed"] == service.threshold
    assert counts["customer_locked"] == 1
    assert counts["pin_viewed"] == 1
    assert counts["pin_rotated"] == 1
    ordered = ["customer_registered", "customer_updated", "pin_rotated", "verification_succeeded",
               "customer_locked", "customer_unlocked", "customer_frozen",
               "customer_unfrozen"]
    positions = [names.index(name) for name in ordered]  # first occurrence = newest
    assert positions == sorted(positions, reverse=True), f"not newest first: {names}"
    ats = [parse_time(e["at"]) for e in events]
    assert ats == sorted(ats, reverse=True), "events are not ordered newest first by 'at'"


def test_events_carry_every_field_and_the_caller_context(service: Service) -> None:
    account_id, _, _ = _lifecycle(service)
    events = service.audit_events(account_id=account_id)
    for event in events:
        assert EVENT_FIELDS <= set(event), f"event lacks {EVENT_FIELDS - set(event)}: {event}"
        assert event["account_id"] == account_id
        parse_time(event["at"])
        assert isinstance(event["hash"], str) and event["hash"]
        assert event["details"] is None or isinstance(event["details"], dict)
    succeeded = [e for e in events if e["event"] == "verification_succeeded"]
    assert len(succeeded) == 1
    event = succeeded[0]
    assert event["actor"] == service.key_names["agent"]
    assert event["agent_id"] == "agent-7"
    assert event["channel"] == "chat"
    assert event["ticket_ref"] == "T-2026-000777"
    assert event["ip"] == "127.0.0.1"
    failed = [e for e in events if e["event"] == "verification_failed"]
    assert all(e["agent_id"] == "agent-8" and e["ticket_ref"] == "T-8" and e["channel"] == "phone" for e in failed)
    for name in ("customer_unlocked", "customer_frozen", "customer_unfrozen"):
        assert [e["actor"] for e in events if e["event"] == name] == [service.key_names["admin"]]
    for name in ("customer_registered", "customer_updated", "pin_viewed", "pin_rotated"):
        assert {e["actor"] for e in events if e["event"] == name} == {service.key_names["portal"]}


def test_no_pin_in_any_audit_event_or_agent_and_admin_response(service: Service) -> None:
    account_id, pins, seen = _lifecycle(service)
    events = service.audit_events(account_id=account_id)
    trail = json.dumps(events)
    for pin in pins:
        assert not contains_pin(trail, pin), f"PIN {pin} appears in the audit trail"
        for response in seen:
            assert not contains_pin(response.text, pin), f"PIN {pin} appears in an agent/admin answer: {response}"
    everything = json.dumps(service.audit_events(limit=500))
    for pin in pins:
        assert not contains_pin(everything, pin)


def test_account_filter_returns_only_that_account(service: Service) -> None:
    first = service.register()
    second = service.register()
    service.pin(first)
    service.pin(second)
    events = service.audit_events(account_id=first)
    assert events and {e["account_id"] for e in events} == {first}


def test_event_filter_returns_only_that_event(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    service.check_ok(account_id, wrong_pin_for(pin))
    service.check_ok(account_id, pin)
    events = service.audit_events(account_id=account_id, event="verification_failed")
    assert len(events) == 1 and events[0]["event"] == "verification_failed"
    everywhere = service.audit_events(event="customer_registered")
    assert everywhere and {e["event"] for e in everywhere} == {"customer_registered"}


def test_since_and_until_bound_the_events(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    events = service.audit_events(account_id=account_id)
    assert events
    oldest = parse_time(events[-1]["at"])
    newest = parse_time(events[0]["at"])
    since = rfc3339(oldest)
    until = rfc3339(newest + timedelta(seconds=1))
    bounded = service.audit_events(account_id=account_id, since=since, until=until)
    assert [e["id"] for e in bounded] == [e["id"] for e in events]
    future = rfc3339(utcnow() + timedelta(days=1))
    past = rfc3339(utcnow() - timedelta(days=3650))
    assert service.audit_events(account_id=account_id, since=future) == []
    assert service.audit_events(account_id=account_id, until=past) == []
    for event in service.audit_events(since=rfc3339(newest)):
        assert parse_time(event["at"]) >= parse_time(rfc3339(newest))
    for event in service.audit_events(account_id=account_id, until=rfc3339(newest)):
        assert parse_time(event["at"]) <= newest + timedelta(seconds=1)


@pytest.mark.parametrize("param,value", [("since", "yesterday"), ("until", "2026-13-45T99:00:00Z"),
                                         ("since", "12345")])
def test_bad_time_filter_is_400(service: Service, param: str, value: str) -> None:
    expect_error(_audit(service, **{param: value}), 400, "validation_error")


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "1.5", "1e2", "99999999999999999999"])
def test_bad_limit_is_400(service: Service, limit: str) -> None:
    expect_error(_audit(service, limit=limit), 400, "validation_error")


def test_bad_cursor_is_400(service: Service) -> None:
    expect_error(_audit(service, cursor="not-a-cursor!!"), 400, "validation_error")


@pytest.mark.parametrize("limit", [1, 7, 500])
def test_limit_caps_the_page(service: Service, limit: int) -> None:
    account_id = service.register()
    for _ in range(8):
        service.pin(account_id)
    body = expect(_audit(service, account_id=account_id, limit=limit), 200)
    assert set(body) >= {"events", "next_cursor"}
    total = len(service.audit_events(account_id=account_id))
    assert len(body["events"]) == min(limit, total)
    if limit < total:
        assert isinstance(body["next_cursor"], str) and body["next_cursor"]
    else:
        assert body["next_cursor"] is None


def test_default_limit_is_50(service: Service) -> None:
    account_id = service.register()
    for _ in range(55):
        service.pin(account_id)
    body = expect(_audit(service, account_id=account_id), 200)
    assert len(body["events"]) == 50
    assert body["next_cursor"]


def test_cursor_pages_are_newest_first_without_duplicates_or_gaps(service: Service) -> None:
    account_id = service.register()
    pin = service.pin(account_id)
    for i in range(12):
        service.check_ok(account_id, pin, agent_id=f"agent-{i}")
        service.pin(account_id)
    whole = expect(_audit(service, account_id=account_id, limit=500), 200)
    assert whole["next_cursor"] is None
    paged: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"account_id": account_id, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = expect(_audit(service, **params), 200)
        assert len(page["events"]) <= 5
        paged.extend(page["events"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [e["id"] for e in paged]
    assert len(ids) == len(set(ids)), "duplicate events across pages"
    assert ids == [e["id"] for e in whole["events"]], "pages differ from the single listing (gap or reorder)"
    ats = [parse_time(e["at"]) for e in paged]
    assert ats == sorted(ats, reverse=True)


def test_cursor_is_stable_while_new_events_arrive(service: Service) -> None:
    account_id = service.register()
    for _ in range(6):
        service.pin(account_id)
    before = [e["id"] for e in service.audit_events(account_id=account_id)]
    first = expect(_audit(service, account_id=account_id, limit=3), 200)
    for _ in range(4):
        service.pin(account_id)  # newer events arrive between pages
    rest = service.audit_events(account_id=account_id, cursor=first["next_cursor"])
    ids = [e["id"] for e in first["events"]] + [e["id"] for e in rest]
    assert ids == before, "paging while events arrive duplicated or skipped events"


def test_hash_chain_fields_link_without_forks(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    run_simultaneously(10, lambda i: service.check(account_id, wrong_pin_for(pin), agent_id=f"c-{i}"))
    events = service.audit_events()
    hashes = [e["hash"] for e in events]
    assert all(isinstance(h, str) and h for h in hashes)
    assert len(hashes) == len(set(hashes)), "two events share a hash"
    known = set(hashes)
    linked = [e["prev_hash"] for e in events if e["prev_hash"] in known]
    assert len(linked) == len(set(linked)), "two events claim the same predecessor (forked chain)"
    unlinked = [e for e in events if e["prev_hash"] not in known]
    assert len(unlinked) <= len({e["account_id"] for e in events}) + 1, "many events link to nothing"


def test_audit_verify_cli_exits_0_on_an_intact_trail(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    run_simultaneously(12, lambda i: service.check(account_id, wrong_pin_for(pin), agent_id=f"v-{i}"))
    expect(service.request("DELETE", f"/v1/customers/{account_id}/lock", role="portal",
                           json_body={"reason": "customer signed in"}), 200)
    service.pin(account_id)
    result = service.cli("audit", "verify")
    assert result.returncode == 0, f"audit verify failed on an intact trail:\n{result.stdout}\n{result.stderr}"


def test_audit_filters_accept_unknown_but_well_formed_account(service: Service) -> None:
    body = expect(_audit(service, account_id="nobody-has-this-id-000"), 200)
    assert body == {"events": [], "next_cursor": None}


def _error_responses_carrying_the_pin(service: Service, account_id: str, pin: str) -> list[Response]:
    base = {"account_id": account_id, "pin": pin, "channel": "phone", "agent_id": "agent-42"}
    bodies: list[Any] = [{**base, "channel": "fax"}, {**base, "pinn": pin}, {**base, "agent_id": ""},
                         {**base, "code": "12a456"}, {**base, "ticket_ref": pin * 20}]
    responses = [service.request("POST", "/v1/verifications", json_body=body) for body in bodies]
    responses.append(service.request("POST", "/v1/verifications", body=json.dumps(base).encode()[:-1]))
    responses.append(service.request("POST", "/v1/verifications", body=json.dumps(base).encode(),
                                     content_type="text/plain"))
    responses.append(service.check(account_id, pin, role="portal"))
    responses.append(service.check(account_id, pin, key="vk_wrong"))
    return responses


def test_no_pin_in_any_error_answer(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    for response in _error_responses_carrying_the_pin(service, account_id, pin):
        assert response.status >= 400, str(response)
        assert not contains_pin(response.text, pin), f"error answer echoes the PIN: {response}"
    assert service.lock_state(account_id)["failed_attempts"] == 0


def test_no_pin_in_the_service_log(service: Service, backing: dict[str, Any]) -> None:
    account_id, pins, _ = _lifecycle(service)
    _error_responses_carrying_the_pin(service, account_id, pins[-1])
    log = (backing["workdir"] / "gunicorn-main.log").read_text(errors="replace")
    for pin in pins:
        lines = [line for line in log.splitlines() if contains_pin(line, pin)]
        assert not lines, f"PIN {pin} appears in the service log: {lines[:3]}"
