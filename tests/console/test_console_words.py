"""The console speaks in words (factors, the locking headline, refusals, events); IME digits; the language switch."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.console.test_console import csrf, post, sign_in

FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}  # ASCII as a Japanese IME types it
API_VALUES = ("not_checked", "mismatch", "not_given", "verification_failed", "verification_succeeded", "sms")


def client_in(console, lang):
    """A signed-in agent's client in one language."""
    web = console.client
    web.set_cookie("lang", lang)
    sign_in(web)
    return web


def screen(html):
    """What the page shows: its text without tags, attributes or scripts."""
    main = html.split("<main>", 1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def wrong_pin(pin):
    return "000001" if pin != "000001" else "000002"


def test_each_factor_of_an_answer_is_named_in_words(console):
    pin = console.register()
    web = client_in(console, "en")
    shown = screen(post(web, "/console/verify", account_id="JP1001", pin=pin, channel="phone").get_data(as_text=True))
    assert "PIN: matched" in shown and "One-time code: not entered" in shown
    shown = screen(post(web, "/console/verify", account_id="JP1001", pin=wrong_pin(pin), code="123456",
                        channel="phone").get_data(as_text=True))
    assert "PIN: wrong" in shown and "One-time code: wrong" in shown
    assert not [value for value in API_VALUES if value in shown]


def test_factors_in_japanese_are_words_too(console):
    pin = console.register()
    web = client_in(console, "ja")
    shown = screen(post(web, "/console/verify", account_id="JP1001", pin=wrong_pin(pin),
                        channel="phone").get_data(as_text=True))
    assert "PIN: 不一致" in shown and "ワンタイムコード: 未入力" in shown and "確認できません" in shown
    assert not [value for value in API_VALUES if value in shown]


def test_a_locked_customer_shows_not_checked_for_what_was_typed(console):
    pin = console.register()
    for _ in range(5):
        console.check(pin=wrong_pin(pin))
    web = client_in(console, "en")
    shown = screen(post(web, "/console/verify", account_id="JP1001", pin=pin, channel="phone").get_data(as_text=True))
    assert "LOCKED" in shown and "PIN: not checked" in shown and "One-time code: not entered" in shown


def test_the_locking_attempt_headline_says_locked(console):
    pin = console.register()
    for _ in range(4):
        console.check(pin=wrong_pin(pin))
    headlines = (("en", "LOCKED NOW", "NOT VERIFIED"), ("ja", "ロックされました", "確認できません"))
    for lang, headline, not_this in headlines:
        console.call("DELETE", "/v1/customers/JP1001/lock", "admin", {"reason": "test"})
        for _ in range(4):
            console.check(pin=wrong_pin(pin))
        web = client_in(console, lang)
        html = post(web, "/console/verify", account_id="JP1001", pin=wrong_pin(pin), channel="phone")
        shown = screen(html.get_data(as_text=True))
        assert headline in shown and not_this not in shown
        assert 'class="result result-locked"' in html.get_data(as_text=True)


def test_full_width_digits_and_letters_from_an_ime_are_accepted_on_the_console(console):
    pin = console.register()
    web = client_in(console, "en")
    page = post(web, "/console/verify", account_id="JP1001".translate(FULL_WIDTH), pin=pin.translate(FULL_WIDTH),
                channel="phone")
    assert page.status_code == 200 and "VERIFIED" in page.get_data(as_text=True)
    events = console.call("GET", "/v1/audit?event=verification_succeeded", "admin").get_json()["events"]
    assert [event["agent_id"] for event in events] == ["alice"]


def test_full_width_digits_are_still_refused_by_the_api(console):
    pin = console.register()
    response = console.check(pin=pin.translate(FULL_WIDTH))
    assert response.status_code == 400 and "pin" in response.get_json()["error"]["details"]


def test_a_pin_that_is_not_six_digits_is_explained_in_the_agents_language(console):
    console.register()
    for lang, text in (("en", "The PIN must be 6 digits."), ("ja", "PINは6桁の数字です。")):
        web = client_in(console, lang)
        page = post(web, "/console/verify", account_id="JP1001", pin="12345", channel="phone")
        assert page.status_code == 400 and text in page.get_data(as_text=True)
        assert "Must be exactly" not in page.get_data(as_text=True)


@pytest.mark.parametrize("lang, text", [("en", "The account is locked after too many failed checks"),
                                        ("ja", "確認の失敗が多いため口座はロック中です")])
def test_a_refused_code_send_is_explained_in_words(console, lang, text):
    pin = console.register()
    for _ in range(5):
        console.check(pin=wrong_pin(pin))
    web = client_in(console, lang)
    page = post(web, "/console/send-code", account_id="JP1001")
    assert page.status_code == 409 and text in page.get_data(as_text=True)


@pytest.mark.parametrize("lang, zone, shown, words", [
    ("ja", "Asia/Tokyo", "2026/11/24 13:05:06", "SIMスワップ対策"),  # 04:05:06 UTC + 1 day, in Tokyo
    ("en", "America/New_York", "Nov 23, 2026, 11:05:06\u202fPM", "SIM-swap guard"),
])
def test_the_sim_swap_hold_names_its_end_in_the_agents_zone_and_language(console, lang, zone, shown, words):
    console.register()
    console.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "+819012345679"})
    web = client_in(console, lang)
    web.set_cookie("tz", zone)
    page = post(web, "/console/send-code", account_id="JP1001").get_data(as_text=True)
    assert words in page and shown in page and f"({zone})" not in page  # Babel's format, no zone suffix


