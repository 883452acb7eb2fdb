"""SMS pumping guard over HTTP: refused number types, and hourly caps per number, per key and overall."""

import pytest
import sqlalchemy as sa

from tests.api.test_codes_api import queued, send
from tests.api.test_concurrency import fire_together

SHARED = "+819011112222"


@pytest.fixture
def h(make_harness, mode):
    return make_harness(mode)


def refused(h, reason):
    text = h.client.get("/metrics").get_data(as_text=True)
    line = next(line for line in text.splitlines() if line.startswith(f'verify_sms_refused_total{{reason="{reason}"}}'))
    return float(line.split()[-1])


@pytest.mark.parametrize("phone,reason", [
    ("+19005551234", "premium_rate"), ("+447012345678", "personal_number"), ("+881612345678", "satellite"),
    ("+8823421234", "satellite"), ("+883510012345", "satellite"), ("+80012345678", "toll_free"),
    ("+80812345678", "shared_cost"), ("+81312345678", "fixed_line"), ("+815012345678", "voip"),
    ("+447640123456", "pager"), ("+81570012345", "uan"),
])
def test_sms_to_a_number_that_costs_or_cannot_receive_it_is_409_and_nothing_is_queued(h, phone, reason):
    h.register(phone=phone)  # registration still accepts it (calls may go there): only SMS is refused
    before = refused(h, reason)
    response = send(h)
    error = response.get_json()["error"]
    assert response.status_code == 409 and error["code"] == "conflict" and error["details"] == {"reason": reason}
    assert "mobile" in error["message"] and phone[4:] not in error["message"] and phone[-3:] in error["message"]
    assert queued(h) == 0 and refused(h, reason) == before + 1


def test_an_allow_list_of_jp_and_us_still_refuses_a_us_premium_rate_number(make_harness, mode):
    h = make_harness(mode, sms_allowed_countries=("JP", "US"))
    h.register("US1", phone="+14155552671")
    h.register("US900", phone="+19005551234")
    assert send(h, "US1").status_code == 201
    response = send(h, "US900")
    assert response.status_code == 409 and response.get_json()["error"]["details"] == {"reason": "premium_rate"}


def test_a_customer_with_a_fixed_line_phone_registers_and_reads_but_gets_no_sms(h):
    h.register(phone="+81312345678")
    assert h.call("GET", "/v1/customers/JP1001", "agent").get_json()["phone_masked"] == "+81 ******678"
    assert send(h).status_code == 409


def register_sharing(h, count, phone=SHARED):
    for n in range(count):
        h.register(f"C{n}", phone=phone)


def test_thirty_customers_sharing_a_number_get_the_cap_then_429_until_the_first_send_leaves_the_hour(h):
    register_sharing(h, 30)
    statuses = []
    for n in range(30):
        statuses.append(send(h, f"C{n}").status_code)
        h.clock.advance(1)
    assert statuses == [201] * 10 + [429] * 20
    h.clock.advance(0.5)  # 30.5 s after the first send
    response = send(h, "C29")
    assert response.headers["Retry-After"] == str(3600 - 30)  # 3569.5 s, rounded up
    assert response.get_json()["error"] == {
        "code": "rate_limited", "details": {"reason": "per_number"},
        "message": "Too many codes were sent to this phone number in the last hour (across every customer using it)."}
    h.clock.advance(3569.5)
    assert send(h, "C29").status_code == 201
    assert send(h, "C28").status_code == 429  # the second send is still inside the hour


def test_simultaneous_sends_to_a_shared_number_never_pass_the_cap(h):
    register_sharing(h, 30)
    statuses = fire_together(30, lambda n: send(h, f"C{n}").status_code)
    assert statuses.count(201) == 10 and statuses.count(429) == 20
    assert queued(h) == 10


def test_other_numbers_are_unaffected_by_one_numbers_cap(make_harness, mode):
    h = make_harness(mode, sms_max_per_number_per_hour=2)
    register_sharing(h, 3)
    h.register("OTHER", phone="+819033334444")
    assert [send(h, f"C{n}").status_code for n in range(3)] == [201, 201, 429]
    assert send(h, "OTHER").status_code == 201


def test_one_api_key_past_its_hourly_cap_is_429_and_other_keys_still_send(make_harness, mode):
    h = make_harness(mode, sms_max_per_key_per_hour=3)
    for n in range(5):
        h.register(f"K{n}", phone=f"+8190555500{n:02d}")
    assert [send(h, f"K{n}").status_code for n in range(3)] == [201, 201, 201]
    h.clock.advance(600)
    response = send(h, "K3")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3000"
    assert response.get_json()["error"]["details"] == {"reason": "per_key"}
    assert send(h, "K3", role="portal").status_code == 201


def test_the_global_cap_refuses_every_key_and_is_counted_for_alerts(make_harness, mode):
    h = make_harness(mode, sms_max_per_hour=4)
    for n in range(6):
        h.register(f"G{n}", phone=f"+8190666600{n:02d}")
    assert [send(h, f"G{n}", role=("agent", "portal")[n % 2]).status_code for n in range(4)] == [201] * 4
    before = refused(h, "global")
    h.clock.advance(120.25)
    for role in ("agent", "portal"):
        response = send(h, "G4", role=role)
        assert response.status_code == 429 and response.headers["Retry-After"] == str(3600 - 120)
        assert response.get_json()["error"]["details"] == {"reason": "global"}
    assert refused(h, "global") == before + 2
    h.clock.advance(3600 - 120.25)
    assert send(h, "G4").status_code == 201


def test_the_destination_is_stored_only_as_a_keyed_hash_with_the_sending_key(h):
    register_sharing(h, 2)
    send(h, "C0")
    send(h, "C1", role="portal")
    with h.services.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM challenges ORDER BY account_id")).mappings().all()
    macs = {bytes(row["destination_mac"]) for row in rows}
    assert len(macs) == 1 and len(next(iter(macs))) == 32
    assert [row["actor"][:6] for row in rows] == ["agent-", "portal"]
    assert SHARED[1:] not in str([dict(row) for row in rows]) and b"9011112222" not in next(iter(macs))
