"""marshmallow schemas: every request is loaded and every response dumped through one of these."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from verify_service.config import SUPPORTED_LOCALES
from verify_service.domain.masking import normalise_phone
from verify_service.domain.model import rfc3339, rfc3339_deadline
from verify_service.domain.names import (
    AuditEventName,
    ChallengeStatus,
    CheckResult,
    CustomerStatus,
    DeliveryStatus,
    Entry,
    FactorResult,
)
from verify_service.domain.text import LINE_BREAKS, REFUSED_MESSAGE, refused_class


class FullMatch(validate.Regexp):
    """A regex that must match the whole string (`$` alone lets a trailing newline through).

    The pattern is written `^...$` so the OpenAPI document carries a portable regex.
    """

    def __call__(self, value: Any) -> Any:
        """Raise unless the entire value matches."""
        pattern: re.Pattern[str] = self.regex  # type: ignore[assignment]
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


ACCOUNT_ID = FullMatch(r"^[A-Za-z0-9_-]{1,64}$", error="Must be 1-64 characters of A-Z, a-z, 0-9, _ and -.")
VERIFICATION_ID = FullMatch(r"^ver_[A-Za-z0-9_-]{1,60}$")
CHALLENGE_ID = FullMatch(r"^chl_[A-Za-z0-9_-]{1,60}$")
APPROVAL_ID = FullMatch(r"^apr_[A-Za-z0-9_-]{1,60}$", error="Not an approval id.")
BLANK_MESSAGE = "Must not be blank."  # a Text field of only whitespace (the console says the value is missing)
# A key's name as `keys create` takes it; a checks page's cursor: microseconds since the epoch (17 digits at
# most: past year 9999 a datetime overflows), then the check's id.
KEY_NAME = FullMatch(r"^[A-Za-z0-9_.@-]{1,64}$", error="Must be an API key's name (1-64 of A-Z a-z 0-9 _ . @ -).")
CHECKS_CURSOR = FullMatch(r"^[0-9]{1,17}[.]ver_[A-Za-z0-9_-]{1,60}$", error="Not a valid cursor.")
# A phone call's reference: Twilio's CallSid (CA + 32 hex), Amazon Connect's or Genesys Cloud's contact id (a UUID).
CALL_REF = FullMatch(r"^[A-Za-z0-9_.:-]{1,64}$", error="Must be 1-64 characters of A-Z, a-z, 0-9, _ . : and -.")
SIX_DIGITS = FullMatch(r"^[0-9]{6}$", error="Must be exactly 6 digits.")
# Every valid number in E.164 (libphonenumber's metadata: 6 to 19 digits with the country code) matches this;
# whether it is a valid number is checked with libphonenumber (`normalise_phone`), which no pattern can state.
E164_SHAPE = r"^\+[1-9][0-9]{5,18}$"
# Enumerations come from the domain's named values (domain/names.py).
FACTOR_RESULTS = tuple(FactorResult)
RESULTS = tuple(CheckResult)
AUDIT_EVENTS = tuple(AuditEventName)


# Whitespace (str.isspace, Unicode White_Space) that Text lets through: the space separators (Zs); U+0085,
# U+2028 and U+2029 are refused with the controls; \t \n \r only in multiline Text.
# Written as regex class contents that mean the same in Python and ECMA-262 (the OpenAPI document's dialect).
_SPACES = r" \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"


class Text(fields.String):
    """Free text: no control, format (Cf) or line/paragraph separator (Zl, Zp) characters, no lone surrogates.

    Tabs and newlines only where `multiline`. The refused characters are domain.text's (REFUSED_RANGES).
    `blank=False` also refuses a string of only whitespace. The document's `pattern` states the same rules
    (except lone surrogates, which a portable pattern cannot name, and the refused characters above U+FFFF:
    see domain.text.refused_class): ^[whitespace]*[visible][allowed]*$.
    """

    def __init__(self, *args: Any, multiline: bool = False, blank: bool = True, **kwargs: Any):
        allow = LINE_BREAKS if multiline else ""
        refused, documented = refused_class(allow=allow), refused_class(allow=allow, bmp_only=True)
        spaces = _SPACES + allow
        pattern = f"^[^{documented}]*$" if blank else f"^[{spaces}]*[^{documented}{spaces}][^{documented}]*$"
        kwargs["metadata"] = {"pattern": pattern, **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)
        self.visible = None if blank else re.compile(f"[^{refused}{spaces}]")
        # What must not pass, in one search (a check's agent_id and ticket_ref come through here: no loop).
        self.refused = re.compile(f"[{refused}\ud800-\udfff]")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        """Refuse what a database, a log line or a customer's page should never receive."""
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.refused.search(text) is not None:
            raise ValidationError(REFUSED_MESSAGE)
        if self.visible is not None and self.visible.search(text) is None:
            raise ValidationError(BLANK_MESSAGE)
        return text


