"""marshmallow schemas of approval requests (push approval on the account page)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from verify_service.api.schemas import APPROVAL_ID as APPROVAL_ID
from verify_service.api.schemas import Deadline, StrictSchema, Text, UtcDateTime
from verify_service.domain.names import ApprovalStatus


class ApprovalRequestSchema(StrictSchema):
    """POST /v1/customers/{account_id}/approvals."""

    # Shown to the customer on their account page: a reason of only whitespace says nothing.
    reason = Text(required=True, blank=False, validate=validate.Length(min=1, max=200),
                  metadata={"example": "change withdrawal address"})
    agent_id = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"example": "agent-42"})
    channel = fields.String(required=True, validate=validate.OneOf(("phone", "chat")))
    ticket_ref = Text(allow_none=True, validate=validate.Length(max=64), metadata={"example": "T-2026-000123"})


class ApprovalSchema(Schema):
    """An approval request as agents, supervisors and the portal see it."""

    approval_id = fields.String(metadata={"example": "apr_4Hq9..."})
    account_id = fields.String()
    status = fields.String(validate=validate.OneOf(tuple(ApprovalStatus)))
    reason = fields.String()
    agent_id = fields.String()
    channel = fields.String()
    ticket_ref = fields.String(allow_none=True)
    created_at = UtcDateTime()
    expires_at = Deadline()
    answered_at = UtcDateTime(allow_none=True)


class PendingApprovalSchema(Schema):
    """One pending request on the account page."""

    approval_id = fields.String()
    reason = fields.String()
    channel = fields.String()
    ticket_ref = fields.String(allow_none=True)
    created_at = UtcDateTime()
    expires_at = Deadline()


class PendingApprovalsSchema(Schema):
    """GET /v1/customers/{account_id}/approvals/pending."""

    account_id = fields.String()
    approvals = fields.List(fields.Nested(PendingApprovalSchema))
    message = fields.String(metadata={"description": "One sentence for the customer, in their locale",
                                      "example": "There is nothing to approve."})


class ApprovalAnswerSchema(StrictSchema):
    """POST /v1/customers/{account_id}/approvals/{approval_id}/answer."""

    answer = fields.String(required=True, validate=validate.OneOf(("approve", "deny")))
