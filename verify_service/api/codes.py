"""One-time codes and authenticator apps."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.customers import summary
from verify_service.api.http import account_id_arg, dump, load_body, path_id, requires, schema_instance, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import (
    CHALLENGE_ID,
    ChallengeSchema,
    CodeSendSchema,
    CustomerSummarySchema,
    EmptySchema,
    TotpConfirmSchema,
    TotpEnrolmentSchema,
)
from verify_service.domain.codes import SendRequest
from verify_service.domain.model import Actor, Challenge

bp = Blueprint("codes", __name__)


def _challenge(challenge: Challenge) -> dict[str, Any]:
    """A challenge with its status as of now."""
    body: dict[str, Any] = schema_instance(ChallengeSchema).dump(challenge)
    body["status"] = challenge.status_at(services().clock.now())
    return body


@bp.post("/v1/customers/<account_id>/codes")
@requires("agent", "portal")
@documented("Send a one-time code to the customer's phone (queued for delivery).", ok=201,
            response=ChallengeSchema, body=CodeSendSchema, errors=(404, 409, 429), body_required=False)
def send_code(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Send a one-time code to the customer's phone (201, queued)."""
    account_id = account_id_arg(account_id)
    request = SendRequest(account_id=account_id, **load_body(CodeSendSchema))
    challenge = services().codes.send(request, actor)
    return _challenge(challenge), 201


@bp.get("/v1/codes/<challenge_id>")
@requires("agent", "portal", "admin")
@documented("A code's status and delivery (never the code).", response=ChallengeSchema, errors=(404,))
def get_code(challenge_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """A code's status and delivery (never the code)."""
    return _challenge(services().codes.get(path_id(challenge_id, CHALLENGE_ID, "code challenge"))), 200


@bp.post("/v1/customers/<account_id>/totp")
@requires("portal")
@documented("Start authenticator enrolment: an otpauth URI and its QR code (pending until confirmed).",
            response=TotpEnrolmentSchema, errors=(400, 404))
def enrol_totp(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Start enrolment: an otpauth URI and its QR code (pending until confirmed)."""
    account_id = account_id_arg(account_id)
    load_body(EmptySchema)
    return dump(TotpEnrolmentSchema, services().totp.enrol(account_id, actor))


@bp.post("/v1/customers/<account_id>/totp/confirm")
@requires("portal")
@documented("Activate the authenticator with its current code; second_factor becomes totp.",
            response=CustomerSummarySchema, body=TotpConfirmSchema, errors=(404,), explain={
                400: "Invalid JSON or a malformed body, such as a `code` that is not 6 ASCII digits "
                     "(`invalid_json`, `validation_error`).",
                409: "`conflict`, with `details.reason`: `mismatch` (a well-formed code that is not the app's "
                     "current one; the enrolment stays pending) or `not_pending` (no enrolment to confirm)."})
def confirm_totp(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Activate the app with a current code; second_factor becomes totp."""
    account_id = account_id_arg(account_id)
    code = load_body(TotpConfirmSchema)["code"]
    return summary(services().totp.confirm(account_id, code, actor)), 200


@bp.delete("/v1/customers/<account_id>/totp")
@requires("portal", "admin")
@documented("Remove the authenticator; second_factor returns to sms.", ok=204, errors=(400, 404))
def remove_totp(account_id: str, actor: Actor) -> tuple[str, int]:
    """Remove the app; second_factor returns to sms."""
    services().totp.remove(account_id_arg(account_id), actor)
    return "", 204
