"""Entry links in a real browser: the customer's page in Japanese and English on a phone, and the agent's live view
of the result (issue 18 parts 2 and 4)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PASSWORD, served, shot, sign_in

PUBLIC = "http://127.0.0.1"  # the tests open the link's path on the served app's own address
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


def wrong(pin: str) -> str:
    return "000001" if pin != "000001" else "000002"


@pytest.fixture
def site(make_harness):
    """The app over real HTTP with entry links on, an agent console user and two customers (ja and en)."""
    harness = make_harness("sqlite", entry_link_public_url=PUBLIC)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.pins = {"JA1": harness.register("JA1", locale="ja"), "EN1": harness.register("EN1", locale="en")}
    with served(harness.app) as base_url:
        harness.base_url = base_url
        yield harness


def link_path(site, account_id: str) -> str:
    made = site.call("POST", f"/v1/customers/{account_id}/entry-links", "agent",
                     {"agent_id": "agent-42", "channel": "chat", "ticket_ref": "T-1"})
    assert made.status_code == 201
    return made.get_json()["url"][len(PUBLIC):]


@pytest.fixture
def phone(browser, request):
    """A phone-sized tab; every request it makes and every console message it logs are kept."""
    locale = getattr(request, "param", "ja-JP")
    context = browser.new_context(locale=locale, timezone_id="Asia/Tokyo", **PHONE)
    tab = context.new_page()
    tab.requests, tab.messages = [], []
    tab.on("request", lambda r: tab.requests.append(r.url))
    tab.on("console", lambda m: tab.messages.append(m.text))
    yield tab
    context.close()


def fits_the_screen(tab) -> None:
    """No sideways scrolling, and fields big enough that a phone does not zoom in on them."""
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert tab.locator("#pin").evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 16
    box = tab.locator("button[type=submit]").bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300


def type_and_send(tab, pin: str) -> None:
    tab.tap("#pin")
    tab.keyboard.type(pin)
    with tab.expect_navigation():
        tab.tap("button[type=submit]")


@pytest.mark.parametrize("phone", ["en-US"], indirect=True)
def test_the_japanese_page_on_a_phone_wrong_then_right_pin(site, phone):
    path = link_path(site, "JA1")
    phone.goto(site.base_url + path)
    assert phone.locator("html").get_attribute("lang") == "ja"  # the customer's locale, not the browser's
    assert phone.inner_text("h1") == "本人確認" and "サポートPIN（6桁）" in phone.inner_text("label[for=pin]")
    assert phone.locator("#pin").get_attribute("type") == "password"  # the digits are not on screen
    fits_the_screen(phone)
    shot(phone, "entry-link-ja-form")
    type_and_send(phone, wrong(site.pins["JA1"]))
    assert phone.inner_text("#problem") == "一致しませんでした。あと4回間違えるとロックされます。"
    assert phone.locator("#pin").input_value() == ""
    type_and_send(phone, site.pins["JA1"])
    assert phone.inner_text("#outcome") == "本人確認ができました"
    shot(phone, "entry-link-ja-verified")
    phone.goto(site.base_url + path)  # dead now: the one page for every dead link, in the browser's language
    assert phone.inner_text("#outcome") == "This link is no longer valid."
    assert all(url.startswith(site.base_url) for url in phone.requests), phone.requests
    assert not [m for m in phone.messages if "Content Security Policy" in m or "Refused" in m], phone.messages


@pytest.mark.parametrize("phone", ["ja-JP"], indirect=True)
def test_the_english_page_on_a_phone_takes_full_width_digits(site, phone):
    path = link_path(site, "EN1")
    phone.goto(site.base_url + path)
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.inner_text("h1") == "Confirm your identity"
    assert "Customer Support asked you to confirm your identity in the chat." in phone.inner_text("#asked")
    fits_the_screen(phone)
    shot(phone, "entry-link-en-form")
    full_width = site.pins["EN1"].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    phone.locator("#pin").evaluate("(e, v) => { e.value = v; }", full_width)  # as an IME leaves it
    with phone.expect_navigation():
        phone.tap("button[type=submit]")
    assert phone.inner_text("#outcome") == "Identity confirmed"
    shot(phone, "entry-link-en-verified")
    assert not [m for m in phone.messages if "Content Security Policy" in m or "Refused" in m], phone.messages


def test_the_agent_sees_the_result_live_and_never_a_digit(site, page, browser):
    sign_in(page, site)
    page.fill("input[name=account_id]", "EN1")
    page.check("input[name=channel][value=chat]")
    page.fill("input[name=ticket_ref]", "T-77")
    with page.expect_navigation():
        page.click("#send-entry-link")
    url = page.input_value("#entry-link-url")
    assert url.startswith(PUBLIC + "/entry/")
    assert "WAITING" in page.inner_text("#entry-link-status")
    shot(page, "entry-link-agent-waiting")
    customer = browser.new_context(locale="en-US", **PHONE).new_page()
    customer.goto(site.base_url + url[len(PUBLIC):])
    pin = site.pins["EN1"]
    type_and_send(customer, wrong(pin))
    page.wait_for_selector("#entry-link-result.result-rejected", timeout=10_000)  # no reload: the page polls
    assert page.inner_text("#entry-link-status").startswith("WRONG ENTRY")
    type_and_send(customer, pin)
    page.wait_for_selector("#entry-link-result.result-verified", timeout=10_000)
    assert page.inner_text("#entry-link-status").startswith("VERIFIED")
    assert page.inner_text("#entry-link-detail").startswith("Level 1 · Valid until")
    assert page.locator("#entry-link-result").get_attribute("class") == "result result-verified"
    shot(page, "entry-link-agent-verified")
    text = page.content()
    assert pin not in text and wrong(pin) not in text
    customer.context.close()
