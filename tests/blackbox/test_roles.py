"""API.md, Roles and Conventions: 401 for missing/unknown/revoked keys, 403 for a key without the role."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pytest

from tests.blackbox.conftest import ROLES, Service, expect, expect_error


@dataclass
class Endpoint:
    """One in-scope endpoint: how to build a valid request and which roles may call it."""

    name: str
    method: str
    allowed: tuple[str, ...]
    build: Callable[[Service, str], tuple[str, Any]]  # (service, account_id) -> (path, json body or None)
    ok_status: tuple[int, ...] = (200,)


def _verification_id(service: Service, account_id: str) -> str:
    body = service.check_ok(account_id, "258147")
    return str(body["verification_id"])


def _frozen(service: Service, account_id: str) -> tuple[str, Any]:
    expect(service.request("POST", f"/v1/customers/{account_id}/freeze", role="admin",
                           json_body={"reason": "suspected takeover"}), 200)
    return f"/v1/customers/{account_id}/freeze", {"reason": "resolved"}


ENDPOINTS = [
    Endpoint("put_customer", "PUT", ("portal",),
             lambda s, a: (f"/v1/customers/{a}", {"phone": "+819012345679"})),
    Endpoint("get_customer", "GET", ("agent", "portal", "admin"), lambda s, a: (f"/v1/customers/{a}", None)),
    Endpoint("get_pin", "GET", ("portal",), lambda s, a: (f"/v1/customers/{a}/pin", None)),
    Endpoint("rotate_pin", "POST", ("portal",), lambda s, a: (f"/v1/customers/{a}/pin/rotate", None),
             (200, 201)),
    Endpoint("check", "POST", ("agent",), lambda s, a: ("/v1/verifications", {
        "account_id": a, "pin": "258147", "channel": "phone", "agent_id": "agent-42"})),
    Endpoint("get_verification", "GET", ("agent", "admin"),
             lambda s, a: (f"/v1/verifications/{_verification_id(s, a)}", None)),
    Endpoint("get_lock", "GET", ("agent", "admin"), lambda s, a: (f"/v1/customers/{a}/lock", None)),
    Endpoint("unlock", "DELETE", ("admin", "portal"),
             lambda s, a: (f"/v1/customers/{a}/lock", {"reason": "customer signed in"})),
    Endpoint("freeze", "POST", ("admin",),
             lambda s, a: (f"/v1/customers/{a}/freeze", {"reason": "suspected takeover"})),
    Endpoint("unfreeze", "DELETE", ("admin",), _frozen),
    Endpoint("audit", "GET", ("admin",), lambda s, a: ("/v1/audit", None)),
]

DENIED = [(e, role) for e in ENDPOINTS for role in ROLES if role not in e.allowed]
ALLOWED = [(e, role) for e in ENDPOINTS for role in e.allowed]


def _send(service: Service, endpoint: Endpoint, account_id: str, **auth: Any) -> Any:
    path, body = endpoint.build(service, account_id)
    kwargs = {"json_body": body} if body is not None else {}
    return service.request(endpoint.method, path, **auth, **kwargs)


@pytest.mark.parametrize("endpoint,role", DENIED, ids=[f"{e.name}-{r}" for e, r in DENIED])
def test_role_without_access_is_403_forbidden(service: Service, account: tuple[str, str], endpoint: Endpoint,
                                             role: str) -> None:
    account_id, _ = account
    response = _send(service, endpoint, account_id, role=role)
    expect_error(response, 403, "forbidden")


@pytest.mark.parametrize("endpoint,role", ALLOWED, ids=[f"{e.name}-{r}" for e, r in ALLOWED])
def test_role_with_access_is_served(service: Service, account: tuple[str, str], endpoint: Endpoint,
                                    role: str) -> None:
    account_id, _ = account
    response = _send(service, endpoint, account_id, role=role)
    assert response.status in endpoint.ok_status, f"{endpoint.name} as {role}: {response}"


AUTH_FAILURES = {
    "missing": {"role": None},
    "unknown": {"key": "vk_thisKeyWasNeverIssuedByTheService0000000"},
    "revoked": {"key": "<revoked>"},
}


@pytest.mark.parametrize("failure", list(AUTH_FAILURES))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_missing_unknown_or_revoked_key_is_401(service: Service, account: tuple[str, str], endpoint: Endpoint,
                                                failure: str) -> None:
    account_id, _ = account
    auth = dict(AUTH_FAILURES[failure])
    if auth.get("key") == "<revoked>":
        auth["key"] = service.keys["revoked"]
    response = _send(service, endpoint, account_id, **auth)
    expect_error(response, 401, "unauthorized")


@pytest.mark.parametrize("header", [
    "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer-{key}", "{key}", "Token {key}", "Bearer {key}x",
])
def test_malformed_authorization_header_is_401(service: Service, account: tuple[str, str], header: str) -> None:
    account_id, _ = account
    value = header.format(key=service.keys["admin"])
    response = service.request("GET", f"/v1/customers/{account_id}", role=None,
                               headers={"Authorization": value})
    expect_error(response, 401, "unauthorized")


def test_key_created_and_revoked_while_running_stops_working(timed: dict[str, Future[dict[str, Any]]]) -> None:
    seen = timed["live_key"].result(timeout=60)
    expect(seen["before"], 200)
    expect_error(seen["after"], 401, "unauthorized")


def test_health_endpoints_ignore_a_bad_key(service: Service) -> None:
    for path in ("/healthz", "/readyz"):
        response = service.request("GET", path, key="vk_bogus")
        assert response.status == 200, f"{path}: {response}"


def test_portal_check_is_refused_and_not_counted(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    expect_error(service.check(account_id, "258147", role="portal"), 403, "forbidden")
    expect_error(service.check(account_id, "258147", role="admin"), 403, "forbidden")
    assert service.lock_state(account_id)["failed_attempts"] == 0


def test_agent_cannot_rotate_or_read_pin(service: Service, account: tuple[str, str]) -> None:
    account_id, pin = account
    for role in ("agent", "admin"):
        rotate = service.request("POST", f"/v1/customers/{account_id}/pin/rotate", role=role)
        expect_error(rotate, 403, "forbidden")
        view = service.request("GET", f"/v1/customers/{account_id}/pin", role=role)
        expect_error(view, 403, "forbidden")
        assert pin not in rotate.text and pin not in view.text
    assert service.pin(account_id) == pin


def test_agent_cannot_freeze_or_unlock(service: Service, account: tuple[str, str]) -> None:
    account_id, _ = account
    expect_error(service.request("POST", f"/v1/customers/{account_id}/freeze", role="agent",
                                 json_body={"reason": "x"}), 403, "forbidden")
    expect_error(service.request("POST", f"/v1/customers/{account_id}/freeze", role="portal",
                                 json_body={"reason": "x"}), 403, "forbidden")
    assert service.customer(account_id)["status"] == "active"