class UtcDateTime(fields.DateTime):
    """RFC 3339 UTC with a `Z` (`2026-11-23T04:05:06Z`); naive input is taken as UTC."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        """Whole seconds, UTC, `Z`."""
        return None if value is None else rfc3339(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        """Parse ISO 8601 and make it aware."""
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Not a valid datetime.") from None


class Deadline(UtcDateTime):
    """A deadline (`locked_until`, `expires_at`, ...): rounded up to the second, never earlier than the real one."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        """Whole seconds, rounded up."""
        return None if value is None else rfc3339_deadline(value)


def _enum(values: tuple[str, ...], **kwargs: Any) -> fields.String:
    """A string field limited to values (documented as an enum)."""
    return fields.String(validate=validate.OneOf(values), **kwargs)


class StrictSchema(Schema):
    """Base for request bodies: unknown fields are refused (marshmallow's default, kept explicit).

    `at_least_one` lists groups of fields of which a body must give at least one (not null); the OpenAPI
    document states each group in the schema's description and, as `anyOf` of `required`, in its
    `x-constraints` (verify_service.api.openapi.Converter).
    """

    at_least_one: ClassVar[tuple[tuple[str, ...], ...]] = ()
    # Pairs of fields a body must not give together (in `x-constraints`: `not` of `required`).
    not_together: ClassVar[tuple[tuple[str, str], ...]] = ()

    class Meta:
        unknown = "raise"

    @validates_schema
    def _at_least_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Each group of `at_least_one` has a field given."""
        for group in self.at_least_one:
            if all(data.get(name) is None for name in group):
                raise ValidationError(at_least_one_message(group), group[0])

    @validates_schema
    def _not_together(self, data: dict[str, Any], **kwargs: Any) -> None:
        """No pair of `not_together` is given in full."""
        for first, second in self.not_together:
            if data.get(first) is not None and data.get(second) is not None:
                raise ValidationError(not_together_message(first, second), second)


def at_least_one_message(group: tuple[str, ...] | list[str]) -> str:
    """The rule (and the 400's message) for a group of which a body must give one."""
    names = f"{', '.join(group[:-1])} and {group[-1]}" if len(group) > 1 else group[0]
    return f"Give at least one of {names}."


def not_together_message(first: str, second: str) -> str:
    """The rule (and the 400's message) for a pair a body must not give together."""
    return f"Give {first} or {second}, not both."


class CustomerPutSchema(StrictSchema):
    """PUT /v1/customers/{account_id}."""

    class Meta(StrictSchema.Meta):
        # Whether the PUT creates depends on the server's state, which no JSON Schema of the body can see.
        description = ("`phone` is required when the PUT creates the customer (no customer has this account_id "
                       "yet): without it the answer is 400 `validation_error` with `details.phone`. On an update "
                       "every field is optional, and `{}` changes nothing (200).")

    phone = fields.String(metadata={"description": "A valid number in E.164; required on creation",
                                    "pattern": E164_SHAPE, "example": "+819012345678"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=254),
                         metadata={"example": "a@example.com"})
    locale = _enum(SUPPORTED_LOCALES, metadata={"example": "ja"})

    @validates("phone")
    def _valid_phone(self, value: str, **kwargs: Any) -> None:
        """A valid number written in E.164."""
        if normalise_phone(value) is None:
            raise ValidationError("Must be a valid phone number in E.164 format, like +819012345678.")


class CustomerSummarySchema(Schema):
    """A customer as agents, the portal and supervisors see them (never a secret)."""

    account_id = fields.String()
    phone_masked = fields.String(metadata={"example": "+81 *******678"})
    email_masked = fields.String(allow_none=True, metadata={"example": "a***@example.com"})
    locale = fields.String()
    second_factor = _enum(("sms", "totp"))
    pin_issued_at = UtcDateTime(allow_none=True)
    status = _enum(tuple(CustomerStatus))
    locked_until = Deadline(allow_none=True)
    phone_changed_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


class ClosureSchema(Schema):
    """A closed account: its id, when it was closed, and what this call erased (empty on a repeat)."""

    account_id = fields.String()
    status = _enum(("closed",))
    closed_at = UtcDateTime()
    erased = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"example": {"codes": 2, "messages": 2, "contacts": 0, "approvals": 1}})


