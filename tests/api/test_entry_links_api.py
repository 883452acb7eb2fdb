"""Entry links for chat (issue 18 part 2) through HTTP: every refusal of the API, the customer's page, the whole
flow on SQLite and on PostgreSQL + Redis, one lockout with agents' checks, and one count per form."""

from __future__ import annotations

import re
import threading

import pyotp
import pytest

from verify_service.domain.model import Actor

PUBLIC = "https://verify.example.com"
BODY = {"agent_id": "agent-42", "channel": "chat", "ticket_ref": "T-2026-1"}


def links(make_harness, mode, **overrides):
    """A harness with entry links on."""
    return make_harness(mode, entry_link_public_url=PUBLIC, **overrides)


def create(h, account_id="JP1001", role="agent", secret=None, **body):
    """POST an entry link with a role's key (or a given key's secret)."""
    headers = {"Authorization": f"Bearer {secret}"} if secret else None
    if secret:
        return h.client.post(f"/v1/customers/{account_id}/entry-links", json={**BODY, **body}, headers=headers)
    return h.call("POST", f"/v1/customers/{account_id}/entry-links", role, {**BODY, **body})


def path_of(made) -> str:
    """The page's path of a 201 answer."""
    url = made.get_json()["url"]
    assert url.startswith(f"{PUBLIC}/entry/")
    return url[len(PUBLIC):]


def form_nonce(html: str) -> str:
    """The form's own submission nonce."""
    found = re.search(r'name="submission" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def submit(h, path, pin, code=None, nonce=None, lang="en"):
    """Open the page (for its form) and send it."""
    headers = {"Accept-Language": lang}
    if nonce is None:
        nonce = form_nonce(h.client.get(path, headers=headers).get_data(as_text=True))
    data = {"pin": pin, "submission": nonce, **({"code": code} if code is not None else {})}
    return h.client.post(path, data=data, headers=headers)


def outcome(response) -> str:
    """The page's heading or problem text."""
    found = re.search(r'id="(?:outcome|problem)"[^>]*>([^<]*)<', response.get_data(as_text=True))
    return found.group(1) if found else ""


def wrong(pin: str) -> str:
    return "000001" if pin != "000001" else "000002"


def status(h, link_id, role="agent"):
    return h.call("GET", f"/v1/entry-links/{link_id}", role)


# ---- creating: every refusal ----

def test_a_201_answer_holds_the_single_use_url_with_a_256_bit_token_and_the_ttl(make_harness, mode):
    h = links(make_harness, mode)
    h.register(locale="en")
    made = create(h)
    body = made.get_json()
    assert made.status_code == 201, body
    assert body["status"] == "pending" and body["verification_id"] is None and body["tries"] == 0
    assert body["entry_link_id"].startswith("eln_") and body["expires_at"] == "2026-11-23T04:15:06Z"
    token = path_of(made).removeprefix("/entry/")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 bytes of token_urlsafe: 256 bits
    again = status(h, body["entry_link_id"]).get_json()
    assert "url" not in again and token not in str(again)


def test_the_ttl_comes_from_its_setting(make_harness):
    h = links(make_harness, "sqlite", entry_link_ttl_seconds=120)
    h.register(locale="en")
    assert create(h).get_json()["expires_at"] == "2026-11-23T04:07:06Z"


def test_without_a_key_401_and_without_the_agent_role_403(make_harness):
    h = links(make_harness, "sqlite")
    h.register(locale="en")
    assert create(h, role=None).status_code == 401
    assert create(h, role="portal").status_code == 403
    assert create(h, role="admin").status_code == 403
    assert h.call("GET", "/v1/entry-links/eln_x", role=None).status_code == 401
    assert h.call("GET", "/v1/entry-links/eln_x", "portal").status_code == 403


@pytest.mark.parametrize("body, field", [
    ({"agent_id": ""}, "agent_id"), ({"channel": "sms"}, "channel"), ({"ticket_ref": "x" * 65}, "ticket_ref"),
    ({"surprise": 1}, "surprise"), ({"agent_id": None}, "agent_id")])
def test_a_bad_body_is_a_400_naming_the_field(make_harness, body, field):
    h = links(make_harness, "sqlite")
    h.register(locale="en")
    refused = create(h, **body)
    assert refused.status_code == 400 and field in refused.get_json()["error"]["details"]


def test_a_missing_field_or_a_non_json_body_is_refused(make_harness):
    h = links(make_harness, "sqlite")
    h.register(locale="en")
    missing = h.call("POST", "/v1/customers/JP1001/entry-links", "agent", {"agent_id": "agent-42"})
    assert missing.status_code == 400 and "channel" in missing.get_json()["error"]["details"]
    form = h.client.post("/v1/customers/JP1001/entry-links", data={"agent_id": "a"},
                         headers={"Authorization": f"Bearer {h.keys['agent']}"})
    assert form.status_code == 415


def test_an_unknown_customer_is_404_and_a_malformed_account_id_400(make_harness):
    h = links(make_harness, "sqlite")
    assert create(h, "NOPE1").status_code == 404
    assert create(h, "bad id!").status_code == 400


def test_entry_links_are_off_without_the_public_url(make_harness):
    h = make_harness("sqlite")
    h.register(locale="en")
    refused = create(h)
    assert refused.status_code == 404 and "VERIFY_ENTRY_LINK_PUBLIC_URL" in refused.get_json()["error"]["message"]


def test_frozen_and_locked_customers_get_no_link(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    h.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "takeover"})
    frozen = create(h)
    assert frozen.status_code == 409 and frozen.get_json()["error"]["details"]["reason"] == "frozen"
    h.call("DELETE", "/v1/customers/JP1001/freeze", "admin", {"reason": "fine"})
    for _ in range(5):
        h.check(pin=wrong(pin))
    locked = create(h)
    assert locked.status_code == 409 and locked.get_json()["error"]["details"]["reason"] == "locked"


