"""Phone numbers and e-mail addresses as agents may see them."""

from __future__ import annotations

import phonenumbers


def normalise_phone(raw: str) -> str | None:
    """The E.164 form of a valid number written in E.164, else None."""
    if not raw.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164 if e164 == raw else None


def mask_phone(e164: str) -> str:
    """`+81 *******678`: the country code and the last three digits."""
    number = phonenumbers.parse(e164, None)
    national = e164[1 + len(str(number.country_code)) :]
    keep = national[-3:]
    return f"+{number.country_code} {'*' * (len(national) - len(keep))}{keep}"


def mask_email(email: str | None) -> str | None:
    """`a***@example.com`: the first letter and the domain."""
    if not email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"
