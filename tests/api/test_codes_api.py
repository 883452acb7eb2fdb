"""One-time codes: sending, limits, the SIM-swap guard, and the code factor of checks."""

import hashlib
import hmac
import re

import pytest
import sqlalchemy as sa

from verify_service.adapters.sql.tables import outbox

SECRET = "sms-webhook-secret-for-tests"



@pytest.fixture
def h(make_harness, mode, gateway):
    return make_harness(mode, delivery_backend="webhook", sms_webhook_url=gateway.url + "/sms",
                        sms_webhook_secret=SECRET)


def send(h, account="JP1001", role="agent", **body):
    return h.call("POST", f"/v1/customers/{account}/codes", role, body or {"agent_id": "agent-42"})


def delivered_code(h, gateway):
    h.services.outbox.dispatch_due()
    return re.search(r"\b(\d{6})\b", gateway.received[-1].json()["text"]).group(1)


def check(h, account="JP1001", **factors):
    body = {"account_id": account, "channel": "chat", "agent_id": "chat-1", **factors}
    return h.call("POST", "/v1/verifications", "agent", body).get_json()


def queued(h):
    with h.services.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()


def test_send_answers_201_with_masked_destination_and_queued_delivery(h):
    h.register()
    response = send(h, ticket_ref="T-1")
    assert response.status_code == 201
    body = response.get_json()
    assert body["challenge_id"].startswith("chl_") and body["channel"] == "sms"
    assert body["destination"] == "+81 *******678" and body["delivery"] == "queued"
    assert body["expires_at"] == "2026-11-23T04:10:06Z" and body["resend_available_at"] == "2026-11-23T04:05:36Z"


def test_message_is_signed_json_in_the_customers_locale(h, gateway):
    h.register(locale="ja")
    challenge = send(h).get_json()
    code = delivered_code(h, gateway)
    request = gateway.received[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Verify-Signature"] == expected
    body = request.json()
    assert set(body) == {"message_id", "channel", "to", "text", "locale"}
    assert (body["channel"], body["to"], body["locale"]) == ("sms", "+819012345678", "ja")
    assert "【カスタマーサポート】" in body["text"] and "5分" in body["text"] and "Support" not in body["text"]
    status = h.call("GET", f"/v1/codes/{challenge['challenge_id']}", "admin").get_json()
    assert (status["status"], status["delivery"]) == ("pending", "sent") and code not in str(status)


def test_english_message_names_brand_purpose_validity_and_warning(make_harness, mode, gateway):
    h = make_harness(mode, delivery_backend="webhook", sms_webhook_url=gateway.url, brand_name="Acme Trade")
    h.register(locale="en")
    send(h)
    text = (h.services.outbox.dispatch_due(), gateway.received[-1].json()["text"])[1]
    assert "Acme Trade" in text and "identity" in text and "5 min" in text
    assert "only to Acme Trade support on a call or chat that you started" in text


def test_pin_and_code_verify_at_level_two_and_the_code_is_single_use(h, gateway):
    pin = h.register()
    send(h)
    code = delivered_code(h, gateway)
    body = check(h, pin=pin, code=code)
    assert (body["result"], body["level"], body["factors"]) == ("verified", 2, {"pin": "match", "code": "match"})
    again = check(h, pin=pin, code=code)
    assert again["result"] == "rejected" and again["factors"]["code"] == "mismatch"


def test_code_alone_verifies_at_level_one_and_by_challenge_id(h, gateway):
    h.register()
    first = send(h).get_json()
    code = delivered_code(h, gateway)
    body = check(h, code=code, challenge_id=first["challenge_id"])
    assert (body["result"], body["level"]) == ("verified", 1)
    assert h.call("GET", f"/v1/codes/{first['challenge_id']}", "agent").get_json()["status"] == "verified"


def test_a_challenge_of_another_customer_is_a_mismatch(h, gateway):
    h.register("A1")
    h.register("B2", phone="+819012345679")
    other = send(h, "B2").get_json()
    code = delivered_code(h, gateway)
    assert check(h, "A1", code=code, challenge_id=other["challenge_id"])["factors"]["code"] == "mismatch"


def test_an_expired_code_answers_expired_and_counts_as_a_failure(h, gateway):
    h.register()
    challenge = send(h).get_json()
    code = delivered_code(h, gateway)
    h.clock.advance(300)
    body = check(h, code=code)
    assert body["factors"]["code"] == "expired" and body["result"] == "rejected" and body["attempts_remaining"] == 4
    assert h.call("GET", f"/v1/codes/{challenge['challenge_id']}", "agent").get_json()["status"] == "expired"


def test_a_new_send_supersedes_the_previous_code(h, gateway):
    h.register()
    first = send(h).get_json()
    old = delivered_code(h, gateway)
    h.clock.advance(30)
    send(h)
    new = delivered_code(h, gateway)
    assert check(h, code=old, challenge_id=first["challenge_id"])["factors"]["code"] == "mismatch"
    assert h.call("GET", f"/v1/codes/{first['challenge_id']}", "agent").get_json()["status"] == "superseded"
    assert check(h, code=new)["result"] == "verified"


def test_a_code_dies_after_three_wrong_entries_each_counting_toward_lockout(h, gateway):
    h.register()
    challenge = send(h).get_json()
    code = delivered_code(h, gateway)
    wrong = "000000" if code != "000000" else "111111"
    for expected_left in (4, 3, 2):
        assert check(h, code=wrong)["attempts_remaining"] == expected_left
    dead = check(h, code=code)
    assert dead["factors"]["code"] == "mismatch" and dead["attempts_remaining"] == 1
    assert h.call("GET", f"/v1/codes/{challenge['challenge_id']}", "agent").get_json()["status"] == "killed"


def test_sending_a_new_code_never_resets_the_failure_count(h, gateway):
    pin = h.register()
    for _ in range(2):
        check(h, pin="000001" if pin != "000001" else "000002")
    send(h)
    assert h.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 2


def test_resend_within_the_cooldown_is_429_with_retry_after(h):
    h.register()
    send(h)
    h.clock.advance(10)
    response = send(h)
    assert response.status_code == 429 and response.headers["Retry-After"] == "20"
    assert response.get_json()["error"]["code"] == "rate_limited"
    h.clock.advance(20)
    assert send(h).status_code == 201


def test_more_than_five_sends_an_hour_is_429(h):
    h.register()
    for _ in range(5):
        assert send(h).status_code == 201
        h.clock.advance(60)
    response = send(h)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) == 3600 - 300
    h.clock.advance(3600 - 300)
    assert send(h).status_code == 201


