"""The entry link settings: a public URL is a scheme and host (https in production); bounds on the numbers."""

import pytest

from verify_service.config import load_settings
from verify_service.errors import ConfigError


def test_the_defaults_leave_links_off_with_a_ten_minute_ttl_and_caps():
    settings = load_settings({})
    assert settings.entry_link_public_url is None and settings.entry_link_ttl_seconds == 600
    assert (settings.entry_link_max_per_customer_per_hour, settings.entry_link_max_per_agent_per_hour) == (5, 30)


def test_the_settings_are_read_from_the_environment():
    settings = load_settings({"VERIFY_ENTRY_LINK_PUBLIC_URL": "https://verify.example.com",
                              "VERIFY_ENTRY_LINK_TTL_SECONDS": "300",
                              "VERIFY_ENTRY_LINK_MAX_PER_CUSTOMER_PER_HOUR": "3",
                              "VERIFY_ENTRY_LINK_MAX_PER_AGENT_PER_HOUR": "40"})
    assert settings.entry_link_public_url == "https://verify.example.com" and settings.entry_link_ttl_seconds == 300
    assert (settings.entry_link_max_per_customer_per_hour, settings.entry_link_max_per_agent_per_hour) == (3, 40)


@pytest.mark.parametrize("url", ["verify.example.com", "https://verify.example.com/entry", "ftp://x", "https://a b"])
def test_a_public_url_with_a_path_or_without_a_scheme_is_refused(url):
    with pytest.raises(ConfigError, match="VERIFY_ENTRY_LINK_PUBLIC_URL"):
        load_settings({"VERIFY_ENTRY_LINK_PUBLIC_URL": url})


def test_production_needs_https():
    with pytest.raises(ConfigError, match="https in production"):
        load_settings({"VERIFY_ENTRY_LINK_PUBLIC_URL": "http://verify.example.com"}, env="production")


def test_a_ttl_under_a_minute_is_refused():
    with pytest.raises(ConfigError, match="VERIFY_ENTRY_LINK_TTL_SECONDS must be at least 60"):
        load_settings({"VERIFY_ENTRY_LINK_TTL_SECONDS": "30"})
