"""What the customer's account page says about contacts, per locale; the texts are data (messages/contacts.json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Protocol


class Announced(Protocol):
    """What a sentence about one contact needs."""

    @property
    def display_name(self) -> str:
        """The name the customer sees."""
        ...

    @property
    def named(self) -> bool:
        """True when the operator set a display name (else it is the generic one)."""
        ...

    @property
    def ticket_ref(self) -> str:
        """The ticket the contact is about."""
        ...

    @property
    def phrase(self) -> str | None:
        """The phrase the agent reads out."""
        ...


@cache
def contact_texts() -> dict[str, dict[str, str]]:
    """Every locale's texts."""
    raw = resources.files("verify_service").joinpath("messages/contacts.json").read_text(encoding="utf-8")
    return {locale: texts for locale, texts in json.loads(raw).items() if not locale.startswith("_")}


def _texts(locale: str) -> dict[str, str]:
    """The locale's texts, English when the locale has none."""
    texts = contact_texts()
    return texts.get(locale, texts["en"])


def generic_name(locale: str, brand: str) -> str:
    """`<brand> support` in the customer's language: shown when an agent has no display name."""
    return _texts(locale)["generic_name"].format(brand=brand)


def contacts_message(locale: str, brand: str, contacts: Sequence[Announced]) -> str:
    """One sentence per active contact, or the "no one is contacting you" warning when there is none."""
    texts = _texts(locale)
    if not contacts:
        return texts["nobody"].format(brand=brand)
    sentences = [texts["contacting" if contact.named else "contacting_generic"].format(
        brand=brand, name=contact.display_name, ticket=contact.ticket_ref, phrase=contact.phrase or "")
        for contact in contacts]
    return texts["separator"].join(sentences)
