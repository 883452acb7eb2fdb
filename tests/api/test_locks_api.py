"""Lock status, unlock (admin or portal) and freezes."""

from datetime import datetime

import pytest

REASON = {"reason": "caller proved identity on a video call"}


@pytest.fixture
def locked(harness):
    pin = harness.register()
    for _ in range(5):
        harness.check(pin="000001" if pin != "000001" else "000002")
    return pin


def test_lock_status_counts_failures(harness):
    pin = harness.register()
    harness.check(pin="000001" if pin != "000001" else "000002")
    body = harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert body == {"locked": False, "locked_until": None, "failed_attempts": 1, "threshold": 5}


def test_locked_customer_shows_locked_everywhere(harness, locked):
    assert harness.call("GET", "/v1/customers/JP1001/lock", "admin").get_json() == {
        "locked": True, "locked_until": "2026-11-24T04:05:06Z", "failed_attempts": 5, "threshold": 5}
    summary = harness.call("GET", "/v1/customers/JP1001", "agent").get_json()
    assert summary["status"] == "locked" and summary["locked_until"] == "2026-11-24T04:05:06Z"


@pytest.mark.parametrize("role", ["admin", "portal"])
def test_unlock_lifts_the_lock_and_resets_the_count(harness, locked, role):
    response = harness.call("DELETE", "/v1/customers/JP1001/lock", role, REASON)
    assert response.status_code == 200
    assert response.get_json() == {"locked": False, "locked_until": None, "failed_attempts": 0, "threshold": 5}
    assert harness.check(pin=locked).get_json()["result"] == "verified"
    event = harness.call("GET", "/v1/audit?event=customer_unlocked", "admin").get_json()["events"][0]
    assert event["details"]["reason"] == REASON["reason"] and event["details"]["was_locked"] is True


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501},
                                  {"reason": 5}, {"reason": "ok", "force": True}])
def test_unlock_needs_a_reason_of_1_to_500_chars(harness, locked, body):
    response = harness.call("DELETE", "/v1/customers/JP1001/lock", "admin", body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"
    assert harness.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["locked"] is True


def test_lock_endpoints_refuse_the_wrong_roles(harness, locked):
    assert harness.call("GET", "/v1/customers/JP1001/lock", "portal").status_code == 403
    assert harness.call("DELETE", "/v1/customers/JP1001/lock", "agent", REASON).status_code == 403


def test_freeze_makes_checks_answer_frozen_and_count_nothing(harness):
    pin = harness.register()
    response = harness.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "suspected takeover"})
    assert response.status_code == 200 and response.get_json()["status"] == "frozen"
    body = harness.check(pin=pin).get_json()
    assert (body["result"], body["verified"], body["attempts_remaining"]) == ("frozen", False, 0)
    assert body["factors"] == {"pin": "not_checked", "code": "not_checked"}
    harness.check(pin="000001" if pin != "000001" else "000002")
    assert harness.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"] == 0


def test_unfreeze_restores_checks(harness):
    pin = harness.register()
    harness.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "suspected takeover"})
    response = harness.call("DELETE", "/v1/customers/JP1001/freeze", "admin", {"reason": "customer confirmed"})
    assert response.status_code == 200 and response.get_json()["status"] == "active"
    assert harness.check(pin=pin).get_json()["result"] == "verified"
    events = [e["event"] for e in harness.call("GET", "/v1/audit?account_id=JP1001", "admin").get_json()["events"]]
    assert "customer_frozen" in events and "customer_unfrozen" in events


def test_frozen_wins_over_locked_in_the_summary(harness, locked):
    harness.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "attack"})
    assert harness.call("GET", "/v1/customers/JP1001", "agent").get_json()["status"] == "frozen"
    assert harness.check(pin=locked).get_json()["result"] == "frozen"


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("role", ["agent", "portal"])
def test_only_supervisors_freeze(harness, method, role):
    harness.register()
    assert harness.call(method, "/v1/customers/JP1001/freeze", role, {"reason": "x"}).status_code == 403


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_freeze_needs_a_reason(harness, method):
    harness.register()
    assert harness.call(method, "/v1/customers/JP1001/freeze", "admin", {}).status_code == 400


@pytest.mark.parametrize("method, path, role", [("GET", "lock", "agent"), ("DELETE", "lock", "admin"),
                                                ("POST", "freeze", "admin"), ("DELETE", "freeze", "admin")])
def test_unknown_customer_is_404(harness, method, path, role):
    response = harness.call(method, f"/v1/customers/NOPE/{path}", role, None if method == "GET" else REASON)
    assert response.status_code == 404


def test_locked_until_is_never_earlier_than_the_lock_s_real_end(harness):
    pin = harness.register()
    wrong = "000001" if pin != "000001" else "000002"
    harness.clock.advance(0.4)  # the lock will end at .400 of a second
    answers = [harness.check(pin=wrong).get_json() for _ in range(5)]
    shown = answers[-1]["locked_until"]
    assert shown == "2026-11-24T04:05:07Z"  # rounded up, not down to :06
    for path in ("/v1/customers/JP1001/lock", "/v1/customers/JP1001"):
        assert harness.call("GET", path, "agent").get_json()["locked_until"] == shown
    harness.clock.current = datetime.fromisoformat(shown.replace("Z", "+00:00"))  # retry at the shown time
    assert harness.check(pin=pin).get_json()["result"] == "verified"


def test_code_deadlines_are_rounded_up(harness):
    harness.register()
    harness.clock.advance(0.25)
    body = harness.call("POST", "/v1/customers/JP1001/codes", "agent", {}).get_json()
    assert body["expires_at"] == "2026-11-23T04:10:07Z" and body["resend_available_at"] == "2026-11-23T04:05:37Z"


def test_a_lock_only_the_counter_holds_shows_in_the_summary_the_lock_view_and_the_console(make_harness):
    # The counter locked the customer but the row never got the lock (its write failed): every view agrees.
    from verify_service.bootstrap import policy_from

    harness = make_harness("postgres_redis")
    harness.register()
    harness.services.users.create("sam", "supervisor", "a long enough password")
    policy = policy_from(harness.services.settings)
    for _ in range(policy.threshold):
        harness.services.counter.record_failure("JP1001", harness.clock.now(), policy)
    summary = harness.call("GET", "/v1/customers/JP1001").get_json()
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()
    assert summary["status"] == "locked" and lock["locked"] is True
    assert summary["locked_until"] == lock["locked_until"] is not None
    web = harness.client
    web.set_cookie("lang", "en")
    page = web.get("/console/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    web.post("/console/login", data={"username": "sam", "password": "a long enough password", "csrf_token": token})
    page = web.get("/console/customers?account_id=JP1001").get_data(as_text=True)
    assert 'class="big status-locked"' in page
