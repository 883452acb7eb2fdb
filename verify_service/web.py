"""What the HTTP API and the agent console share: this app's services, the client address, input validation."""

from __future__ import annotations

import functools
import json
from typing import Any, cast

from flask import current_app, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema, ValidationError
from werkzeug.sansio.response import Response

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


class CompactJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with keys in the order the code wrote them and one encoder reused for every response.

    Flask's own builds a new `json.JSONEncoder` on each `dumps` call that passes options; the compact encoder here is
    made once (debug mode and `compact = False` still get Flask's indented output).
    """

    sort_keys = False
    _compact: json.JSONEncoder | None = None

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """The JSON response of a view's dict or list."""
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        if self._compact is None:
            self._compact = json.JSONEncoder(default=self.default, ensure_ascii=self.ensure_ascii,
                                             sort_keys=self.sort_keys, separators=(",", ":"))
        text = self._compact.encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(f"{text}\n", mimetype=self.mimetype)
