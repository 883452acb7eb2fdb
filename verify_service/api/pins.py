"""The support PIN, for the portal (the customer's own account page) only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.http import account_id_arg, dump, load_body, requires, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import EmptySchema, PinSchema
from verify_service.domain.model import Actor

bp = Blueprint("pins", __name__)


@bp.get("/v1/customers/<account_id>/pin")
@requires("portal")
@documented("The support PIN for the customer's account page (issued if none); audited.", response=PinSchema,
            errors=(400, 404))
def view_pin(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Show the PIN (issuing one if none); audited."""
    return dump(PinSchema, services().customers.view_pin(account_id_arg(account_id), actor))


@bp.post("/v1/customers/<account_id>/pin/rotate")
@requires("portal")
@documented("Issue a new PIN; the old one stops working at once.", response=PinSchema, errors=(400, 404))
def rotate_pin(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Issue a new PIN; the old one stops working at once."""
    account_id = account_id_arg(account_id)
    load_body(EmptySchema)
    return dump(PinSchema, services().customers.rotate_pin(account_id, actor))
