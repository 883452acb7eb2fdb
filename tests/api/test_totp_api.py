"""Authenticator apps: enrolment, confirmation, one-time use, removal, RFC 6238 vectors."""

import base64
import urllib.parse
from datetime import UTC, datetime

import pyotp
import pytest
import sqlalchemy as sa

from verify_service.adapters.sql.tables import customers
from verify_service.domain.totp import matching_step


def enrol(h, account="JP1001"):
    response = h.call("POST", f"/v1/customers/{account}/totp", "portal")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    secret = urllib.parse.parse_qs(urllib.parse.urlparse(body["otpauth_uri"]).query)["secret"][0]
    return body, pyotp.TOTP(secret)


def code_at(totp, h, offset=0):
    return totp.at(h.clock.now().timestamp() + offset)


def check(h, **factors):
    body = {"account_id": "JP1001", "channel": "chat", "agent_id": "chat-1", **factors}
    return h.call("POST", "/v1/verifications", "agent", body).get_json()


def test_enrolment_returns_an_otpauth_uri_and_a_qr_svg(harness):
    harness.register()
    body, _ = enrol(harness)
    assert body["otpauth_uri"].startswith("otpauth://totp/") and "issuer=Customer%20Support" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg")
    summary = harness.call("GET", "/v1/customers/JP1001", "agent").get_json()
    assert summary["second_factor"] == "sms"  # pending until confirmed


def test_confirming_activates_the_app_and_the_confirming_code_cannot_be_replayed(harness):
    pin = harness.register()
    _, totp = enrol(harness)
    code = code_at(totp, harness)
    response = harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code})
    assert response.status_code == 200 and response.get_json()["second_factor"] == "totp"
    replay = check(harness, pin=pin, code=code)
    assert replay["factors"]["code"] == "mismatch" and replay["result"] == "rejected"
    harness.clock.advance(30)
    fresh = check(harness, pin=pin, code=code_at(totp, harness))
    assert (fresh["result"], fresh["level"]) == ("verified", 2)
    again = check(harness, pin=pin, code=code_at(totp, harness))
    assert again["factors"]["code"] == "mismatch"


def test_one_step_of_clock_drift_is_accepted_two_are_not(harness):
    harness.register()
    _, totp = enrol(harness)
    harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code_at(totp, harness)})
    harness.clock.advance(60)
    assert check(harness, code=code_at(totp, harness, -30))["result"] == "verified"
    harness.clock.advance(60)
    assert check(harness, code=code_at(totp, harness, +60))["factors"]["code"] == "mismatch"


def test_a_wrong_confirmation_code_is_a_409_mismatch_and_a_malformed_one_stays_400(harness):
    harness.register()
    _, totp = enrol(harness)
    wrong = "000000" if code_at(totp, harness) != "000000" else "111111"
    response = harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": wrong})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["details"]) == (409, "conflict", {"reason": "mismatch"})
    assert wrong not in response.get_data(as_text=True)
    for malformed in ("12345", "1234567", "12345a", "１２３４５６"):
        response = harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": malformed})
        error = response.get_json()["error"]
        assert (response.status_code, error["code"], list(error["details"])) == (400, "validation_error", ["code"])
    summary = harness.call("GET", "/v1/customers/JP1001", "portal").get_json()
    assert summary["second_factor"] == "sms"  # still pending: the right code confirms it
    response = harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code_at(totp, harness)})
    assert response.status_code == 200 and response.get_json()["second_factor"] == "totp"


def test_confirming_without_an_enrolment_is_a_409_not_pending(harness):
    harness.register()
    response = harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": "123456"})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["details"]) == (409, "conflict", {"reason": "not_pending"})


@pytest.mark.parametrize("role", ["portal", "admin"])
def test_removal_returns_codes_to_sms(harness, role):
    harness.register()
    _, totp = enrol(harness)
    harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code_at(totp, harness)})
    response = harness.call("DELETE", "/v1/customers/JP1001/totp", role)
    assert response.status_code == 204 and response.get_data() == b""
    assert harness.call("GET", "/v1/customers/JP1001", "agent").get_json()["second_factor"] == "sms"
    names = [e["event"] for e in harness.call("GET", "/v1/audit", "admin").get_json()["events"]]
    assert "totp_enrolled" in names and "totp_removed" in names


def test_totp_roles(harness):
    harness.register()
    assert harness.call("POST", "/v1/customers/JP1001/totp", "agent").status_code == 403
    assert harness.call("POST", "/v1/customers/JP1001/totp", "admin").status_code == 403
    assert harness.call("POST", "/v1/customers/JP1001/totp/confirm", "agent", {"code": "123456"}).status_code == 403
    assert harness.call("DELETE", "/v1/customers/JP1001/totp", "agent").status_code == 403
    assert harness.call("POST", "/v1/customers/NOPE/totp", "portal").status_code == 404


def test_a_totp_customer_needs_an_explicit_sms_channel_for_codes(harness):
    harness.register()
    _, totp = enrol(harness)
    harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code_at(totp, harness)})
    assert harness.call("POST", "/v1/customers/JP1001/codes", "agent", {}).status_code == 409
    assert harness.call("POST", "/v1/customers/JP1001/codes", "agent", {"channel": "sms"}).status_code == 201


def test_the_totp_secret_is_sealed_at_rest_and_never_in_agent_views(harness, caplog):
    harness.register()
    body, totp = enrol(harness)
    harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code_at(totp, harness)})
    with harness.services.db.engine.connect() as conn:
        stored = conn.execute(sa.select(customers.c.totp_blob)).scalar_one()
    secret = totp.secret
    assert secret.encode() not in stored and base64.b32decode(secret) not in stored
    views = str(harness.call("GET", "/v1/customers/JP1001", "agent").get_json())
    views += str(harness.call("GET", "/v1/audit", "admin").get_json()) + caplog.text
    assert secret not in views


RFC6238_SHA1 = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")]


@pytest.mark.parametrize("unix_time, eight_digits", RFC6238_SHA1)
def test_rfc6238_vectors_pass_through_the_totp_path(unix_time, eight_digits):
    secret = base64.b32encode(b"12345678901234567890").decode()
    now = datetime.fromtimestamp(unix_time, tz=UTC)
    assert matching_step(secret, eight_digits[-6:], now) == unix_time // 30
    assert pyotp.TOTP(secret, digits=8).at(unix_time) == eight_digits


def test_rfc6238_vector_checks_through_the_api(harness):
    """The service's TOTP check accepts the RFC's code for T=59 with the RFC's secret."""
    harness.register()
    vault = harness.services.vault
    secret = base64.b32encode(b"12345678901234567890").decode()
    with harness.services.uow(write=True) as uow:
        customer = uow.customers.get("JP1001", for_update=True)
        customer.totp, customer.second_factor = vault.seal("JP1001", secret, purpose="totp"), "totp"
        uow.customers.save(customer)
        uow.commit()
    harness.clock.current = datetime.fromtimestamp(59, tz=UTC)
    assert check(harness, code="287082")["result"] == "verified"


def test_the_app_code_works_while_an_sms_code_is_pending(harness):
    harness.register()
    _, totp = enrol(harness)
    harness.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": code_at(totp, harness)})
    assert harness.call("POST", "/v1/customers/JP1001/codes", "agent", {"channel": "sms"}).status_code == 201
    harness.clock.advance(30)
    assert check(harness, code=code_at(totp, harness))["result"] == "verified"
