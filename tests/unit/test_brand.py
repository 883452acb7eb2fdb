"""The brand and its support desk named naturally in every customer language, with or without VERIFY_BRAND_NAME."""

import pytest

from verify_service.adapters.texts import BabelTexts
from verify_service.domain.approvals import render_pending_message
from verify_service.domain.brand import brand_name, support_name
from verify_service.domain.contact_messages import contacts_message
from verify_service.domain.templates import render_code_message

TEXTS = BabelTexts()
DESK = {"en": "Customer Support", "ja": "カスタマーサポート", "zh": "客户服务中心", "ko": "고객센터"}
DOUBLED = ("Support support", "Supportサポート", "サポートサポート", "Support客服", "Support 고객지원팀")


@pytest.mark.parametrize("locale", sorted(DESK))
def test_with_no_brand_set_every_text_names_the_desk_once_in_the_customers_language(locale):
    words = TEXTS.language(locale)
    assert brand_name(words, "") == support_name(words, " ") == DESK[locale]
    texts = [render_code_message(words, brand="", code="123456", ttl_seconds=300),
             render_pending_message(words, brand="", reason="change address"),
             contacts_message(words, "", [])]
    for text in texts:
        assert DESK[locale] in text and not any(doubled in text for doubled in DOUBLED), text


@pytest.mark.parametrize(("locale", "desk"), [("en", "Acme support"), ("ja", "Acmeサポート"), ("zh", "Acme客服"),
                                              ("ko", "Acme 고객지원팀")])
def test_a_brand_gets_its_support_desk(locale, desk):
    assert support_name(TEXTS.language(locale), "Acme") == desk
    assert desk in render_code_message(TEXTS.language(locale), brand="Acme", code="123456", ttl_seconds=300)


@pytest.mark.parametrize("brand", ["Support", "Acme Support", "Acmeサポート"])
def test_a_brand_that_already_says_support_is_not_doubled(brand):
    for locale in DESK:
        assert support_name(TEXTS.language(locale), brand) == brand
