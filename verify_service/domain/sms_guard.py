"""SMS pumping guard: which numbers may get an SMS code, and hourly caps per number, per API key and overall."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import phonenumbers
from phonenumbers import PhoneNumberType

from verify_service.domain.masking import mask_phone
from verify_service.domain.ports import PinVault, SendLog
from verify_service.errors import Conflict, RateLimited

HOUR = timedelta(hours=1)
# phonenumbers' region for the non-geographic "global" codes: +800 freephone, +808 shared cost,
# +870 Inmarsat, +878 UPT, +881 satellite, +882/+883 international networks, +888, +979 premium.
NON_GEOGRAPHIC = "001"
# FIXED_LINE_OR_MOBILE is where the numbering plan cannot tell (the US, Canada...): it must pass.
SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# Types whose reason wins even in the non-geographic region (+979 premium, +808 shared cost, +800 freephone).
_COST_REASONS = {PhoneNumberType.PREMIUM_RATE: "premium_rate", PhoneNumberType.SHARED_COST: "shared_cost",
                 PhoneNumberType.TOLL_FREE: "toll_free"}
_OTHER_REASONS = {PhoneNumberType.FIXED_LINE: "fixed_line", PhoneNumberType.VOIP: "voip",
                  PhoneNumberType.PERSONAL_NUMBER: "personal_number", PhoneNumberType.PAGER: "pager",
                  PhoneNumberType.UAN: "uan", PhoneNumberType.VOICEMAIL: "voicemail"}
_LABELS = {"premium_rate": "a premium-rate", "shared_cost": "a shared-cost", "toll_free": "a freephone",
           "satellite": "a satellite or international-network", "fixed_line": "a fixed-line", "voip": "a VoIP",
           "personal_number": "a personal (forwarding)", "pager": "a pager", "uan": "a universal access",
           "voicemail": "a voicemail", "unknown": "an unclassified"}
CAP_REASONS = ("per_number", "per_key", "global")
REFUSAL_REASONS = (*_LABELS, "country", *CAP_REASONS)
_CAP_MESSAGES = {
    "per_number": "Too many codes were sent to this phone number in the last hour (across every customer using it).",
    "per_key": "This API key sent too many codes in the last hour.",
    "global": "The service's hourly SMS limit is reached; codes are paused.",
}


def destination_refusal(e164: str) -> str | None:
    """Why no SMS may go to this number (a reason label), or None for a mobile number."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "unknown"  # registration validates numbers, but a guard fails closed
    kind = phonenumbers.number_type(number)
    if kind in _COST_REASONS:
        return _COST_REASONS[kind]
    if phonenumbers.region_code_for_number(number) == NON_GEOGRAPHIC:
        return "satellite"
    if kind in SMS_TYPES:
        return None
    return _OTHER_REASONS.get(kind, "unknown")


def destination_mac_input(e164: str) -> str:
    """What the stored destination MAC covers (prefixed, so it never collides with a code's MAC)."""
    return f"sms-destination:{e164}"


@dataclass(frozen=True)
class SmsCaps:
    """Hourly SMS caps: per destination number (across customers), per API key, and for the whole service."""

    per_number: int = 10
    per_key: int = 1000
    total: int = 10000


def _no_op(reason: str) -> None:
    """Default refusal hook."""


class SmsGuard:
    """Refuses SMS codes to numbers that cost or cannot receive them, and past the hourly caps."""

    def __init__(self, *, caps: SmsCaps, vault: PinVault, on_refused: Callable[[str], None] = _no_op):
        self._caps, self._vault, self._on_refused = caps, vault, on_refused

    def check_destination(self, e164: str, allowed_countries: tuple[str, ...]) -> None:
        """409 for a number type that must not get SMS, or a country outside the allow-list."""
        reason = destination_refusal(e164)
        if reason is not None:
            self._refuse(Conflict(f"The customer's phone {mask_phone(e164)} is {_LABELS[reason]} number; "
                                  "SMS codes are sent only to mobile numbers.", details={"reason": reason}))
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
        if allowed_countries and region not in allowed_countries:
            self._refuse(Conflict(f"SMS to numbers in {region} is not allowed here.", details={"reason": "country"}))

    def destination_mac(self, e164: str) -> bytes:
        """The keyed hash sends to this number are counted by (never the number itself)."""
        return self._vault.mac(destination_mac_input(e164)).blob

    def enforce_caps(self, log: SendLog, destination_mac: bytes, key_name: str, now: datetime) -> None:
        """429 past any hourly cap; the destination is locked first, so its count is exact."""
        log.lock_destination(destination_mac)
        since = now - HOUR
        self._over("per_number", log.nth_latest_send(since, self._caps.per_number, destination_mac=destination_mac),
                   now)
        self._over("per_key", log.nth_latest_send(since, self._caps.per_key, actor=key_name), now)
        self._over("global", log.nth_latest_send(since, self._caps.total), now)

    def _over(self, reason: str, nth_latest: datetime | None, now: datetime) -> None:
        """Refuse when the cap's n-th newest send is still inside the hour, until it leaves it."""
        if nth_latest is not None:
            wait = (nth_latest + HOUR - now).total_seconds()  # RetryLater rounds it up
            self._refuse(RateLimited(_CAP_MESSAGES[reason], retry_after=wait, details={"reason": reason}))

    def _refuse(self, refusal: Conflict | RateLimited) -> NoReturn:
        """Count the refusal by its reason, then raise it."""
        self._on_refused(str(refusal.details["reason"]))
        raise refusal
