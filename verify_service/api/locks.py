"""Lock status, unlocks and freezes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.customers import summary
from verify_service.api.http import account_id_arg, dump, load_body, requires, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import CustomerSummarySchema, LockSchema, ReasonSchema
from verify_service.domain.model import Actor

bp = Blueprint("locks", __name__)


@bp.get("/v1/customers/<account_id>/lock")
@requires("agent", "admin")
@documented("Whether the customer is locked, until when, and the failure count.", response=LockSchema,
            errors=(400, 404))
def lock_status(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Whether the customer is locked, until when, and the failure count (an agent key's read counts its customer;
    a blocked one is refused)."""
    account_id = account_id_arg(account_id)
    with services().watch.acting(account_id, None, actor, "lock_view"):
        found = services().locks.status(account_id)
    return dump(LockSchema, found)


@bp.delete("/v1/customers/<account_id>/lock")
@requires("admin", "portal")
@documented("Unlock and reset the count; the reason is audited.", response=LockSchema, body=ReasonSchema,
            errors=(404,))
def unlock(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Unlock and reset the count, with a reason."""
    account_id = account_id_arg(account_id)
    reason = load_body(ReasonSchema)["reason"]
    return dump(LockSchema, services().locks.unlock(account_id, reason, actor))


@bp.post("/v1/customers/<account_id>/freeze")
@requires("admin")
@documented("Freeze a customer under suspected takeover: every check answers `frozen`.",
            response=CustomerSummarySchema, body=ReasonSchema, errors=(404,))
def freeze(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Freeze a customer under suspected takeover."""
    account_id = account_id_arg(account_id)
    reason = load_body(ReasonSchema)["reason"]
    return summary(services().locks.freeze(account_id, reason, actor)), 200


@bp.delete("/v1/customers/<account_id>/freeze")
@requires("admin")
@documented("Lift a freeze.", response=CustomerSummarySchema, body=ReasonSchema, errors=(404,))
def unfreeze(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Lift a freeze."""
    account_id = account_id_arg(account_id)
    reason = load_body(ReasonSchema)["reason"]
    return summary(services().locks.unfreeze(account_id, reason, actor)), 200
