"""The minimal design: what any correct PIN check must do, and nothing more, as a bare Flask app.

Per request: parse the JSON body, authenticate the bearer key against keys read once per worker
(no revocation: the cheapest possible auth), one PostgreSQL read of the customer row (the service's
real `customers` table, the same shape of read), open the sealed PIN (AES-GCM) and compare it in
constant time, one Redis EVALSHA (the service's own lockout counter script, under a prefix of its
own), and one durable transaction (synchronous_commit on) that writes the verification record, moves
the customer's audit chain head and inserts the chained audit event in a single statement. The
chain's HMAC-SHA256 is computed inside that statement from the locked head, so the events it writes
pass `flask --app wsgi audit verify` like the service's own. The answer is the same JSON shape as
the real check's.

    gunicorn -c gunicorn.conf.py -w 2 bench.minimal_app:app   (with the VERIFY_* settings of bench/run.py)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, Response, request

from verify_service.adapters.crypto import KeyRingVault, parse_key_ring
from verify_service.adapters.redis.counters import COUNTER_SCRIPT
from verify_service.config import load_settings
from verify_service.domain.model import SealedSecret, rfc3339, rfc3339_deadline

settings = load_settings()
vault = KeyRingVault.from_setting(settings.pin_keys)
_audit_key_id, _audit_secret = parse_key_ring(settings.audit_keys, "VERIFY_AUDIT_KEYS")[0]
_audit_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                  info=b"verify-service/audit-chain/v1").derive(_audit_secret)
# HMAC-SHA256 written out as two SHA-256 calls, so PostgreSQL can compute it without pgcrypto.
_block = _audit_key.ljust(64, b"\0")
IPAD, OPAD = bytes(b ^ 0x36 for b in _block), bytes(b ^ 0x5C for b in _block)
WINDOW_MS, LOCK_MS = settings.failure_window_seconds * 1000, settings.lockout_seconds * 1000
TTL_MS = max(WINDOW_MS, LOCK_MS) + 3_600_000
TTL = timedelta(seconds=settings.verification_ttl_seconds)
SEQ_MARK = 987654321987654321  # stands for the seq in the canonical event, which only the statement knows
EVENTS = {"verified": "verification_succeeded", "rejected": "verification_failed"}

READ = ("SELECT account_id, pin_key_id, pin_blob, frozen_at, locked_until FROM customers "
        "WHERE account_id = %(a)s")
RECORD = """
WITH o AS (
  SELECT seq, hash FROM audit_heads WHERE chain = %(chain)s FOR UPDATE
), h AS (
  UPDATE audit_heads
  SET seq = o.seq + 1,
      hash = encode(sha256(%(opad)s::bytea || sha256(%(ipad)s::bytea || convert_to(
        o.hash || %(pre)s::text || (o.seq + 1)::text || %(post)s::text, 'UTF8'))), 'hex')
  FROM o WHERE audit_heads.chain = %(chain)s
  RETURNING audit_heads.seq, audit_heads.hash, o.hash AS prev_hash
), e AS (
  INSERT INTO audit_events (chain, seq, at, event, account_id, actor, agent_id, channel, ticket_ref, ip,
                            details, prev_hash, hash, key_id)
  SELECT %(chain)s, h.seq, %(at)s, %(event)s, %(chain)s, %(actor)s, %(agent_id)s, %(channel)s, %(ticket_ref)s,
         %(ip)s, %(details)s::json, h.prev_hash, h.hash, %(key_id)s FROM h
  RETURNING id
)
INSERT INTO verifications (id, account_id, verified, result, factor_pin, factor_code, level, attempts_remaining,
                           locked_until, checked_at, valid_until, channel, agent_id, ticket_ref, actor)
SELECT %(id)s, %(chain)s, %(verified)s, %(result)s, %(factor_pin)s, 'not_checked', %(level)s, %(remaining)s,
       %(locked_until)s, %(at)s, %(valid_until)s, %(channel)s, %(agent_id)s, %(ticket_ref)s, %(actor)s FROM e
"""
NEW_HEAD = ("INSERT INTO audit_heads (chain, seq, hash) VALUES (%(chain)s, 0, '" + "0" * 64 + "') "
            "ON CONFLICT DO NOTHING")

app = Flask(__name__)
_state: dict[str, Any] = {}


def _conn() -> psycopg.Connection[Any]:
    """This worker's connection, autocommit: each statement is its own (durable) transaction."""
    conn = _state.get("pg")
    if conn is None or conn.closed:
        url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
        conn = psycopg.connect(url, autocommit=True)
        conn.execute("SET synchronous_commit = on")
        _state["pg"] = conn
        _state["keys"] = {row[0]: row[1] for row in conn.execute(
            "SELECT key_hash, name FROM api_keys WHERE revoked_at IS NULL AND roles LIKE '%agent%'")}
    return conn


