"""Words an agent, a supervisor and a customer read at a glance, in Japanese and English (issue 19 items 5-9, 11):
the default name, the header, the page titles, the time zone said once, fonts, a 420 px screen, supervisors' acts."""

import re

import pytest

from tests.browser.conftest import PASSWORD, served, shot, sign_in

LONG_NAME = "yamada.taro@desk-3"
LANGS = {"en": "en-US", "ja": "ja-JP"}


@pytest.fixture
def site(make_harness):
    """The app over real HTTP with no brand set: an agent (a long name), a supervisor and one customer."""
    harness = make_harness("sqlite", agent_block=True, agent_max_failures=2)
    harness.services.users.create(LONG_NAME, "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    harness.pin = harness.register(locale="ja")
    with served(harness.app) as base_url:
        harness.base_url = base_url
        yield harness


def tab(browser, lang, width=1000):
    """A tab in the language, in Tokyo time."""
    context = browser.new_context(locale=LANGS[lang], timezone_id="Asia/Tokyo",
                                  viewport={"width": width, "height": 900})
    return context.new_page()


@pytest.fixture(params=sorted(LANGS))
def lang(request):
    return request.param


def press_start_contact(page):
    """Press Start contact (by its words, wherever the page puts the button)."""
    words = {"en": "Start contact", "ja": "連絡を開始"}[page.evaluate("document.documentElement.lang")]
    with page.expect_navigation():
        page.get_by_role("button", name=words, exact=True).click()


def test_an_unnamed_agent_is_the_desk_by_its_natural_name(site, browser, lang):
    site.register("JP2002", locale=lang)  # the customer reads their own language; the agent reads theirs
    page = tab(browser, lang)
    sign_in(page, site, LONG_NAME)
    page.fill("input[name=account_id]", "JP2002")
    page.fill("input[name=ticket_ref]", "T-1")
    press_start_contact(page)
    card = page.inner_text("#contact")
    desk = {"en": "Customer Support", "ja": "カスタマーサポート"}[lang]
    assert desk in card and "Supportサポート" not in card and "Support support" not in card
    customer = site.call("GET", "/v1/customers/JP2002/contacts/active", "portal").get_json()
    said = {"en": "Customer Support is contacting you now about ticket T-1.",
            "ja": "カスタマーサポートが、チケットT-1の件で今お客様にご連絡しています。"}[lang]
    assert customer["message"].startswith(said)
    page.context.close()


def test_the_header_says_who_in_words_and_the_titles_are_distinct(site, browser, lang):
    page = tab(browser, lang)
    sign_in(page, site, "sam")
    header = page.inner_text("header")
    role = {"en": "Supervisor", "ja": "スーパーバイザー"}[lang]
    assert role in page.inner_text("header .role") and "(supervisor)" not in header and "(agent)" not in header
    title, nav, heading = page.title(), page.inner_text("header nav a >> nth=0"), page.inner_text("h1")
    expected = {"en": ("Caller verification", "Verify", "Verify a caller"),
                "ja": ("本人確認コンソール", "本人確認", "発信者の本人確認")}[lang]
    assert (title.split(" · ")[0], nav, heading) == expected
    page.goto(site.base_url + "/console/customers")
    assert page.inner_text("h1") == {"en": "Find a customer", "ja": "お客様の照会"}[lang]
    assert page.inner_text("header nav a >> nth=1") == {"en": "Customers", "ja": "顧客照会"}[lang]
    page.context.close()


def test_the_time_zone_is_said_once_per_page_and_never_after_a_time(site, browser, lang):
    wrong = "000001" if site.pin != "000001" else "000002"
    for _ in range(5):
        site.check(pin=wrong, agent_id="desk-1")
    page = tab(browser, lang)
    sign_in(page, site, "sam")
    page.goto(site.base_url + "/console/customers?account_id=JP1001")
    text = page.inner_text("body")
    assert "(Asia/Tokyo)" not in text and "Asia/Tokyo" not in text
    said = {"en": "Times are shown in Japan Time.", "ja": "時刻はすべて日本時間で表示しています。"}[lang]
    assert page.inner_text("#zone") == said
    page.context.close()


def test_the_font_stack_puts_system_fonts_first_and_ipa_last(site, page):
    sign_in(page, site, "sam")
    stack = page.evaluate("getComputedStyle(document.body).fontFamily")
    names = [name.strip().strip('"') for name in stack.split(",")]
    assert names[0] == "system-ui"
    order = [names.index(name) for name in ("Noto Sans JP", "Hiragino Sans", "Yu Gothic", "IPAGothic")]
    assert order == sorted(order)
    assert names.index("IPAPGothic") < names.index("IPAGothic")  # the proportional face before the monospaced one


@pytest.mark.parametrize("user", [LONG_NAME, "sam"])
def test_at_420_px_the_header_never_splits_the_user_name(site, browser, lang, user):
    page = tab(browser, lang, width=420)
    sign_in(page, site, user)
    name = page.locator("header .user")
    lines = page.evaluate("el => el.getClientRects().length", name.element_handle())
    box = name.bounding_box()
    line_height = page.evaluate("el => parseFloat(getComputedStyle(el).fontSize) * 1.6", name.element_handle())
    assert lines == 1 and box["height"] < line_height and box["x"] + box["width"] <= 420
    assert page.evaluate("document.documentElement.scrollWidth") <= 420  # no sideways scrolling
    shot(page, f"header-420-{lang}-{user.split('.')[0]}")
    page.context.close()


def test_an_empty_ticket_reference_is_called_missing(site, browser, lang):
    page = tab(browser, lang)
    sign_in(page, site, LONG_NAME)
    page.fill("input[name=account_id]", "JP1001")
    press_start_contact(page)
    error = page.inner_text(".error")
    assert error == {"en": "Enter the ticket reference: a contact is always about a ticket.",
                     "ja": "チケット番号を入力してください。連絡は必ずチケットに紐づけます。"}[lang]
    page.context.close()


def test_the_supervisor_is_told_what_happened_and_events_show_their_reasons(site, browser, lang):
    wrong = "000001" if site.pin != "000001" else "000002"
    for _ in range(5):
        site.check(pin=wrong, agent_id="desk-1")
    page = tab(browser, lang)
    sign_in(page, site, "sam")
    page.goto(site.base_url + "/console/customers?account_id=JP1001")
    form = page.locator("form[action$='/actions/unlock']")
    form.locator("input[name=reason]").fill("caller verified on a video call")
    with page.expect_navigation():
        form.locator("button").click()
    said = {"en": "JP1001 unlocked; reason: caller verified on a video call",
            "ja": "JP1001 のロックを解除しました。理由：caller verified on a video call"}[lang]
    assert page.inner_text(".notice") == said
    assert page.inner_text("#customer-status") == {"en": "ACTIVE", "ja": "通常"}[lang]
    reasons = page.locator("td.reason").all_inner_texts()
    assert "caller verified on a video call" in reasons
    shot(page, f"supervisor-unlocked-{lang}")
    page.context.close()


def test_agent_alerts_are_a_table_that_links_to_the_agents_checks(site, browser, lang):
    wrong = "000001" if site.pin != "000001" else "000002"
    for _ in range(2):
        site.check(pin=wrong, agent_id="desk-1")
    page = tab(browser, lang)
    sign_in(page, site, "sam")
    page.goto(site.base_url + "/console/agents")
    headers = page.locator("#alerts th").all_inner_texts()
    assert headers[:4] == {"en": ["Who", "What", "Count", "When"], "ja": ["対象", "内容", "件数", "日時"]}[lang]
    row = page.locator("#alerts tr.anomaly", has_text="desk-1")
    assert row.locator(".count").inner_text() == "2"
    assert {"en": "Failed checks", "ja": "確認の失敗回数"}[lang] in row.locator(".what").inner_text()
    shot(page, f"alerts-{lang}")
    with page.expect_navigation():
        row.locator(".who a").click()
    assert re.search(r"/console/checks\?agent_id=desk-1$", page.url)
    assert page.locator("#checks tr.check").count() == 2
    assert "desk-1" in page.inner_text("h1")
    page.go_back()
    row = page.locator("#alerts tr.anomaly", has_text="desk-1")
    row.locator("input[name=reason]").fill("coached")
    with page.expect_navigation():
        row.locator("button").click()
    assert page.inner_text(".notice") == {"en": "Alert cleared for Agent desk-1; reason: coached",
                                          "ja": "担当者 desk-1 のアラートを解除しました。理由：coached"}[lang]
    page.context.close()
