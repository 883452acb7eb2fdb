"""What the console shows in words instead of the API's values: factor results, events, refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from babel import Locale

from verify_service.adapters.texts import N_
from verify_service.api.schemas import BLANK_MESSAGE
from verify_service.console.i18n import gettext, pgettext
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

# Audit events in words; an event without one reads as its name with spaces.
EVENTS: dict[str, str] = {
    "customer_registered": N_("Customer registered"), "customer_updated": N_("Details updated"),
    "pin_issued": N_("PIN issued"), "pin_viewed": N_("PIN viewed by the customer"), "pin_rotated": N_("PIN changed"),
    "pins_rekeyed": N_("PINs re-encrypted"), "verification_succeeded": N_("Check: verified"),
    "verification_failed": N_("Check: not verified"),
    "verification_blocked": N_("Check refused (locked or frozen)"), "customer_locked": N_("Locked"),
    "customer_unlocked": N_("Unlocked"), "customer_frozen": N_("Frozen"), "customer_unfrozen": N_("Unfrozen"),
    "customer_closed": N_("Account closed"),
    "code_sent": N_("Code sent"), "code_delivery_failed": N_("Code not delivered"),
    "totp_enrolled": N_("Authenticator app added"), "totp_removed": N_("Authenticator app removed"),
    "console_signed_in": N_("Console sign-in"), "console_signed_out": N_("Console sign-out"),
    "console_sign_in_failed": N_("Console sign-in failed"),
    "console_sign_in_throttled": N_("Console sign-in throttled"),
    "console_user_created": N_("Console user created"), "console_user_disabled": N_("Console user disabled"),
    "console_user_enabled": N_("Console user re-enabled"), "console_password_reset": N_("Console password reset"),
    "console_users_listed": N_("Console users listed"),
    "contact_started": N_("Contact started"), "contact_ended": N_("Contact ended"),
    "contact_reported": N_("Customer reported a contact as not theirs"),
    "agent_named": N_("Agent display name set"), "approval_requested": N_("Approval requested"),
    "approval_approved": N_("Customer approved a request"), "approval_denied": N_("Customer denied a request"),
    "approval_used": N_("Approval used in a check"), "agent_anomaly": N_("Agent activity alert"),
    "agent_anomaly_cleared": N_("Agent activity alert cleared"),
    "entry_link_created": N_("Entry link sent"), "entry_link_used": N_("Entry link used up"),
}
# What a factor's result reads as ("not_checked" of a factor the agent left empty reads "not entered").
FACTORS: dict[str, str] = {
    "match": N_("matched"), "mismatch": N_("wrong"), "expired": N_("expired"), "not_given": N_("not entered"),
    "not_checked": N_("not checked"),
}
SECOND_FACTORS: dict[str, str] = {"sms": N_("SMS code"), "totp": N_("Authenticator app")}
APPROVAL_STATUSES: dict[str, str] = {
    "pending": N_("PENDING: waiting for the customer to answer on their account page."),
    "approved": N_("APPROVED by the customer. Verify with it (with the PIN for level 2)."),
    "denied": N_("DENIED by the customer. Do not continue: the customer did not ask for this."),
    "expired": N_("EXPIRED. Send a new request if the customer is still with you."),
    "superseded": N_("REPLACED by a newer request."), "used": N_("USED by a check already."),
}

_DESTINATION_REASONS = frozenset({"premium_rate", "shared_cost", "toll_free", "satellite", "fixed_line", "voip",
                                  "personal_number", "pager", "uan", "voicemail", "unknown", "country"})
_SMS_CAP_REASONS = frozenset({"per_number", "per_key", "global"})
_REASONS = {
    "approval_pending": N_("The customer has not approved the request yet. Press Refresh, then verify."),
    "account_closed": N_("This account was closed: it can no longer be verified or changed."),
    "agent_blocked": N_("Your account is paused by security (checks, codes, contacts, approval requests and "
                        "customer pages); ask your supervisor."),
}
_FIELDS = ("account_id", "pin", "code", "ticket_ref", "channel", "reason")
# What marshmallow and our Text field say of a field left empty (the console then says "missing", not "invalid").
_EMPTY = frozenset({"Missing data for required field.", "Field may not be null.", BLANK_MESSAGE})
# Events whose details' `reason` is a person's words (a supervisor's, an agent's, the customer's), shown as such.
_REASON_EVENTS = frozenset({"customer_unlocked", "customer_frozen", "customer_unfrozen", "approval_requested",
                            "contact_reported", "agent_anomaly_cleared"})
ACTIONS_DONE: dict[str, str] = {
    "unlock": N_("%(account)s unlocked; reason: %(reason)s"), "freeze": N_("%(account)s frozen; reason: %(reason)s"),
    "unfreeze": N_("%(account)s unfrozen; reason: %(reason)s"),
}


def half_width(value: str) -> str:
    """Full-width letters, digits and signs (as a Japanese IME types them) as ASCII; console input only."""
    return value.translate(_HALF_WIDTH).strip()


def factor_words(result: Any, given: bool) -> str:
    """One factor's result in words: a factor not given reads "not entered", not "not checked"."""
    value = "not_given" if str(result) == "not_checked" and not given else str(result)
    return gettext(FACTORS[value]) if value in FACTORS else value


