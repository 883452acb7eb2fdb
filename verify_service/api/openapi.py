"""The OpenAPI document, built by apispec from the same marshmallow schemas that validate requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import get_fields, resolve_schema_cls
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask import Flask
from marshmallow import Schema

from verify_service.api.agent_schemas import ANOMALY_ID
from verify_service.api.contact_schemas import CONTACT_ID
from verify_service.api.schemas import (
    ACCOUNT_ID,
    APPROVAL_ID,
    CHALLENGE_ID,
    VERIFICATION_ID,
    ErrorSchema,
    StrictSchema,
)

F = TypeVar("F", bound=Callable[..., Any])

ERROR_TEXT = {
    400: "Invalid JSON or a request that breaks a rule (`invalid_json`, `validation_error`).",
    401: "Missing, unknown or revoked API key (`unauthorized`).",
    403: "The key lacks the role this endpoint needs, or may not assert the agent_id given (`forbidden`).",
    404: "Unknown customer or record (`not_found`).",
    409: "The request conflicts with the customer's state (`conflict`).",
    413: "Body over 64 KiB (`payload_too_large`).",
    415: "A body that is not application/json (`unsupported_media_type`).",
    429: "Too many requests (`rate_limited`); see Retry-After.",
    503: "A dependency (database, Redis, key ring) is unavailable (`service_unavailable`); see Retry-After.",
}
COMMON_ERRORS = (401, 403, 413, 415, 429, 503)  # 429: every /v1 key has a request rate (VERIFY_RATE_LIMIT_PER_SECOND)
SUCCESS_TEXT = {200: "Success.", 201: "Created.", 204: "No content."}
PATH_PARAMS = {
    "account_id": (ACCOUNT_ID, "JP1001"),
    "verification_id": (VERIFICATION_ID, "ver_3q2Hc9"),
    "challenge_id": (CHALLENGE_ID, "chl_7Xb2Qw"),
    "contact_id": (CONTACT_ID, "con_4Tq9Zp"),
    "approval_id": (APPROVAL_ID, "apr_4Hq9Zs"),
    "anomaly_id": (ANOMALY_ID, "ano_Xc81Lm"),
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                               "schema": {"type": "integer", "minimum": 1}}}


@dataclass
class Operation:
    """What the document says about one endpoint."""

    summary: str
    ok: tuple[int, ...] = (200,)
    response: type[Schema] | None = None
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    errors: tuple[int, ...] = ()
    body_required: bool = True
    roles: tuple[str, ...] = field(default_factory=tuple)


def documented(summary: str, *, ok: int | tuple[int, ...] = 200, response: type[Schema] | None = None,
               body: type[Schema] | None = None, query: type[Schema] | None = None,
               errors: tuple[int, ...] = (), body_required: bool = True) -> Callable[[F], F]:
    """Attach an Operation to a view (put it under @requires, which adds the roles).

    `ok` is the success status, or every success status the view answers (PUT: 201 created, 200 updated).
    With `body_required`, `load_body` refuses a request without a body, as the document says.
    """

    def decorate(view: F) -> F:
        view.__openapi__ = Operation(  # type: ignore[attr-defined]
            summary, (ok,) if isinstance(ok, int) else ok, response, body, query, errors, body_required)
        return view

    return decorate


def _responses(op: Operation, public: bool) -> dict[str, Any]:
    """The success response and every error the endpoint can give, all in the one error shape."""
    responses: dict[str, Any] = {}
    for status in op.ok:
        success: dict[str, Any] = {"description": SUCCESS_TEXT[status]}
        if op.response is not None and status != 204:
            success["content"] = {"application/json": {"schema": op.response}}
        responses[str(status)] = success
    statuses = set(op.errors) | ({503} if public else set(COMMON_ERRORS))
    if op.body is not None:
        statuses.add(400)
    for status in sorted(statuses):
        error: dict[str, Any] = {"description": ERROR_TEXT[status],
                                 "content": {"application/json": {"schema": ErrorSchema}}}
        if status in (429, 503):
            error["headers"] = RETRY_AFTER
        responses[str(status)] = error
    return responses


def _operation(op: Operation, path: str) -> dict[str, Any]:
    """One path item operation."""
    public = not path.startswith("/v1/")
    roles = f" Roles: {', '.join(op.roles)}." if op.roles else ""
    operation: dict[str, Any] = {"summary": op.summary, "description": op.summary + roles,
                                 "responses": _responses(op, public)}
    params: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "example": PATH_PARAMS[name][1],
         "schema": {"type": "string", "pattern": PATH_PARAMS[name][0].regex.pattern}}
        for name in re.findall(r"{(\w+)}", path)]
    if op.query is not None:
        params.append({"in": "query", "schema": op.query})
    if params:
        operation["parameters"] = params
    if op.body is not None:
        operation["requestBody"] = {"required": op.body_required,
                                    "content": {"application/json": {"schema": op.body}}}
    operation["security"] = [] if public else [{"bearerAuth": []}]
    return operation


class Converter(OpenAPIConverter):
    """apispec's converter, plus the rules a StrictSchema states across fields (`at_least_one`)."""

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        """The JSON Schema of a marshmallow schema; each `at_least_one` group becomes `anyOf` of `required`."""
        jsonschema: dict[str, Any] = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        cls = resolve_schema_cls(schema)
        if not (isinstance(cls, type) and issubclass(cls, StrictSchema) and cls.at_least_one):
            return jsonschema
        fields = get_fields(schema)
        any_ofs = []
        for group in cls.at_least_one:
            for name in group:
                if fields[name].allow_none:  # `required` says present, not non-null
                    raise ValueError(f"{cls.__name__}.{name} is in at_least_one and must not allow null")
            any_ofs.append([{"required": [fields[name].data_key or name]} for name in group])
        if len(any_ofs) == 1:
            jsonschema["anyOf"] = any_ofs[0]
        else:
            jsonschema["allOf"] = [{"anyOf": any_of} for any_of in any_ofs]
        if cls.not_together:
            pairs = [{"required": [fields[name].data_key or name for name in pair]} for pair in cls.not_together]
            jsonschema["not"] = pairs[0] if len(pairs) == 1 else {"anyOf": pairs}
        return jsonschema


class Plugin(MarshmallowPlugin):
    """The marshmallow plugin with our converter."""

    Converter = Converter


def build_spec(app: Flask) -> dict[str, Any]:
    """Walk the app's routes and document every view that carries an Operation."""
    spec = APISpec(title="verify-service", version="1.0.0", openapi_version="3.0.3",
                   plugins=[Plugin()],
                   info={"description": "Is this caller the account holder? Support PINs, one-time codes, "
                                        "lockout and audit for support desks. Every /v1 endpoint needs "
                                        "`Authorization: Bearer <api key>`."})
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                   "description": "An API key from `flask --app wsgi keys create`."})
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op: Operation | None = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if op is None:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(op, path)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
