"""The verify page's traps under time pressure (issue 19 traps 1-4, issue 18 part 4), in Chromium, in English and
Japanese: a masked PIN field that still takes IME input, level 2 kept when a code is sent, Enter in the approval
reason, a double press, a contact card that updates itself, and the current call's keypad checks."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import PASSWORD, served, shot, sign_in
from tests.ivr.conftest import add_ivr_key
from verify_service.domain.model import Actor

CALL = "CA" + "56" * 16
SEND_CODE = "#verify-form button[formaction$='/console/send-code']"
VERIFY = "#verify-form .actions button.primary"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
WORDS = {  # what each language's page says (the catalogs' words, as an agent reads them)
    "en": {"sent": "Code sent to", "verified": "VERIFIED", "level2": "Level 2", "level1": "Level 1",
           "not_enough": "Level 1 only: not enough for account changes.", "pending": "PENDING",
           "stop": "THE CUSTOMER REPORTED THIS CONTACT", "phrase": "Read this phrase",
           "open": "Open: the customer sees this contact on their account page.", "keypad": "on the caller's keypad",
           "twice": "You pressed the button twice"},
    "ja": {"sent": "にコードを送信しました", "verified": "本人確認済み", "level2": "レベル 2", "level1": "レベル 1",
           "not_enough": "レベル 1 のみ：アカウントの変更には不十分です。", "pending": "承認待ち",
           "stop": "お客様がこの連絡を報告しました", "phrase": "この合言葉をお客様に読み上げてください",
           "open": "進行中：お客様のマイページにこの連絡が表示されています。",
           "keypad": "お客様が電話のキーパッドで入力",
           "twice": "ボタンが 2 回押されました"},
}


class SlowPosts:
    """Holds each console form post for `seconds` before the app answers: a slow answer, when agents press twice."""

    def __init__(self, app):
        self.app, self.seconds = app, 0.0

    def __call__(self, environ, start_response):
        if self.seconds and environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] != "/console/login":
            time.sleep(self.seconds)
        return self.app(environ, start_response)


@pytest.fixture
def site(make_harness, gateway):
    """The app served over real HTTP, with an agent, SMS to a local gateway, an ivr key; `site.slow` slows posts."""
    harness = make_harness("sqlite", delivery_backend="webhook", sms_webhook_url=gateway.url)
    harness.services.users.create("alice", "agent", PASSWORD)
    add_ivr_key(harness)
    harness.slow = SlowPosts(harness.app)
    with served(harness.slow) as base_url:
        harness.base_url = base_url
        yield harness


def press_twice(site, tab, selector):
    """Press a button, and again while its slow answer is on its way (as an agent does)."""
    site.slow.seconds = 1.0
    box = tab.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    tab.mouse.click(x, y)
    tab.wait_for_timeout(300)
    tab.mouse.click(x, y)


@pytest.fixture(params=["en", "ja"])
def tab(request, browser):
    """A tab in English or Japanese (Tokyo time); `tab.words` are the words its pages use."""
    locale = {"en": "en-US", "ja": "ja-JP"}[request.param]
    context = browser.new_context(locale=locale, timezone_id="Asia/Tokyo", viewport={"width": 1000, "height": 1100})
    page = context.new_page()
    page.lang, page.words = request.param, WORDS[request.param]
    yield page
    context.close()


def failures(site):
    return site.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"]


def wrong(pin):
    return "739184" if pin != "739184" else "739185"


def sent_code(site, gateway):
    site.services.outbox.dispatch_due()
    return re.search(r"\b(\d{6})\b", gateway.received[-1].json()["text"]).group(1)


def type_with_ime(page, selector, text):
    """Type as a Japanese IME does: compositions of full-width digits, then the commit (Chromium's own IME path).

    Returns the field's pictures while it composed two different digit strings of the same length.
    """
    page.focus(selector)
    cdp = page.context.new_cdp_session(page)
    pictures = []
    for composing in ("１２３", "７８９"):
        cdp.send("Input.imeSetComposition", {"text": composing, "selectionStart": 3, "selectionEnd": 3})
        pictures.append(page.locator(selector).screenshot())
    cdp.send("Input.imeSetComposition", {"text": text, "selectionStart": len(text), "selectionEnd": len(text)})
    cdp.send("Input.insertText", {"text": text})
    cdp.detach()
    return pictures


def test_the_pin_field_masks_the_digits_and_still_takes_full_width_ime_input(site, tab):
    pin = site.register()
    sign_in(tab, site)
    field = tab.locator("input[name=pin]")
    assert field.evaluate("e => getComputedStyle(e).webkitTextSecurity") == "disc"
    assert field.evaluate("e => e.type") == "text"  # a password field would switch the IME off
    tab.fill("input[name=account_id]", "JP1001")
    first, second = type_with_ime(tab, "input[name=pin]", pin.translate(FULL_WIDTH))
    assert first == second  # masked while the IME composes too: "１２３" and "７８９" look alike on screen
    assert tab.input_value("input[name=pin]") == pin  # normalised to ASCII after the composition
    shot(tab, f"verify-pin-masked-{tab.lang}")
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    assert tab.words["verified"] in tab.inner_text("#result")
    assert pin not in tab.content() and pin.translate(FULL_WIDTH) not in tab.content()


def test_sending_a_code_keeps_the_typed_pin_and_verifies_at_level_two(site, tab, gateway):
    pin = site.register()
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    tab.fill("input[name=pin]", pin)
    tab.click(SEND_CODE)
    tab.wait_for_selector("#code-sent")
    assert tab.words["sent"] in tab.inner_text("#code-sent")
    assert tab.input_value("input[name=pin]") == pin  # what the agent typed is still there
    assert pin not in tab.content()  # and was never rendered into the page
    assert tab.evaluate("document.activeElement.name") == "code"
    tab.keyboard.type(sent_code(site, gateway))
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    result = tab.inner_text("#result")
    assert tab.words["verified"] in result and tab.words["level2"] in result
    assert tab.locator("#level-warning").count() == 0
    shot(tab, f"verify-level-two-{tab.lang}")


def test_a_level_one_answer_after_a_code_was_sent_says_it_is_not_enough(site, tab, gateway):
    site.register()
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    tab.click(SEND_CODE)
    tab.wait_for_selector("#code-sent")
    tab.keyboard.type(sent_code(site, gateway))  # the code alone: PIN not entered
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    result = tab.inner_text("#result")
    assert tab.words["level1"] in result and tab.words["not_enough"] in result
    assert "result-partial" in tab.get_attribute("#result", "class")  # not the plain green "go ahead"
    shot(tab, f"verify-level-one-warning-{tab.lang}")


def test_enter_in_the_approval_reason_sends_the_request_and_spends_no_attempt(site, tab):
    pin = site.register()
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    tab.fill("input[name=pin]", wrong(pin))
    tab.fill("input[name=reason]", "change withdrawal address")
    tab.focus("input[name=reason]")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#approval-status, #result")
    assert tab.locator("#result").count() == 0  # Verify did not run
    assert tab.words["pending"] in tab.inner_text("#approval-status")
    assert tab.locator("#result").count() == 0 and failures(site) == 0
    assert tab.input_value("input[name=pin]") == wrong(pin)  # kept for "Verify with approval"
    pending = site.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()["approvals"]
    assert [a["reason"] for a in pending] == ["change withdrawal address"]


def approve(site):
    (approval,) = site.call("GET", "/v1/customers/JP1001/approvals/pending", "portal").get_json()["approvals"]
    path = f"/v1/customers/JP1001/approvals/{approval['approval_id']}/answer"
    assert site.call("POST", path, "portal", {"answer": "approve"}).status_code == 200


def test_verify_with_approval_pressed_twice_counts_once_and_stays_verified(site, tab):
    pin = site.register()
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    tab.fill("input[name=reason]", "change withdrawal address")
    tab.click("#send-approval")
    tab.wait_for_selector("#approval-status")
    approve(site)
    tab.click("#approval-refresh")
    tab.wait_for_selector("#verify-with-approval")
    tab.fill("input[name=pin]", pin)
    press_twice(site, tab, "#verify-with-approval")
    tab.wait_for_selector("#result")
    tab.wait_for_timeout(1500)  # a second request, had one left, is answered by now
    result = tab.inner_text("#result")
    assert tab.words["verified"] in result and tab.words["level2"] in result
    assert failures(site) == 0
    assert site.call("GET", "/v1/customers/JP1001", "agent").get_json()["status"] == "active"


def test_a_repeated_verify_with_approval_that_skips_the_script_counts_nothing(site, tab):
    """The server's half: the same submission posted twice (no script to stop it) answers the first check."""
    pin = site.register()
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    tab.fill("input[name=reason]", "change withdrawal address")
    tab.click("#send-approval")
    tab.wait_for_selector("#approval-status")
    approve(site)
    tab.click("#approval-refresh")
    tab.wait_for_selector("#verify-with-approval")
    tab.fill("input[name=pin]", pin)
    statuses = tab.evaluate("""async () => {
        const form = document.getElementById('verify-form');
        const data = new FormData(form, document.getElementById('verify-with-approval'));
        const post = () => fetch(form.action, {method: 'POST', body: data}).then(r => r.text());
        const first = await post();
        return [first, await post()];
    }""")
    assert all(tab.words["level2"] in answer for answer in statuses)
    assert tab.words["twice"] in statuses[1]
    assert failures(site) == 0


def test_verify_pressed_twice_with_a_wrong_pin_spends_one_attempt(site, tab):
    pin = site.register()
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    tab.fill("input[name=pin]", wrong(pin))
    press_twice(site, tab, VERIFY)  # the button is disabled while its request is in flight
    tab.wait_for_selector("#result")
    tab.wait_for_timeout(1500)
    assert tab.locator("#result").count() == 1 and failures(site) == 1


def test_send_code_pressed_twice_sends_one_code(site, tab, gateway):
    site.register()
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    press_twice(site, tab, SEND_CODE)
    tab.wait_for_selector("#code-sent")
    tab.wait_for_timeout(1500)
    assert tab.locator("main .error").count() == 0  # no "a code was sent moments ago" from a second send
    site.services.outbox.dispatch_due()
    assert len(gateway.received) == 1


def start_contact(site, tab):
    site.services.agents.name("alice", "Alice", Actor("cli"))
    site.register(locale=tab.lang)
    sign_in(tab, site)
    tab.fill("input[name=account_id]", "JP1001")
    tab.fill("input[name=ticket_ref]", "T-1")
    with tab.expect_navigation():
        tab.click("#verify-form button[formaction$='/console/contacts']")
    (contact,) = site.call("GET", "/v1/customers/JP1001/contacts/active", "portal").get_json()["contacts"]
    return contact["contact_id"]


def test_the_contact_card_updates_itself_and_after_a_report_shows_only_the_stop_order(site, tab):
    contact_id = start_contact(site, tab)
    assert tab.words["phrase"] in tab.inner_text("#contact")
    path = f"/v1/customers/JP1001/contacts/{contact_id}/report"
    assert site.call("POST", path, "portal", {"reason": "I did not ask for this"}).status_code == 200
    tab.wait_for_selector("#contact-warning", timeout=8000)  # no click: the card polls
    card = tab.inner_text("#contact")
    assert tab.words["stop"] in card
    assert tab.words["phrase"] not in card and tab.words["open"] not in card and "active" not in card.lower()
    assert tab.locator("#contact-phrase").count() == 0 and tab.locator("#contact-status").count() == 0
    shot(tab, f"contact-reported-{tab.lang}")


def test_an_open_contact_s_state_reads_as_words_not_a_raw_status(site, tab):
    start_contact(site, tab)
    card = tab.inner_text("#contact")
    assert tab.words["open"] in card and tab.words["phrase"] in card
    assert "active" not in card.lower()  # not "Status: active"
    shot(tab, f"contact-open-{tab.lang}")


def keypad(site, pin):
    body = {"account_id": "JP1001", "channel": "phone", "agent_id": "flow", "pin": pin, "call_ref": CALL}
    return site.call("POST", "/v1/verifications", "ivr", body).get_json()


def test_the_verify_page_shows_the_current_call_s_keypad_checks_and_updates_them(site, tab):
    pin = site.register()
    keypad(site, wrong(pin))
    sign_in(tab, site)
    tab.goto(f"{site.base_url}/console?call_ref={CALL}&account_id=JP1001")  # what a CTI screen pop opens
    assert tab.locator("#call-slot li.call-check").count() == 1
    assert tab.words["keypad"] in tab.inner_text("#call-slot")
    site.clock.advance(10)
    verified = keypad(site, pin)
    newest = tab.locator(f"#call-{verified['verification_id']}")
    newest.wait_for(timeout=8000)  # polled, no reload
    text = newest.inner_text()
    assert tab.words["verified"] in text and tab.words["level1"] in text and tab.words["keypad"] in text
    assert tab.input_value("input[name=account_id]") == "JP1001"
    assert pin not in tab.content() and wrong(pin) not in tab.content()
    shot(tab, f"verify-current-call-{tab.lang}")
