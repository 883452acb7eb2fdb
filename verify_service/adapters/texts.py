"""The Texts port on Babel: the same gettext catalogs as the console, outside any request (SMS, account page)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"  # verify_service/translations
DOMAIN = "messages"  # one catalog per language, shared with the console (Flask-Babel's default domain)
SOURCE_LOCALE = "en"  # the msgids are the English texts
LOCALE = re.compile(r"[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_[A-Z]{2})?")  # ja, en, zh_Hant_TW


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """Mark a message id for `pybabel extract` where it is only translated later (gettext_noop)."""
    return message


class BabelWords:
    """One language's words from its compiled catalog (messages.mo); the msgid itself where none is found."""

    def __init__(self, locale: str, translations: NullTranslations):
        self._locale, self._translations = locale, translations

    @property
    def locale(self) -> str:
        """The language these words are in."""
        return self._locale

    def gettext(self, message: str, /, **values: object) -> str:
        """The message in this language, with its values filled in."""
        text = self._translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, num: int, /, **values: object) -> str:
        """The plural form for `num`, with `num` and the values filled in."""
        return self._translations.ngettext(singular, plural, num) % {"num": num, **values}

    def format_datetime(self, moment: datetime, zone: str) -> str:
        """Babel's medium date and time of this language, in the zone."""
        return str(format_datetime(moment, "medium", tzinfo=ZoneInfo(zone), locale=Locale.parse(self._locale)))


class BabelTexts:
    """Every shipped language's catalog, each loaded once (the catalogs do not change while the service runs)."""

    def __init__(self, directory: Path = TRANSLATIONS):
        self._directory = directory

    def language(self, locale: str) -> BabelWords:
        """The words of `locale`, English for a locale with no catalog (or a value that is not a locale)."""
        if not LOCALE.fullmatch(locale):  # never a path piece for gettext's file lookup, never an unbounded cache
            locale = SOURCE_LOCALE
        return _load(self._directory, locale)


@cache
def _load(directory: Path, locale: str) -> BabelWords:
    """A language's compiled catalog; English (the msgids) when there is none."""
    translations = Translations.load(str(directory), [locale], domain=DOMAIN)
    if not isinstance(translations, Translations):  # Babel's NullTranslations: no catalog for this locale
        return BabelWords(SOURCE_LOCALE, translations)
    return BabelWords(locale, translations)