def test_the_hourly_cap_per_customer_is_a_429_with_retry_after(make_harness, mode):
    h = links(make_harness, mode, entry_link_max_per_customer_per_hour=2)
    h.register(locale="en")
    assert [create(h).status_code for _ in range(2)] == [201, 201]
    h.clock.advance(600)
    refused = create(h, agent_id="agent-43")
    assert refused.status_code == 429 and refused.get_json()["error"]["details"]["reason"] == "customer_cap"
    assert refused.headers["Retry-After"] == "3000"
    h.clock.advance(3001)
    assert create(h).status_code == 201


def test_the_hourly_cap_per_agent_spans_customers(make_harness, mode):
    h = links(make_harness, mode, entry_link_max_per_agent_per_hour=2)
    for account in ("A1", "A2", "A3"):
        h.register(account)
    assert [create(h, a).status_code for a in ("A1", "A2")] == [201, 201]
    refused = create(h, "A3")
    assert refused.status_code == 429 and refused.get_json()["error"]["details"]["reason"] == "agent_cap"
    assert int(refused.headers["Retry-After"]) > 0
    assert create(h, "A3", agent_id="agent-43").status_code == 201


def test_a_link_belongs_to_its_key_other_keys_get_404_and_admins_read_it_without_the_url(make_harness, mode):
    h = links(make_harness, mode)
    h.register(locale="en")
    link_id = create(h).get_json()["entry_link_id"]
    other = h.services.keys.create("other-agent", ["agent"])[1]
    theirs = h.client.get(f"/v1/entry-links/{link_id}", headers={"Authorization": f"Bearer {other}"})
    assert theirs.status_code == 404
    admin = status(h, link_id, "admin")
    assert admin.status_code == 200 and "url" not in admin.get_json()
    assert status(h, link_id).status_code == 200
    assert status(h, "eln_unknown").status_code == 404 and status(h, "nonsense").status_code == 404


