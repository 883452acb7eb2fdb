"""Settings from the environment: defaults, parsing, and clear errors."""

import os
import tempfile
from secrets import token_urlsafe

import pytest

from verify_service.config import DEV_AUDIT_KEYS, DEV_PIN_KEYS, DEV_SECRET_KEY, load_settings
from verify_service.errors import ConfigError

ANCHOR_FILE = os.path.join(tempfile.gettempdir(), "verify-test-anchors.jsonl")


def test_no_configuration_means_sqlite_single_instance():
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/verify.sqlite3")
    assert settings.single_instance and settings.redis_url is None
    assert (settings.lockout_threshold, settings.lockout_seconds) == (5, 86400)
    assert settings.pin_keys == DEV_PIN_KEYS


def test_values_are_read_from_verify_variables():
    settings = load_settings({"VERIFY_LOCKOUT_THRESHOLD": "3", "VERIFY_REDIS_URL": "redis://h:6379/2",
                              "VERIFY_DEFAULT_LOCALE": "en"})
    assert settings.lockout_threshold == 3 and settings.redis_url == "redis://h:6379/2"
    assert not settings.single_instance and settings.default_locale == "en"


@pytest.mark.parametrize("env, names", [
    ({"VERIFY_LOCKOUT_THRESHOLD": "five"}, "VERIFY_LOCKOUT_THRESHOLD"),
    ({"VERIFY_LOCKOUT_SECONDS": "0"}, "VERIFY_LOCKOUT_SECONDS"),
    ({"VERIFY_REDIS_URL": "localhost:6379"}, "VERIFY_REDIS_URL"),
    ({"VERIFY_DEFAULT_LOCALE": "fr"}, "VERIFY_DEFAULT_LOCALE"),
    ({"VERIFY_ENV": "staging"}, "VERIFY_ENV"),
    ({"VERIFY_DELIVERY_BACKEND": "pigeon"}, "VERIFY_DELIVERY_BACKEND"),
])
def test_bad_values_fail_fast_naming_the_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        load_settings(env)


def test_production_refuses_default_secrets_and_names_them():
    with pytest.raises(ConfigError) as error:
        load_settings({"VERIFY_ENV": "production"})
    assert all(name in str(error.value) for name in ("VERIFY_SECRET_KEY", "VERIFY_PIN_KEYS", "VERIFY_AUDIT_KEYS"))


def test_production_starts_with_real_secrets():
    settings = load_settings({"VERIFY_ENV": "production", "VERIFY_SECRET_KEY": token_urlsafe(32),
                              "VERIFY_DELIVERY_BACKEND": "webhook", "VERIFY_SMS_WEBHOOK_URL": "https://sms.example",
                              "VERIFY_SMS_WEBHOOK_SECRET": token_urlsafe(32),
                              "VERIFY_PIN_KEYS": "2026a:" + token_urlsafe(32),
                              "VERIFY_AUDIT_KEYS": "2026a:" + token_urlsafe(32),
                              "VERIFY_AUDIT_ANCHOR_FILE": ANCHOR_FILE})
    assert settings.env == "production"


# A strong secret that is the same in every xdist worker (parameters are collected by each: no random ids).
FIXED_STRONG = "Xq3vK9pL2mZ7rT0wB5nY8cJ4hF6dG1sA-_eUoQiRtVb"
_GOOD_PRODUCTION = {"VERIFY_ENV": "production", "VERIFY_SECRET_KEY": token_urlsafe(32),
                    "VERIFY_DELIVERY_BACKEND": "webhook", "VERIFY_SMS_WEBHOOK_URL": "https://sms.example",
                    "VERIFY_SMS_WEBHOOK_SECRET": token_urlsafe(32),
                    "VERIFY_PIN_KEYS": "2026a:" + token_urlsafe(32), "VERIFY_AUDIT_KEYS": "2026a:" + token_urlsafe(32),
                    "VERIFY_AUDIT_ANCHOR_FILE": ANCHOR_FILE}


