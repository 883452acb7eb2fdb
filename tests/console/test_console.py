"""The agent console through the test client: sign-in, throttling, CSRF, idle timeout, verify, supervisor pages."""

import re
import time

import sqlalchemy as sa

PASSWORD = "correct horse battery staple"


def csrf(client, path="/console/login"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, username="alice", password=PASSWORD, environ=None):
    token = csrf(client)
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base=environ or {})


def post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf(client, "/console"), **data})


def test_signed_out_users_are_sent_to_the_sign_in_page(client):
    response = client.get("/console")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/login")


def test_sign_in_sets_a_hardened_session_cookie(console, client):
    response = sign_in(client)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert client.get("/console").status_code == 200


def test_wrong_password_is_refused_and_audited(console, client):
    response = sign_in(client, password="nope nope nope")
    assert response.status_code == 401 and "Wrong username or password" in response.get_data(as_text=True)
    events = [e["event"] for e in console.call("GET", "/v1/audit", "admin").get_json()["events"]]
    assert "console_sign_in_failed" in events


def test_sign_in_is_throttled_per_user(console, client):
    for _ in range(5):
        assert sign_in(client, password="wrong password!").status_code == 401
    throttled = sign_in(client)  # even the right password, while throttled
    assert throttled.status_code == 429


def test_throttled_sign_ins_are_audited_once_per_window(console, client):
    for _ in range(5):
        sign_in(client, password="wrong password!")
    for _ in range(10):
        assert sign_in(client).status_code == 429

    def throttled_events():
        events = console.call("GET", "/v1/audit?event=console_sign_in_throttled", "admin").get_json()["events"]
        return len(events)

    assert throttled_events() == 1
    console.clock.advance(15 * 60 + 1)  # a new window
    for _ in range(5):
        sign_in(client, password="wrong password!")
    sign_in(client)
    sign_in(client)
    assert throttled_events() == 2


def test_sign_in_is_throttled_per_address(console, client):
    for n in range(20):
        sign_in(client, username=f"nobody{n}", password="wrong password!", environ={"REMOTE_ADDR": "203.0.113.9"})
    assert sign_in(client, environ={"REMOTE_ADDR": "203.0.113.9"}).status_code == 429
    assert sign_in(client, environ={"REMOTE_ADDR": "203.0.113.10"}).status_code == 302


def test_a_post_without_the_csrf_token_is_refused(console, client):
    sign_in(client)
    response = client.post("/console/verify", data={"account_id": "JP1001", "pin": "123456", "channel": "phone"})
    assert response.status_code == 400 and "form expired" in response.get_data(as_text=True)
    login = client.post("/console/login", data={"username": "alice", "password": PASSWORD})
    assert login.status_code == 400


def test_verify_shows_the_answer_and_never_echoes_the_pin(console, client):
    pin = console.register()
    sign_in(client)
    page = post(client, "/console/verify", account_id="JP1001", pin=pin, channel="phone",
                ticket_ref="T-9").get_data(as_text=True)
    assert "VERIFIED" in page and "Identity confirmed" in page and pin not in page
    event = console.call("GET", "/v1/audit?event=verification_succeeded", "admin").get_json()["events"][0]
    assert event["agent_id"] == "alice" and event["actor"] == "console" and event["ticket_ref"] == "T-9"


def test_wrong_pins_show_attempts_left_then_locked(console, client):
    pin = console.register()
    sign_in(client)
    wrong = "000001" if pin != "000001" else "000002"
    first = post(client, "/console/verify", account_id="JP1001", pin=wrong, channel="phone").get_data(as_text=True)
    assert "NOT VERIFIED" in first and "4 attempts left before the account locks." in first  # ngettext's plural
    for _ in range(3):
        page = post(client, "/console/verify", account_id="JP1001", pin=wrong, channel="phone").get_data(as_text=True)
    assert "1 attempt left before the account locks." in page  # and its singular
    page = post(client, "/console/verify", account_id="JP1001", pin=wrong, channel="phone").get_data(as_text=True)
    assert "Locked until" in page


def test_send_code_shows_the_masked_destination_and_resend_countdown(console, client):
    console.register()
    sign_in(client)
    page = post(client, "/console/send-code", account_id="JP1001", channel="chat").get_data(as_text=True)
    assert "+81 *******678" in page and 'data-seconds="30"' in page
    again = post(client, "/console/send-code", account_id="JP1001", channel="chat")
    assert again.status_code == 429