def second_factor_word(value: Any) -> str:
    """The customer's second factor in words."""
    return gettext(SECOND_FACTORS[str(value)]) if str(value) in SECOND_FACTORS else str(value)


def channel_word(channel: str | None) -> str:
    """A contact channel in words (other values, as the API recorded them)."""
    words = {"phone": pgettext("channel", "Phone"), "chat": gettext("Chat")}  # "Phone" also names a number
    return words.get(channel or "", channel or "")


def status_word(status: str) -> str:
    """A customer's standing in words."""
    words = {"active": pgettext("customer status", "ACTIVE"), "locked": gettext("LOCKED"),
             "frozen": gettext("FROZEN")}
    return words.get(status, status)


def approval_status_word(status: Any) -> str:
    """An approval request's status, and what it means for the agent."""
    return gettext(APPROVAL_STATUSES[str(status)]) if str(status) in APPROVAL_STATUSES else str(status)


def contact_status_word(status: Any) -> str:
    """A contact's status in words."""
    words = {"active": pgettext("contact status", "in progress"), "ended": gettext("ended"),
             "expired": gettext("expired")}
    return words.get(str(status), str(status))


def language_name(code: str) -> str:
    """A language's name in that language (the switch to it reads "English" or "日本語" in any page)."""
    return str(Locale.parse(code).get_display_name(code))


def event_label(name: str) -> str:
    """An audit event's name in words (an event without a label reads as its name with spaces)."""
    return gettext(EVENTS[name]) if name in EVENTS else name.replace("_", " ").capitalize()


def event_reason(name: str, details: dict[str, Any] | None) -> str:
    """The reason a person gave for an event (unlock, freeze, clear, report...), else nothing."""
    reason = (details or {}).get("reason")
    return str(reason) if name in _REASON_EVENTS and reason else ""


def action_done(action: str, account_id: str, reason: str) -> str:
    """What a supervisor's unlock, freeze or unfreeze did, with the reason they gave."""
    return gettext(ACTIONS_DONE[action], account=account_id, reason=reason)


def refusal_words(error: VerifyError, deadline: Callable[[datetime | None], str]) -> str:
    """A refusal in the agent's language, from its code and reason (never the API's English message)."""
    reason = str(error.details.get("reason", "")) if error.details else ""
    if reason in _REASONS:  # whatever the status: a reason a feature explains itself
        return gettext(_REASONS[reason])
    if isinstance(error, NotFound):
        return gettext("No customer with that account number.")
    if isinstance(error, DependencyUnavailable):
        return gettext("The service is unavailable for a moment. Please try again.")
    if isinstance(error, RateLimited):
        return _rate_limited(reason, error.retry_after)
    if isinstance(error, Conflict) and (words := _conflict(reason, error, deadline)):
        return words
    if isinstance(error, ValidationFailed):
        return invalid_words(_invalid_field(error))
    return gettext("Something went wrong: %(message)s", message=error.message)


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
        "frozen": N_("The account is frozen for security: no code was sent. Transfer the call to the security team."),
        "locked": N_("The account is locked after too many failed checks: no code was sent."),
        "totp": N_("This customer uses an authenticator app: ask the caller for the app's current code."),
    }
    if reason in words:
        return gettext(words[reason])
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
        "account_id": N_("Enter an account number: letters, digits, - and _ (up to 64)."),
        "pin": N_("The PIN must be 6 digits."), "code": N_("The code must be 6 digits."),
        "ticket_ref": N_("The ticket reference is too long or has characters that are not allowed."),
        "ticket_ref_missing": N_("Enter the ticket reference: a contact is always about a ticket."),
        "channel": N_("Choose phone or chat."), "form": N_("Enter the PIN, a code, or both."),
        "reason": N_("Enter a reason: it must not be blank or too long."),
    }
    return gettext(words.get(field, words["form"]))


def _invalid_field(error: ValidationFailed) -> str:
    """The first form field the validation refused (whole-form problems last)."""
    details = error.details or {}
    field = next((field for field in _FIELDS if field in details), "form")
    messages = details.get(field)
    empty = isinstance(messages, list) and bool(messages) and all(message in _EMPTY for message in messages)
    return "ticket_ref_missing" if empty and field == "ticket_ref" else field
