"""The agent watch settings: defaults, parsing, and bad values that stop the start naming the variable."""

import pytest

from verify_service.config import load_settings
from verify_service.errors import ConfigError


def test_the_defaults_are_30_customers_10_failures_100_keypad_failures_10_minutes_and_no_block():
    settings = load_settings({})
    assert (settings.agent_max_customers, settings.agent_max_failures, settings.agent_keypad_max_failures,
            settings.agent_window_seconds, settings.agent_block) == (30, 10, 100, 600, False)


def test_the_settings_are_read_from_the_environment():
    settings = load_settings({"VERIFY_AGENT_MAX_CUSTOMERS": "50", "VERIFY_AGENT_MAX_FAILURES": "3",
                              "VERIFY_AGENT_WINDOW_SECONDS": "3600", "VERIFY_AGENT_BLOCK": "true",
                              "VERIFY_AGENT_KEYPAD_MAX_FAILURES": "40"})
    assert (settings.agent_max_customers, settings.agent_max_failures, settings.agent_keypad_max_failures,
            settings.agent_window_seconds, settings.agent_block) == (50, 3, 40, 3600, True)


@pytest.mark.parametrize("name, raw", [("VERIFY_AGENT_MAX_CUSTOMERS", "0"), ("VERIFY_AGENT_MAX_FAILURES", "ten"),
                                       ("VERIFY_AGENT_WINDOW_SECONDS", "-5"), ("VERIFY_AGENT_BLOCK", "sometimes"),
                                       ("VERIFY_AGENT_KEYPAD_MAX_FAILURES", "0")])
def test_a_bad_value_fails_fast_naming_the_variable(name, raw):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: raw})