def test_agents_cannot_open_supervisor_pages(console, client):
    sign_in(client)
    assert client.get("/console/customers?account_id=JP1001").status_code == 403


def test_supervisor_unlocks_with_a_reason(console, client):
    pin = console.register()
    for _ in range(5):
        console.check(pin="000001" if pin != "000001" else "000002")
    sign_in(client, "sam")
    page = client.get("/console/customers?account_id=JP1001").get_data(as_text=True)
    assert "LOCKED" in page or "locked" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = client.post("/console/customers/JP1001/actions/unlock", data={"csrf_token": token, "reason": ""})
    assert console.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["locked"] is True
    assert refused.status_code == 302
    client.post("/console/customers/JP1001/actions/unlock", data={"csrf_token": token, "reason": "customer on video"})
    assert console.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()["locked"] is False
    event = console.call("GET", "/v1/audit?event=customer_unlocked", "admin").get_json()["events"][0]
    assert event["agent_id"] == "sam" and event["details"]["reason"] == "customer on video"


def test_japanese_from_accept_language_and_the_switch(console):
    client = console.client  # no language cookie yet
    page = client.get("/console/login", headers={"Accept-Language": "ja,en;q=0.5"}).get_data(as_text=True)
    assert "サインイン" in page
    client.get("/console/lang/en")
    assert "Sign in" in client.get("/console/login", headers={"Accept-Language": "ja"}).get_data(as_text=True)


def test_idle_sessions_end(make_harness):
    harness = make_harness("sqlite", console_idle_seconds=1)
    harness.services.users.create("alice", "agent", PASSWORD)
    client = harness.client
    client.set_cookie("lang", "en")
    sign_in(client)
    time.sleep(1.2)
    response = client.get("/console")
    assert response.status_code == 302
    assert "inactivity" in client.get("/console/login").get_data(as_text=True)


def test_sign_out_ends_the_session(console, client):
    sign_in(client)
    post(client, "/console/logout")
    assert client.get("/console").status_code == 302


def test_passwords_are_argon2_hashes_and_never_logged(console, client, caplog):
    caplog.set_level("DEBUG")
    sign_in(console.client)
    with console.services.db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM console_users WHERE username='alice'")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in caplog.text
    audit = str(console.call("GET", "/v1/audit?limit=500", "admin").get_json())
    assert PASSWORD not in audit


def test_concurrent_wrong_passwords_get_no_more_than_five_guesses(console):
    import threading

    statuses, lock = [], threading.Lock()
    barrier = threading.Barrier(12)

    def guess(n):
        web = console.client
        web.set_cookie("lang", "en")
        token = csrf(web)
        barrier.wait()
        status = web.post("/console/login", data={"username": "alice", "password": f"wrong guess {n}",
                                                  "csrf_token": token}).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(401) <= 5 and statuses.count(429) >= 7


def test_sign_out_and_disable_end_sessions_even_for_a_copied_cookie(console, client):
    sign_in(client)
    cookie = client.get_cookie("verify_console", path="/console").value
    post(client, "/console/logout")
    thief = console.client
    thief.set_cookie("verify_console", cookie, path="/console")
    assert thief.get("/console").status_code == 302
    supervisor = console.client
    sign_in(supervisor, "sam")
    assert supervisor.get("/console/customers").status_code == 200
    console.services.users.disable("sam")
    assert supervisor.get("/console/customers").status_code == 302
    assert sign_in(console.client, "sam").status_code == 401


def test_the_language_switch_never_redirects_off_site(client):
    response = client.get("/console/lang/en", headers={"Referer": "https://evil.example/phish"})
    assert response.headers["Location"] == "/console"
    response = client.get("/console/lang/ja", headers={"Referer": "//evil.example/x"})
    assert response.headers["Location"] == "/console"
    response = client.get("/console/lang/ja", headers={"Referer": "http://localhost/console/customers"})
    assert response.headers["Location"] == "/console/customers"


def test_odd_console_input_is_never_a_500(console, client):
    console.register()
    token = csrf(client)
    assert client.post("/console/login", data={"username": "al\x00ice", "password": "x" * 12,
                                               "csrf_token": token}).status_code == 401
    sign_in(client, "sam")
    assert post(client, "/console/customers/%00/freeze", reason="x").status_code == 404
    assert post(client, "/console/send-code", account_id="JP1001", ticket_ref="t" * 100).status_code == 400
    assert post(client, "/console/send-code", account_id="JP1001", ticket_ref="\x01").status_code == 400
