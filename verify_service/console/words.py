"""What the console shows in words instead of the API's values: factor results, events, refusals.

Each word is a gettext call where it is used (built at call time, in the page's language), so the extractor sees
it in its context; a value with no words of its own reads as the API recorded it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from babel import Locale

from verify_service.api.schemas import BLANK_MESSAGE
from verify_service.console.i18n import gettext, pgettext, value_words
from verify_service.errors import (
    Conflict,
    DependencyUnavailable,
    NotFound,
    RateLimited,
    ValidationFailed,
    VerifyError,
)

# Full-width forms (U+FF01..U+FF5E) that a Japanese IME types for ASCII, and the ideographic space.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_DESTINATION_REASONS = frozenset({"premium_rate", "shared_cost", "toll_free", "satellite", "fixed_line", "voip",
                                  "personal_number", "pager", "uan", "voicemail", "unknown", "country"})
_SMS_CAP_REASONS = frozenset({"per_number", "per_key", "global"})
_FIELDS = ("account_id", "pin", "code", "ticket_ref", "channel", "reason")
# What marshmallow and our Text field say of a field left empty (the console then says "missing", not "invalid").
_EMPTY = frozenset({"Missing data for required field.", "Field may not be null.", BLANK_MESSAGE})
# Events whose details' `reason` is a person's words (a supervisor's, an agent's, the customer's), shown as such.
_REASON_EVENTS = frozenset({"customer_unlocked", "customer_frozen", "customer_unfrozen", "approval_requested",
                            "contact_reported", "agent_anomaly_cleared"})


def half_width(value: str) -> str:
    """Full-width letters, digits and signs (as a Japanese IME types them) as ASCII; console input only."""
    return value.translate(_HALF_WIDTH).strip()


def factor_words(result: Any, given: bool) -> str:
    """One factor's result in words: a factor not given reads "not entered", not "not checked"."""
    if str(result) == "not_checked" and not given:
        return gettext("not entered")
    return value_words("factor result", result) or str(result)


def second_factor_word(value: Any) -> str:
    """The customer's second factor in words."""
    words = {"sms": gettext("SMS code"), "totp": gettext("Authenticator app")}
    return words.get(str(value), str(value))


def channel_word(channel: str | None) -> str:
    """A contact channel in words (other values, as the API recorded them)."""
    words = {"phone": pgettext("channel", "Phone"), "chat": gettext("Chat")}  # "Phone" also names a number
    return words.get(channel or "", channel or "")


def status_word(status: str) -> str:
    """A customer's standing in words."""
    return value_words("customer status", status) or status


def approval_status_word(status: Any) -> str:
    """An approval request's status, and what it means for the agent."""
    return value_words("approval status", status) or str(status)


def contact_status_word(status: Any) -> str:
    """A contact's status in words ("expired" of a contact, not of a code: its own context)."""
    return value_words("contact status", status) or str(status)


def language_name(code: str) -> str:
    """A language's name in that language (the switch to it reads "English" or "日本語" in any page)."""
    return str(Locale.parse(code).get_display_name(code))


def event_label(name: str) -> str:
    """An audit event's name in words (the catalogs' "audit event" words); an event without any reads as its name
    with spaces."""
    return value_words("audit event", name) or name.replace("_", " ").capitalize()


def event_reason(name: str, details: dict[str, Any] | None) -> str:
    """The reason a person gave for an event (unlock, freeze, clear, report...), else nothing."""
    reason = (details or {}).get("reason")
    return str(reason) if name in _REASON_EVENTS and reason else ""


def action_done(action: str, account_id: str, reason: str) -> str:
    """What a supervisor's unlock, freeze or unfreeze did, with the reason they gave."""
    match action:
        case "unlock":
            return gettext("%(account)s unlocked; reason: %(reason)s", account=account_id, reason=reason)
        case "freeze":
            return gettext("%(account)s frozen; reason: %(reason)s", account=account_id, reason=reason)
        case "unfreeze":
            return gettext("%(account)s unfrozen; reason: %(reason)s", account=account_id, reason=reason)
    raise ValueError(f"no words for the action {action!r}")


