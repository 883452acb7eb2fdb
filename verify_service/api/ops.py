"""Liveness and readiness, without authentication."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from verify_service.api.http import services
from verify_service.api.openapi import documented
from verify_service.api.schemas import HealthSchema
from verify_service.errors import DependencyUnavailable
from verify_service.serving import DRAINING_KEY

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@documented("Liveness: 200 while the process runs.", response=HealthSchema)
def healthz() -> tuple[dict[str, Any], int]:
    """200 while the process runs."""
    return {"status": "ok"}, 200


@bp.get("/readyz")
@documented("Readiness: 200 when the database and Redis answer and the process is not shutting down, else 503.",
            response=HealthSchema)
def readyz() -> tuple[dict[str, Any], int, dict[str, str]] | tuple[dict[str, Any], int]:
    """200 when the database and (if configured) Redis answer and no shutdown has begun, else 503."""
    checks = dependency_checks()
    if request.environ.get(DRAINING_KEY, False):
        details = {"checks": checks, "draining": True}
        message = "Shutting down: this instance serves what it has, but takes no new traffic."
    elif all(value == "ok" for value in checks.values()):
        return {"status": "ok", "checks": checks}, 200
    else:
        details, message = {"checks": checks}, "A dependency is not answering."
    body = {"error": {"code": "service_unavailable", "message": message, "details": details}}
    return body, 503, {"Retry-After": "2"}


def dependency_checks() -> dict[str, str]:
    """Ping the database and the counters' backend: name -> "ok" or "unavailable"."""
    checks = {}
    for name, ping in (("database", services().db.ping), ("counters", services().counter.ping)):
        try:
            ping()
            checks[name] = "ok"
        except DependencyUnavailable:
            checks[name] = "unavailable"
    return checks
