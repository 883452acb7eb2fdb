"""Code messages per locale; the templates are data (messages/sms.json)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def sms_templates() -> dict[str, str]:
    """Every locale's template."""
    raw = resources.files("verify_service").joinpath("messages/sms.json").read_text(encoding="utf-8")
    return {locale: text for locale, text in json.loads(raw).items() if not locale.startswith("_")}


def render_code_message(locale: str, *, brand: str, code: str, ttl_seconds: int) -> str:
    """The text of a one-time code message, in the customer's locale (English if none)."""
    templates = sms_templates()
    template = templates.get(locale, templates["en"])
    return template.format(brand=brand, code=code, minutes=max(1, ttl_seconds // 60))
