"""The words a keypad call says, in English and Japanese.

The English sentence is the message id, looked up with an explicit locale through `prompt()` (the shape of
`babel.support.Translations.gettext`). MERGER: the Japanese below belongs in the gettext catalog
(verify_service/translations/ja/LC_MESSAGES/messages.po); once it is there, `prompt()` becomes a call to the
catalog's translations for `locale` and `_JA` goes away. Nothing else holds these words.
"""

from __future__ import annotations

from verify_service.domain.keypad import Prompt

MESSAGE_IDS: dict[Prompt, str] = {
    Prompt.WELCOME: "Welcome to {brand} support. To keep your account safe, please use your phone's keypad.",
    Prompt.ENTER_ACCOUNT: "Please enter your account number, then press the hash key.",
    Prompt.ACCOUNT_NOT_HEARD: "Sorry, we did not get your account number.",
    Prompt.ENTER_PIN: "Please enter your six-digit support PIN.",
    Prompt.PIN_NOT_SIX_DIGITS: "The support PIN has six digits.",
    Prompt.PIN_WRONG: "That PIN did not match.",
    Prompt.VERIFIED: "Thank you. You are verified.",
    Prompt.NOT_VERIFIED: "We could not verify you on the keypad.",
    Prompt.LOCKED: "This account is locked after too many wrong entries.",
    Prompt.FROZEN: "This account is on hold for your protection.",
    Prompt.UNAVAILABLE: "We cannot check your PIN right now.",
    Prompt.TRANSFER: "Please hold while we connect you to an agent.",
}

# MERGER: move into translations/ja/LC_MESSAGES/messages.po (msgid = the English above).
_JA: dict[str, str] = {
    MESSAGE_IDS[Prompt.WELCOME]: "{brand}サポートにお電話いただきありがとうございます。"
                                 "お客様のアカウントを守るため、電話のキーパッドでご入力ください。",
    MESSAGE_IDS[Prompt.ENTER_ACCOUNT]: "口座番号を入力し、最後にシャープを押してください。",
    MESSAGE_IDS[Prompt.ACCOUNT_NOT_HEARD]: "申し訳ありません。口座番号を受け付けられませんでした。",
    MESSAGE_IDS[Prompt.ENTER_PIN]: "6桁のサポートPINを入力してください。",
    MESSAGE_IDS[Prompt.PIN_NOT_SIX_DIGITS]: "サポートPINは6桁です。",
    MESSAGE_IDS[Prompt.PIN_WRONG]: "PINが一致しませんでした。",
    MESSAGE_IDS[Prompt.VERIFIED]: "ありがとうございます。ご本人確認ができました。",
    MESSAGE_IDS[Prompt.NOT_VERIFIED]: "キーパッドでのご本人確認ができませんでした。",
    MESSAGE_IDS[Prompt.LOCKED]: "誤った入力が続いたため、このアカウントはロックされています。",
    MESSAGE_IDS[Prompt.FROZEN]: "お客様保護のため、このアカウントは現在保留されています。",
    MESSAGE_IDS[Prompt.UNAVAILABLE]: "ただいまPINを確認できません。",
    MESSAGE_IDS[Prompt.TRANSFER]: "担当者におつなぎします。そのままお待ちください。",
}
_CATALOGS: dict[str, dict[str, str]] = {"en": {}, "ja": _JA}


def prompt(locale: str, msgid: str, **values: str) -> str:
    """The message in `locale` (English when it has none), with `values` filled in."""
    return _CATALOGS.get(locale, {}).get(msgid, msgid).format(**values)


def say(locale: str, name: Prompt, **values: str) -> str:
    """A prompt of the call by its name."""
    return prompt(locale, MESSAGE_IDS[name], **values)
