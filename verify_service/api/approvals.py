"""Approval requests: the agent asks, the customer answers on their account page (portal)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.approval_schemas import (
    APPROVAL_ID,
    ApprovalAnswerSchema,
    ApprovalRequestSchema,
    ApprovalSchema,
    PendingApprovalsSchema,
)
from verify_service.api.http import account_id_arg, dump, load_body, path_id, requires, schema_instance, services
from verify_service.api.openapi import documented
from verify_service.domain.approvals import ApprovalAsk
from verify_service.domain.model import Actor, Approval

bp = Blueprint("approvals", __name__)


def approval_body(approval: Approval) -> dict[str, Any]:
    """An approval with its status as of now."""
    body: dict[str, Any] = schema_instance(ApprovalSchema).dump(approval)
    body["status"] = approval.status_at(services().clock.now())
    return body


@bp.post("/v1/customers/<account_id>/approvals")
@requires("agent")
@documented("Ask the signed-in customer to approve a request on their account page (replaces a pending one).",
            ok=201, response=ApprovalSchema, body=ApprovalRequestSchema, errors=(404, 409, 429))
def request_approval(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Send an approval request (201); the customer's previous pending one is superseded."""
    account_id = account_id_arg(account_id)
    ask = ApprovalAsk(account_id=account_id, **load_body(ApprovalRequestSchema))
    return approval_body(services().approvals.request(ask, actor)), 201


@bp.get("/v1/customers/<account_id>/approvals/pending")
@requires("portal")
@documented("The customer's pending approval requests and a sentence to show them, in their locale.",
            response=PendingApprovalsSchema, errors=(400, 404))
def pending_approvals(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """What the account page shows the signed-in customer."""
    return dump(PendingApprovalsSchema, services().approvals.pending(account_id_arg(account_id)))


@bp.post("/v1/customers/<account_id>/approvals/<approval_id>/answer")
@requires("portal")
@documented("Approve or deny a pending request; a deny counts as a failed attempt toward the lockout.",
            response=ApprovalSchema, body=ApprovalAnswerSchema, errors=(404, 409))
def answer_approval(account_id: str, approval_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """The customer's answer (200 with the request's new status)."""
    account_id = account_id_arg(account_id)
    answer = load_body(ApprovalAnswerSchema)["answer"]  # a missing body is 400 whatever the id
    approval_id = path_id(approval_id, APPROVAL_ID, "approval request")
    return approval_body(services().approvals.answer(account_id, approval_id, answer, actor)), 200


@bp.get("/v1/approvals/<approval_id>")
@requires("agent", "admin")
@documented("An approval request's status: pending, approved, denied, expired, superseded or used.",
            response=ApprovalSchema, errors=(404,))
def get_approval(approval_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """One request (never anything secret: the reason is what the customer was shown)."""
    return approval_body(services().approvals.get(path_id(approval_id, APPROVAL_ID, "approval request"))), 200
