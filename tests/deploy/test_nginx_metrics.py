"""The shipped nginx config serves /metrics to internal addresses only; the API stays public."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.blackbox.conftest import free_port
from tests.deploy.nginx import Nginx, require_nginx


class BoundConnection(http.client.HTTPConnection):
    """An HTTP connection from a chosen local address (127.0.0.2 stands for an outside client here)."""

    def __init__(self, port: int, source: str):
        super().__init__("127.0.0.1", port, timeout=10)
        self.source = source

    def connect(self) -> None:
        """Connect from self.source."""
        self.sock = socket.create_connection((self.host, self.port), self.timeout, (self.source, 0))


def get(port: int, path: str, source: str) -> tuple[int, dict[str, str], bytes]:
    """GET path through nginx from the source address."""
    conn = BoundConnection(port, source)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


@pytest.fixture
def proxy(start_gunicorn, tmp_path):
    """gunicorn behind the shipped nginx config."""
    require_nginx()
    server = start_gunicorn(VERIFY_TRUSTED_PROXIES="1", GUNICORN_DRAIN_SECONDS="0")
    nginx = Nginx(tmp_path / "nginx", upstream_port=server.port, listen_port=free_port()).start()
    yield nginx
    nginx.stop()


@pytest.mark.slow
def test_metrics_through_nginx_are_refused_to_an_outside_address_in_the_error_shape(proxy):
    status, headers, body = get(proxy.port, "/metrics", "127.0.0.2")
    assert status == 403 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "forbidden"
    assert b"verify_" not in body


@pytest.mark.slow
def test_metrics_through_nginx_are_served_to_an_internal_address(proxy):
    status, _, body = get(proxy.port, "/metrics", "127.0.0.1")
    assert status == 200 and b"verify_http_request_duration_seconds" in body


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/healthz", "/openapi.json"])
def test_the_api_and_its_document_stay_public_through_nginx(proxy, path):
    status, _, _ = get(proxy.port, path, "127.0.0.2")
    assert status == 200
