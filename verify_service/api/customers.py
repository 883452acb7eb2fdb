"""Customers: register or update, and the non-secret summary."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.http import account_id_arg, dump, load_body, requires, schema_instance, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import ClosureSchema, CustomerPutSchema, CustomerSummarySchema, ReasonSchema
from verify_service.domain.masking import mask_email, mask_phone
from verify_service.domain.model import Actor, Customer

bp = Blueprint("customers", __name__)


def summary(customer: Customer) -> dict[str, Any]:
    """The summary agents may see: masked contact details, status, lock (decided as the lock view does)."""
    known = services().locks.standing(customer)
    body: dict[str, Any] = schema_instance(CustomerSummarySchema).dump({
        "account_id": customer.account_id, "phone_masked": mask_phone(customer.phone),
        "email_masked": mask_email(customer.email), "locale": customer.locale,
        "second_factor": customer.second_factor, "pin_issued_at": customer.pin_issued_at,
        "status": known.status, "locked_until": known.locked_until,
        "phone_changed_at": customer.phone_changed_at, "created_at": customer.created_at,
    })
    return body


@bp.put("/v1/customers/<account_id>")
@requires("portal")
@documented("Register a customer (201, a PIN is issued; `phone` required) or update one (200).", ok=(201, 200),
            response=CustomerSummarySchema, body=CustomerPutSchema, errors=(410,), explain={
                400: "Invalid JSON or a body that breaks a rule (`invalid_json`, `validation_error`). Also "
                     "`validation_error` with `details.phone` when the PUT would create the customer (no customer "
                     "has this account_id yet) and the body has no `phone`: `phone` is required on creation."})
def put_customer(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Register (201, a PIN is issued) or update (200)."""
    account_id = account_id_arg(account_id)
    changes = load_body(CustomerPutSchema)
    customer, created = services().customers.register_or_update(account_id, changes, actor)
    return summary(customer), 201 if created else 200


@bp.get("/v1/customers/<account_id>")
@requires("agent", "portal", "admin")
@documented("A customer's summary: masked contact details, status, lock; never a secret.",
            response=CustomerSummarySchema, errors=(400, 404))
def get_customer(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """The customer's summary (an agent key's read counts towards its distinct customers; a blocked one is refused)."""
    account_id = account_id_arg(account_id)
    with services().watch.acting(account_id, None, actor, "summary_read"):
        customer = services().customers.get(account_id)
    return summary(customer), 200


@bp.delete("/v1/customers/<account_id>")
@requires("portal", "admin")
@documented("Close the account: erase its PIN, phone, email, TOTP secret, codes, messages, contacts and approval "
            "requests; the id stays, closed, and every later call on it answers 410 `account_closed`. A repeat "
            "answers 200 again, with the first closure's `closed_at` and nothing erased.",
            response=ClosureSchema, body=ReasonSchema, errors=(404,), explain={
                400: "Invalid JSON, no `reason`, or a reason holding the customer's phone number or email address "
                     "(`validation_error`): the reason is kept in the audit trail, which holds no personal data."})
def close_customer(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Close the account (portal, admin); audited as `customer_closed` and sent as a security event."""
    account_id = account_id_arg(account_id)
    reason = load_body(ReasonSchema)["reason"]
    closure = services().closure.close(account_id, reason, actor)
    return dump(ClosureSchema, {"account_id": closure.account_id, "status": "closed", "closed_at": closure.closed_at,
                                "erased": closure.erased})
