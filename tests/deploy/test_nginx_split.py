"""The shipped nginx config, run for real: a public server with the entry-link page and Twilio's webhooks alone, an
internal one (desk networks only) with the API, the console and /metrics, access and error logs without link tokens,
and a per-address limit on /entry/."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from tests.blackbox.conftest import Gunicorn, free_port
from tests.deploy.nginx import Nginx, require_nginx

OUTSIDE, INSIDE = "127.0.0.2", "127.0.0.1"  # 127.0.0.2 stands for an address outside the desk's networks
TOKEN = "Zq3xT0kenThatMustNeverBeLogged-0123456789ab"


class BoundConnection(http.client.HTTPConnection):
    """An HTTP connection from a chosen local address."""

    def __init__(self, port: int, source: str):
        super().__init__("127.0.0.1", port, timeout=10)
        self.source = source

    def connect(self) -> None:
        """Connect from self.source."""
        self.sock = socket.create_connection((self.host, self.port), self.timeout, (self.source, 0))


def fetch(port: int, path: str, source: str = OUTSIDE, method: str = "GET",
          body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request through nginx from the source address."""
    conn = BoundConnection(port, source)
    try:
        conn.request(method, path, body=body if method == "POST" else None,
                     headers={"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, deployment):
    """gunicorn (keypad entry on) behind the shipped nginx config, both servers on ports of their own."""
    require_nginx()
    tmp = tmp_path_factory.mktemp("split")
    # The app's own limit per address is lifted here, so that any 429 on /entry/ is nginx's.
    server = Gunicorn({**deployment.env, "VERIFY_TRUSTED_PROXIES": "1", "GUNICORN_DRAIN_SECONDS": "0",
                       "VERIFY_ENTRY_PAGE_MAX_PER_ADDRESS_PER_MINUTE": "100000",
                       "VERIFY_IVR_PUBLIC_URL": "https://verify.example.com",
                       "VERIFY_TWILIO_AUTH_TOKEN": "twilio-auth-token-for-tests-0000000",
                       "VERIFY_IVR_TRANSFER": "queue:support"}, tmp / "gunicorn.log")
    try:
        server.wait_healthy()
        nginx = Nginx(tmp / "nginx", upstream_port=server.port, listen_port=free_port(),
                      public_port=free_port()).start()
        yield nginx
        nginx.stop()
    finally:
        server.stop()


def not_found_here(answer: tuple[int, dict[str, str], bytes]) -> bool:
    """nginx's own 404 in the error shape: the path does not exist on this server (no app behind it)."""
    status, headers, body = answer
    return (status == 404 and "x-request-id" not in headers and headers["content-type"] == "application/json"
            and json.loads(body)["error"]["code"] == "not_found")


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/v1/verifications", "/v1/customers/JP1001", "/console", "/console/login",
                                  "/docs", "/openapi.json", "/metrics", "/", "/ivr/other"])
def test_the_public_server_has_no_api_console_docs_or_metrics(proxy, path):
    assert not_found_here(fetch(proxy.public_port, path, OUTSIDE))
    assert not_found_here(fetch(proxy.public_port, path, INSIDE))  # not even from inside: wrong port


@pytest.mark.slow
def test_the_public_server_passes_twilios_webhooks_to_the_app_which_checks_the_signature(proxy):
    status, headers, body = fetch(proxy.public_port, "/ivr/twilio/voice", OUTSIDE, method="POST")
    assert status == 403 and "x-request-id" in headers
    assert json.loads(body)["error"]["details"]["reason"] == "bad_signature"


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/healthz", "/readyz", f"/entry/{TOKEN}"])
def test_the_public_server_passes_the_entry_page_and_health_to_the_app(proxy, path):
    status, headers, _ = fetch(proxy.public_port, path, OUTSIDE)
    assert "x-request-id" in headers, (path, status)  # the app answered (whatever it says of a made-up token)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/v1/verifications", "/console", "/openapi.json", "/metrics", "/entry/x"])
def test_the_internal_server_refuses_outside_addresses_in_the_error_shape(proxy, path):
    status, headers, body = fetch(proxy.port, path, OUTSIDE)
    assert status == 403 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "forbidden" and b"verify_" not in body