def test_a_key_may_assert_only_its_agent_ids_and_never_a_console_username(make_harness, mode):
    h = links(make_harness, mode)
    h.register(locale="en")
    h.services.users.create("rtkato", "agent", "a long console password")  # before the names are cached
    bound = h.services.keys.create("desk1", ["agent"], ["desk1-*"])[1]
    assert create(h, secret=bound, agent_id="desk1-7").status_code == 201
    refused = create(h, secret=bound, agent_id="desk2-7")
    assert refused.status_code == 403 and "agent_id" in refused.get_json()["error"]["details"]
    assert create(h, agent_id="RTKato").status_code == 403


def test_a_blocked_agent_gets_no_link_and_its_open_links_stop_working(make_harness, mode):
    h = links(make_harness, mode, agent_block=True, agent_max_failures=2)
    pin = h.register(locale="en")
    path = path_of(create(h))
    h.check(pin=wrong(pin))
    h.check(pin=wrong(pin))  # agent-42 and the key are now blocked
    refused = create(h)
    assert refused.status_code == 429 and refused.get_json()["error"]["details"]["reason"] == "agent_blocked"
    page = h.client.get(path, headers={"Accept-Language": "en"})
    assert page.status_code == 404 and outcome(page) == "This link is no longer valid."
    before = h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"]
    assert submit(h, path, pin, nonce="n" * 22).status_code == 404
    assert h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"] == before


# ---- the customer's page ----

def test_the_page_is_sent_with_a_strict_csp_no_store_and_no_referrer(make_harness):
    h = links(make_harness, "sqlite")
    h.register(locale="en")
    path = path_of(create(h))
    for response in (h.client.get(path), h.client.get("/entry/" + "x" * 43)):
        assert path.removeprefix("/entry/") not in response.get_data(as_text=True)  # the form posts to its own URL
        csp = response.headers["Content-Security-Policy"]
        for part in ("default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"):
            assert part in csp
        assert "script-src" not in csp and "unsafe" not in csp
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Set-Cookie" not in response.headers
        html = response.get_data(as_text=True)
        assert "<script" not in html and "http://" not in html and "https://" not in html


def test_the_page_shows_the_brand_and_the_agents_name_and_nothing_about_the_account(make_harness, mode):
    h = links(make_harness, mode, brand_name="ExampleX")
    h.register(phone="+819012345678", email="kato@example.com", locale="en")
    h.services.agents.name("agent-42", "Kato", Actor(key_name="cli"))
    html = h.client.get(path_of(create(h))).get_data(as_text=True)
    assert "ExampleX" in html and "Kato asked you to confirm your identity in the chat." in html
    for private in ("JP1001", "678", "+81", "kato@", "T-2026-1", "agent-42"):
        assert private not in html