def _counter() -> Any:
    """The lockout script on this worker's Redis client (EVALSHA)."""
    script = _state.get("script")
    if script is None:
        assert settings.redis_url
        script = _state["script"] = redis.Redis.from_url(settings.redis_url).register_script(COUNTER_SCRIPT)
    return script


def _chain_parts(event: dict[str, Any]) -> tuple[str, str]:
    """The canonical event (domain.audit.chain_input) split around its seq."""
    canonical = json.dumps({**event, "seq": SEQ_MARK}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    marker = f'"seq":{SEQ_MARK}'
    assert canonical.count(marker) == 1
    pre, _, post = canonical.partition(marker)
    return pre + '"seq":', post


def _error(status: int, code: str) -> Response:
    return Response(json.dumps({"error": {"code": code}}), status, mimetype="application/json")


@app.post("/v1/verifications")
def check() -> Response:
    """A PIN check: read, compare, count, record; 200 whatever the answer."""
    conn = _conn()
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    actor = _state["keys"].get(hashlib.sha256(secret.encode()).hexdigest()) if scheme == "Bearer" else None
    if actor is None:
        return _error(401, "unauthorized")
    body = json.loads(request.get_data())
    account_id, pin, channel, agent_id = body["account_id"], body["pin"], body["channel"], body["agent_id"]
    ticket_ref = body.get("ticket_ref")
    row = conn.execute(READ, {"a": account_id}).fetchone()
    if row is None:
        return _error(404, "not_found")
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    verification_id = f"ver_{secrets.token_urlsafe(18)}"
    if row[3] is not None:
        result, factor, failures, locked_ms = "frozen", "not_checked", 0, None
    elif row[4] is not None and row[4] > now:
        result, factor, failures, locked_ms = "locked", "not_checked", 0, int(row[4].timestamp() * 1000)
    else:
        opened = vault.open(account_id, SealedSecret(row[1], bytes(row[2])))
        factor = "match" if hmac.compare_digest(opened.encode(), pin.encode()) else "mismatch"
        op = "ok" if factor == "match" else "fail"
        failures, locked, counted = _counter()(  # counted once per check id, as the service counts
            keys=[f"bench-minimal:attempts:{account_id}", f"bench-minimal:attempt-ids:{account_id}"],
            args=[now_ms, WINDOW_MS, LOCK_MS, settings.lockout_threshold, TTL_MS, op, "1", "", "", -1,
                  verification_id])[:3]
        locked_ms = int(locked) if int(locked) >= 0 else None
        if op == "ok":
            result = "verified" if locked_ms is None else "locked"
        else:
            result = "rejected" if counted else "locked"
        if result == "locked":
            factor = "not_checked"
    verified = result == "verified"
    remaining = max(0, settings.lockout_threshold - int(failures)) if result == "rejected" else (
        settings.lockout_threshold if verified else 0)
    locked_until = datetime.fromtimestamp(locked_ms / 1000, UTC) if locked_ms is not None else None
    valid_until = now + TTL if verified else None
    factors = {"pin": factor, "code": "not_checked"}
    details = {"verification_id": verification_id, "result": result, "factors": factors,
               "level": 1 if verified else 0, "attempts_remaining": remaining}
    event = {"chain": account_id, "at": now.isoformat(), "event": EVENTS.get(result, "verification_blocked"),
             "account_id": account_id, "actor": actor, "agent_id": agent_id, "channel": channel,
             "ticket_ref": ticket_ref, "ip": request.remote_addr, "details": details}
    pre, post = _chain_parts(event)
    params = {"chain": account_id, "opad": OPAD, "ipad": IPAD, "pre": pre, "post": post, "at": now,
              "event": event["event"], "actor": actor, "agent_id": agent_id, "channel": channel,
              "ticket_ref": ticket_ref, "ip": event["ip"], "details": json.dumps(details), "key_id": _audit_key_id,
              "id": verification_id, "verified": verified, "result": result, "factor_pin": factor,
              "level": details["level"], "remaining": remaining, "locked_until": locked_until,
              "valid_until": valid_until}
    if conn.execute(RECORD, params).rowcount != 1:
        conn.execute(NEW_HEAD, {"chain": account_id})  # a chain's first event: create its head, once
        if conn.execute(RECORD, params).rowcount != 1:
            return _error(503, "unavailable")
    answer = {"verification_id": verification_id, "account_id": account_id, "verified": verified, "result": result,
              "factors": factors, "level": details["level"], "attempts_remaining": remaining,
              "locked_until": rfc3339_deadline(locked_until) if locked_until else None,
              "checked_at": rfc3339(now), "valid_until": rfc3339_deadline(valid_until) if valid_until else None}
    return Response(json.dumps(answer), 200, mimetype="application/json")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """For the start-up probe."""
    return {"status": "ok"}
