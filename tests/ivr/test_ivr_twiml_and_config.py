"""The transfer carries the check to each kind of target; keypad entry's settings fail fast."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from verify_service.api.ivr_prompts import MESSAGE_IDS, say
from verify_service.api.ivr_twiml import CallContext, twiml
from verify_service.config import load_settings
from verify_service.domain.keypad import Gather, Prompt, Step
from verify_service.domain.model import Verification
from verify_service.errors import ConfigError

AT = datetime(2026, 11, 23, 4, 5, 6, tzinfo=UTC)
CHECK = Verification(verification_id="ver_abc", account_id="JP1001", verified=True, result="verified",
                     factors={"pin": "match", "code": "not_checked"}, level=1, attempts_remaining=5, locked_until=None,
                     checked_at=AT, valid_until=AT, channel="phone", agent_id="ivr", ticket_ref=None,
                     actor="twilio-ivr", entry="keypad", call_ref="CA1")
DONE = Step((Prompt.VERIFIED, Prompt.TRANSFER), verification=CHECK)


def render(step, transfer, language="en"):
    return ET.fromstring(twiml(step, CallContext(language, "Acme", "https://v.example.com", transfer)))


def test_a_taskrouter_transfer_carries_the_check_in_the_task_attributes():
    enqueue = render(DONE, "workflow:WW" + "a" * 32).find("Enqueue")
    assert enqueue.get("workflowSid") == "WW" + "a" * 32
    assert json.loads(enqueue.find("Task").text) == {"verification_id": "ver_abc", "verification_result": "verified",
                                                      "entry": "keypad"}


def test_a_client_transfer_carries_the_check_as_parameters():
    client = render(DONE, "client:desk-1").find("Dial/Client")
    assert client.find("Identity").text == "desk-1"
    assert {p.get("name"): p.get("value") for p in client.iter("Parameter")}["verification_id"] == "ver_abc"


def test_a_sip_transfer_carries_the_check_in_x_headers():
    uri = render(DONE, "sip:desk@pbx.example.com").find("Dial/Sip").text
    assert uri == "sip:desk@pbx.example.com?X-Verification-Id=ver_abc&X-Verification-Result=verified"


@pytest.mark.parametrize(("transfer", "path", "text"), [("queue:support", "Enqueue", "support"),
                                                        ("+81312345678", "Dial/Number", "+81312345678")])
def test_a_queue_or_number_transfer_goes_there(transfer, path, text):
    assert render(DONE, transfer).find(path).text == text


def test_the_pin_gather_takes_six_keypad_digits_and_posts_to_a_signed_url_of_the_call():
    gather = render(Step((Prompt.ENTER_PIN,), Gather.PIN, "JP1001", 1), "queue:support", "ja").find("Gather")
    assert (gather.get("input"), gather.get("numDigits"), gather.get("method")) == ("dtmf", "6", "POST")
    assert gather.get("action") == "https://v.example.com/ivr/twilio/pin?lang=ja&tries=1&account=JP1001"
    assert gather.find("Say").get("language") == "ja-JP"


def test_every_prompt_has_its_japanese_from_the_catalog_and_fills_in_the_brand():
    assert all(say("ja", name, brand="Acme") != MESSAGE_IDS[name] % {"support": "Acme support"} for name in Prompt)
    assert say("en", Prompt.WELCOME, brand="Acme").startswith("Welcome to Acme support.")
    assert say("ja", Prompt.WELCOME, brand="Acme").startswith("Acmeサポート")
    assert say("ko", Prompt.LOCKED) == MESSAGE_IDS[Prompt.LOCKED]  # a language without the prompt says English


def test_the_welcome_names_the_desk_naturally_without_a_brand():
    assert say("en", Prompt.WELCOME).startswith("Welcome to Customer Support.")
    assert say("ja", Prompt.WELCOME).startswith("カスタマーサポートにお電話")
    assert say("en", Prompt.WELCOME, brand="Acme Support").startswith("Welcome to Acme Support.")


ON = {"VERIFY_IVR_PUBLIC_URL": "https://verify.example.com", "VERIFY_TWILIO_AUTH_TOKEN": "t" * 32,
      "VERIFY_IVR_TRANSFER": "queue:support"}


@pytest.mark.parametrize(("change", "named"), [
    ({"VERIFY_TWILIO_AUTH_TOKEN": ""}, "VERIFY_TWILIO_AUTH_TOKEN"),
    ({"VERIFY_IVR_TRANSFER": ""}, "VERIFY_IVR_TRANSFER"),
    ({"VERIFY_IVR_TRANSFER": "queue:a b"}, "VERIFY_IVR_TRANSFER"),
    ({"VERIFY_IVR_PUBLIC_URL": "https://verify.example.com/ivr"}, "VERIFY_IVR_PUBLIC_URL"),
    ({"VERIFY_IVR_LANGUAGES": "+81312345678=ko"}, "VERIFY_IVR_LANGUAGES"),
    ({"VERIFY_IVR_LANGUAGES": "03-1234-5678=ja"}, "VERIFY_IVR_LANGUAGES"),
    ({"VERIFY_IVR_DEFAULT_LANGUAGE": "zh"}, "VERIFY_IVR_DEFAULT_LANGUAGE"),
    ({"VERIFY_IVR_ACCOUNT_PREFIX": "JP/"}, "VERIFY_IVR_ACCOUNT_PREFIX"),
    ({"VERIFY_IVR_MAX_TRIES": "0"}, "VERIFY_IVR_MAX_TRIES")])
def test_keypad_entry_settings_fail_fast_naming_the_variable(change, named):
    with pytest.raises(ConfigError, match=named):
        load_settings({**ON, **change})


def test_keypad_entry_settings_are_read():
    settings = load_settings({**ON, "VERIFY_IVR_LANGUAGES": "+81312345678=ja,+18005550100=en",
                              "VERIFY_IVR_ACCOUNT_PREFIX": "JP", "VERIFY_IVR_MAX_TRIES": "2"})
    assert settings.ivr_languages == (("+81312345678", "ja"), ("+18005550100", "en"))
    assert (settings.ivr_account_prefix, settings.ivr_max_tries, settings.ivr_default_language) == ("JP", 2, "ja")
