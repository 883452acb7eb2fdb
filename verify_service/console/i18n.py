"""The console's language (a switch, else Accept-Language) and time zone (the page's `tz` cookie) for Flask-Babel.

The words themselves live in the gettext catalogs (verify_service/translations); see the README's "Translations".
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote

import flask_babel
import pytz
from babel.dates import get_timezone_name
from flask import Flask, request
from flask_babel import Babel, format_datetime, get_locale

from verify_service.domain.model import round_up_to_second

LANGUAGES = ("ja", "en")
DEFAULT_ZONES = {"ja": "Asia/Tokyo"}  # before the page has told us the agent's zone; UTC for the rest


def current_language() -> str:
    """The `lang` cookie if set, else the best of Accept-Language, else Japanese."""
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "ja"


def current_zone() -> pytz.BaseTzInfo:
    """The agent's time zone from the `tz` cookie (set by the page's script), else the language's default."""
    default = pytz.timezone(DEFAULT_ZONES.get(current_language(), "UTC"))
    name = unquote(request.cookies.get("tz", ""))
    try:
        return pytz.timezone(name) if name else default
    except pytz.UnknownTimeZoneError:  # a name this machine does not know, or not a zone at all
        return default


def init_babel(app: Flask) -> None:
    """Flask-Babel with the console's language and zone; the catalogs are in verify_service/translations."""
    Babel(app, default_locale="ja", locale_selector=current_language, timezone_selector=current_zone)
    app.jinja_env.globals["zone_name"] = zone_name


def zone_name() -> str:
    """The agent's time zone in words ("Japan Time", "日本時間"): said once per page, never after every time."""
    zone = current_zone()
    if str(zone.zone) in ("UTC", "Etc/UTC", "GMT"):
        return "UTC"  # Babel calls it "Unknown Region (UTC) Time"
    return str(get_timezone_name(zone, locale=get_locale()))


def gettext(message: str, /, **values: object) -> str:
    """The message (an English msgid) in the page's language, with its %(name)s values filled in."""
    return str(flask_babel.gettext(message, **values))


def ngettext(singular: str, plural: str, num: int, /, **values: object) -> str:
    """The plural form for `num` in the page's language (`num` is a value too: %(num)d)."""
    return str(flask_babel.ngettext(singular, plural, num, **values))


def pgettext(context: str, message: str, /, **values: object) -> str:
    """A message whose words depend on where it is shown ("active" of a customer, of a contact)."""
    return str(flask_babel.pgettext(context, message, **values))


def value_words(context: str, value: object) -> str | None:
    """The words the catalogs hold for one of the domain's values (msgid: the value, in `context`; babel.cfg
    extracts them from the enums in domain/names.py, English in the `en` catalog); None where they have none (or
    where they are the value itself: English "expired" for `expired`, which reads the same either way)."""
    words = pgettext(context, str(value))
    return None if words == str(value) else words


def local_time(moment: datetime | None) -> str:
    """A time in the agent's zone and language (Babel's medium date and time)."""
    return "" if moment is None else str(format_datetime(moment, "medium"))


def local_deadline(moment: datetime | None) -> str:
    """A deadline in the agent's zone, rounded up to the second (never shown earlier than it is)."""
    return local_time(round_up_to_second(moment) if moment is not None else None)
