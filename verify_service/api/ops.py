"""Liveness and readiness, without authentication."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.http import services
from verify_service.api.openapi import documented
from verify_service.api.schemas import HealthSchema
from verify_service.errors import DependencyUnavailable

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@documented("Liveness: 200 while the process runs.", response=HealthSchema)
def healthz() -> tuple[dict[str, Any], int]:
    """200 while the process runs."""
    return {"status": "ok"}, 200


@bp.get("/readyz")
@documented("Readiness: 200 when the database and Redis answer, else 503.", response=HealthSchema)
def readyz() -> tuple[dict[str, Any], int, dict[str, str]] | tuple[dict[str, Any], int]:
    """200 when the database and (if configured) Redis answer, else 503."""
    checks = {}
    for name, ping in (("database", services().db.ping), ("counters", services().counter.ping)):
        try:
            ping()
            checks[name] = "ok"
        except DependencyUnavailable:
            checks[name] = "unavailable"
    if all(value == "ok" for value in checks.values()):
        return {"status": "ok", "checks": checks}, 200
    body = {"error": {"code": "service_unavailable", "message": "A dependency is not answering.",
                      "details": {"checks": checks}}}
    return body, 503, {"Retry-After": "2"}
