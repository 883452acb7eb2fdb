"""The support PIN endpoints (portal only)."""

import pytest

from verify_service.domain.pins import is_weak_pin


def test_portal_sees_the_pin_issued_at_registration(harness):
    harness.register()
    body = harness.call("GET", "/v1/customers/JP1001/pin", "portal").get_json()
    assert set(body) == {"account_id", "pin", "issued_at"}
    assert len(body["pin"]) == 6 and body["pin"].isdigit() and not is_weak_pin(body["pin"])
    assert body["issued_at"] == "2026-11-23T04:05:06Z"


def test_the_pin_is_persistent(harness):
    first = harness.register()
    assert harness.call("GET", "/v1/customers/JP1001/pin", "portal").get_json()["pin"] == first


def test_every_view_is_audited(harness):
    harness.register()
    harness.call("GET", "/v1/customers/JP1001/pin", "portal")
    events = harness.call("GET", "/v1/audit?event=pin_viewed", "admin").get_json()["events"]
    assert len(events) == 2 and all(e["account_id"] == "JP1001" for e in events)


def test_rotation_gives_a_new_pin_and_the_old_one_stops_working(harness):
    old = harness.register()
    harness.clock.advance(10)
    body = harness.call("POST", "/v1/customers/JP1001/pin/rotate", "portal").get_json()
    assert body["pin"] != old and body["issued_at"] == "2026-11-23T04:05:16Z"
    assert harness.check(pin=old).get_json()["result"] == "rejected"
    assert harness.check(pin=body["pin"]).get_json()["result"] == "verified"
    assert harness.call("GET", "/v1/customers/JP1001/pin", "portal").get_json()["pin"] == body["pin"]


def test_rotation_accepts_an_empty_json_object_but_no_fields(harness):
    harness.register()
    assert harness.call("POST", "/v1/customers/JP1001/pin/rotate", "portal", {}).status_code == 200
    response = harness.call("POST", "/v1/customers/JP1001/pin/rotate", "portal", {"pin": "583920"})
    assert response.status_code == 400


@pytest.mark.parametrize("role", ["agent", "admin"])
@pytest.mark.parametrize("method, path", [("GET", "/v1/customers/JP1001/pin"),
                                          ("POST", "/v1/customers/JP1001/pin/rotate")])
def test_agents_and_supervisors_never_see_a_pin(harness, role, method, path):
    harness.register()
    response = harness.call(method, path, role)
    assert response.status_code == 403 and "pin" not in response.get_json()


def test_pin_of_an_unknown_customer_is_404(harness):
    assert harness.call("GET", "/v1/customers/NOPE/pin", "portal").status_code == 404
    assert harness.call("POST", "/v1/customers/NOPE/pin/rotate", "portal").status_code == 404
