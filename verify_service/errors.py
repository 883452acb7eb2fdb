"""Refusals the service can answer with: stable codes and HTTP status, no Flask."""

from __future__ import annotations

import math
from typing import Any


class ConfigError(Exception):
    """A VERIFY_* setting is missing or malformed; the message names it."""


class VerifyError(Exception):
    """Base of every refusal; one handler turns it into the error shape."""

    status = 500
    code = "internal_error"
    default_message = "Internal error."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details or {}

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After for throttling and outages)."""
        return {}


class InvalidJson(VerifyError):
    """The body is not parseable JSON."""

    status, code, default_message = 400, "invalid_json", "The request body is not valid JSON."


class ValidationFailed(VerifyError):
    """Input broke a rule of the contract; details name the fields."""

    status, code, default_message = 400, "validation_error", "The request is not valid."


class Unauthorized(VerifyError):
    """No API key, or an unknown or revoked one."""

    status, code, default_message = 401, "unauthorized", "A valid API key is required."


class Forbidden(VerifyError):
    """The key lacks the role this endpoint needs."""

    status, code, default_message = 403, "forbidden", "This API key may not do that."


class NotFound(VerifyError):
    """A well-formed identifier that names nothing."""

    status, code, default_message = 404, "not_found", "Not found."


class AccountClosed(VerifyError):
    """The account was closed: nothing can be done with it any more, and its id is never registered again."""

    status, code = 410, "account_closed"
    default_message = "This account was closed; it cannot be verified, changed or registered again."


class Conflict(VerifyError):
    """The request clashes with the resource's state."""

    status, code, default_message = 409, "conflict", "The request conflicts with the current state."


class RetryLater(VerifyError):
    """A refusal that says when to try again."""

    def __init__(self, message: str | None = None, *, retry_after: float = 1, **kwargs: Any):
        super().__init__(message, **kwargs)
        # Rounded up: a client that waits exactly this long is never early.
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        """Retry-After, in whole seconds."""
        return {"Retry-After": str(self.retry_after)}


class RateLimited(RetryLater):
    """Too many requests; retry after the given seconds."""

    status, code, default_message = 429, "rate_limited", "Too many requests."


class DependencyUnavailable(RetryLater):
    """The database or Redis did not answer; the service fails closed."""

    status, code = 503, "service_unavailable"
    default_message = "A dependency of the service is unavailable; try again shortly."


class UncertainWrite(DependencyUnavailable):
    """A store did not answer in time: a change it was sent may still happen (the caller settles it later)."""


class DuplicateKey(Exception):
    """A concurrent writer inserted the same unique key first (retry as an update)."""


class DeliveryFailed(Exception):
    """A gateway did not accept a message (retried by the outbox)."""
