"""Seed many customers quickly (COPY), each with a sealed PIN; return a sample with their PINs."""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
import psycopg

from verify_service.adapters.crypto import KeyRingVault
from verify_service.domain.pins import generate_pin

# +81 90-1xxx-xxxx: a Japanese mobile range (phonenumbers says MOBILE for all of it), so the SMS guard lets
# sends through and the "code send" scenario measures sends rather than refusals.
MOBILE_PREFIX, MOBILE_DIGITS = "+81901", 7


def mobile_number(n: int) -> str:
    """The n-th seeded customer's phone number, a valid mobile number (several customers share one past 10**7)."""
    return f"{MOBILE_PREFIX}{n % 10 ** MOBILE_DIGITS:0{MOBILE_DIGITS}d}"


def check_mobile(number: str) -> None:
    """Refuse to seed numbers the SMS guard would not send to."""
    kind = phonenumbers.number_type(phonenumbers.parse(number))
    if kind != phonenumbers.PhoneNumberType.MOBILE:
        raise ValueError(f"seed number {number} is not a mobile number (phonenumbers type {kind})")


def seed(database_url: str, count: int, pin_keys: str, sample_size: int) -> list[tuple[str, str]]:
    """Insert `count` customers BENCH0000000..; the sample is spread evenly over them."""
    vault = KeyRingVault.from_setting(pin_keys)
    now = datetime.now(UTC)
    step = max(1, count // sample_size)
    sample: list[tuple[str, str]] = []
    columns = "account_id, phone, locale, second_factor, pin_key_id, pin_blob, pin_issued_at, created_at, updated_at"
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY customers ({columns}) FROM STDIN") as copy:
            for n in range(count):
                account_id, pin = f"BENCH{n:07d}", generate_pin()
                sealed = vault.seal(account_id, pin)
                phone = mobile_number(n)
                copy.write_row((account_id, phone, "ja", "sms", sealed.key_id, sealed.blob, now, now, now))
                if n % step == 0 and len(sample) < sample_size:
                    check_mobile(phone)
                    sample.append((account_id, pin))
        cursor.execute("ANALYZE customers")
    return sample
