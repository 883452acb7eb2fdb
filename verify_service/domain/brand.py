"""How customers' texts name the brand and its support desk, natural in every language even with no brand set."""

from __future__ import annotations

from verify_service.domain.ports import Words

# A brand that already says "support" is the desk's name itself ("Acme Support" never becomes "Acme Support support").
_SUPPORT_WORDS = ("support", "サポート", "客服", "支持", "지원", "고객센터")


def brand_name(words: Words, brand: str) -> str:
    """The brand as texts name it: the configured name, else the desk's generic name ("Customer Support")."""
    # TRANSLATORS: the name of the support desk when the operator set no brand (VERIFY_BRAND_NAME).
    return brand.strip() or words.gettext("Customer Support")


def support_name(words: Words, brand: str) -> str:
    """The support desk: "<brand> support", the brand alone when it names support already, else the generic name."""
    brand = brand.strip()
    if not brand or any(word in brand.casefold() for word in _SUPPORT_WORDS):
        return brand_name(words, brand)
    # TRANSLATORS: the brand's support desk; also the name a customer sees for an agent who has no display name.
    return words.gettext("%(brand)s support", brand=brand)
