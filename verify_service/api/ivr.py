"""Twilio Programmable Voice webhooks: the caller types the account number and the PIN on the keypad.

Outside /v1: these are authenticated by Twilio's `X-Twilio-Signature` (HMAC of the configured public URL, the path,
the query and the posted form under VERIFY_TWILIO_AUTH_TOKEN), never by a Host header a client sends. A request
without a valid signature is 403 before anything is read or counted. The posted `Digits` are read here and handed to
the check; they are never logged, stored, echoed or put in a URL.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from marshmallow import ValidationError
from twilio.request_validator import RequestValidator

from verify_service import logs
from verify_service.api.http import client_ip, services
from verify_service.api.ivr_twiml import CallContext, twiml
from verify_service.api.schemas import ACCOUNT_ID, CALL_REF, FullMatch
from verify_service.config import IVR_LANGUAGES
from verify_service.domain.keypad import IVR_AGENT_ID, KeypadCalls, Prompt, Step
from verify_service.domain.model import Actor
from verify_service.errors import Forbidden, NotFound

bp = Blueprint("ivr", __name__)
IVR_KEY_NAME = "twilio-ivr"  # the `actor` of the flow's checks in the audit trail


@bp.before_request
def _signed() -> None:
    """404 while keypad entry is off; 403 unless Twilio signed this very URL and form."""
    settings = services().settings
    if not settings.ivr_public_url or not settings.twilio_auth_token:
        raise NotFound("No such endpoint.")
    query = request.query_string.decode("ascii", "replace")
    url = settings.ivr_public_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(settings.twilio_auth_token).validate(url, request.form, signature):
        raise Forbidden("The request does not carry a valid X-Twilio-Signature.", details={"reason": "bad_signature"})
    logs.key_name.set(IVR_KEY_NAME)
    logs.agent_id.set(IVR_AGENT_ID)


@bp.post("/ivr/twilio/voice")
def voice() -> Response:
    """A call comes in: welcome, in the language of the number dialled, and ask for the account number."""
    settings = services().settings
    language = dict(settings.ivr_languages).get(request.form.get("To", ""), settings.ivr_default_language)
    return _answer(_calls().start(), language)


@bp.post("/ivr/twilio/account")
def account() -> Response:
    """The account number typed: ask for the PIN, or say why the caller is put through unchecked."""
    return _answer(_calls().account(request.form.get("Digits", ""), _tries()), _language())


@bp.post("/ivr/twilio/pin")
def pin() -> Response:
    """The PIN typed: check it as a keypad check of this call; retry, or put the caller through with the answer."""
    account_id = request.args.get("account", "")
    if not _valid(ACCOUNT_ID, account_id):  # only our own (signed) URLs come here: a bad one ends the keypad part
        return _answer(Step((Prompt.NOT_VERIFIED, Prompt.TRANSFER)), _language())
    call_sid = request.form.get("CallSid", "")
    actor = Actor(key_name=IVR_KEY_NAME, ip=client_ip(), roles=("ivr",))
    step = _calls().pin(account_id, request.form.get("Digits", ""), _tries(),
                        call_sid if _valid(CALL_REF, call_sid) else None, actor)
    return _answer(step, _language())


def _calls() -> KeypadCalls:
    """The keypad call steps this app was built with."""
    return services().keypad


def _answer(step: Step, language: str) -> Response:
    """The step as TwiML."""
    settings = services().settings
    assert settings.ivr_public_url is not None and settings.ivr_transfer is not None
    call = CallContext(language=language, brand=settings.brand_name,
                       public_url=settings.ivr_public_url.rstrip("/"), transfer=settings.ivr_transfer)
    return Response(twiml(step, call), mimetype="text/xml")


def _language() -> str:
    """The call's language, carried in the signed action URL."""
    language = request.args.get("lang", "")
    return language if language in IVR_LANGUAGES else services().settings.ivr_default_language


def _tries() -> int:
    """Entries made so far for this step, carried in the signed action URL."""
    tries = request.args.get("tries", "0")
    return int(tries) if tries.isascii() and tries.isdigit() and len(tries) < 3 else 0


def _valid(validator: FullMatch, value: str) -> bool:
    """Whether a value passes one of the schemas' format rules."""
    try:
        validator(value)
    except ValidationError:
        return False
    return True
