"""Auth, content types, sizes, methods and the single error shape."""

import pytest


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]["code"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_missing_or_unknown_key_is_401(harness, headers):
    response = harness.client.get("/v1/customers/JP1001", headers=headers)
    assert response.status_code == 401 and error_of(response) == "unauthorized"


def test_revoked_key_is_401_at_once(harness):
    key, secret = harness.services.keys.create("temp", ["agent"])
    assert harness.client.get("/v1/customers/X", headers={"Authorization": f"Bearer {secret}"}).status_code == 404
    harness.services.keys.revoke("temp")
    assert harness.client.get("/v1/customers/X", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_key_with_several_roles_has_each(harness):
    _, secret = harness.services.keys.create("multi", ["agent", "portal"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert harness.client.put("/v1/customers/M1", json={"phone": "+819012345678"}, headers=headers).status_code == 201
    assert harness.client.get("/v1/customers/M1/lock", headers=headers).status_code == 200


def test_body_that_is_not_json_is_415(harness):
    harness.register()
    response = harness.call("POST", "/v1/verifications", "agent", data="pin=1", content_type="text/plain")
    assert response.status_code == 415 and error_of(response) == "unsupported_media_type"


def test_malformed_json_is_400_invalid_json(harness):
    response = harness.call("POST", "/v1/verifications", "agent", data="{nope", content_type="application/json")
    assert response.status_code == 400 and error_of(response) == "invalid_json"


@pytest.mark.parametrize("body", ["[]", "42", "\"text\"", "null"])
def test_json_that_is_not_an_object_is_400(harness, body):
    response = harness.call("POST", "/v1/verifications", "agent", data=body, content_type="application/json")
    assert response.status_code == 400 and error_of(response) == "validation_error"


def test_body_over_64_kib_is_413(harness):
    response = harness.call("POST", "/v1/verifications", "agent", data="{" + " " * 70000 + "}",
                            content_type="application/json")
    assert response.status_code == 413 and error_of(response) == "payload_too_large"


def test_wrong_method_is_405(harness):
    response = harness.call("PATCH", "/v1/verifications", "agent")
    assert response.status_code == 405 and error_of(response) == "method_not_allowed"


def test_unknown_path_is_404_in_the_error_shape(harness):
    response = harness.client.get("/v1/nothing-here")
    assert response.status_code == 404 and error_of(response) == "not_found"


def test_health_and_readiness_need_no_key(harness):
    assert harness.client.get("/healthz").get_json() == {"status": "ok"}
    ready = harness.client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "counters": "ok"}