class PinSchema(Schema):
    """The support PIN, for the customer's own account page."""

    account_id = fields.String()
    pin = fields.String(metadata={"example": "583920"})
    issued_at = UtcDateTime()


class EmptySchema(StrictSchema):
    """A body with no fields (anything given is an unknown field)."""


class CheckRequestSchema(StrictSchema):
    """POST /v1/verifications."""

    at_least_one = (("pin", "code", "approval_id"),)
    # Both are the second-level factor: one check takes one of them.
    not_together = (("code", "approval_id"),)

    account_id = fields.String(required=True, validate=ACCOUNT_ID, metadata={"example": "JP1001"})
    pin = fields.String(validate=SIX_DIGITS, metadata={"example": "583920"})
    code = fields.String(validate=SIX_DIGITS, metadata={"example": "119204"})
    challenge_id = Text(validate=validate.Length(min=1, max=64))
    channel = _enum(("phone", "chat"), required=True)
    agent_id = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"example": "agent-42"})
    ticket_ref = Text(allow_none=True, validate=validate.Length(max=64), metadata={"example": "T-2026-000123"})
    approval_id = fields.String(validate=APPROVAL_ID,
                                metadata={"description": "An approval request the customer approved (instead of "
                                                         "a code)", "example": "apr_4Hq9..."})
    entry = _enum(tuple(Entry), metadata={
        "description": "Who typed the PIN: `agent` (an `agent` key's only entry and its default) or `keypad` (the "
                       "caller on the phone's keypad: an `ivr` key's only entry and its default). `link` is the "
                       "service's own entry link page's: any key claiming it gets 403"})
    call_ref = fields.String(allow_none=True, validate=CALL_REF, metadata={
        "description": "The phone call the check is made on (Twilio's CallSid, a voice platform's contact id); "
                       "GET /v1/verifications?call_ref= finds it", "example": "CA0123456789abcdef0123456789abcdef"})


class FactorsSchema(Schema):
    """What each factor answered (`approval` only when an approval_id was given)."""

    pin = _enum(FACTOR_RESULTS)
    code = _enum(FACTOR_RESULTS)
    approval = _enum(FACTOR_RESULTS)


class VerificationSchema(Schema):
    """The answer to a check, and its stored record."""

    verification_id = fields.String(metadata={"example": "ver_3q2..."})
    account_id = fields.String()
    verified = fields.Boolean()
    result = _enum(RESULTS)
    factors = fields.Nested(FactorsSchema)
    level = fields.Integer(metadata={"description": "0 not verified, 1 one factor, 2 PIN and code (or approval)"})
    attempts_remaining = fields.Integer()
    locked_until = Deadline(allow_none=True)
    checked_at = UtcDateTime()
    valid_until = Deadline(allow_none=True)
    entry = _enum(tuple(Entry), metadata={"description": "How the PIN was entered: `agent` (typed by an agent), "
                                                         "`keypad` (by the caller on the phone's keypad) or `link` "
                                                         "(by the customer on an entry link page)"})


class VerificationRecordSchema(VerificationSchema):
    """GET /v1/verifications/{id}: the record plus whether it is still valid."""

    valid = fields.Boolean()
    channel = fields.String()
    agent_id = fields.String()
    ticket_ref = fields.String(allow_none=True)
    call_ref = fields.String(allow_none=True)


