"""What the HTTP API and the agent console share: this app's services, the client address, input validation."""

from __future__ import annotations

import functools
from typing import Any, cast

from flask import current_app, request
from marshmallow import Schema, ValidationError

from verify_service.bootstrap import Services
from verify_service.errors import ValidationFailed


def services() -> Services:
    """The services this app was built with."""
    return cast(Services, current_app.extensions["verify"])


def client_ip() -> str | None:
    """The caller's address as the WSGI server saw it (VERIFY_TRUSTED_PROXIES puts ProxyFix in front)."""
    return request.remote_addr


@functools.cache
def schema_instance(schema: type[Schema]) -> Schema:
    """One instance per schema class: building one deep-copies its fields, and instances are reusable."""
    return schema()


def load_data(schema: type[Schema], raw: Any) -> dict[str, Any]:
    """Validate any mapping (body, query string or form) with a schema; 400 with per-field details."""
    try:
        return cast(dict[str, Any], schema_instance(schema).load(raw))
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise ValidationFailed(details=messages) from None
