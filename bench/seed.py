"""Seed many customers quickly (COPY), each with a sealed PIN; return a sample with their PINs."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from verify_service.adapters.crypto import KeyRingVault
from verify_service.domain.pins import generate_pin


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
                copy.write_row((account_id, f"+8190{n % 100000000:08d}", "ja", "sms", sealed.key_id, sealed.blob,
                                now, now, now))
                if n % step == 0 and len(sample) < sample_size:
                    sample.append((account_id, pin))
        cursor.execute("ANALYZE customers")
    return sample