class VerificationsQuerySchema(StrictSchema):
    """GET /v1/verifications query parameters: one call's checks (agent, admin), or an agent's or a key's (admin)."""

    at_least_one = (("call_ref", "agent_id", "key"),)
    not_together = (("call_ref", "agent_id"), ("call_ref", "key"), ("agent_id", "key"))
    call_ref = fields.String(validate=CALL_REF, metadata={"example": "CA0123456789abcdef0123456789abcdef"})
    agent_id = Text(validate=validate.Length(min=1, max=64), metadata={
        "description": "admin only: the checks that asserted this agent_id, newest first", "example": "agent-42"})
    key = fields.String(validate=KEY_NAME, metadata={
        "description": "admin only: the checks this API key made (its name, as in the audit trail's `actor`)",
        "example": "desk-agent"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=CHECKS_CURSOR, metadata={
        "description": "with agent_id or key: the previous page's `next_cursor`"})


class CallChecksSchema(Schema):
    """A call's checks, newest first."""

    verifications = fields.List(fields.Nested(VerificationRecordSchema))


class AdminVerificationRecordSchema(VerificationRecordSchema):
    """A check as admins list it: the record plus the API key that made it (never a PIN, code or secret)."""

    actor = fields.String(metadata={"description": "the API key (by name) that made the check"})


class VerificationPageSchema(Schema):
    """An agent's or a key's checks, newest first, a page at a time."""

    verifications = fields.List(fields.Nested(AdminVerificationRecordSchema))
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


class LockSchema(Schema):
    """A customer's lock state."""

    locked = fields.Boolean()
    locked_until = Deadline(allow_none=True)
    failed_attempts = fields.Integer()
    threshold = fields.Integer()


class ReasonSchema(StrictSchema):
    """Body of unlock, freeze and unfreeze."""

    # A reason of only whitespace is no reason.
    reason = Text(required=True, multiline=True, blank=False, validate=validate.Length(min=1, max=500))


class AuditQuerySchema(StrictSchema):
    """GET /v1/audit query parameters."""

    account_id = fields.String(validate=ACCOUNT_ID)
    event = _enum(AUDIT_EVENTS)
    since = UtcDateTime()
    until = UtcDateTime()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=FullMatch(r"^[0-9]{1,18}$", error="Not a valid cursor."))


class AuditEventSchema(Schema):
    """One event of the trail."""

    id = fields.Integer()
    at = UtcDateTime()
    event = fields.String()
    account_id = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    agent_id = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    ticket_ref = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(Schema):
    """A page of events, newest first."""

    events = fields.List(fields.Nested(AuditEventSchema))
    next_cursor = fields.String(allow_none=True)


class CodeSendSchema(StrictSchema):
    """POST /v1/customers/{account_id}/codes (every field optional)."""

    channel = _enum(("sms",), metadata={"description": "defaults to the customer's (sms)"})
    agent_id = Text(allow_none=True, validate=validate.Length(min=1, max=64))
    ticket_ref = Text(allow_none=True, validate=validate.Length(max=64))


class ChallengeSchema(Schema):
    """A sent one-time code (never the code itself)."""

    challenge_id = fields.String(metadata={"example": "chl_..."})
    account_id = fields.String()
    channel = fields.String()
    destination = fields.String(attribute="destination_masked", metadata={"example": "+81 *******678"})
    status = _enum(tuple(ChallengeStatus))
    delivery = _enum(tuple(DeliveryStatus))
    created_at = UtcDateTime()
    expires_at = Deadline()
    resend_available_at = Deadline()


class TotpEnrolmentSchema(Schema):
    """What the portal shows to set up an authenticator app (pending until confirmed)."""

    otpauth_uri = fields.String(metadata={"example": "otpauth://totp/Support:JP1001?secret=...&issuer=Support"})
    qr_svg = fields.String()


class TotpConfirmSchema(StrictSchema):
    """POST /v1/customers/{account_id}/totp/confirm."""

    code = fields.String(required=True, validate=SIX_DIGITS)


class ErrorBodySchema(Schema):
    """The inside of every error response."""

    code = fields.String(metadata={"example": "validation_error"})
    message = fields.String()
    details = fields.Dict()


class ErrorSchema(Schema):
    """Every error has this one shape."""

    error = fields.Nested(ErrorBodySchema)


class HealthSchema(Schema):
    """Liveness and readiness answers."""

    status = fields.String(metadata={"example": "ok"})
    checks = fields.Dict(keys=fields.String(), values=fields.String())
