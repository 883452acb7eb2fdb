"""The one-time code message, in the customer's language (the words are in the gettext catalogs)."""

from __future__ import annotations

from verify_service.domain.brand import brand_name, support_name
from verify_service.domain.ports import Words


def render_code_message(words: Words, *, brand: str, code: str, ttl_seconds: int) -> str:
    """The text of a one-time code message (English for a locale with no catalog)."""
    # TRANSLATORS: an SMS. Name the brand, the purpose and the validity; say to give the code only to support
    # on a call or chat the customer started.
    return words.gettext("%(brand)s: your code to confirm your identity with support is %(code)s. Valid for "
                         "%(minutes)s min. Give it only to %(support)s on a call or chat that you started. Never share "
                         "it with anyone else.", brand=brand_name(words, brand), support=support_name(words, brand),
                         code=code, minutes=max(1, ttl_seconds // 60))
