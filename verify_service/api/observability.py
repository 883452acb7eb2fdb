"""Per-request plumbing: request ids, one JSON log line, metrics, security headers, /metrics."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from prometheus_client.registry import Collector

from verify_service import logs
from verify_service.adapters import metrics
from verify_service.api.http import services

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("verify_service.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
CONSOLE_CSP = "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
DOCS_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
# Metric labels must stay a small fixed set: any other method a client invents is counted as OTHER.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _start() -> None:
    """Take the caller's X-Request-ID (if sane) or make one; start the clock."""
    given = request.environ.get("HTTP_X_REQUEST_ID", "")
    logs.request_id.set(given if REQUEST_ID.match(given) else secrets.token_hex(16))
    logs.key_name.set(None)
    logs.agent_id.set(None)
    g.started = time.perf_counter()


def _security_headers(csp: str, cache: bool) -> tuple[tuple[str, str], ...]:
    """The headers every response of one area gets unless its view set them."""
    headers = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"),
               ("Strict-Transport-Security", "max-age=31536000"), ("Content-Security-Policy", csp)]
    return tuple(headers if cache else [*headers, ("Cache-Control", "no-store")])


API_HEADERS = _security_headers(API_CSP, cache=False)
CONSOLE_HEADERS = _security_headers(CONSOLE_CSP, cache=False)
DOCS_HEADERS = _security_headers(DOCS_CSP, cache=True)


class ResponseHeaders:
    """WSGI middleware: X-Request-ID and the security headers on every response, unless the view set them.

    At the WSGI layer the headers are plain tuples added in one pass (Werkzeug's Headers would validate each one
    again), and they are on every response, also one that no after_request hook saw.
    """

    def __init__(self, app: WSGIApplication):
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Run the app; add the headers as it starts its response."""
        path = environ.get("PATH_INFO", "")
        wanted = DOCS_HEADERS if path.startswith("/docs") else CONSOLE_HEADERS if path.startswith("/console") \
            else API_HEADERS

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            if "x-request-id" in present:
                headers[:] = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
            headers.append(("X-Request-ID", logs.request_id.get() or ""))
            headers.extend(header for header in wanted if header[0].lower() not in present)
            return start_response(status, headers, exc_info)

        return self._app(environ, start)


def _finish(response: Response) -> Response:
    """The access log line and the latency metric."""
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    metrics.request_seconds(method, route, response.status_code).observe(elapsed)
    log.info("%s %s %s", method, route, response.status_code,
             extra={"status": response.status_code, "ms": round(elapsed * 1000, 2), "ip": request.remote_addr})
    return response


def metrics_view() -> Response:
    """Prometheus text format: every worker's counters and the live outbox backlog."""
    svc = services()
    collectors: list[Collector] = [metrics.BacklogCollector(svc.outbox.backlog, svc.clock.now)]
    if svc.anchors.enabled:
        collectors.append(metrics.AnchorAgeCollector(svc.anchors.age, svc.anchors.period))
    return Response(metrics.render(*collectors), mimetype="text/plain; version=0.0.4")


def install(app: Flask) -> None:
    """Wire the hooks, the response headers and /metrics into the app."""
    app.before_request(_start)
    app.after_request(_finish)
    app.wsgi_app = ResponseHeaders(app.wsgi_app)  # type: ignore[method-assign]
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
