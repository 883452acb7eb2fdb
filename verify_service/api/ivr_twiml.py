"""TwiML for the steps of a keypad call: `<Gather input="dtmf">`, `<Say>`, and the transfer carrying the check.

Where the call goes (VERIFY_IVR_TRANSFER) and how the verification id travels with it:
- `workflow:WW...` (TaskRouter): `<Enqueue workflowSid>` with the id in the task's attributes;
- `client:NAME` (Voice SDK): `<Dial><Client>` with `<Parameter>`s;
- `sip:user@host` (a PBX or contact-centre SBC): `<Dial><Sip>` with `X-Verification-Id`/`X-Verification-Result`
  headers;
- `queue:NAME` and a phone number: `<Enqueue>`/`<Dial><Number>` carry nothing; the agent's tool finds the
  call's checks by its CallSid (GET /v1/verifications?call_ref=).
Never a digit the caller typed: the TwiML holds prompts, ids and results only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from verify_service.api.ivr_prompts import say
from verify_service.domain.keypad import Gather, Prompt, Step
from verify_service.domain.model import Verification

VOICE_LANGUAGES = {"ja": "ja-JP", "en": "en-US"}
GATHER_SECONDS = 10


@dataclass(frozen=True)
class CallContext:
    """What every TwiML answer of one call needs: its language, brand, where to post, where to transfer."""

    language: str
    brand: str
    public_url: str
    transfer: str


def twiml(step: Step, call: CallContext) -> str:
    """The TwiML document of one step."""
    response = VoiceResponse()
    language = VOICE_LANGUAGES[call.language]
    if step.gather is None:
        for name in step.say:
            response.say(say(call.language, name, brand=call.brand), language=language)
        _transfer(response, call.transfer, step.verification)
        return str(response)
    gather = response.gather(input="dtmf", action=_action(step, call), method="POST", timeout=GATHER_SECONDS,
                             finish_on_key="#", num_digits=6 if step.gather == Gather.PIN else None,
                             action_on_empty_result=True)
    for name in step.say:
        gather.say(say(call.language, name, brand=call.brand), language=language)
    # Only reached when Twilio does not post the (empty) entry: put the caller through rather than hang up.
    for name in (Prompt.NOT_VERIFIED, Prompt.TRANSFER):
        response.say(say(call.language, name, brand=call.brand), language=language)
    _transfer(response, call.transfer, step.verification)
    return str(response)


def _action(step: Step, call: CallContext) -> str:
    """The URL Twilio posts the entry to; the call's state rides in its query (Twilio signs the whole URL)."""
    query = {"lang": call.language, "tries": str(step.tries)}
    if step.gather == Gather.PIN and step.account_id is not None:
        query["account"] = step.account_id
    return f"{call.public_url}/ivr/twilio/{step.gather}?{urlencode(query)}"


def _transfer(response: VoiceResponse, target: str, verification: Verification | None) -> None:
    """Put the caller through to the configured target, with the check's id and result where it can carry them."""
    carried = {"verification_id": verification.verification_id if verification else "",
               "verification_result": verification.result if verification else "none", "entry": "keypad"}
    kind, _, value = target.partition(":")
    if target.startswith("+"):
        response.dial().number(target)
    elif kind == "queue":
        response.enqueue(value)
    elif kind == "workflow":
        response.enqueue(None, workflow_sid=value).task(json.dumps(carried))
    elif kind == "sip":
        headers = {"X-Verification-Id": carried["verification_id"],
                   "X-Verification-Result": carried["verification_result"]}
        response.dial().sip(f"sip:{value}?{urlencode(headers)}")
    else:
        client = response.dial().client()
        client.identity(value)
        for name, carried_value in carried.items():
            client.parameter(name=name, value=carried_value)
