"""Request plumbing shared by the blueprints: auth, bodies, responses (and, from verify_service.web, what the
console shares with them)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, request
from marshmallow import Schema, ValidationError

from verify_service import logs
from verify_service.api.schemas import ACCOUNT_ID
from verify_service.domain.model import Actor, ApiKey
from verify_service.errors import (
    Forbidden,
    InvalidJson,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
    VerifyError,
)

# Shared with the console; the blueprints import them from here.
from verify_service.web import client_ip as client_ip
from verify_service.web import load_data as load_data
from verify_service.web import schema_instance as schema_instance
from verify_service.web import services as services

F = TypeVar("F", bound=Callable[..., Any])


class PayloadTooLarge(VerifyError):
    """A body over 64 KiB."""

    status, code, default_message = 413, "payload_too_large", "The request body is larger than 64 KiB."


class UnsupportedMediaType(VerifyError):
    """A body that is not application/json."""

    status, code, default_message = 415, "unsupported_media_type", "Requests with a body must be application/json."


def authenticate() -> ApiKey:
    """The live key of the request's bearer token, or Unauthorized."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized()
    key = services().keys.authenticate(secret.strip())
    if key is None:
        raise Unauthorized()
    return key


def requires(*roles: str) -> Callable[[F], F]:
    """Check the API key holds one of the roles; passes `actor` to the view."""

    def decorate(view: F) -> F:
        operation = getattr(view, "__openapi__", None)
        if operation is not None:
            operation.roles = roles

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = authenticate()
            logs.key_name.set(key.name)
            wait = services().limiter.hit(key.name)
            if wait is not None:
                raise RateLimited("Too many requests for this API key.", retry_after=math.ceil(wait))
            if not set(key.roles) & set(roles):
                raise Forbidden(f"This endpoint needs the {' or '.join(roles)} role.")
            actor = Actor(key_name=key.name, ip=client_ip(), roles=tuple(key.roles), agent_ids=key.agent_ids)
            return view(*args, actor=actor, **kwargs)

        return cast(F, wrapper)

    return decorate


def account_id_arg(account_id: str) -> str:
    """A path account_id, or 400 validation_error when it breaks the format."""
    try:
        ACCOUNT_ID(account_id)
    except ValidationError as error:
        raise ValidationFailed(details={"account_id": error.messages}) from None
    return account_id


def has_body() -> bool:
    """True when the request carries a body (declared or chunked)."""
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def check_body_type() -> None:
    """415 for any API body that is not application/json (the console posts HTML forms)."""
    environ = request.environ
    if environ.get("CONTENT_TYPE") == "application/json" or not (
            environ.get("CONTENT_LENGTH") or environ.get("HTTP_TRANSFER_ENCODING")):
        return  # the usual cases, without parsing a header: a JSON body, or no body at all
    # The console posts HTML forms; Twilio's webhooks (/ivr/) post forms, authenticated by their signature; so does
    # the customer's entry link page (/entry/), authenticated by the link's token.
    if has_body() and request.mimetype != "application/json" and \
            not request.path.startswith(("/console", "/ivr/", "/entry/")):
        raise UnsupportedMediaType()


def _body_required() -> bool:
    """Whether the OpenAPI document says this endpoint's body is required (its view's Operation)."""
    operation = getattr(current_app.view_functions.get(request.endpoint or ""), "__openapi__", None)
    return operation is not None and operation.body is not None and bool(operation.body_required)


def _raw_body() -> Any:
    """The JSON body as Python data ({} when there is none and the document does not require one)."""
    data = request.get_data(cache=True)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(data) >= limit:
        raise PayloadTooLarge()  # a chunked body is cut at the limit, not refused, by the server
    if not data.strip():
        if _body_required():
            raise ValidationFailed("This endpoint needs a JSON object body.",
                                   details={"_schema": ["Missing request body."]})
        return {}
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidJson() from None


def load_body(schema: type[Schema]) -> dict[str, Any]:
    """Validate the body with a schema; 400 with per-field details when it fails."""
    raw = _raw_body()
    if not isinstance(raw, dict):
        raise ValidationFailed("The body must be a JSON object.", details={"_schema": ["Must be an object."]})
    data = load_data(schema, raw)
    if isinstance(data.get("agent_id"), str):
        logs.agent_id.set(data["agent_id"])
    return data


def query_args() -> dict[str, str]:
    """The query string as a dict; a repeated parameter is refused rather than half-read."""
    repeated = sorted(key for key in request.args if len(request.args.getlist(key)) > 1)
    if repeated:
        raise ValidationFailed(details={key: ["Given more than once."] for key in repeated})
    return request.args.to_dict()


def path_id(value: str, validator: Callable[[str], Any], what: str) -> str:
    """An id from the path; a malformed one names nothing (404)."""
    try:
        validator(value)
    except ValidationError:
        raise NotFound(f"No {what} {value[:80]!r}.") from None
    return value


def dump(schema: type[Schema], obj: Any, status: int = 200) -> tuple[dict[str, Any], int]:
    """A response body shaped by a schema."""
    return cast(dict[str, Any], schema_instance(schema).dump(obj)), status