def refusal_words(error: VerifyError, deadline: Callable[[datetime | None], str]) -> str:
    """A refusal in the agent's language, from its code and reason (never the API's English message)."""
    reason = str(error.details.get("reason", "")) if error.details else ""
    if words := _feature_reason(reason):  # whatever the status: a reason a feature explains itself
        return words
    if isinstance(error, NotFound):
        return gettext("No customer with that account number.")
    if isinstance(error, DependencyUnavailable):
        return gettext("The service is unavailable for a moment. Please try again.")
    if isinstance(error, RateLimited):
        return _rate_limited(reason, error.retry_after)
    if isinstance(error, Conflict) and (words := _conflict(reason, error, deadline)):
        return words
    if isinstance(error, ValidationFailed):
        return _validation_words(error)
    return gettext("Something went wrong: %(message)s", message=error.message)


def _feature_reason(reason: str) -> str | None:
    """A refusal's reason that a feature explains in words of its own, whatever the status (else None)."""
    words = {
        "approval_pending": gettext("The customer has not approved the request yet. Press Refresh, then verify."),
        "account_closed": gettext("This account was closed: it can no longer be verified or changed."),
        "agent_blocked": gettext("Your account is paused by security (checks, codes, contacts, approval requests "
                                 "and customer pages); ask your supervisor."),
    }
    return words.get(reason)


def _rate_limited(reason: str, seconds: Any) -> str:
    """Why sending (or anything else) must wait, and for how long."""
    if reason == "resend_cooldown":
        return gettext("A code was sent moments ago. You can send a new one in %(seconds)s s.", seconds=seconds)
    if reason == "per_customer":
        return gettext("Too many codes were sent to this customer in the last hour. Try again in %(seconds)s s.",
                       seconds=seconds)
    if reason in _SMS_CAP_REASONS:
        return gettext("SMS sending is paused because a sending limit was reached. Try again in %(seconds)s s.",
                       seconds=seconds)
    return gettext("Please wait %(seconds)s s and try again.", seconds=seconds)


def _conflict(reason: str, error: VerifyError, deadline: Callable[[datetime | None], str]) -> str | None:
    """Why the service refused in this state (None for a reason with no words of its own)."""
    words = {
        "frozen": gettext("The account is frozen for security: no code was sent. Transfer the call to the security "
                          "team."),
        "locked": gettext("The account is locked after too many failed checks: no code was sent."),
        "totp": gettext("This customer uses an authenticator app: ask the caller for the app's current code."),
    }
    if reason in words:
        return words[reason]
    if reason == "phone_changed":
        until = deadline(_parse_deadline(str(error.details.get("until", ""))))
        return gettext("The phone number changed recently: SMS codes are paused until %(until)s (SIM-swap guard). "
                       "Use the PIN or the authenticator app.", until=until)
    if reason in _DESTINATION_REASONS:
        return gettext("This customer's phone number cannot receive SMS codes. Use the PIN or the authenticator app.")
    return None


def _parse_deadline(value: str) -> datetime | None:
    """An RFC 3339 deadline from a refusal's details, or None."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def invalid_words(field: str) -> str:
    """What to fix in a form field the service refused ("form" for the form as a whole)."""
    words = {
        "account_id": gettext("Enter an account number: letters, digits, - and _ (up to 64)."),
        "pin": gettext("The PIN must be 6 digits."), "code": gettext("The code must be 6 digits."),
        "ticket_ref": gettext("The ticket reference is too long or has characters that are not allowed."),
        "channel": gettext("Choose phone or chat."),
        "reason": gettext("Enter a reason: it must not be blank or too long."),
    }
    return words.get(field) or gettext("Enter the PIN, a code, or both.")


def _validation_words(error: ValidationFailed) -> str:
    """What to fix in the first form field the validation refused (whole-form problems last)."""
    details = error.details or {}
    field = next((field for field in _FIELDS if field in details), "form")
    messages = details.get(field)
    empty = isinstance(messages, list) and bool(messages) and all(message in _EMPTY for message in messages)
    if empty and field == "ticket_ref":
        return gettext("Enter the ticket reference: a contact is always about a ticket.")
    return invalid_words(field)
