"""PUT/GET /v1/customers/{account_id}."""

import pytest


def test_register_returns_201_with_the_masked_summary(harness):
    response = harness.call("PUT", "/v1/customers/JP1001", "portal",
                            {"phone": "+819012345678", "email": "alice@example.com", "locale": "en"})
    assert response.status_code == 201
    body = response.get_json()
    assert body == {"account_id": "JP1001", "phone_masked": "+81 *******678", "email_masked": "a***@example.com",
                    "locale": "en", "second_factor": "sms", "pin_issued_at": "2026-11-23T04:05:06Z",
                    "status": "active", "locked_until": None, "phone_changed_at": None,
                    "created_at": "2026-11-23T04:05:06Z"}


def test_locale_defaults_to_the_configured_one(harness):
    body = harness.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "+819012345678"}).get_json()
    assert body["locale"] == "ja" and body["email_masked"] is None


def test_update_returns_200_and_records_a_phone_change(harness):
    harness.register()
    harness.clock.advance(60)
    response = harness.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "+14155552671"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone_masked"] == "+1 *******671" and body["phone_changed_at"] == "2026-11-23T04:06:06Z"


def test_update_with_the_same_phone_is_not_a_phone_change(harness):
    harness.register()
    body = harness.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "+819012345678", "locale": "en"}).get_json()
    assert body["phone_changed_at"] is None and body["locale"] == "en"


def test_creation_requires_a_phone(harness):
    response = harness.call("PUT", "/v1/customers/JP1001", "portal", {"email": "a@example.com"})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"phone": ["Missing data for required field."]}


@pytest.mark.parametrize("phone", ["09012345678", "+81 90-1234-5678", "+810", "819012345678", 819012345678])
def test_invalid_phone_is_400_validation_error(harness, phone):
    response = harness.call("PUT", "/v1/customers/JP1001", "portal", {"phone": phone})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "phone" in error["details"]


@pytest.mark.parametrize("body, field", [({"phone": "+819012345678", "email": "nope"}, "email"),
                                         ({"phone": "+819012345678", "locale": "fr"}, "locale"),
                                         ({"phone": "+819012345678", "pin": "123456"}, "pin")])
def test_bad_or_unknown_fields_are_refused(harness, body, field):
    response = harness.call("PUT", "/v1/customers/JP1001", "portal", body)
    assert response.status_code == 400 and field in response.get_json()["error"]["details"]


def test_refused_registration_writes_nothing(harness):
    harness.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "bad"})
    assert harness.call("GET", "/v1/customers/JP1001", "agent").status_code == 404


@pytest.mark.parametrize("role", ["agent", "portal", "admin"])
def test_every_role_reads_the_summary(harness, role):
    harness.register()
    body = harness.call("GET", "/v1/customers/JP1001", role).get_json()
    assert body["account_id"] == "JP1001" and "phone" not in body and "pin" not in body


def test_unknown_customer_is_404(harness):
    response = harness.call("GET", "/v1/customers/NOPE", "agent")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("account_id", ["a" * 65, "JP 1001", "JP.1001", "J%C3%A9", "JP%001"])
def test_malformed_account_id_is_400(harness, account_id):
    response = harness.call("GET", f"/v1/customers/{account_id}", "agent")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_only_the_portal_registers(harness, role):
    response = harness.call("PUT", "/v1/customers/JP1001", role, {"phone": "+819012345678"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