def test_code_send_refusals_carry_a_reason_in_the_api(console):
    pin = console.register()
    body = {"agent_id": "agent-42"}
    assert console.call("POST", "/v1/customers/JP1001/codes", "agent", body).status_code == 201
    cooldown = console.call("POST", "/v1/customers/JP1001/codes", "agent", body).get_json()["error"]
    assert cooldown["details"]["reason"] == "resend_cooldown"
    for _ in range(5):
        console.check(pin=wrong_pin(pin))
    locked = console.call("POST", "/v1/customers/JP1001/codes", "agent", body).get_json()["error"]
    assert locked["details"] == {"reason": "locked"}
    console.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "takeover"})
    frozen = console.call("POST", "/v1/customers/JP1001/codes", "agent", body).get_json()["error"]
    assert frozen["details"] == {"reason": "frozen"}


def test_the_supervisor_page_names_events_and_the_second_factor_in_words(console):
    pin = console.register()
    console.check(pin=wrong_pin(pin))
    web = client_in(console, "en")
    web.get("/console")
    sign_in(web, "sam")
    shown = screen(web.get("/console/customers?account_id=JP1001").get_data(as_text=True))
    assert "Check: not verified" in shown and "Customer registered" in shown and "SMS code" in shown
    assert "Phone" in shown  # the check's channel
    assert not [value for value in API_VALUES if value in shown]


def test_the_language_switch_keeps_the_supervisors_customer_page(console):
    console.register()
    web = console.client
    web.set_cookie("lang", "en")
    sign_in(web, "sam")
    html = web.get("/console/customers?account_id=JP1001").get_data(as_text=True)
    link = re.search(r'href="(/console/lang/ja[^"]*)"', html).group(1).replace("&amp;", "&")
    response = web.get(link)
    assert response.headers["Location"] == "/console/customers?account_id=JP1001"
    assert "スーパーバイザー" in web.get(response.headers["Location"]).get_data(as_text=True)


def test_the_language_switch_after_a_check_keeps_the_form_but_never_the_pin(console):
    pin = console.register()
    web = client_in(console, "en")
    html = post(web, "/console/verify", account_id="JP1001", pin=pin, channel="chat",
                ticket_ref="T-7").get_data(as_text=True)
    link = re.search(r'href="(/console/lang/ja[^"]*)"', html).group(1).replace("&amp;", "&")
    target = web.get(link).headers["Location"]
    assert urlsplit(target).path == "/console" and pin not in target
    assert parse_qs(urlsplit(target).query) == {"account_id": ["JP1001"], "channel": ["chat"], "ticket_ref": ["T-7"]}
    page = web.get(target).get_data(as_text=True)
    assert 'value="JP1001"' in page and 'value="T-7"' in page and "本人確認" in page
    assert re.search(r'value="chat"\s+checked', page)


@pytest.mark.parametrize("target", ["https://evil.example/console", "//evil.example/console", "/\\evil.example",
                                    "javascript:alert(1)", "/v1/customers", "/console/../v1"])
def test_the_language_switch_never_follows_next_off_the_console(client_signed_out, target):
    response = client_signed_out.get("/console/lang/ja", query_string={"next": target})
    location = response.headers["Location"]
    assert location.startswith("/console") and "evil" not in location and ".." not in location


@pytest.fixture
def client_signed_out(console):
    web = console.client
    csrf(web)
    return web



@pytest.fixture
def in_japanese(make_harness):
    """A console request in Japanese (the words are gettext calls made at call time, in the page's language)."""
    with make_harness("sqlite").app.test_request_context("/console", headers={"Cookie": "lang=ja"}):
        yield


@pytest.fixture
def in_english(make_harness):
    with make_harness("sqlite").app.test_request_context("/console", headers={"Cookie": "lang=en"}):
        yield


def test_every_audit_event_has_words_of_its_own(in_japanese):
    """Each event reads in the agent's language, never as its name with spaces (the English words of several
    events equal that fallback, so Japanese tells them apart; tests/test_translations.py proves the catalog)."""
    from verify_service.console.words import event_label
    from verify_service.domain.names import AuditEventName

    fallback = [name.value for name in AuditEventName
                if event_label(name.value) in (name.value, name.value.replace("_", " ").capitalize())]
    assert fallback == []
    assert event_label("customer_locked") == "ロック" and event_label("code_sent") == "コード送信"


def test_a_value_with_no_words_reads_as_the_api_recorded_it(in_english):
    from verify_service.console import words

    assert words.event_label("pin_reset_by_branch") == "Pin reset by branch"
    assert words.factor_words("throttled", given=True) == "throttled"
    assert words.factor_words("not_checked", given=False) == "not entered"
    assert words.second_factor_word("webauthn") == "webauthn" and words.second_factor_word("totp") == (
        "Authenticator app")
    assert words.approval_status_word("withdrawn") == "withdrawn"
    assert words.contact_status_word("paused") == "paused" and words.channel_word("fax") == "fax"
    assert words.status_word("closed") == "closed"
    assert words.invalid_words("nickname") == words.invalid_words("form") == "Enter the PIN, a code, or both."


def test_an_expired_contact_and_an_expired_code_have_words_of_their_own(in_japanese):
    """"expired" of a contact has its own context, so a translator can word it apart from an expired code."""
    from verify_service.console.words import contact_status_word, factor_words

    assert contact_status_word("expired") == "期限切れ" and factor_words("expired", given=True) == "期限切れ"
    assert contact_status_word("active") == "対応中" and contact_status_word("ended") == "終了"
