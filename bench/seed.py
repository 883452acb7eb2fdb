"""Seed many customers quickly (COPY), each with a sealed PIN, and a stored history of checks (SQL, in bulk)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
import psycopg

from verify_service.adapters.crypto import KeyRingVault, _derive, parse_key_ring
from verify_service.domain.audit import GENESIS_HASH
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


# A stored history of checks, built by PostgreSQL itself, one round per check a customer has had: each round
# appends one check to every customer's chain (a verification record and its chained audit event, exactly the
# shapes a check through the service writes). The event's HMAC is computed in the statement from the chain's
# head, as HMAC-SHA256 written out as two SHA-256 calls (bench/minimal_app.py does the same), so `audit verify`
# checks the seeded events like the service's own.
HISTORY_ROUND = """
WITH s AS MATERIALIZED (
  SELECT x.*, nextval('audit_events_id_seq') AS id FROM (
    SELECT h.chain, h.seq + 1 AS seq, h.hash AS prev_hash, g.c, g.n,
           %(start)s::timestamptz + g.n * %(step_us)s::bigint * interval '1 microsecond' AS at,
           g.n %% 10 <> 3 AS ok,
           'ver_' || left(translate(encode(sha256(int8send(g.n) || %(salt)s::bytea), 'base64'), '+/', '-_'), 24)
             AS vid
    FROM (SELECT c, %(first_n)s::bigint + c AS n FROM generate_series(0, %(last_c)s) c) g
    JOIN audit_heads h ON h.chain = 'BENCH' || lpad(g.c::text, 7, '0')
    ORDER BY g.c) x
), d AS MATERIALIZED (
  SELECT s.*, 'agent-' || (s.c %% 500) AS agent,
         CASE WHEN ok THEN 'verification_succeeded' ELSE 'verification_failed' END AS event,
         '{"attempts_remaining":' || CASE WHEN ok THEN %(threshold)s ELSE %(threshold)s - 1 END
           || ',"entry":"agent","factors":{"code":"not_checked","pin":"'
           || CASE WHEN ok THEN 'match' ELSE 'mismatch' END || '"},"level":' || CASE WHEN ok THEN 1 ELSE 0 END
           || ',"result":"' || CASE WHEN ok THEN 'verified' ELSE 'rejected' END
           || '","verification_id":"' || vid || '"}' AS details,
         to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN extract(microseconds FROM at)::bigint %% 1000000 = 0 THEN '' ELSE to_char(at, '.US') END
           || '+00:00' AS at_iso
  FROM s
), signed AS MATERIALIZED (
  SELECT d.*, encode(sha256(%(opad)s::bytea || sha256(%(ipad)s::bytea || convert_to(prev_hash
           || '{"account_id":"' || chain || '","actor":"bench","agent_id":"' || agent || '","at":"' || at_iso
           || '","chain":"' || chain || '","channel":"phone","details":' || details || ',"event":"' || event
           || '","id":' || id || ',"ip":"127.0.0.1","seq":' || seq || ',"ticket_ref":null}', 'UTF8'))), 'hex')
           AS hash
  FROM d
), e AS (
  INSERT INTO audit_events (id, chain, seq, at, event, account_id, actor, agent_id, channel, ticket_ref, ip, details,
                            prev_hash, hash, key_id, chain_format)
  SELECT id, chain, seq, at, event, chain, 'bench', agent, 'phone', NULL, '127.0.0.1', details::json, prev_hash,
         hash, %(key_id)s, 2 FROM signed
  RETURNING chain, seq, hash
), v AS (
  INSERT INTO verifications (id, account_id, verified, result, factor_pin, factor_code, level, attempts_remaining,
                             locked_until, checked_at, valid_until, channel, agent_id, ticket_ref, actor, entry)
  SELECT vid, chain, ok, CASE WHEN ok THEN 'verified' ELSE 'rejected' END,
         CASE WHEN ok THEN 'match' ELSE 'mismatch' END, 'not_checked', CASE WHEN ok THEN 1 ELSE 0 END,
         CASE WHEN ok THEN %(threshold)s ELSE %(threshold)s - 1 END, NULL, at,
         CASE WHEN ok THEN at + %(ttl_s)s * interval '1 second' END, 'phone', agent, NULL, 'bench', 'agent'
  FROM signed
)
UPDATE audit_heads SET seq = e.seq, hash = e.hash FROM e WHERE audit_heads.chain = e.chain
"""
NEW_HEADS = ("INSERT INTO audit_heads (chain, seq, hash) SELECT 'BENCH' || lpad(c::text, 7, '0'), 0, %(genesis)s "
             "FROM generate_series(0, %(last_c)s) c ON CONFLICT DO NOTHING")


@dataclass(frozen=True)
class History:
    """What seed_history needs to know of the service's settings."""

    audit_keys: str
    lockout_threshold: int = 5
    verification_ttl_seconds: int = 900
    days: float = 440.0  # spread over about 14.5 months, so a 13-month retention finds about 1/11 of it old


