"""The console's words from the gettext catalogs: plurals, times in the agent's zone, a zone cookie never trusted."""

import pytest

from tests.console.test_console import PASSWORD, post
from tests.console.test_console_words import client_in, screen, wrong_pin


@pytest.fixture
def console(make_harness):
    """SQLite is enough: the words do not depend on the store."""
    harness = make_harness("sqlite")
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    return harness


@pytest.mark.parametrize("lang, four, one", [
    ("en", "4 attempts left before the account locks.", "1 attempt left before the account locks."),
    ("ja", "ロックまであと 4 回です。", "ロックまであと 1 回です。"),
])
def test_attempts_left_use_the_language_s_plural_forms(console, lang, four, one):
    pin = console.register()
    web = client_in(console, lang)
    pages = [post(web, "/console/verify", account_id="JP1001", pin=wrong_pin(pin), channel="phone")
             for _ in range(4)]
    assert four in screen(pages[0].get_data(as_text=True)) and one in screen(pages[3].get_data(as_text=True))
    assert "attempt(s)" not in pages[0].get_data(as_text=True)


@pytest.mark.parametrize("zone", ["Not/AZone", "../../etc/passwd", "Asia%2FTōkyō", "%00", "UTC\r\nX: y", "x" * 300])
def test_a_time_zone_cookie_that_is_not_a_zone_falls_back_to_the_language_s_default(console, zone):
    pin = console.register()
    for _ in range(5):
        console.check(pin=wrong_pin(pin))
    web = client_in(console, "ja")
    web.set_cookie("tz", zone)
    page = post(web, "/console/send-code", account_id="JP1001")
    # Locked from 2026-11-23 04:05:06 UTC for a day: shown in Tokyo time, the Japanese default.
    assert page.status_code == 409 and "確認の失敗が多いため口座はロック中です" in page.get_data(as_text=True)
    shown = post(web, "/console/verify", account_id="JP1001", pin=pin, channel="phone").get_data(as_text=True)
    assert "2026/11/24 13:05:06" in shown
