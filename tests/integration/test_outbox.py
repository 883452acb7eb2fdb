"""The outbox against a real local HTTP gateway: retries, give-up, restarts, competing workers, Twilio's format."""

import base64
import io
import re
import threading
import time
import urllib.parse

import sqlalchemy as sa

from verify_service.adapters.delivery.senders import ConsoleSender
from verify_service.adapters.sql.tables import outbox


def webhook(make_harness, mode, gateway, **overrides):
    return make_harness(mode, delivery_backend="webhook", sms_webhook_url=gateway.url, sms_webhook_secret="s" * 32,
                        **overrides)


def send(h, account="JP1001"):
    response = h.call("POST", f"/v1/customers/{account}/codes", "agent", {})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["challenge_id"]


def rows(h):
    with h.services.db.engine.connect() as conn:
        return conn.execute(sa.select(outbox.c.status, outbox.c.attempts, outbox.c.next_attempt_at,
                                      outbox.c.last_error).order_by(outbox.c.id)).all()


def delivery(h, challenge_id):
    return h.call("GET", f"/v1/codes/{challenge_id}", "agent").get_json()["delivery"]


def test_a_2xx_answer_marks_the_message_sent(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway)
    h.register()
    challenge = send(h)
    assert h.services.outbox.dispatch_due() == 1
    assert len(gateway.received) == 1 and delivery(h, challenge) == "sent"
    assert rows(h)[0].status == "sent" and h.services.outbox.dispatch_due() == 0


def test_a_500_is_retried_with_backoff_starting_at_a_second(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway)
    h.register()
    challenge = send(h)
    gateway.status = 500
    h.services.outbox.dispatch_due()
    row = rows(h)[0]
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "gateway answered HTTP 500")
    assert (row.next_attempt_at - h.clock.now()).total_seconds() == 1
    assert h.services.outbox.dispatch_due() == 0  # not due yet
    h.clock.advance(1)
    h.services.outbox.dispatch_due()
    assert rows(h)[0].attempts == 2 and (rows(h)[0].next_attempt_at - h.clock.now()).total_seconds() == 2
    gateway.status = 200
    h.clock.advance(2)
    h.services.outbox.dispatch_due()
    assert rows(h)[0].status == "sent" and delivery(h, challenge) == "sent"
    assert len(gateway.received) == 3


def test_a_refused_connection_and_a_timeout_are_retried(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway, http_timeout_seconds=0.3)
    h.register()
    send(h)
    gateway.stop()
    h.services.outbox.dispatch_due()
    assert rows(h)[0].last_error.startswith("gateway unreachable")
    gateway.start()
    gateway.delay = 1.0
    h.clock.advance(1)
    started = time.monotonic()
    h.services.outbox.dispatch_due()
    assert time.monotonic() - started < 1.0 and rows(h)[0].status == "pending" and rows(h)[0].attempts == 2
    gateway.delay = 0
    h.clock.advance(2)
    h.services.outbox.dispatch_due()
    assert rows(h)[0].status == "sent"


def test_an_undelivered_code_is_dropped_when_it_expires_and_audited(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway)
    h.register()
    challenge = send(h)
    gateway.stop()
    h.services.outbox.dispatch_due()
    h.clock.advance(300)
    gateway.start()
    h.services.outbox.dispatch_due()
    assert rows(h)[0].status == "failed" and delivery(h, challenge) == "failed"
    assert len(gateway.received) == 0
    events = h.call("GET", "/v1/audit?event=code_delivery_failed", "admin").get_json()["events"]
    assert events[0]["details"]["challenge_id"] == challenge


def test_messages_are_given_up_after_the_configured_time(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway, outbox_give_up_seconds=60, code_ttl_seconds=3600)
    h.register()
    challenge = send(h)
    gateway.status = 503
    for _ in range(8):
        h.services.outbox.dispatch_due()
        h.clock.advance(30)
    assert rows(h)[0].status == "failed" and delivery(h, challenge) == "failed"


def test_gateway_down_and_a_restart_lose_nothing_and_send_each_message_once(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway, code_resend_seconds=0)
    for n in range(3):
        h.register(f"C{n}", phone=f"+8190123456{70 + n}")
    gateway.stop()
    sent = [send(h, f"C{n}") for n in range(3)]
    h.services.outbox.dispatch_due()
    h.services.close()  # the service stops with every message undelivered
    restarted = webhook(make_harness, mode, gateway, clean=False)
    restarted.clock.advance(2)
    gateway.start()
    restarted.services.outbox.dispatch_due()
    restarted.clock.advance(60)
    restarted.services.outbox.dispatch_due()
    ids = [body["message_id"] for body in gateway.bodies()]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert {delivery(restarted, c) for c in sent} == {"sent"}