@pytest.mark.slow
def test_the_internal_server_serves_the_api_console_docs_and_metrics_to_the_desk(proxy):
    assert fetch(proxy.port, "/metrics", INSIDE)[0] == 200
    assert b"verify_http_request_duration_seconds" in fetch(proxy.port, "/metrics", INSIDE)[2]
    assert fetch(proxy.port, "/openapi.json", INSIDE)[0] == 200
    assert fetch(proxy.port, "/console/login", INSIDE)[0] == 200
    status, headers, body = fetch(proxy.port, "/v1/verifications", INSIDE, method="POST")
    assert status == 401 and "x-request-id" in headers  # the API itself, asking for a key


@pytest.mark.slow
def test_no_entry_token_reaches_nginxs_access_log(proxy):
    access_log = proxy.prefix / "access.log"
    before = access_log.stat().st_size if access_log.exists() else 0
    for path in (f"/entry/{TOKEN}", f"//entry/{TOKEN}", f"/entry/{TOKEN}?lang=ja", f"/entry/%5A{TOKEN[1:]}/x"):
        fetch(proxy.public_port, path, OUTSIDE)
    fetch(proxy.public_port, "/healthz", OUTSIDE)  # a line after ours: the log is flushed per request
    log = access_log.read_bytes()[before:].decode()
    assert log.count("/entry/[token]") == 4 and "/entry/[token]/x" in log
    assert TOKEN not in log and TOKEN[1:] not in log and "lang=ja" not in log


@pytest.mark.slow
def test_the_public_server_limits_entry_requests_per_address_past_the_burst(proxy):
    flooder = "127.0.0.3"  # an address of its own: the other tests' requests do not count
    started = time.monotonic()
    answers = [fetch(proxy.public_port, f"/entry/{TOKEN}", flooder) for _ in range(60)]
    elapsed = time.monotonic() - started
    passed = [status for status, headers, _ in answers if "x-request-id" in headers]
    assert passed[:31] == [404] * 31, passed  # the burst of 30 (and the first) reached the app
    assert len(passed) <= 31 + elapsed + 1, (len(passed), elapsed)  # then one a second trickles through
    refused = [(status, headers, body) for status, headers, body in answers if "x-request-id" not in headers]
    status, headers, body = refused[0]
    assert status == 429 and headers["retry-after"] == "1" and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "rate_limited" and TOKEN.encode() not in body
    assert "x-request-id" in fetch(proxy.public_port, f"/entry/{TOKEN}", "127.0.0.4")[1]  # others still pass


@pytest.mark.slow
def test_no_entry_token_reaches_nginxs_error_log_while_other_errors_are_still_logged(tmp_path):
    nginx = Nginx(tmp_path / "nginx", upstream_port=free_port(), listen_port=free_port(),
                  public_port=free_port()).start()  # nothing listens upstream: every pass is an error line
    try:
        assert fetch(nginx.public_port, f"/entry/{TOKEN}")[0] == 503
        assert fetch(nginx.public_port, f"/entry/{TOKEN}", method="POST", body=b"p" * 70_000)[0] == 413
        flood = {fetch(nginx.public_port, f"//entry/{TOKEN}?x=1", "127.0.0.5")[0] for _ in range(40)}
        assert flood == {503, 429}  # limit_req refusals (logged at `error` by default) are in the same location
        assert fetch(nginx.port, f"/entry/{TOKEN}", INSIDE)[0] == 503  # the internal server's /entry/
        assert fetch(nginx.port, f"/entry/{TOKEN}", OUTSIDE)[0] == 403  # "access forbidden by rule"
        assert fetch(nginx.public_port, "/healthz")[0] == 503
        assert fetch(nginx.port, "/v1/verifications", OUTSIDE)[0] == 403
    finally:
        nginx.stop()
    errors = nginx.error_log()
    assert TOKEN not in errors and TOKEN[:12] not in errors and "/entry/" not in errors, errors[-3000:]
    assert 'while connecting to upstream' in errors and 'request: "GET /healthz HTTP/1.1"' in errors, errors[-3000:]
    assert 'access forbidden by rule' in errors and 'request: "GET /v1/verifications HTTP/1.1"' in errors
    access = (nginx.prefix / "access.log").read_text()
    assert '"GET /entry/[token] HTTP/1.1" 503' in access and '"POST /entry/[token] HTTP/1.1" 413' in access
    assert '"GET /entry/[token] HTTP/1.1" 429' in access and TOKEN not in access
