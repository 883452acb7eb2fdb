"""What the customer's account page says about contacts, in their language (the words are in the catalogs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from verify_service.domain.brand import brand_name, support_name
from verify_service.domain.ports import Words


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


def generic_name(words: Words, brand: str) -> str:
    """The support desk's name in the customer's language: shown when an agent has no display name."""
    return support_name(words, brand)


def contacts_message(words: Words, brand: str, contacts: Sequence[Announced]) -> str:
    """One sentence per active contact, or the "no one is contacting you" warning when there is none."""
    brand = brand_name(words, brand)
    if not contacts:
        return words.gettext("No one from %(brand)s is contacting you now. If someone says they are %(brand)s, hang "
                             "up and contact us from your account page.", brand=brand)
    sentences = [_sentence(words, brand, contact) for contact in contacts]  # the brand as texts name it
    text = sentences[0]
    for sentence in sentences[1:]:
        # TRANSLATORS: joins two sentences about contacts (no space between them in Japanese and Chinese).
        text = words.gettext("%(sentence)s %(next)s", sentence=text, next=sentence)
    return text


def _sentence(words: Words, brand: str, contact: Announced) -> str:
    """The sentence about one contact: who, which ticket, and the phrase they read out."""
    values = {"brand": brand, "name": contact.display_name, "ticket": contact.ticket_ref,
              "phrase": contact.phrase or ""}
    if contact.named:
        return words.gettext("%(name)s from %(brand)s is contacting you now about ticket %(ticket)s. They will read "
                             "you this phrase: %(phrase)s.", **values)
    return words.gettext("%(name)s is contacting you now about ticket %(ticket)s. They will read you this phrase: "
                         "%(phrase)s.", **values)
