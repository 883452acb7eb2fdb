"""Caller verification checks and their records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint

from verify_service.api.http import load_body, load_data, path_id, query_args, requires, schema_instance, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import (
    VERIFICATION_ID,
    AdminVerificationRecordSchema,
    CheckRequestSchema,
    VerificationPageSchema,
    VerificationRecordSchema,
    VerificationSchema,
    VerificationsQuerySchema,
)
from verify_service.domain.checks import FACTOR_ORDER, CheckRequest
from verify_service.domain.model import Actor, ChecksQuery, Verification, rfc3339, rfc3339_deadline
from verify_service.domain.names import Entry
from verify_service.errors import Forbidden

bp = Blueprint("verifications", __name__)


# The entry each role's checks have: agents type what the caller says; a voice platform's flow (an `ivr` key)
# sends what the caller typed on the keypad. `link` belongs to the service's own entry link page: no key claims it.
ENTRY_OF_ROLE = {"agent": Entry.AGENT, "ivr": Entry.KEYPAD}


@bp.post("/v1/verifications")
@requires("agent", "ivr")
@documented("Is this caller the account holder? 200 whatever the answer; see `result`.",
            response=VerificationSchema, body=CheckRequestSchema, errors=(404, 409))
def check(actor: Actor) -> tuple[dict[str, Any], int]:
    """Is this caller the account holder? 200 whatever the answer."""
    body = load_body(CheckRequestSchema)
    body["entry"] = entry_of(actor, body.get("entry"))
    verification = services().checks.check(CheckRequest(**body), actor)
    return verification_body(verification), 200


def entry_of(actor: Actor, asked: str | None) -> str:
    """The check's entry: the one the key's roles allow (403 for any other), by default the first of them."""
    allowed = [entry for role, entry in ENTRY_OF_ROLE.items() if role in actor.roles]
    if asked is None:
        return allowed[0]
    if asked not in allowed:
        raise Forbidden(f"This API key may not create checks with entry {asked!r}.",
                        details={"reason": "entry_not_allowed", "allowed": [str(entry) for entry in allowed]})
    return asked


def verification_body(verification: Verification) -> dict[str, Any]:
    """VerificationSchema's dump written out for the hot path: the same JSON, key for key, in its order."""
    locked_until, valid_until = verification.locked_until, verification.valid_until
    return {
        "verification_id": verification.verification_id, "account_id": verification.account_id,
        "verified": verification.verified, "result": verification.result,
        "factors": {name: verification.factors[name] for name in FACTOR_ORDER if name in verification.factors},
        "level": verification.level, "attempts_remaining": verification.attempts_remaining,
        "locked_until": rfc3339_deadline(locked_until) if locked_until is not None else None,
        "checked_at": rfc3339(verification.checked_at),
        "valid_until": rfc3339_deadline(valid_until) if valid_until is not None else None,
        "entry": verification.entry,
    }


@bp.get("/v1/verifications")
@requires("agent", "admin")
@documented("Checks, newest first, each with `valid`. With `call_ref` (agent, admin): the checks made on one phone "
            "call (Twilio's CallSid or a platform's contact id), the agent's screen pop, as `{\"verifications\": "
            "[...]}`. With `agent_id` or `key` (admin only; 403 for other keys): the checks that asserted that "
            "agent_id, or that API key made, a page at a time (`next_cursor`), each with its `actor`. Never a PIN, "
            "a code or a secret.", response=VerificationPageSchema, query=VerificationsQuerySchema,
            errors=(400, 403))
def list_checks(actor: Actor) -> tuple[dict[str, Any], int]:
    """A call's checks, or (admins) an agent's or a key's checks a page at a time; newest first."""
    args = load_data(VerificationsQuerySchema, query_args())
    now = services().clock.now()
    if "call_ref" in args:
        record = schema_instance(VerificationRecordSchema)
        found = services().checks.of_call(args["call_ref"], args["limit"])
        return {"verifications": [{**record.dump(check), "valid": check.valid_at(now)} for check in found]}, 200
    if "admin" not in actor.roles:  # an agent key reads one call's checks, never a colleague's or a key's history
        raise Forbidden("Only admin keys may list checks by agent_id or key.", details={"reason": "admin_only"})
    query = ChecksQuery(agent_id=args.get("agent_id"), key=args.get("key"), limit=args["limit"],
                        before=read_cursor(args["cursor"]) if "cursor" in args else None)
    found, after = services().checks.page(query)
    record = schema_instance(AdminVerificationRecordSchema)
    return {"verifications": [{**record.dump(check), "valid": check.valid_at(now)} for check in found],
            "next_cursor": write_cursor(after) if after else None}, 200


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def write_cursor(position: tuple[datetime, str]) -> str:
    """A page's end as a cursor: microseconds since the epoch, a dot, the check's id (nothing secret)."""
    at, verification_id = position
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{verification_id}"


def read_cursor(cursor: str) -> tuple[datetime, str]:
    """A cursor written by write_cursor (its form is checked by the query schema)."""
    micros, verification_id = cursor.split(".", 1)
    return _EPOCH + timedelta(microseconds=int(micros)), verification_id


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
