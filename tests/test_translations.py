"""The gettext catalogs: current with the code, complete in every shipped language, compiled, and used right."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from verify_service.adapters.texts import TRANSLATIONS, BabelTexts
from verify_service.config import SUPPORTED_LOCALES
from verify_service.console.i18n import LANGUAGES
from verify_service.domain.templates import render_code_message

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "en"  # the msgids are the English texts; its catalog holds the words of the domain's values
CONSOLE = sorted(set(LANGUAGES) - {SOURCE})  # languages the console is offered in: every message
CUSTOMER = sorted(set(SUPPORTED_LOCALES) - {SOURCE})  # customers' languages: what customers read (domain/)
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]?\d*(?:\.\d+)?[sdif%]")
ATTEMPTS = ("%(num)d attempt left before the account locks.", "%(num)d attempts left before the account locks.")


def extracted() -> Catalog:
    """Every message id in the code and templates, as `pybabel extract -F babel.cfg` finds them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    catalog = Catalog()
    for path, line, message, comments, context in extract_from_dir(str(ROOT), method_map, options_map,
                                                                   comment_tags=("TRANSLATORS:",)):
        catalog.add(message, None, [(path, line)], auto_comments=comments, context=context)
    return catalog


def catalog(language: str) -> Catalog:
    """A shipped catalog (.po)."""
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def keys(messages: Catalog) -> set[tuple[str | None, str]]:
    """The catalog's messages by (context, singular msgid)."""
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in messages if m.id}


CUSTOMER_SOURCES = ("verify_service/domain/", "verify_service/templates/entry/")
ENUM_WORDS = "verify_service/domain/names.py"  # the domain's values as the console names them (babel.cfg, enums)


def customer_facing(messages: Catalog) -> set[tuple[str | None, str]]:
    """The messages customers read: built in domain/ (SMS texts, the account page's sentences), and the entry link
    page's (templates/entry/)."""
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in messages
            if m.id and any(source in path.replace("\\", "/") and ENUM_WORDS not in path.replace("\\", "/")
                            for path, _ in m.locations for source in CUSTOMER_SOURCES)}


def translated(message: Message) -> bool:
    """A message with every form translated, and not marked fuzzy."""
    forms = [message.string] if isinstance(message.string, str) else list(message.string)
    return all(forms) and not message.fuzzy


def test_every_message_has_a_translation_in_every_shipped_language():
    code = extracted()
    assert customer_facing(code), "the SMS and account-page texts were not found in domain/"
    for language in sorted(set(CONSOLE) | set(CUSTOMER)):
        needed = keys(code) if language in CONSOLE else customer_facing(code)
        shipped = catalog(language)
        missing = sorted(key for key in needed if (found := shipped.get(key[1], key[0])) is None
                         or not translated(found))
        assert missing == [], f"{language}: untranslated or fuzzy: {missing}"


def test_the_words_of_the_domains_values_are_in_english_too():
    """A value's words (msgid: the value itself) come from the catalogs in English as in every other language."""
    code = {key for key in keys(extracted()) if key[0] is not None and any(
        ENUM_WORDS in path for m in [extracted().get(key[1], key[0])] for path, _ in m.locations)}
    assert ("audit event", "customer_closed") in code
    english = catalog("en")
    missing = sorted(key for key in code if (found := english.get(key[1], key[0])) is None or not translated(found))
    assert missing == [], f"en: no words for {missing}"


def test_the_catalogs_are_current_with_pybabel_extract():
    """`make translations` was run: the template and every catalog hold exactly the code's messages."""
    code = keys(extracted())
    with open(TRANSLATIONS / "messages.pot", "rb") as pot:
        assert keys(read_po(pot)) == code, "run `make translations`"
    for language in sorted(set(CONSOLE) | set(CUSTOMER) | {SOURCE}):
        assert keys(catalog(language)) == code, f"{language}: run `make translations`"


def test_the_compiled_catalogs_match_their_po_files():
    """The committed .mo files say what the .po files say (`make translations` compiles them)."""
    for language in sorted(set(CONSOLE) | set(CUSTOMER) | {SOURCE}):
        with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
            compiled = read_mo(mo)
        fresh = BytesIO()
        write_mo(fresh, catalog(language))  # what `pybabel compile` writes from the .po now
        fresh.seek(0)
        assert {entry(m) for m in compiled} == {entry(m) for m in read_mo(fresh)}, f"{language}: `make translations`"


def entry(message: Message) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """A message as (context, ids, forms), the same from a .po and a .mo (which gives bytes and lists)."""
    context = message.context.decode() if isinstance(message.context, bytes) else message.context
    ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
    forms = (message.string,) if isinstance(message.string, str) else tuple(message.string)
    return context, ids, forms


def test_every_translation_uses_the_placeholders_of_its_message():
    """A translation with a misspelt %(name)s would fail (KeyError) when it is shown: refuse it here."""
    for language in sorted(set(CONSOLE) | set(CUSTOMER)):
        for message in catalog(language):
            if not message.id or not translated(message):
                continue
            ids = [message.id] if isinstance(message.id, str) else list(message.id)
            forms = [message.string] if isinstance(message.string, str) else list(message.string)
            wanted = set(PLACEHOLDER.findall(ids[-1]))
            assert all(set(PLACEHOLDER.findall(form)) == wanted for form in forms), (language, message.id)


@pytest.mark.parametrize("language, one, four", [
    ("en", "1 attempt left before the account locks.", "4 attempts left before the account locks."),
    ("ja", "ロックまであと 1 回です。", "ロックまであと 4 回です。"),
])
def test_plurals_follow_the_language(language, one, four):
    words = BabelTexts().language(language)
    assert (words.ngettext(*ATTEMPTS, 1), words.ngettext(*ATTEMPTS, 4)) == (one, four)


@pytest.mark.parametrize("language, zone, shown", [
    ("ja", "Asia/Tokyo", "2026/11/24 1:05:06"),
    ("en", "America/New_York", "Nov 23, 2026, 11:05:06\u202fAM"),
    ("ko", "Asia/Seoul", "2026. 11. 24. AM 1:05:06"),
])
def test_a_time_is_shown_in_the_customer_s_language_and_zone(language, zone, shown):
    words = BabelTexts().language(language)
    assert words.format_datetime(datetime(2026, 11, 23, 16, 5, 6, tzinfo=UTC), zone) == shown


@pytest.mark.parametrize("locale", ["xx", "../ja", "ja/../ja", "ja\x00", "", "JA"])
def test_a_language_without_a_catalog_reads_english(locale):
    words = BabelTexts().language(locale)
    assert words.locale == "en"
    text = render_code_message(words, brand="Acme", code="123456", ttl_seconds=300)
    assert text.startswith("Acme: your code to confirm your identity with support is 123456. Valid for 5 min.")


@pytest.mark.parametrize("language, start", [
    ("ja", "【Acme】本人確認コード：123456（有効期間5分）"),
    ("zh", "【Acme】您的身份验证码是 123456，5 分钟内有效。"),
    ("ko", "[Acme] 본인 확인 코드는 123456입니다. 5분 동안 유효합니다."),
])
def test_the_sms_reads_in_the_customer_s_language(language, start):
    text = render_code_message(BabelTexts().language(language), brand="Acme", code="123456", ttl_seconds=300)
    assert text.startswith(start)
