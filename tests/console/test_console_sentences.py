"""The console's sentences for an answer, a contact's and an entry link's state, and a kept notice: each value reads
in the page's language as its own sentence; a value with none reads as before (recorded, or refused)."""

import time

import pytest

from tests.console.test_console import PASSWORD, sign_in
from verify_service.console.contacts import contact_state
from verify_service.console.entry_links import status_words
from verify_service.console.views import flash_taken, flash_to, notice_words, say_next
from verify_service.domain.names import CheckResult, ContactStatus, EntryLinkStatus

SAY_JA = {
    "verified": "ご本人と確認できました。お客様のご依頼を進めてください。",
    "rejected": "手続きを進めないでください。PINまたはコードをもう一度ご確認いただくようお伝えください。",
    "locked": "口座の内容には触れないでください。お客様はマイページへのサインインでロックを解除できます。"
              "または上記の時刻以降に再度お試しいただくようお伝えください。",
    "frozen": "手続きを進めないでください。セキュリティのため口座は凍結中です。セキュリティ担当へ転送してください。",
    "partial": "一致したのは1つの要素だけです。ご質問への回答はできますが、アカウントの変更はしないでください。"
               "変更には PIN とコードの両方でもう一度確認してください。",
}
CONTACT_JA = {
    "active": "進行中：お客様のマイページにこの連絡が表示されています。",
    "ended": "終了：お客様のマイページにはもう表示されません。",
    "expired": "期限切れ：お客様のマイページにはもう表示されません。",
}
LINK_JA = {
    "pending": "待機中：お客様はまだPINを入力していません。",
    "rejected": "不一致：お客様は同じリンクでもう一度入力できます。",
    "verified": "本人確認済み：お客様ご自身がリンクで入力しました。手続きを続けてかまいません。",
    "locked": "ロック：入力の誤りが多すぎます。口座についてお話ししないでください。",
    "frozen": "凍結中：安全のため口座は凍結されています。チャットをセキュリティチームに引き継いでください。",
    "expired": "期限切れ：お客様とのやり取りが続いていれば、新しいリンクを送ってください。",
}
IDLE_JA = "一定時間操作がなかったためサインアウトしました。"


@pytest.fixture
def app(make_harness):
    return make_harness("sqlite").app


@pytest.fixture
def in_japanese(app):
    with app.test_request_context("/console", headers={"Cookie": "lang=ja"}):
        yield


@pytest.fixture
def in_english(app):
    with app.test_request_context("/console", headers={"Cookie": "lang=en"}):
        yield


def test_every_answer_says_what_to_do_next_in_japanese(in_japanese):
    assert {answer: say_next(answer) for answer in [*CheckResult, "partial"]} == SAY_JA


def test_every_contact_state_reads_as_its_own_sentence_in_japanese(in_japanese):
    assert {status.value: contact_state(status) for status in ContactStatus} == CONTACT_JA


def test_every_entry_link_status_reads_as_its_own_sentence_in_japanese(in_japanese):
    assert {status.value: status_words(status) for status in EntryLinkStatus} == LINK_JA


def test_the_sentences_are_english_in_english(in_english):
    assert say_next("verified") == "Identity confirmed. You may continue with the caller's request."
    assert contact_state(ContactStatus.ENDED) == "Ended: the customer no longer sees this contact."
    assert status_words("pending") == "WAITING: the customer has not entered the PIN yet."
    assert notice_words("idle") == "You were signed out after a period of inactivity."


def test_values_with_no_sentence_read_as_before(in_english):
    """A contact state reads as recorded, a kept notice as its words; an answer or a link status with no sentence
    is a bug, refused as before (the table's KeyError, now a ValueError that names it)."""
    assert contact_state("paused") == "paused"
    assert notice_words("Alert cleared for Agent bob; reason: ok") == "Alert cleared for Agent bob; reason: ok"
    with pytest.raises(ValueError, match="'withdrawn'"):
        say_next("withdrawn")
    with pytest.raises(ValueError, match="'revoked'"):
        status_words("revoked")


def test_a_kept_notice_is_taken_once_in_the_page_language(in_japanese):
    assert flash_taken() is None
    response = flash_to("console.agents_page", "idle")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/agents")
    assert flash_taken() == IDLE_JA and flash_taken() is None
    flash_to("console.agents_page", "警告を解除しました")
    assert flash_taken() == "警告を解除しました" and flash_taken() is None


def test_an_idle_sign_out_is_told_once_in_japanese(make_harness):
    harness = make_harness("sqlite", console_idle_seconds=1)
    harness.services.users.create("alice", "agent", PASSWORD)
    client = harness.client
    client.set_cookie("lang", "ja")
    sign_in(client)
    time.sleep(1.2)
    assert client.get("/console").status_code == 302
    assert IDLE_JA in client.get("/console/login").get_data(as_text=True)
    assert IDLE_JA not in client.get("/console/login").get_data(as_text=True)  # shown once
