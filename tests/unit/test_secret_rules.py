"""Production refuses low-entropy, disguised, default and reused secrets, naming the variable (issue 17.8)."""

import os
import secrets
import tempfile

import pytest

from verify_service.config import DEV_AUDIT_KEYS, DEV_PIN_KEYS, DEV_SECRET_KEY, load_settings
from verify_service.errors import ConfigError
from verify_service.secret_rules import MIN_BITS, estimated_bits

DEV_PIN = DEV_PIN_KEYS.split(":", 1)[1]
DEV_AUDIT = DEV_AUDIT_KEYS.split(":", 1)[1]


def production(**overrides):
    env = {"VERIFY_ENV": "production", "VERIFY_SECRET_KEY": secrets.token_urlsafe(32),
           "VERIFY_DELIVERY_BACKEND": "webhook", "VERIFY_SMS_WEBHOOK_URL": "https://sms.example",
           "VERIFY_SMS_WEBHOOK_SECRET": secrets.token_urlsafe(32),
           "VERIFY_PIN_KEYS": "2026a:" + secrets.token_urlsafe(32),
           "VERIFY_AUDIT_KEYS": "2026a:" + secrets.token_urlsafe(32),
           "VERIFY_AUDIT_ANCHOR_FILE": os.path.join(tempfile.gettempdir(), "verify-test-anchors.jsonl")}
    return {**env, **overrides}


def refusal(env):
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    return str(error.value)


@pytest.mark.parametrize("name, value", [
    ("VERIFY_SECRET_KEY", "a" * 32),
    ("VERIFY_SECRET_KEY", "ab" * 32),
    ("VERIFY_PIN_KEYS", "2026a:" + "a" * 32),
    ("VERIFY_AUDIT_KEYS", "2026a:" + "abcd" * 10),
    ("VERIFY_AUDIT_KEYS", "2026a:Xq3vK9pL2mZ7rT0wB5nY8cJ4hF6dG1sA-_eUoQiRtVb,old:" + "0123456" * 6),
    ("VERIFY_EVENTS_WEBHOOK_SECRET", "x" * 64),
])
def test_a_long_secret_of_few_characters_is_refused_by_its_estimated_entropy(name, value):
    env = production(**{name: value}, VERIFY_EVENTS_WEBHOOK_URL="https://events.example")
    env.setdefault("VERIFY_EVENTS_WEBHOOK_SECRET", secrets.token_urlsafe(32))
    assert f"{name} is too predictable" in refusal(env)


@pytest.mark.parametrize("name, value", [
    ("VERIFY_SECRET_KEY", DEV_SECRET_KEY + "1"),
    ("VERIFY_SECRET_KEY", DEV_SECRET_KEY.upper()),
    ("VERIFY_PIN_KEYS", "2026a:" + DEV_PIN + "1"),
    ("VERIFY_PIN_KEYS", "2026a:" + DEV_PIN.upper()),
    ("VERIFY_AUDIT_KEYS", "2026a:x" + DEV_AUDIT.title()),
    ("VERIFY_AUDIT_KEYS", "2026a:" + "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in DEV_AUDIT)),
])
def test_a_secret_containing_a_development_default_is_refused_in_any_case(name, value):
    assert f"{name} is missing or holds a development default" in refusal(production(**{name: value}))


def test_a_secret_padded_with_zero_width_spaces_is_refused():
    message = refusal(production(VERIFY_SECRET_KEY="ab" + "\u200b" * 30))
    assert "VERIFY_SECRET_KEY holds invisible or control characters" in message


def test_one_secret_used_for_every_ring_is_refused_naming_them():
    shared = secrets.token_urlsafe(32)
    message = refusal(production(VERIFY_SECRET_KEY=shared, VERIFY_PIN_KEYS=f"p1:{shared}",
                                 VERIFY_AUDIT_KEYS=f"a1:{shared}"))
    assert "VERIFY_SECRET_KEY and VERIFY_PIN_KEYS share a secret" in message
    assert "VERIFY_SECRET_KEY and VERIFY_AUDIT_KEYS share a secret" in message
    assert shared not in message


def test_a_webhook_secret_that_repeats_a_ring_key_is_refused():
    key = secrets.token_urlsafe(32)
    message = refusal(production(VERIFY_PIN_KEYS=f"p1:{key}", VERIFY_SMS_WEBHOOK_SECRET=key))
    assert "VERIFY_PIN_KEYS and VERIFY_SMS_WEBHOOK_SECRET share a secret" in message


def test_one_ring_holding_the_same_secret_twice_is_refused():
    key = secrets.token_urlsafe(32)
    message = refusal(production(VERIFY_AUDIT_KEYS=f"new:{key},old:{key}"))
    assert "VERIFY_AUDIT_KEYS holds the same secret twice" in message


def test_a_refusal_never_quotes_the_secret():
    weak = "Q" * 40
    assert weak not in refusal(production(VERIFY_SECRET_KEY=weak))


@pytest.mark.parametrize("generate", [
    lambda: secrets.token_urlsafe(32),  # what the README and .env.example suggest
    lambda: secrets.token_hex(32),  # `openssl rand -hex 32`
])
def test_generated_secrets_always_pass(generate):
    assert min(estimated_bits(generate()) for _ in range(2000)) >= MIN_BITS
    settings = load_settings(production(VERIFY_SECRET_KEY=generate(), VERIFY_PIN_KEYS=f"k1:{generate()}",
                                        VERIFY_AUDIT_KEYS=f"k1:{generate()}"))
    assert settings.env == "production"


def test_the_shortest_generated_tokens_pass_but_for_a_rare_unlucky_draw():
    # 32 URL-safe characters (24 random bytes) are the shortest accepted length: with few distinct characters
    # the estimate can dip under 128 bits (about 1 draw in 6,000, measured over 200,000), so the refusal
    # suggests 32 bytes, which never dipped.
    refused = sum(estimated_bits(secrets.token_urlsafe(24)) < MIN_BITS for _ in range(2000))
    assert refused <= 5


def test_development_keeps_its_defaults():
    assert load_settings({}).secret_key == DEV_SECRET_KEY
