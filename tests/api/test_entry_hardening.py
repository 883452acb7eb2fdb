"""Hardening of entry links: a limit per client address on the customer's page (counted before any token is looked
up, shared in Redis, fail closed), and a cap per key on making links that an unbound key cannot dodge by asserting
a new agent_id each time. On SQLite (a count per process) and on PostgreSQL + Redis (one shared count)."""

from __future__ import annotations

import pytest

from tests.api.test_entry_links_api import create, form_nonce, links, outcome, path_of, status, wrong

UNKNOWN = "/entry/" + "Q" * 43  # a made-up token: the page says "no longer valid" (404)


def visit(h, path=UNKNOWN, address="203.0.113.7", lang="en", method="GET", **kwargs):
    """One request to the page from a client address."""
    return h.client.open(path, method=method, headers={"Accept-Language": lang, **kwargs.pop("headers", {})},
                         environ_base={"REMOTE_ADDR": address}, **kwargs)


def test_one_address_past_its_minute_gets_a_429_page_in_words_with_retry_after_and_no_token(make_harness, mode):
    h = links(make_harness, mode, entry_page_max_per_address_per_minute=3)
    left = 60 - h.clock.now().second  # the fake clock stands on a whole second
    assert [visit(h).status_code for _ in range(3)] == [404, 404, 404]
    refused = visit(h, lang="ja")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(left)  # until the minute ends
    assert refused.mimetype == "text/html" and "no-store" in refused.headers["Cache-Control"]
    assert outcome(refused) == "接続元からのアクセスが多すぎます。1分ほど待ってからもう一度お試しください。"
    assert '<html lang="ja">' in body and "Q" * 20 not in body
    assert visit(h, address="203.0.113.8").status_code == 404  # another address has its own count
    h.clock.advance(left)
    assert visit(h).status_code == 404  # a new minute


def test_a_limited_form_post_runs_no_check_and_counts_no_failure(make_harness, mode):
    h = links(make_harness, mode, entry_page_max_per_address_per_minute=2)
    pin = h.register(locale="en")
    made = create(h)
    path, link_id = path_of(made), made.get_json()["entry_link_id"]
    nonce = form_nonce(visit(h, path).get_data(as_text=True))
    assert visit(h, path, method="POST", data={"pin": wrong(pin), "submission": nonce}).status_code == 200
    refused = visit(h, path, method="POST", data={"pin": pin, "submission": "n" * 22})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert outcome(refused) == "Too many requests from your connection. Please wait a minute and try again."
    assert status(h, link_id).get_json()["tries"] == 1  # the refused post reached no check
    lock = h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()
    assert lock["failed_attempts"] == 1


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(make_harness, mode):
    h = links(make_harness, mode, entry_page_max_per_address_per_minute=2)
    answers = [visit(h, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(3)]
    assert answers == [404, 404, 429]  # a client cannot pick a new address per request


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(make_harness, mode):
    h = links(make_harness, mode, entry_page_max_per_address_per_minute=2, trusted_proxies=1)
    proxy = "10.0.0.5"
    first = [visit(h, address=proxy, headers={"X-Forwarded-For": "198.51.100.1"}).status_code for _ in range(3)]
    assert first == [404, 404, 429]
    assert visit(h, address=proxy, headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 404
    # ProxyFix takes the last entry (the one nginx added); what the client wrote before it changes nothing.
    spoofed = visit(h, address=proxy, headers={"X-Forwarded-For": "192.0.2.9, 198.51.100.1"})
    assert spoofed.status_code == 429


def test_ipv6_addresses_are_counted_per_slash_64(make_harness, mode):
    h = links(make_harness, mode, entry_page_max_per_address_per_minute=2)
    answers = [visit(h, address=f"2001:db8:1:2::{n:x}").status_code for n in range(1, 4)]
    assert answers == [404, 404, 429]  # rotating inside one /64 gains nothing
    assert visit(h, address="2001:db8:1:3::1").status_code == 404


def test_the_page_fails_closed_with_a_503_in_words_while_the_limits_redis_is_down(make_harness, own_redis):
    h = links(make_harness, "postgres_redis", redis_url=own_redis.url)
    pin = h.register(locale="en")
    path = path_of(create(h))
    own_redis.stop()
    for method, data in (("GET", None), ("POST", {"pin": pin, "submission": "n" * 22})):
        down = visit(h, path, method=method, data=data)
        assert down.status_code == 503 and int(down.headers["Retry-After"]) >= 1, method
        assert outcome(down) == "The service is unavailable for a moment. Please try again."
        assert path.removeprefix("/entry/") not in down.get_data(as_text=True)
    own_redis.start()
    assert visit(h, path).status_code == 200


def test_an_unbound_key_rotating_agent_ids_meets_the_key_cap(make_harness, mode):
    h = links(make_harness, mode, entry_link_max_per_key_per_hour=3, entry_link_max_per_agent_per_hour=2)
    for account in ("A1", "A2", "A3", "A4"):
        h.register(account)
    made = [create(h, account, agent_id=f"agent-{n}").status_code for n, account in enumerate(("A1", "A2", "A3"))]
    assert made == [201, 201, 201]
    h.clock.advance(60)
    refused = create(h, "A4", agent_id="agent-99")
    error = refused.get_json()["error"]
    assert refused.status_code == 429 and error["code"] == "rate_limited" and error["details"]["reason"] == "key_cap"
    assert refused.headers["Retry-After"] == "3540"  # the oldest of the hour's three leaves the window then
    other = h.services.keys.create("other-desk", ["agent"])[1]
    assert create(h, "A4", secret=other, agent_id="agent-99").status_code == 201  # the cap is per key
    h.clock.advance(3541)
    assert create(h, "A4", agent_id="agent-100").status_code == 201


def test_a_bound_key_still_meets_the_agent_cap_first(make_harness, mode):
    h = links(make_harness, mode, entry_link_max_per_key_per_hour=5, entry_link_max_per_agent_per_hour=2)
    for account in ("A1", "A2", "A3"):
        h.register(account)
    bound = h.services.keys.create("desk1", ["agent"], ["desk1-*"])[1]
    assert [create(h, a, secret=bound, agent_id="desk1-7").status_code for a in ("A1", "A2")] == [201, 201]
    refused = create(h, "A3", secret=bound, agent_id="desk1-7")
    assert refused.status_code == 429 and refused.get_json()["error"]["details"]["reason"] == "agent_cap"
    assert create(h, "A3", secret=bound, agent_id="desk1-8").status_code == 201


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_the_new_limits_refuse_a_bad_setting_naming_the_variable(value):
    from verify_service.config import load_settings
    from verify_service.errors import ConfigError

    for name in ("VERIFY_ENTRY_PAGE_MAX_PER_ADDRESS_PER_MINUTE", "VERIFY_ENTRY_LINK_MAX_PER_KEY_PER_HOUR"):
        with pytest.raises(ConfigError, match=name):
            load_settings(environ={name: value})
