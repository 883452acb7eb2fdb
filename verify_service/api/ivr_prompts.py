"""The words a keypad call says: English message ids, translated through the gettext catalogs.

Each prompt's sentence is a message id in `verify_service/translations/<lang>/LC_MESSAGES/messages.po`
(extracted by `make translations`, like every other word); a language the catalogs lack says English.
"""

from __future__ import annotations

from verify_service.adapters.texts import N_, BabelTexts
from verify_service.domain.brand import support_name
from verify_service.domain.keypad import Prompt

MESSAGE_IDS: dict[Prompt, str] = {
    Prompt.WELCOME: N_("Welcome to %(support)s. To keep your account safe, please use your phone's keypad."),
    Prompt.ENTER_ACCOUNT: N_("Please enter your account number, then press the hash key."),
    Prompt.ACCOUNT_NOT_HEARD: N_("Sorry, we did not get your account number."),
    Prompt.ENTER_PIN: N_("Please enter your six-digit support PIN."),
    Prompt.PIN_NOT_SIX_DIGITS: N_("The support PIN has six digits."),
    Prompt.PIN_WRONG: N_("That PIN did not match."),
    Prompt.VERIFIED: N_("Thank you. You are verified."),
    Prompt.NOT_VERIFIED: N_("We could not verify you on the keypad."),
    Prompt.LOCKED: N_("This account is locked after too many wrong entries."),
    Prompt.FROZEN: N_("This account is on hold for your protection."),
    Prompt.UNAVAILABLE: N_("We cannot check your PIN right now."),
    Prompt.TRANSFER: N_("Please hold while we connect you to an agent."),
}
_TEXTS = BabelTexts()


def say(locale: str, name: Prompt, *, brand: str = "") -> str:
    """A prompt of the call by its name, in `locale` (English when the catalogs have none), naming the desk."""
    words = _TEXTS.language(locale)
    return words.gettext(MESSAGE_IDS[name], support=support_name(words, brand))
