"""One place that turns every exception into the contract's error shape."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from verify_service.errors import VerifyError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "rate_limited", 503: "service_unavailable",
}
_HTTP_MESSAGES = {
    404: "No such endpoint.", 405: "Method not allowed on this endpoint.",
    413: "The request body is larger than 64 KiB.",
    415: "Requests with a body must be application/json.",
}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """A JSON error in the one shape of the contract."""
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _verify_error(error: VerifyError) -> Response:
    """Domain and API refusals."""
    return error_response(error.status, error.code, error.message, error.details, error.headers)


def _http_error(error: HTTPException) -> Response:
    """Werkzeug's routing and protocol errors (404, 405, 413, ...)."""
    status = error.code or 500
    code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "validation_error")
    response = error_response(status, code, _HTTP_MESSAGES.get(status, error.description or ""))
    if status == 405 and error.response is None and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _unexpected(error: Exception) -> Response:
    """A bug: log it with its traceback, answer without one."""
    log.exception("unhandled error: %s", type(error).__name__)
    return error_response(500, "internal_error", "Internal error.")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on the app."""
    app.register_error_handler(VerifyError, _verify_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
