"""The agent console in a real browser: Playwright driving Debian's Chromium, keyboard only where it matters."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime

from tests.browser.conftest import served, shot, sign_in
from verify_service.domain.model import round_up_to_second

PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(make_harness, gateway):
    """The app served over real HTTP, with an agent and a supervisor."""
    harness = make_harness("sqlite", delivery_backend="webhook", sms_webhook_url=gateway.url)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    with served(harness.app) as base_url:
        harness.base_url = base_url
        yield harness


def verify(page, account_id, pin=None, code=None):
    page.fill("input[name=account_id]", account_id)
    page.fill("input[name=pin]", pin or "")
    page.fill("input[name=code]", code or "")
    page.focus("input[name=pin]" if pin else "input[name=code]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return page.inner_text("#result")


def test_sign_in_and_verify_a_caller_with_the_right_pin(site, page):
    pin = site.register()
    sign_in(page, site)
    shot(page, "verify-page")
    text = verify(page, "JP1001", pin)
    assert "VERIFIED" in text and "Level 1" in text and "Identity confirmed" in text
    assert pin not in page.content()
    shot(page, "verify-verified")


def in_browser_zone(value: str) -> str:
    """An API time as an English page shows it in the browser's zone (Asia/Tokyo): Babel's medium format."""
    moment = round_up_to_second(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return format_datetime(moment, "medium", tzinfo=ZoneInfo("Asia/Tokyo"), locale="en")


def test_five_wrong_pins_lead_to_locked(site, page):
    pin = site.register()
    wrong = "000001" if pin != "000001" else "000002"
    sign_in(page, site)
    assert "4 attempts left before the account locks." in verify(page, "JP1001", wrong)
    shot(page, "verify-rejected")
    for _ in range(4):
        text = verify(page, "JP1001", wrong)
    until = site.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["locked_until"]
    assert f"Locked until {in_browser_zone(until)}." in text and "(Asia/Tokyo)" not in text
    assert "LOCKED" in verify(page, "JP1001", pin)
    shot(page, "verify-locked")


def test_send_a_code_and_verify_with_it(site, page, gateway):
    pin = site.register()
    sign_in(page, site)
    page.fill("input[name=account_id]", "JP1001")
    page.click("text=Send code")  # sent without reloading the page
    page.wait_for_selector("#code-sent")
    assert "+81 *******678" in page.inner_text("#code-sent")
    page.wait_for_timeout(1500)  # the countdown ticks in the page (evaluating strings is barred by the CSP)
    assert re.search(r"\b2[789] s\b", page.inner_text(".countdown"))
    shot(page, "code-sent")
    site.services.outbox.dispatch_due()
    code = re.search(r"\b(\d{6})\b", gateway.received[-1].json()["text"]).group(1)
    text = verify(page, "JP1001", pin, code)
    assert "VERIFIED" in text and "Level 2" in text


def test_supervisor_unlocks_a_locked_customer(site, page):
    pin = site.register()
    for _ in range(5):
        site.check(pin="000001" if pin != "000001" else "000002")
    sign_in(page, site, "sam")
    page.goto(site.base_url + "/console/customers?account_id=JP1001")
    assert "locked" in page.inner_text("#customer-status").lower()
    shot(page, "supervisor-locked")
    form = page.locator("form", has=page.locator("button", has_text="Unlock"))
    form.locator("input[name=reason]").fill("caller verified on a video call")
    with page.expect_navigation():
        form.locator("button").click()
    assert page.inner_text(".notice") == "JP1001 unlocked; reason: caller verified on a video call"
    assert page.inner_text("#customer-status") == "ACTIVE"
    shot(page, "supervisor-unlocked")


def test_sign_in_is_throttled_after_five_wrong_passwords(site, page):
    for _ in range(5):
        sign_in(page, site, password="not the password")
        assert "Wrong username or password" in page.content()
    sign_in(page, site)
    assert "Too many failed sign-ins" in page.content()
    shot(page, "sign-in-throttled")


def test_a_form_without_its_csrf_token_is_refused(site, page):
    site.register()
    sign_in(page, site)
    page.evaluate("document.querySelector('#verify-form input[name=csrf_token]').value = 'forged'")
    page.fill("input[name=account_id]", "JP1001")
    page.fill("input[name=pin]", "123456")
    with page.expect_navigation():
        page.click("button.primary")
    assert "The form expired" in page.content()
    assert site.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"] == 0


def test_japanese_page(site, browser):
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    tab = context.new_page()
    tab.goto(site.base_url + "/console/login")
    assert "サインイン" in tab.content()
    sign_in(tab, site)
    shot(tab, "verify-page-ja")
    context.close()


def test_after_an_answer_the_next_callers_number_replaces_the_last_one(site, page):
    pin = site.register()
    site.register("JP1002", "+819012345670")
    sign_in(page, site)
    assert "VERIFIED" in verify(page, "JP1001", pin)
    assert page.evaluate("document.activeElement.name") == "account_id"
    assert page.evaluate("document.activeElement.selectionStart") == 0
    assert page.evaluate("document.activeElement.selectionEnd") == len("JP1001")
    page.keyboard.type("JP1002")  # typing straight away replaces the selected number
    assert page.input_value("input[name=account_id]") == "JP1002"
    assert page.input_value("input[name=pin]") == ""


def test_after_a_code_is_sent_the_cursor_waits_in_the_code_field(site, page):
    site.register()
    sign_in(page, site)
    page.fill("input[name=account_id]", "JP1001")
    page.click("text=Send code")
    page.wait_for_selector("#code-sent")
    assert page.evaluate("document.activeElement.name") == "code"


def test_full_width_digits_typed_with_an_ime_become_digits(site, page):
    pin = site.register()
    full = pin.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    sign_in(page, site)
    page.fill("input[name=account_id]", "ＪＰ１００１")
    page.focus("input[name=pin]")
    page.keyboard.insert_text(full)  # what an IME commits
    page.dispatch_event("input[name=pin]", "compositionend")
    assert page.input_value("input[name=pin]") == pin
    with page.expect_navigation():
        page.keyboard.press("Enter")
    text = page.inner_text("#result")
    assert "VERIFIED" in text and "PIN: matched" in text and "JP1001" in text
    shot(page, "verify-full-width")


def test_the_locking_attempt_says_locked_in_words(site, page):
    pin = site.register()
    wrong = "000001" if pin != "000001" else "000002"
    for _ in range(4):
        site.check(pin=wrong)
    sign_in(page, site)
    text = verify(page, "JP1001", wrong)
    assert "LOCKED NOW" in text and "PIN: wrong" in text and "NOT VERIFIED" not in text
    assert "mismatch" not in text and "not_checked" not in text
    shot(page, "verify-locking-attempt")


def test_the_language_switch_keeps_the_page(site, page):
    site.register()
    sign_in(page, site, "sam")
    page.goto(site.base_url + "/console/customers?account_id=JP1001")
    with page.expect_navigation():
        page.click("header a[lang=ja]")
    assert page.url.endswith("/console/customers?account_id=JP1001")
    assert "スーパーバイザー" in page.content() and "お客様登録" in page.inner_text("table")
    shot(page, "supervisor-ja")