@pytest.mark.parametrize("name, value", [
    ("VERIFY_SECRET_KEY", "secret"),
    ("VERIFY_SECRET_KEY", "x" * 31),
    ("VERIFY_SMS_WEBHOOK_SECRET", "short"),
    ("VERIFY_PIN_KEYS", "2026a:" + FIXED_STRONG + ",2025z:" + FIXED_STRONG[::-1][:31]),
])
def test_production_refuses_secrets_under_32_characters_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=f"{name} must be at least 32 characters"):
        load_settings({**_GOOD_PRODUCTION, name: value})


@pytest.mark.parametrize("name, value", [
    ("VERIFY_PIN_KEYS", "prod2026:" + DEV_PIN_KEYS.split(":", 1)[1]),
    ("VERIFY_AUDIT_KEYS", "2026a:" + FIXED_STRONG + ",old:" + DEV_AUDIT_KEYS.split(":", 1)[1]),
    ("VERIFY_AUDIT_KEYS", "x:" + DEV_PIN_KEYS.split(":", 1)[1]),
    ("VERIFY_SECRET_KEY", DEV_SECRET_KEY),
    ("VERIFY_SECRET_KEY", DEV_PIN_KEYS.split(":", 1)[1]),
])
def test_production_refuses_a_development_secret_under_any_key_id(name, value):
    with pytest.raises(ConfigError, match=f"{name} is missing or holds a development default"):
        load_settings({**_GOOD_PRODUCTION, name: value})


def test_development_still_starts_with_the_default_secrets():
    assert load_settings({"VERIFY_SECRET_KEY": "secret"}).secret_key == "secret"


def test_production_refuses_audit_anchors_with_nowhere_to_go():
    without = {key: value for key, value in _GOOD_PRODUCTION.items() if key != "VERIFY_AUDIT_ANCHOR_FILE"}
    with pytest.raises(ConfigError, match="VERIFY_AUDIT_ANCHOR_FILE or VERIFY_AUDIT_ANCHOR_WEBHOOK=true"):
        load_settings(without)
    assert not load_settings({**without, "VERIFY_AUDIT_ANCHOR_SECONDS": "0"}).audit_anchoring


@pytest.mark.parametrize("environ, message", [
    ({"VERIFY_AUDIT_ANCHOR_SECONDS": "5"}, "VERIFY_AUDIT_ANCHOR_SECONDS must be 0 \\(off\\) or at least 10"),
    ({"VERIFY_AUDIT_ANCHOR_WEBHOOK": "true"}, "VERIFY_AUDIT_ANCHOR_WEBHOOK=true needs VERIFY_EVENTS_WEBHOOK_URL"),
    ({"VERIFY_AUDIT_ANCHOR_WEBHOOK": "maybe"}, "VERIFY_AUDIT_ANCHOR_WEBHOOK must be true or false"),
    ({"VERIFY_AUDIT_ANCHOR_FILE": "/no/such/folder/anchors.jsonl"}, "VERIFY_AUDIT_ANCHOR_FILE: the folder"),
])
def test_audit_anchor_settings_are_checked_naming_the_variable(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_audit_anchors_are_on_with_a_file_or_the_webhook():
    assert load_settings({"VERIFY_AUDIT_ANCHOR_FILE": ANCHOR_FILE}).audit_anchoring
    webhook = load_settings({"VERIFY_AUDIT_ANCHOR_WEBHOOK": "yes", "VERIFY_EVENTS_WEBHOOK_URL": "https://ev.example"})
    assert webhook.audit_anchoring and webhook.audit_anchor_seconds == 300
    assert not load_settings({}).audit_anchoring


def test_the_audit_archive_folder_must_be_an_existing_writable_absolute_path(tmp_path):
    assert load_settings({"VERIFY_AUDIT_ARCHIVE_DIR": str(tmp_path)}).audit_archive_dir == str(tmp_path)
    for bad in ("relative/archive", str(tmp_path / "missing")):
        with pytest.raises(ConfigError, match="VERIFY_AUDIT_ARCHIVE_DIR"):
            load_settings({"VERIFY_AUDIT_ARCHIVE_DIR": bad})
