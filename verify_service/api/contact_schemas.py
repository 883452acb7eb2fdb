"""marshmallow schemas of reverse verification (contacts): requests loaded and responses dumped through these."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from verify_service.api.schemas import Deadline, FullMatch, StrictSchema, Text, UtcDateTime
from verify_service.domain.contacts import CHANNELS, PHRASE_ALPHABET, PHRASE_LENGTH
from verify_service.domain.names import ContactStatus

CONTACT_ID = FullMatch(r"^con_[A-Za-z0-9_-]{1,60}$")
PHRASE_EXAMPLE = "K7QM"


class ContactStartSchema(StrictSchema):
    """POST /v1/customers/{account_id}/contacts."""

    agent_id = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"example": "agent-42"})
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    ticket_ref = Text(required=True, blank=False, validate=validate.Length(min=1, max=64),
                      metadata={"example": "T-2026-000123",
                                "description": "One active contact per ticket; tickets are compared after NFKC, "
                                               "dashes as '-', case folding and trimming (T-100 = t-100 )"})


class ContactReportSchema(StrictSchema):
    """POST /v1/customers/{account_id}/contacts/{contact_id}/report (the reason is optional)."""

    reason = Text(allow_none=True, multiline=True, validate=validate.Length(max=500),
                  metadata={"example": "Someone called me asking for my card number."})


_PHRASE = {"example": PHRASE_EXAMPLE, "pattern": f"^[{PHRASE_ALPHABET}]{{{PHRASE_LENGTH}}}$",
           "description": "Read out by the agent; shown only while the contact is active (else null)"}


class ContactSchema(Schema):
    """A contact as the agent's tool sees it (its status now)."""

    contact_id = fields.String(metadata={"example": "con_..."})
    account_id = fields.String()
    agent_id = fields.String()
    display_name = fields.String(metadata={"description": "What the customer sees instead of the agent_id",
                                           "example": "Kato"})
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    ticket_ref = fields.String()
    phrase = fields.String(allow_none=True, metadata=_PHRASE)
    status = fields.String(validate=validate.OneOf(tuple(ContactStatus)))
    started_at = UtcDateTime()
    expires_at = Deadline()
    reported = fields.Boolean(metadata={"description": "The customer said this contact is not them"})
    reported_at = UtcDateTime(allow_none=True)


class ActiveContactSchema(Schema):
    """One active contact as the customer's account page shows it (no agent_id)."""

    contact_id = fields.String(metadata={"example": "con_..."})
    display_name = fields.String(metadata={"example": "Kato"})
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    ticket_ref = fields.String()
    phrase = fields.String(metadata=_PHRASE)
    started_at = UtcDateTime()
    expires_at = Deadline()
    reported = fields.Boolean()


class ActiveContactsSchema(Schema):
    """GET /v1/customers/{account_id}/contacts/active."""

    account_id = fields.String()
    contacts = fields.List(fields.Nested(ActiveContactSchema))
    message = fields.String(metadata={"description": "One sentence per contact (or a warning when there is "
                                                     "none) in the customer's locale"})
