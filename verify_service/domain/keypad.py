"""Keypad entry on phone calls: the caller types the account number and the PIN; no agent hears or sees it.

Each step of a call is decided here, whatever voice platform asks (api/ivr.py speaks Twilio's TwiML). The PIN is
checked by the same CheckService as agents' checks: `channel` phone, `entry` keypad, one fixed agent identity (the
caller cannot choose it), the call's reference, and the same lockout counter.

What a caller learns about an account: an unknown account number is asked for the PIN and answered "that PIN did
not match" exactly like a known account with a wrong PIN, up to the call's tries, and then put through; the
number of attempts left is never spoken. A locked or frozen account is told so (the caller must know why they
are put through unverified): that much an agent would also tell. See docs/API.md, "Keypad entry (IVR)".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from verify_service.domain.checks import CheckRequest, CheckService
from verify_service.domain.model import Actor, Verification
from verify_service.domain.names import CheckResult, Entry
from verify_service.domain.standing import Standing
from verify_service.errors import NotFound, VerifyError

IVR_AGENT_ID = "ivr"  # the agent_id of every keypad check the service's own flow makes
ACCOUNT_DIGITS = re.compile(r"[0-9]{1,32}")
PIN_DIGITS = re.compile(r"[0-9]{6}")


class Prompt(StrEnum):
    """What the call says (api/ivr_prompts.py holds the words in each language)."""

    WELCOME = "welcome"
    ENTER_ACCOUNT = "enter_account"
    ACCOUNT_NOT_HEARD = "account_not_heard"
    ENTER_PIN = "enter_pin"
    PIN_NOT_SIX_DIGITS = "pin_not_six_digits"
    PIN_WRONG = "pin_wrong"
    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    LOCKED = "locked"
    FROZEN = "frozen"
    UNAVAILABLE = "unavailable"
    TRANSFER = "transfer"


class Gather(StrEnum):
    """What the next keypad entry is."""

    ACCOUNT = "account"
    PIN = "pin"


@dataclass(frozen=True)
class KeypadPolicy:
    """How keypad digits name an account, and how many entries one call may make."""

    account_prefix: str = ""  # account_id = prefix + the digits typed (no prefix: account ids are digits)
    max_tries: int = 3  # account number or PIN entries per call (each PIN entry is one check, under the lockout)


@dataclass(frozen=True)
class Step:
    """What the call does next: say the prompts, then gather the next entry or put the caller through."""

    say: tuple[Prompt, ...]
    gather: Gather | None = None
    account_id: str | None = None
    tries: int = 0  # entries made so far for the step being gathered
    verification: Verification | None = None  # the check the transfer carries, if one was made

    @property
    def transfer(self) -> bool:
        """The call goes on to the configured queue or number."""
        return self.gather is None


class KeypadCalls:
    """The steps of a keypad call: account number, PIN (retried within the lockout rules), transfer."""

    def __init__(self, *, checks: CheckService, status: Callable[[str], Standing], policy: KeypadPolicy):
        self._checks, self._status, self._policy = checks, status, policy

    def start(self) -> Step:
        """Welcome the caller and ask for the account number."""
        return Step((Prompt.WELCOME, Prompt.ENTER_ACCOUNT), Gather.ACCOUNT)

    def account(self, digits: str, tries: int) -> Step:
        """The typed account number: ask for the PIN, or put a locked or frozen customer through unchecked."""
        if ACCOUNT_DIGITS.fullmatch(digits) is None:
            return self._again(Prompt.ACCOUNT_NOT_HEARD, Prompt.ENTER_ACCOUNT, Gather.ACCOUNT, None, tries + 1)
        account_id = self._policy.account_prefix + digits
        try:
            standing = self._status(account_id)
        except NotFound:  # asked for the PIN like anyone else: the caller learns nothing here
            return Step((Prompt.ENTER_PIN,), Gather.PIN, account_id)
        except VerifyError:  # a store is down: put the caller through, no check
            return Step((Prompt.UNAVAILABLE, Prompt.TRANSFER))
        if standing.frozen:
            return Step((Prompt.FROZEN, Prompt.TRANSFER))
        if standing.locked:
            return Step((Prompt.LOCKED, Prompt.TRANSFER))
        return Step((Prompt.ENTER_PIN,), Gather.PIN, account_id)

    def pin(self, account_id: str, digits: str, tries: int, call_ref: str | None, actor: Actor) -> Step:
        """Check the typed PIN; a wrong one is retried while the call's tries and the lockout allow."""
        if PIN_DIGITS.fullmatch(digits) is None:  # not a check, but one of the call's tries
            return self._again(Prompt.PIN_NOT_SIX_DIGITS, Prompt.ENTER_PIN, Gather.PIN, account_id, tries + 1)
        request = CheckRequest(account_id=account_id, channel="phone", agent_id=IVR_AGENT_ID, pin=digits,
                               entry=Entry.KEYPAD, call_ref=call_ref)
        try:
            verification = self._checks.check(request, actor)
        except NotFound:  # an unknown account sounds like a wrong PIN
            return self._again(Prompt.PIN_WRONG, Prompt.ENTER_PIN, Gather.PIN, account_id, tries + 1)
        except VerifyError:  # 503, or the agent watch's block: no answer to give
            return Step((Prompt.UNAVAILABLE, Prompt.TRANSFER))
        return self._answered(verification, tries + 1)

    def _answered(self, verification: Verification, tries: int) -> Step:
        """What a check's answer says to the caller."""
        result = CheckResult(verification.result)
        if result == CheckResult.VERIFIED:
            return Step((Prompt.VERIFIED, Prompt.TRANSFER), verification=verification)
        if result == CheckResult.FROZEN:
            return Step((Prompt.FROZEN, Prompt.TRANSFER), verification=verification)
        if result == CheckResult.LOCKED or verification.locked_until is not None:
            return Step((Prompt.LOCKED, Prompt.TRANSFER), verification=verification)
        if verification.attempts_remaining > 0 and tries < self._policy.max_tries:
            return Step((Prompt.PIN_WRONG, Prompt.ENTER_PIN), Gather.PIN, verification.account_id, tries,
                        verification)
        return Step((Prompt.NOT_VERIFIED, Prompt.TRANSFER), verification=verification)

    def _again(self, said: Prompt, ask: Prompt, gather: Gather, account_id: str | None, tries: int) -> Step:
        """Ask again while the call has tries left; then put the caller through."""
        if tries < self._policy.max_tries:
            return Step((said, ask), gather, account_id, tries)
        return Step((Prompt.NOT_VERIFIED, Prompt.TRANSFER))
