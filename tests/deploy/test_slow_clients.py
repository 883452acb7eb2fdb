"""Slow clients: sync gunicorn workers behind deploy/nginx.conf stay free while clients trickle their headers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.blackbox.conftest import expect, free_port
from tests.deploy.nginx import Nginx, render, require_nginx

WORKERS = 2  # the black-box Gunicorn helper runs gunicorn.conf.py with two workers
SLOW_CLIENTS = WORKERS + 3
KINDS = ["slow_headers", "slow_body"]


def request_start(kind: str, key: str) -> bytes:
    """What a slow client sends at once before trickling a byte a second.

    slow_headers: half its headers. slow_body: all of them (with a valid key, so the app reads the body)
    and the start of the body they announce.
    """
    head = f"POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n".encode()
    if kind == "slow_headers":
        return head + b"X-Slow: "
    return head + b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"account_id\": \""


@contextmanager
def slow_clients(port: int, start: bytes, count: int = SLOW_CLIENTS) -> Iterator[list[socket.socket]]:
    """count connections that send the start of a request, then one more byte a second, until closed."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    stop = threading.Event()

    def trickle() -> None:
        for sock in sockets:
            sock.sendall(start)
        while not stop.wait(1.0):
            for sock in sockets:
                try:
                    sock.sendall(b"a")
                except OSError:
                    pass  # dropped by the server: no longer holding anything

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        time.sleep(1.5)  # every connection accepted, half a request in, a byte or two trickled
        yield sockets
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in sockets:
            sock.close()


def timed(action):
    """(result, seconds) of action()."""
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started


@pytest.fixture
def stack(deployment, start_gunicorn, tmp_path):
    """gunicorn (as in production, VERIFY_TRUSTED_PROXIES=1) behind the shipped nginx config."""
    require_nginx()
    server = start_gunicorn(VERIFY_TRUSTED_PROXIES="1", GUNICORN_DRAIN_SECONDS="0")
    proxy = Nginx(tmp_path / "nginx", upstream_port=server.port, listen_port=free_port(),
                  public_port=free_port()).start()
    yield server, proxy
    proxy.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_slow_clients_hold_every_direct_gunicorn_worker(stack, deployment, kind):
    server, _ = stack
    with slow_clients(server.port, request_start(kind, deployment.keys["agent"])):
        conn = socket.create_connection(("127.0.0.1", server.port), timeout=2)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        with pytest.raises(TimeoutError):
            conn.recv(1024)  # queued behind the slow clients: no worker is free to answer
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_behind_nginx_a_pin_check_answers_within_a_second_while_slow_clients_hang(stack, deployment, kind):
    _, proxy = stack
    client = deployment.client(proxy.port)
    account_id = client.register()
    pin = client.pin(account_id)
    with slow_clients(proxy.port, request_start(kind, deployment.keys["agent"])):
        health, health_seconds = timed(lambda: client.request("GET", "/healthz", role=None, timeout=5))
        check, check_seconds = timed(lambda: client.check(account_id, pin))
    assert expect(health, 200) == {"status": "ok"} and health_seconds < 1.0, health_seconds
    assert expect(check, 200)["result"] == "verified" and check_seconds < 1.0, check_seconds


def test_the_shipped_nginx_config_buffers_and_bounds_clients():
    conf = render(upstream_port=8000, public_port=8080, internal_port=8081, prefix=Path("/tmp/nginx"))
    for directive in ("client_header_timeout", "client_body_timeout", "proxy_buffering on",
                      "proxy_request_buffering on", "client_max_body_size 64k",
                      "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme"):
        assert directive in conf, directive
