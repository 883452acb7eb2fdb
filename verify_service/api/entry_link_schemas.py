"""marshmallow schemas of entry links (the customer types the PIN on the service's own page)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from verify_service.api.schemas import Deadline, FullMatch, StrictSchema, Text, UtcDateTime
from verify_service.domain.names import EntryLinkStatus

ENTRY_LINK_ID = FullMatch(r"^eln_[A-Za-z0-9_-]{1,60}$", error="Not an entry link id.")
_STATUS = {"description": "`pending` (not used yet) and `rejected` (a wrong entry; the customer may try again) are "
                          "open; `verified`, `locked`, `frozen` (the check's answer) and `expired` are dead"}


class EntryLinkCreateSchema(StrictSchema):
    """POST /v1/customers/{account_id}/entry-links."""

    agent_id = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"example": "agent-42"})
    channel = fields.String(required=True, validate=validate.OneOf(("phone", "chat")),
                            metadata={"description": "The channel of the check the page makes", "example": "chat"})
    ticket_ref = Text(allow_none=True, validate=validate.Length(max=64), metadata={"example": "T-2026-000123"})


class EntryLinkSchema(Schema):
    """An entry link as its owner (and admins) see it: never its URL, which only the 201 answer holds."""

    entry_link_id = fields.String(attribute="link_id", metadata={"example": "eln_8Rk2..."})
    account_id = fields.String()
    agent_id = fields.String()
    channel = fields.String()
    ticket_ref = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(tuple(EntryLinkStatus)), metadata=_STATUS)
    tries = fields.Integer(metadata={"description": "Checks made through the link"})
    verification_id = fields.String(allow_none=True, metadata={
        "description": "The latest check made through the link (GET /v1/verifications/{id}: `entry` is `link`)"})
    created_at = UtcDateTime()
    expires_at = Deadline()
    used_at = UtcDateTime(allow_none=True, metadata={"description": "When the link died by its check's answer"})


class CreatedEntryLinkSchema(EntryLinkSchema):
    """The 201 answer: the link and its single-use URL, shown this once (the service keeps only a MAC of it)."""

    url = fields.String(metadata={"example": "https://verify.example.com/entry/Jx0...",
                                  "description": "Paste it into the chat; it is never shown again"})
