"""The real gunicorn with its own access log turned on (--access-logfile, a format printing the request line, the
path and the raw URI) never prints an entry link's token: not for a page view, a form post, or a request line it
refuses."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.slow
FORMAT = '%(h)s "%(r)s" %(U)s %({raw_uri}e)s %(s)s'


def test_gunicorns_own_logs_never_print_an_entry_link_token(deployment, start_gunicorn):
    server = start_gunicorn(VERIFY_ENTRY_LINK_PUBLIC_URL="http://127.0.0.1",
                            GUNICORN_CMD_ARGS=f"--access-logfile - --access-logformat '{FORMAT}'")
    service = deployment.client(server.port)
    account_id = service.register(locale="en")
    made = service.request("POST", f"/v1/customers/{account_id}/entry-links", role="agent",
                           json_body={"agent_id": "agent-42", "channel": "chat"})
    assert made.status == 201
    path = made.json["url"].removeprefix("http://127.0.0.1")
    token = path.removeprefix("/entry/")
    page = service.request("GET", path, role=None)
    nonce = re.search(rb'name="submission" value="([^"]+)"', page.body).group(1).decode()
    sent = service.request("POST", path, role=None, body=urlencode({"pin": "000001", "submission": nonce}).encode(),
                           content_type="application/x-www-form-urlencoded")
    assert page.status == 200 and sent.status in (200, 400)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:  # a line gunicorn refuses
        raw.sendall(f"GET {path} HTTP/1.1 extra\r\nHost: x\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    server.stop()
    log = server.log_path.read_text(errors="replace")
    assert token not in log and token[:12] not in log
    assert log.count("/entry/[redacted]") >= 2 * 2 + 1, log[-3000:]  # two access lines (path twice), one refusal
