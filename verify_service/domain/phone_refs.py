"""Keyed phone references: how audit events tell phone numbers apart without holding any of their digits.

Audit events outlive the account (hash-chained, archived for years, never rewritten), so they hold no part of a
number. `phone_ref` is a MAC under the newest VERIFY_PIN_KEYS key (held outside the database): the same number
gives the same reference under the same key (`phone_ref_key`), another number another one, and the database
alone cannot tie a reference back to a number. The country calling code (`+81`) is kept for fraud review: it
names a country, not a person.
"""

from __future__ import annotations

import phonenumbers

from verify_service.domain.ports import PinVault

REF_PREFIX = "ph_"
REF_HEX_CHARS = 16  # 64 bits: no collision to speak of among one service's numbers


def phone_ref_input(e164: str) -> str:
    """What the reference's MAC covers (its own prefix: never equal to an SMS destination's or a code's MAC)."""
    return f"audit-phone:{e164}"


def country_calling_code(e164: str) -> str:
    """`+81`: the country calling code alone, or `+` for a number that does not parse."""
    try:
        return f"+{phonenumbers.parse(e164, None).country_code}"
    except phonenumbers.NumberParseException:
        return "+"


def phone_ref(vault: PinVault, e164: str) -> tuple[str, str]:
    """`("ph_<16 hex>", key_id)`: the number's reference and the key it was made under."""
    mac = vault.mac(phone_ref_input(e164))
    return REF_PREFIX + mac.blob.hex()[:REF_HEX_CHARS], mac.key_id


def phone_details(vault: PinVault, e164: str) -> dict[str, str]:
    """What an audit event says of a number: `phone_ref`, `phone_ref_key` and `phone_country`."""
    ref, key_id = phone_ref(vault, e164)
    return {"phone_ref": ref, "phone_ref_key": key_id, "phone_country": country_calling_code(e164)}


def phone_change_details(vault: PinVault, old: str, new: str) -> dict[str, str]:
    """A phone change by reference: the new number's details plus `previous_phone_ref` and `previous_phone_country`."""
    previous, _ = phone_ref(vault, old)
    return {**phone_details(vault, new), "previous_phone_ref": previous,
            "previous_phone_country": country_calling_code(old)}
