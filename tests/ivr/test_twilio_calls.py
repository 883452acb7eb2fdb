"""Whole keypad calls through the Twilio webhooks, signed with twilio's own RequestValidator (no network)."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import redis
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from verify_service.adapters.sql.tables import metadata

TOKEN = "twilio-auth-token-for-tests-0000000"
PUBLIC = "https://verify.example.com"
WORKFLOW = "WW" + "0123456789abcdef" * 2
CALL_SID = "CA" + "ab" * 16
JA_NUMBER, EN_NUMBER = "+81312345678", "+18005550100"


class Call:
    """One phone call: posts what Twilio would post, signed, and follows the TwiML's Gather actions."""

    def __init__(self, harness, to=JA_NUMBER, call_sid=CALL_SID):
        self.harness, self.to, self.call_sid = harness, to, call_sid
        self.next_url: str | None = None
        self.documents: list[str] = []

    def post(self, url, form, *, token=TOKEN, signed_url=None, headers=None):
        """POST a form to a path (+query) of ours, signed over the public URL unless told otherwise."""
        full = {"CallSid": self.call_sid, "AccountSid": "AC" + "0" * 32, "From": "+819011112222", "To": self.to,
                **form}
        signature = RequestValidator(token).compute_signature(signed_url or PUBLIC + url, full)
        response = self.harness.client.post(url, data=full, headers={"X-Twilio-Signature": signature,
                                                                        **(headers or {})})
        if response.status_code == 200:
            document = response.get_data(as_text=True)
            self.documents.append(document)
            gather = ET.fromstring(document).find("Gather")
            self.next_url = None if gather is None else _local(gather.get("action"))
        return response

    def start(self):
        return self.post("/ivr/twilio/voice", {})

    def enter(self, digits):
        assert self.next_url is not None, "the call was put through already"
        return self.post(self.next_url, {"Digits": digits})


def _local(url):
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
    return f"{parts.path}?{parts.query}"


def says(response):
    root = ET.fromstring(response.get_data(as_text=True))
    return [element.text for element in root.iter("Say")]


def task(response):
    """The TaskRouter task attributes the transfer carries (None: the call is not put through yet)."""
    found = ET.fromstring(response.get_data(as_text=True)).find("Enqueue/Task")
    return None if found is None else json.loads(found.text)


def wrong(pin):
    return "739184" if pin != "739184" else "739185"


@pytest.fixture
def ivr(make_harness, mode):
    harness = make_harness(mode, ivr_public_url=PUBLIC, twilio_auth_token=TOKEN, ivr_transfer=f"workflow:{WORKFLOW}",
                           ivr_languages=((JA_NUMBER, "ja"), (EN_NUMBER, "en")), ivr_account_prefix="JP")
    harness.pin = harness.register("JP1001")
    return harness


def test_a_whole_call_wrong_pin_then_right_pin_is_verified_and_put_through_with_its_id(ivr):
    call = Call(ivr)
    assert "口座番号" in " ".join(says(call.start()))
    assert "6桁" in " ".join(says(call.enter("1001")))
    retry = call.enter(wrong(ivr.pin))
    assert says(retry)[0] == "PINが一致しませんでした。" and call.next_url is not None
    ivr.clock.advance(20)
    done = call.enter(ivr.pin)
    assert says(done)[0] == "ありがとうございます。ご本人確認ができました。" and call.next_url is None
    carried = task(done)
    assert carried["verification_result"] == "verified" and carried["entry"] == "keypad"
    record = ivr.call("GET", f"/v1/verifications/{carried['verification_id']}", "agent").get_json()
    assert (record["result"], record["entry"], record["channel"], record["agent_id"], record["call_ref"]) == (
        "verified", "keypad", "phone", "ivr", CALL_SID)
    assert ET.fromstring(done.get_data(as_text=True)).find("Enqueue").get("workflowSid") == WORKFLOW
    screen_pop = ivr.call("GET", f"/v1/verifications?call_ref={CALL_SID}", "agent").get_json()["verifications"]
    assert [(v["result"], v["entry"]) for v in screen_pop] == [("verified", "keypad"), ("rejected", "keypad")]


def test_the_language_comes_from_the_number_dialled(ivr):
    english = Call(ivr, to=EN_NUMBER)
    first = english.start()
    assert "account number" in " ".join(says(first))
    assert {say.get("language") for say in ET.fromstring(first.get_data(as_text=True)).iter("Say")} == {"en-US"}
    assert "six-digit" in " ".join(says(english.enter("1001")))
    assert "口座番号" in " ".join(says(Call(ivr, to="+442071234567").start()))  # not listed: the default, ja


@pytest.mark.parametrize("how", ["locked", "frozen"])
def test_a_locked_or_frozen_customer_hears_so_and_is_put_through_without_a_check(ivr, how):
    if how == "locked":
        for _ in range(5):
            ivr.check("JP1001", pin=wrong(ivr.pin))
    else:
        ivr.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "takeover suspected"})
    before = _rows(ivr, "verifications")
    call = Call(ivr)
    call.start()
    answer = call.enter("1001")
    expected = "ロックされています" if how == "locked" else "保留されています"
    assert expected in says(answer)[0] and call.next_url is None
    assert task(answer) == {"verification_id": "", "verification_result": "none", "entry": "keypad"}
    assert _rows(ivr, "verifications") == before


def test_keypad_and_agent_checks_share_one_lockout_counter(ivr):
    for _ in range(2):
        ivr.check("JP1001", pin=wrong(ivr.pin))
    call = Call(ivr)
    call.start()
    call.enter("1001")
    call.enter(wrong(ivr.pin))
    call.enter(wrong(ivr.pin))  # four failures: two by agents, two on the keypad
    assert ivr.check("JP1001", pin=wrong(ivr.pin)).get_json()["attempts_remaining"] == 0  # the fifth locks
    second = Call(ivr, call_sid="CA" + "cd" * 16)
    second.start()
    assert "ロックされています" in says(second.enter("1001"))[0] and second.next_url is None
    assert ivr.check("JP1001", pin=ivr.pin).get_json()["result"] == "locked"