@pytest.mark.parametrize("state", ["locked", "frozen"])
def test_locked_or_frozen_customers_get_409_and_nothing_is_sent(h, state):
    pin = h.register()
    if state == "locked":
        for _ in range(5):
            check(h, pin="000001" if pin != "000001" else "000002")
    else:
        h.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "attack"})
    before = queued(h)
    response = send(h)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert queued(h) == before


def test_sim_swap_guard_refuses_sms_after_a_phone_change(h):
    h.register()
    assert send(h).status_code == 201
    h.clock.advance(60)
    summary = h.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "+819087654321"}).get_json()
    assert summary["phone_changed_at"] == "2026-11-23T04:06:06Z"
    response = send(h)
    assert response.status_code == 409 and "phone number changed" in response.get_json()["error"]["message"]
    h.clock.advance(86400)
    assert send(h).status_code == 201


def test_country_allow_list_refuses_other_destinations(make_harness, mode, gateway):
    h = make_harness(mode, sms_allowed_countries=("JP",))
    h.register("JP1", phone="+819012345678")
    h.register("US1", phone="+14155552671")
    assert send(h, "JP1").status_code == 201
    response = send(h, "US1")
    assert response.status_code == 409 and "US" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("body", [{"channel": "pigeon"}, {"agent_id": ""}, {"ticket_ref": "x" * 65}, {"x": 1}])
def test_bad_send_bodies_are_400(h, body):
    h.register()
    assert send(h, **body).status_code == 400


def test_send_roles_and_unknown_customers(h):
    h.register()
    assert send(h, role="admin").status_code == 403
    assert send(h, role="portal").status_code == 201
    assert send(h, "NOPE").status_code == 404
    assert h.call("GET", "/v1/codes/chl_nope", "agent").status_code == 404
    assert h.call("GET", "/v1/codes/chl_nope", role=None).status_code == 401


def test_no_code_in_logs_audit_or_responses(h, gateway, caplog):
    caplog.set_level("DEBUG")
    h.register()
    challenge = send(h).get_json()
    code = delivered_code(h, gateway)
    texts = [str(challenge), str(h.call("GET", f"/v1/codes/{challenge['challenge_id']}", "agent").get_json())]
    texts.append(str(check(h, code="000000" if code != "000000" else "111111")))
    texts.append(str(h.call("GET", "/v1/audit?limit=500", "admin").get_json()))
    with h.services.db.engine.connect() as conn:
        texts.append(str(conn.execute(sa.text("SELECT * FROM challenges")).all()))
        texts.append(str(conn.execute(sa.text("SELECT * FROM outbox")).all()))
    texts.append(caplog.text)
    assert not [t for t in texts if code in t]


def test_a_new_send_leaves_an_expired_code_expired(h, gateway):
    h.register()
    first = send(h).get_json()
    h.clock.advance(400)
    send(h)
    assert h.call("GET", f"/v1/codes/{first['challenge_id']}", "agent").get_json()["status"] == "expired"


def test_another_customers_challenge_id_cannot_kill_their_code(h, gateway):
    h.register("A1")
    h.register("B2", phone="+819012345679")
    theirs = send(h, "B2").get_json()
    code = delivered_code(h, gateway)
    for _ in range(3):
        check(h, "A1", code="000000" if code != "000000" else "111111", challenge_id=theirs["challenge_id"])
    assert check(h, "B2", code=code)["result"] == "verified"


def test_simultaneous_sends_to_one_customer_respect_the_cooldown(h):
    from tests.api.test_concurrency import fire_together

    h.register()
    statuses = fire_together(10, lambda i: send(h).status_code)
    assert statuses.count(201) == 1 and statuses.count(429) == 9
    assert queued(h) == 1


def test_every_role_but_none_reads_a_code_status(h):
    h.register()
    challenge = send(h).get_json()["challenge_id"]
    for role in ("agent", "portal", "admin"):
        assert h.call("GET", f"/v1/codes/{challenge}", role).status_code == 200
