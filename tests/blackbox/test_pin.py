"""API.md, Support PIN: portal only, generation rules, rotation, every view audited."""

from __future__ import annotations

from tests.blackbox.conftest import (
    Service,
    assert_good_pin,
    expect,
    expect_error,
    is_trivial_pin,
    new_account_id,
    parse_time,
    run_simultaneously,
)


def _rotate(service: Service, account_id: str) -> dict[str, object]:
    response = service.request("POST", f"/v1/customers/{account_id}/pin/rotate", role="portal")
    assert response.status in (200, 201), str(response)
    return expect(response, response.status)  # type: ignore[no-any-return]


def test_forbidden_pin_shapes_helper_matches_the_contract() -> None:
    for pin in ("000000", "777777", "123456", "987654", "012345", "456789", "543210"):
        assert is_trivial_pin(pin)
    for pin in ("583920", "112233", "123457", "890123"):
        assert not is_trivial_pin(pin)


def test_portal_sees_the_pin_with_account_and_issue_time(service: Service) -> None:
    account_id = service.register()
    body = expect(service.request("GET", f"/v1/customers/{account_id}/pin", role="portal"), 200)
    assert set(body) >= {"account_id", "pin", "issued_at"}
    assert body["account_id"] == account_id
    assert_good_pin(body["pin"])
    assert parse_time(body["issued_at"]) == parse_time(service.customer(account_id)["pin_issued_at"])


def test_pin_is_persistent_across_views(service: Service) -> None:
    account_id = service.register()
    first = expect(service.request("GET", f"/v1/customers/{account_id}/pin", role="portal"), 200)
    for _ in range(3):
        again = expect(service.request("GET", f"/v1/customers/{account_id}/pin", role="portal"), 200)
        assert again["pin"] == first["pin"]
        assert again["issued_at"] == first["issued_at"]


def test_issued_pins_are_never_trivial_across_many_customers(service: Service) -> None:
    pins = [service.pin(service.register()) for _ in range(25)]
    for pin in pins:
        assert_good_pin(pin)
    assert len(set(pins)) > 1, "every customer got the same PIN"


def test_rotation_returns_a_new_pin_never_the_previous_one(service: Service) -> None:
    account_id = service.register()
    previous = service.pin(account_id)
    for _ in range(25):
        body = _rotate(service, account_id)
        assert body["account_id"] == account_id
        new = assert_good_pin(body["pin"])
        parse_time(body["issued_at"])
        assert new != previous, "rotation returned the previous PIN"
        assert service.pin(account_id) == new
        previous = new


def test_rotation_moves_issued_at_forward(service: Service) -> None:
    account_id = service.register()
    before = expect(service.request("GET", f"/v1/customers/{account_id}/pin", role="portal"), 200)
    rotated = _rotate(service, account_id)
    assert parse_time(rotated["issued_at"]) >= parse_time(before["issued_at"])
    assert service.customer(account_id)["pin_issued_at"] == rotated["issued_at"]


def test_old_pin_stops_working_at_once_after_rotation(service: Service) -> None:
    account_id = service.register()
    old = service.pin(account_id)
    assert service.check_ok(account_id, old)["result"] == "verified"
    new = assert_good_pin(_rotate(service, account_id)["pin"])
    old_check = service.check_ok(account_id, old)
    assert old_check["result"] == "rejected"
    assert old_check["factors"]["pin"] == "mismatch"
    new_check = service.check_ok(account_id, new)
    assert new_check["result"] == "verified"
    assert new_check["factors"]["pin"] == "match"


def test_old_pin_fails_on_every_worker_after_rotation(service: Service) -> None:
    """gunicorn runs two workers: whichever answers, the old PIN is dead."""
    account_id = service.register()
    old = service.pin(account_id)
    for _ in range(4):
        assert service.check_ok(account_id, old)["result"] == "verified"
    new = assert_good_pin(_rotate(service, account_id)["pin"])
    results = [service.check_ok(account_id, old)["result"] for _ in range(3)]
    assert results == ["rejected"] * 3
    assert service.check_ok(account_id, new)["result"] == "verified"


def test_every_pin_view_is_audited_as_pin_viewed(service: Service) -> None:
    account_id = service.register()
    views = 4
    for _ in range(views):
        service.pin(account_id)
    events = service.audit_events(account_id=account_id, event="pin_viewed")
    assert len(events) == views
    for event in events:
        assert event["event"] == "pin_viewed"
        assert event["account_id"] == account_id
        assert event["actor"] == service.key_names["portal"]


def test_rotation_is_audited_as_pin_rotated(service: Service) -> None:
    account_id = service.register()
    _rotate(service, account_id)
    _rotate(service, account_id)
    events = service.audit_events(account_id=account_id, event="pin_rotated")
    assert len(events) == 2
    assert all(event["actor"] == service.key_names["portal"] for event in events)


def test_pin_of_unknown_customer_is_404(service: Service) -> None:
    unknown = new_account_id("nobody")
    expect_error(service.request("GET", f"/v1/customers/{unknown}/pin", role="portal"), 404, "not_found")
    expect_error(service.request("POST", f"/v1/customers/{unknown}/pin/rotate", role="portal"), 404,
                 "not_found")



def test_simultaneous_rotations_leave_exactly_one_working_pin(service: Service) -> None:
    account_id = service.register()
    original = service.pin(account_id)
    responses = run_simultaneously(
        6, lambda i: service.request("POST", f"/v1/customers/{account_id}/pin/rotate", role="portal"))
    assert all(r.status in (200, 201) for r in responses), [str(r) for r in responses]
    returned = [assert_good_pin(r.json["pin"]) for r in responses]
    assert original not in returned, "a rotation returned the PIN it replaced"
    current = service.pin(account_id)
    assert current in returned
    assert service.check_ok(account_id, current)["result"] == "verified"
    for stale in {original, *returned} - {current}:
        assert service.check_ok(account_id, stale)["factors"]["pin"] == "mismatch", f"stale PIN {stale} works"
        assert service.check_ok(account_id, current)["result"] == "verified"  # keep the count at zero


def test_simultaneous_pin_views_are_each_audited(service: Service) -> None:
    account_id = service.register()
    responses = run_simultaneously(
        8, lambda i: service.request("GET", f"/v1/customers/{account_id}/pin", role="portal"))
    assert all(r.status == 200 for r in responses), [str(r) for r in responses]
    assert len({r.json["pin"] for r in responses}) == 1
    assert len(service.audit_events(account_id=account_id, event="pin_viewed")) == 8


def test_rotation_while_locked_keeps_the_lock(service: Service) -> None:
    account_id = service.register()
    pin = service.pin(account_id)
    locker = {}
    for _ in range(service.threshold):
        locker = service.check_ok(account_id, "258147" if pin != "258147" else "369258")
    new = assert_good_pin(_rotate(service, account_id)["pin"])
    body = service.check_ok(account_id, new)
    assert body["result"] == "locked"
    assert body["locked_until"] == locker["locked_until"]