def test_the_keypad_failure_that_reaches_the_threshold_says_locked(ivr):
    for _ in range(4):
        ivr.check("JP1001", pin=wrong(ivr.pin))
    call = Call(ivr)
    call.start()
    call.enter("1001")
    answer = call.enter(wrong(ivr.pin))
    assert "ロックされています" in says(answer)[0] and task(answer)["verification_result"] == "rejected"
    assert ivr.check("JP1001", pin=ivr.pin).get_json()["result"] == "locked"


def test_a_call_gets_three_pin_entries_then_is_put_through_with_the_last_check(ivr):
    call = Call(ivr)
    call.start()
    call.enter("1001")
    call.enter(wrong(ivr.pin))
    call.enter(wrong(ivr.pin))
    last = call.enter(wrong(ivr.pin))
    assert "確認ができませんでした" in says(last)[0] and call.next_url is None
    assert task(last)["verification_result"] == "rejected"
    assert ivr.check("JP1001", pin=ivr.pin).get_json()["attempts_remaining"] == 5  # two left: the right one resets


def test_an_unknown_account_sounds_like_a_known_one_with_a_wrong_pin(ivr):
    known, unknown = Call(ivr), Call(ivr, call_sid="CA" + "ef" * 16)
    for call, number in ((known, "1001"), (unknown, "9999")):
        call.start()
        call.enter(number)
        call.enter(wrong(ivr.pin))
        call.enter("12")
        call.enter(wrong(ivr.pin))
    heard = [[[say.text for say in ET.fromstring(doc).iter("Say")] for doc in call.documents]
             for call in (known, unknown)]
    assert heard[0] == heard[1]
    assert known.next_url is None and unknown.next_url is None


@pytest.mark.parametrize("attack", ["missing", "wrong_token", "other_host", "tampered_account"])
def test_an_unsigned_or_badly_signed_request_is_403_and_counts_nothing(ivr, attack):
    call = Call(ivr)
    path = "/ivr/twilio/pin?lang=ja&tries=0&account=JP1001"
    form = {"Digits": wrong(ivr.pin)}
    if attack == "missing":
        response = ivr.client.post(path, data={"CallSid": CALL_SID, **form})
    elif attack == "wrong_token":
        response = call.post(path, form, token="not-the-token-000000000000000000")
    elif attack == "other_host":  # signed for the attacker's own host, sent with that Host header
        response = call.post(path, form, signed_url=f"https://evil.example{path}", headers={"Host": "evil.example"})
    else:  # a genuine signature of another account's URL
        response = call.post(path, form, signed_url=f"{PUBLIC}/ivr/twilio/pin?lang=ja&tries=0&account=JP1002")
    assert response.status_code == 403
    assert response.get_json()["error"] == {"code": "forbidden", "details": {"reason": "bad_signature"},
                                            "message": "The request does not carry a valid X-Twilio-Signature."}
    assert _rows(ivr, "verifications") == 0
    assert ivr.check("JP1001", pin=wrong(ivr.pin)).get_json()["attempts_remaining"] == 4


def test_the_webhooks_are_404_while_keypad_entry_is_off(harness):
    call = Call(harness)
    assert call.start().status_code == 404


def test_no_digit_typed_by_a_caller_appears_in_logs_tables_redis_or_answers(ivr, caplog, gateway):
    caplog.set_level(logging.DEBUG)
    call = Call(ivr)
    call.start()
    call.enter("1001")
    call.enter(wrong(ivr.pin))
    call.enter("57319")
    call.enter(ivr.pin)
    for _ in range(4):  # and a lock reached on the keypad, for its audit and security events
        locked = Call(ivr, call_sid="CA" + "99" * 16)
        locked.start()
        locked.enter("1001")
        while locked.next_url is not None:
            locked.enter(wrong(ivr.pin))
    places = {"log": [record.getMessage() for record in caplog.records] + [caplog.text],
              "twiml": call.documents, "tables": _every_table(ivr), "redis": _redis_dump(ivr)}
    assert len(places["tables"]) > 10
    for digits in (ivr.pin, wrong(ivr.pin), "57319"):
        for place, texts in places.items():
            leaks = [text for text in texts if digits in text]
            assert not leaks, f"typed digits found in {place}: {leaks[:1]}"


def _rows(harness, table):
    with harness.services.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[table])).scalar_one()


def _every_table(harness):
    """Every row of every table, as text (binary columns as bytes reprs)."""
    with harness.services.db.engine.connect() as conn:
        return [str(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(sa.select(table))]


def _redis_dump(harness):
    url = harness.services.settings.redis_url
    if url is None:
        return []
    client = redis.Redis.from_url(url)
    return [f"{key!r} {client.dump(key)!r}" for key in client.scan_iter()]


def test_behind_trusted_proxies_the_signature_is_still_checked_against_the_configured_url(make_harness):
    harness = make_harness("sqlite", ivr_public_url=PUBLIC, twilio_auth_token=TOKEN, ivr_transfer="queue:support",
                           trusted_proxies=1)
    forwarded = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    call = Call(harness)
    forged = call.post("/ivr/twilio/voice", {}, signed_url="https://evil.example/ivr/twilio/voice", headers=forwarded)
    assert forged.status_code == 403
    genuine = call.post("/ivr/twilio/voice", {}, headers={**forwarded, "X-Forwarded-Host": "10.0.0.5:8000"})
    assert genuine.status_code == 200 and call.next_url is not None