def test_two_workers_never_send_the_same_message_twice(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway, code_resend_seconds=0, code_max_sends_per_hour=100)
    other = webhook(make_harness, mode, gateway, clean=False)
    gateway.delay = 0.01
    for n in range(20):
        h.register(f"W{n}", phone=f"+8190123457{n:02d}")
        send(h, f"W{n}")
    barrier = threading.Barrier(4)

    def work(service):
        barrier.wait()
        while service.outbox.dispatch_due():
            pass

    threads = [threading.Thread(target=work, args=(s,)) for s in (h.services, other.services) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [body["message_id"] for body in gateway.bodies()]
    assert len(ids) == 20 and len(set(ids)) == 20


def test_the_web_process_delivers_promptly_after_commit(make_harness, gateway):
    h = webhook(make_harness, "sqlite", gateway, outbox_inprocess=True)
    h.register()
    challenge = send(h)
    deadline = time.monotonic() + 5
    while delivery(h, challenge) != "sent" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert delivery(h, challenge) == "sent" and len(gateway.received) == 1


def test_twilio_receives_its_documented_messages_request(make_harness, gateway):
    h = make_harness("sqlite", delivery_backend="twilio", twilio_account_sid="AC123", twilio_auth_token="tok",
                     twilio_from="+15005550006", twilio_base_url=gateway.url)
    gateway.status = 201
    h.register(locale="en")
    challenge = send(h)
    h.services.outbox.dispatch_due()
    request = gateway.received[0]
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = urllib.parse.parse_qs(request.body.decode())
    assert form["To"] == ["+819012345678"] and form["From"] == ["+15005550006"]
    assert re.search(r"\b\d{6}\b", form["Body"][0])
    assert delivery(h, challenge) == "sent"


def test_twilio_errors_are_retried(make_harness, gateway):
    h = make_harness("sqlite", delivery_backend="twilio", twilio_account_sid="AC123", twilio_auth_token="tok",
                     twilio_from="MG0000", twilio_base_url=gateway.url)
    gateway.status = 429
    h.register()
    send(h)
    h.services.outbox.dispatch_due()
    assert rows(h)[0].last_error == "gateway answered HTTP 429"
    assert "MessagingServiceSid=MG0000" in gateway.received[0].body.decode()


def test_console_sender_prints_the_message_not_to_the_log():
    stream = io.StringIO()
    ConsoleSender(stream).send("msg_1", {"to": "+819012345678", "locale": "en", "text": "code 123456"})
    assert "code 123456" in stream.getvalue() and "+819012345678" in stream.getvalue()


def test_messages_left_by_a_stopped_process_are_delivered_by_the_next_one(make_harness, gateway):
    first = webhook(make_harness, "sqlite", gateway)
    first.register()
    challenge = send(first)
    gateway.stop()
    first.services.outbox.dispatch_due()  # fails: the gateway is down
    first.services.close()
    gateway.start()
    restarted = webhook(make_harness, "sqlite", gateway, clean=False, outbox_inprocess=True)
    restarted.clock.advance(2)
    restarted.client.get("/healthz")  # any request starts this process's delivery thread
    deadline = time.monotonic() + 5
    while delivery(restarted, challenge) != "sent" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert delivery(restarted, challenge) == "sent" and len(gateway.received) == 1


def test_a_garbled_gateway_answer_is_retried_and_jams_nothing(make_harness, mode):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(20)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def garbage():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"garbage\r\n\r\n")

    thread = threading.Thread(target=garbage, daemon=True)
    thread.start()
    try:
        h = make_harness(mode, delivery_backend="webhook", sms_webhook_url=f"http://127.0.0.1:{port}",
                         code_resend_seconds=0)
        for n in range(3):
            h.register(f"G{n}", phone=f"+8190123456{80 + n}")
            send(h, f"G{n}")
        assert h.services.outbox.dispatch_due() == 3
        assert [r.attempts for r in rows(h)] == [1, 1, 1]
        assert all(r.last_error.startswith("gateway answered garbage") for r in rows(h))
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_security_events_are_never_given_up(make_harness, gateway):
    h = make_harness("sqlite", events_webhook_url=gateway.url, outbox_give_up_seconds=60)
    h.register()
    gateway.stop()
    for _ in range(5):
        h.services.outbox.dispatch_due()
        h.clock.advance(61)
    assert {r.status for r in rows(h)} == {"pending"}
    gateway.start()
    h.services.outbox.dispatch_due()
    assert {r.status for r in rows(h)} == {"sent"}


def test_a_replaced_codes_waiting_message_is_not_sent(make_harness, mode, gateway):
    h = webhook(make_harness, mode, gateway, code_resend_seconds=0)
    h.register()
    first = send(h)
    second = send(h)
    h.services.outbox.dispatch_due()
    assert len(gateway.received) == 1 and delivery(h, second) == "sent" and delivery(h, first) == "failed"


def test_a_gateway_redirect_is_a_failed_attempt_and_is_never_followed(make_harness, gateway):
    from tests.gateway import Gateway

    elsewhere = Gateway().start()
    try:
        h = make_harness("sqlite", delivery_backend="twilio", twilio_account_sid="AC123", twilio_auth_token="tok",
                         twilio_from="+15005550006", twilio_base_url=gateway.url)
        gateway.status, gateway.location = 302, f"{elsewhere.url}/steal"
        h.register()
        challenge = send(h)
        h.services.outbox.dispatch_due()
        assert elsewhere.received == []  # neither the message nor the Basic credentials went there
        assert rows(h)[0].status == "pending" and rows(h)[0].last_error == "gateway answered HTTP 302"
        assert delivery(h, challenge) == "queued"
    finally:
        elsewhere.stop()
