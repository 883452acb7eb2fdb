"""Caller verification checks and their records."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint

from verify_service.adapters import metrics
from verify_service.api.http import load_body, path_id, requires, schema_instance, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import VERIFICATION_ID, CheckRequestSchema, VerificationRecordSchema, VerificationSchema
from verify_service.domain.checks import CheckRequest
from verify_service.domain.model import Actor, Verification, rfc3339, rfc3339_deadline

bp = Blueprint("verifications", __name__)


@bp.post("/v1/verifications")
@requires("agent")
@documented("Is this caller the account holder? 200 whatever the answer; see `result`.",
            response=VerificationSchema, body=CheckRequestSchema, errors=(404,))
def check(actor: Actor) -> tuple[dict[str, Any], int]:
    """Is this caller the account holder? 200 whatever the answer."""
    request = CheckRequest(**load_body(CheckRequestSchema, valid_check_request))
    verification = services().checks.check(request, actor)
    metrics.record_check(verification.result, verification.channel, verification.locked_by_this_check)
    return verification_body(verification), 200


_CHECK_FIELDS = frozenset(("account_id", "pin", "code", "challenge_id", "channel", "agent_id", "ticket_ref"))
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _text(value: Any, shortest: int) -> bool:
    """What CheckRequestSchema's Text fields accept: a string of 1 (or 0) to 64 characters, no control characters."""
    return isinstance(value, str) and shortest <= len(value) <= 64 and _CONTROL.search(value) is None


def valid_check_request(raw: dict[str, Any]) -> bool:
    """True only for a body CheckRequestSchema loads unchanged (its common shape; anything else goes through it)."""
    pin, code = raw.get("pin"), raw.get("code")
    return (raw.keys() <= _CHECK_FIELDS
            and isinstance(account_id := raw.get("account_id"), str) and _ACCOUNT_ID.fullmatch(account_id) is not None
            and raw.get("channel") in ("phone", "chat") and isinstance(raw["channel"], str)
            and _text(raw.get("agent_id"), 1)
            and (pin is not None or code is not None)
            and ("pin" not in raw or (isinstance(pin, str) and _SIX_DIGITS.fullmatch(pin) is not None))
            and ("code" not in raw or (isinstance(code, str) and _SIX_DIGITS.fullmatch(code) is not None))
            and ("challenge_id" not in raw or _text(raw["challenge_id"], 1))
            and ("ticket_ref" not in raw or raw["ticket_ref"] is None or _text(raw["ticket_ref"], 0)))


def verification_body(verification: Verification) -> dict[str, Any]:
    """VerificationSchema's dump written out for the hot path: the same JSON, key for key, in its order."""
    locked_until, valid_until = verification.locked_until, verification.valid_until
    return {
        "verification_id": verification.verification_id, "account_id": verification.account_id,
        "verified": verification.verified, "result": verification.result,
        "factors": {name: verification.factors[name] for name in ("pin", "code") if name in verification.factors},
        "level": verification.level, "attempts_remaining": verification.attempts_remaining,
        "locked_until": rfc3339_deadline(locked_until) if locked_until is not None else None,
        "checked_at": rfc3339(verification.checked_at),
        "valid_until": rfc3339_deadline(valid_until) if valid_until is not None else None,
    }


@bp.get("/v1/verifications/<verification_id>")
@requires("agent", "admin")
@documented("A stored check, plus `valid`: verified and still inside its validity.",
            response=VerificationRecordSchema, errors=(404,))
def get_verification(verification_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """A stored check, plus whether it is still valid now."""
    found = services().checks.get(path_id(verification_id, VERIFICATION_ID, "verification"))
    body = schema_instance(VerificationRecordSchema).dump(found)
    body["valid"] = found.valid_at(services().clock.now())
    return body, 200