def test_the_page_speaks_the_customers_language(make_harness):
    h = links(make_harness, "sqlite")
    h.register("JA1", locale="ja")
    h.register("EN1", locale="en")
    ja = h.client.get(path_of(create(h, "JA1")), headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ja">' in ja and "本人確認" in ja and "サポートPIN" in ja
    en = h.client.get(path_of(create(h, "EN1")), headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="en">' in en and "Confirm your identity" in en


def test_expired_used_and_guessed_tokens_get_one_and_the_same_page(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    used = path_of(create(h))
    assert outcome(submit(h, used, pin)) == "Identity confirmed"
    expired = path_of(create(h))
    h.clock.advance(601)
    pages = [h.client.get(p, headers={"Accept-Language": "en"}) for p in
             (used, expired, "/entry/" + "A" * 43, "/entry/x", used + "x")]
    pages.append(h.client.post(used, data={"pin": pin, "submission": "s" * 22}, headers={"Accept-Language": "en"}))
    pages.append(h.client.post(expired, data={"pin": pin, "submission": "s" * 22}, headers={"Accept-Language": "en"}))
    assert {p.status_code for p in pages} == {404}
    assert len({p.get_data() for p in pages}) == 1
    assert outcome(pages[0]) == "This link is no longer valid."


def test_a_page_opened_by_a_chat_preview_changes_nothing(make_harness):
    h = links(make_harness, "sqlite")
    pin = h.register(locale="en")
    made = create(h)
    path = path_of(made)
    for _ in range(3):
        assert h.client.get(path).status_code == 200
        assert h.client.head(path).status_code == 200
    assert status(h, made.get_json()["entry_link_id"]).get_json()["tries"] == 0
    assert outcome(submit(h, path, pin)) == "Identity confirmed"


# ---- the flow, end to end on both stores ----

def test_the_whole_chat_link_flow_wrong_pin_then_right_pin(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    made = create(h).get_json()
    path = path_of_url(made["url"])
    first = submit(h, path, wrong(pin))
    assert first.status_code == 200 and outcome(first) == \
        "That did not match. You can try 4 more times before the account locks."
    assert status(h, made["entry_link_id"]).get_json()["status"] == "rejected"
    second = submit(h, path, "０" + pin[1:] if pin[0] == "0" else pin)  # full-width from an IME works too
    assert outcome(second) == "Identity confirmed"
    link = status(h, made["entry_link_id"]).get_json()
    assert link["status"] == "verified" and link["tries"] == 2 and link["used_at"] is not None
    check = h.call("GET", f"/v1/verifications/{link['verification_id']}").get_json()
    assert check["entry"] == "link" and check["verified"] and check["valid"] and check["level"] == 1
    assert h.client.get(path).status_code == 404  # dead after the match
    events = [e["event"] for e in h.call("GET", "/v1/audit?account_id=JP1001", "admin").get_json()["events"]]
    assert {"entry_link_created", "verification_failed", "verification_succeeded", "entry_link_used"} <= set(events)


def path_of_url(url: str) -> str:
    return url[len(PUBLIC):]


def test_link_and_agent_checks_share_one_lockout_counter(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    made = create(h).get_json()
    path = path_of_url(made["url"])
    for _ in range(3):
        h.check(pin=wrong(pin))
    assert "1 more time" in outcome(submit(h, path, wrong(pin)))
    locking = submit(h, path, wrong(pin))
    assert outcome(locking) == "Account locked"
    assert status(h, made["entry_link_id"]).get_json()["status"] == "locked"
    assert h.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["locked"] is True
    assert h.check(pin=pin).get_json()["result"] == "locked"  # the agent's next check sees the link's lock
    assert h.client.get(path).status_code == 404  # dead after the lock


def test_an_agent_check_that_locks_the_customer_shows_the_clear_page_and_counts_nothing_more(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    path = path_of(create(h))
    nonce = form_nonce(h.client.get(path).get_data(as_text=True))
    for _ in range(5):
        h.check(pin=wrong(pin))
    page = h.client.get(path, headers={"Accept-Language": "en"})
    assert page.status_code == 200 and outcome(page) == "Account locked" and "<form" not in page.get_data(as_text=True)
    sent = submit(h, path, pin, nonce=nonce)  # a form opened before the lock
    assert outcome(sent) == "Account locked"
    assert h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"] == 5


def test_a_frozen_customer_sees_a_clear_page_and_nothing_is_counted(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    made = create(h).get_json()
    path = path_of_url(made["url"])
    nonce = form_nonce(h.client.get(path).get_data(as_text=True))
    h.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": "takeover"})
    page = h.client.get(path)
    assert outcome(page) == "Account on hold" and "<form" not in page.get_data(as_text=True)
    sent = submit(h, path, wrong(pin), nonce=nonce)
    assert outcome(sent) == "Account on hold"
    assert status(h, made["entry_link_id"]).get_json()["status"] == "frozen"
    assert h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"] == 0


def test_a_malformed_pin_is_asked_again_and_counts_nothing(make_harness):
    h = links(make_harness, "sqlite")
    pin = h.register(locale="en")
    made = create(h).get_json()
    path = path_of_url(made["url"])
    for typed in ("12345", "12345a", "", "1234567"):
        again = submit(h, path, typed)
        assert again.status_code == 400 and outcome(again) == "Enter the 6 digits of your support PIN."
    assert status(h, made["entry_link_id"]).get_json()["tries"] == 0
    assert outcome(submit(h, path, pin)) == "Identity confirmed"


def test_the_same_form_sent_twice_counts_once_and_gets_the_same_answer(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    made = create(h).get_json()
    path = path_of_url(made["url"])
    nonce = form_nonce(h.client.get(path).get_data(as_text=True))
    answers = [outcome(submit(h, path, wrong(pin), nonce=nonce)) for _ in range(3)]
    assert answers == ["That did not match. You can try 4 more times before the account locks."] * 3
    assert h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"] == 1
    assert status(h, made["entry_link_id"]).get_json()["tries"] == 1


def test_a_double_tap_sent_at_once_counts_once(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register(locale="en")
    path = path_of(create(h))
    nonce = form_nonce(h.client.get(path).get_data(as_text=True))
    barrier, answers = threading.Barrier(4), []

    def tap():
        client = h.app.test_client()
        barrier.wait()
        response = client.post(path, data={"pin": wrong(pin), "submission": nonce}, headers={"Accept-Language": "en"})
        answers.append((response.status_code, outcome(response)))

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert h.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["failed_attempts"] == 1
    assert all(code == 200 and "4 more times" in text for code, text in answers), answers


def test_a_used_link_still_answers_its_own_form_but_no_other(make_harness):
    h = links(make_harness, "sqlite")
    pin = h.register(locale="en")
    path = path_of(create(h))
    nonce = form_nonce(h.client.get(path).get_data(as_text=True))
    assert outcome(submit(h, path, pin, nonce=nonce)) == "Identity confirmed"
    assert outcome(submit(h, path, pin, nonce=nonce)) == "Identity confirmed"  # the browser's re-send
    assert submit(h, path, pin, nonce="another-form-nonce-000").status_code == 404


def test_a_customer_with_an_authenticator_gives_the_code_too_for_level_2(make_harness, mode):
    h = links(make_harness, mode)
    pin = h.register()
    uri = h.call("POST", "/v1/customers/JP1001/totp", "portal").get_json()["otpauth_uri"]
    totp = pyotp.TOTP(uri.split("secret=")[1].split("&")[0])
    h.call("POST", "/v1/customers/JP1001/totp/confirm", "portal", {"code": totp.at(h.clock.now().timestamp())})
    h.clock.advance(31)
    made = create(h).get_json()
    path = path_of_url(made["url"])
    html = h.client.get(path).get_data(as_text=True)
    assert 'name="code"' in html and "認証アプリのコード" in html
    pin_only = submit(h, path, pin)
    assert pin_only.status_code == 400
    assert outcome(pin_only) == "6桁のサポートPINと、認証アプリに表示される6桁のコードを入力してください。"
    assert status(h, made["entry_link_id"]).get_json()["tries"] == 0
    done = submit(h, path, pin, code=totp.at(h.clock.now().timestamp()))
    assert outcome(done) == "本人確認ができました"  # the customer's locale: ja
    check_id = status(h, made["entry_link_id"]).get_json()["verification_id"]
    check = h.call("GET", f"/v1/verifications/{check_id}").get_json()
    assert check["level"] == 2 and check["factors"] == {"pin": "match", "code": "match"} and check["entry"] == "link"


def test_link_entry_works_where_agents_may_not_type_pins(make_harness, mode):
    h = links(make_harness, mode, agent_pin_entry=False)
    pin = h.register(locale="en")
    assert h.check(pin=pin).status_code == 409  # an agent-typed PIN is refused here
    assert outcome(submit(h, path_of(create(h)), pin)) == "Identity confirmed"


def test_links_made_before_they_were_turned_off_open_nothing(make_harness):
    h = links(make_harness, "sqlite")
    h.register(locale="en")
    path = path_of(create(h))
    off = make_harness("sqlite", clean=False)
    assert off.client.get(path, headers={"Accept-Language": "en"}).status_code == 404