def seed_history(database_url: str, customers: int, checks: int, history: History,
                 progress: Callable[[str], None] | None = None) -> None:
    """`checks` past checks (a verification record and a chained audit event each), spread over the customers
    BENCH0000000.. round by round and over `history.days` up to a day ago; the customers must be seeded."""
    key_id, secret = parse_key_ring(history.audit_keys, "VERIFY_AUDIT_KEYS")[0]
    block = _derive(secret.decode(), b"verify-service/audit-chain/v1").ljust(64, b"\0")
    span_us = int(history.days * 86_400_000_000)
    params: dict[str, Any] = {
        "ipad": bytes(b ^ 0x36 for b in block), "opad": bytes(b ^ 0x5C for b in block), "key_id": key_id,
        "start": datetime.now(UTC) - timedelta(days=history.days + 1), "step_us": max(1, span_us // max(checks, 1)),
        "threshold": history.lockout_threshold, "ttl_s": history.verification_ttl_seconds,
        "salt": os.urandom(8), "genesis": GENESIS_HASH}
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET synchronous_commit = off")  # a bulk load: the rounds are redone if the machine stops
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET work_mem = '256MB'")
        rebuild = _drop_indexes(conn, ("verifications", "audit_events"))
        conn.execute(NEW_HEADS, {**params, "last_c": min(customers, checks) - 1})
        for first_n in range(0, checks, customers):
            started = time.monotonic()
            conn.execute(HISTORY_ROUND, {**params, "first_n": first_n,
                                         "last_c": min(customers, checks - first_n) - 1})
            conn.execute("VACUUM audit_heads")  # each round leaves a dead version of every head behind
            if progress:
                progress(f"history: {min(first_n + customers, checks):,} of {checks:,} checks "
                         f"({time.monotonic() - started:.0f} s for the round)")
        started = time.monotonic()
        for statement in rebuild:
            conn.execute(statement)
        if progress:
            progress(f"history: indexes rebuilt in {time.monotonic() - started:.0f} s")
        conn.execute("VACUUM ANALYZE audit_events")
        conn.execute("VACUUM ANALYZE verifications")
        conn.execute("VACUUM ANALYZE audit_heads")


def _drop_indexes(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' indexes and unique constraints (building them once after a bulk load is much faster than
    keeping them up to date row by row); the statements that build them again, exactly as they were.

    audit_events' primary key stays: its ids rise, so it only ever appends.
    """
    rebuild: list[str] = []
    for table in tables:
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype IN ('p', 'u')", (table,)).fetchall()
        kept = {"audit_events_pkey"}
        indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes "
                               "WHERE tablename = %s AND indexname <> ALL(%s)",
                               (table, [name for name, _ in constraints])).fetchall()
        for name, definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
            rebuild.append(definition)
        for name, definition in constraints:
            if name not in kept:
                conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return rebuild
