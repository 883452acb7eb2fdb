"""The OpenAPI document, built by apispec from the same marshmallow schemas that validate requests."""

from __future__ import annotations

import re
import sys
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
from verify_service.api.entry_link_schemas import ENTRY_LINK_ID
from verify_service.api.schemas import (
    ACCOUNT_ID,
    APPROVAL_ID,
    CHALLENGE_ID,
    VERIFICATION_ID,
    ErrorSchema,
    StrictSchema,
    at_least_one_message,
    not_together_message,
)

F = TypeVar("F", bound=Callable[..., Any])

ERROR_TEXT = {
    400: "Invalid JSON or a request that breaks a rule (`invalid_json`, `validation_error`).",
    401: "Missing, unknown or revoked API key (`unauthorized`).",
    403: "The key lacks the role this endpoint needs, or may not assert the agent_id given (`forbidden`).",
    404: "Unknown customer or record (`not_found`).",
    409: "The request conflicts with the customer's state (`conflict`).",
    410: "The account was closed (`account_closed`, `details.closed_at`): its id is never registered again.",
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
    "entry_link_id": (ENTRY_LINK_ID, "eln_8Rk2Vd"),
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
    explain: dict[int, str] = field(default_factory=dict)
    roles: tuple[str, ...] = field(default_factory=tuple)


def documented(summary: str, *, ok: int | tuple[int, ...] = 200, response: type[Schema] | None = None,
               body: type[Schema] | None = None, query: type[Schema] | None = None,
               errors: tuple[int, ...] = (), body_required: bool = True,
               explain: dict[int, str] | None = None) -> Callable[[F], F]:
    """Attach an Operation to a view (put it under @requires, which adds the roles).

    `ok` is the success status, or every success status the view answers (PUT: 201 created, 200 updated).
    With `body_required`, `load_body` refuses a request without a body, as the document says.
    `explain` gives an error status this endpoint's own description (the reasons it answers it for).
    The view's name is the operationId and its blueprint the tag, so a generated client is named after them.
    """

    def decorate(view: F) -> F:
        view.__openapi__ = Operation(  # type: ignore[attr-defined]
            summary, (ok,) if isinstance(ok, int) else ok, response, body, query,
            tuple(sorted(set(errors) | set(explain or {}))), body_required, dict(explain or {}))
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
    if 404 in statuses:  # whatever names a customer may name a closed one
        statuses.add(410)
    for status in sorted(statuses):
        error: dict[str, Any] = {"description": op.explain.get(status, ERROR_TEXT[status]),
                                 "content": {"application/json": {"schema": ErrorSchema}}}
        if status in (429, 503):
            error["headers"] = RETRY_AFTER
        responses[str(status)] = error
    return responses


def _operation(op: Operation, path: str, endpoint: str) -> dict[str, Any]:
    """One path item operation; `endpoint` (blueprint.view) gives its operationId and tag."""
    public = not path.startswith("/v1/")
    tag, _, view = endpoint.rpartition(".")
    operation: dict[str, Any] = {"operationId": _camel(view), "tags": [tag], "summary": op.summary,
                                 "responses": _responses(op, public)}
    if op.roles:  # the summary is not repeated: generators print both
        operation["description"] = f"Roles: {', '.join(op.roles)}."
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


def _camel(name: str) -> str:
    """put_customer -> putCustomer."""
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


class Converter(OpenAPIConverter):
    """apispec's converter, plus the rules a StrictSchema states across fields (`at_least_one`, `not_together`).

    Generators cannot model an object with `anyOf` or `not` at its top level (openapi-python-client types
    such a body `Any`), so the object stays plain. Its rules are stated in its description, in the words
    of the server's 400, and in `x-constraints`: the JSON Schema keywords that also apply to the object
    (merge them into it to validate a body fully, as the fuzz test does).
    """

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        """The JSON Schema of a marshmallow schema, with its cross-field rules stated beside it."""
        jsonschema: dict[str, Any] = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        cls = resolve_schema_cls(schema)
        if not (isinstance(cls, type) and issubclass(cls, StrictSchema) and (cls.at_least_one or cls.not_together)):
            return jsonschema
        fields = get_fields(schema)
        for group in cls.at_least_one:
            for name in group:
                if fields[name].allow_none:  # `required` says present, not non-null
                    raise ValueError(f"{cls.__name__}.{name} is in at_least_one and must not allow null")
        key = {name: field.data_key or name for name, field in fields.items()}
        groups = [[key[name] for name in group] for group in cls.at_least_one]
        pairs = [(key[first], key[second]) for first, second in cls.not_together]
        jsonschema["x-constraints"] = cross_field_constraints(groups, pairs)
        words = [at_least_one_message(group) for group in groups] + [not_together_message(*p) for p in pairs]
        jsonschema["description"] = " ".join([*filter(None, [jsonschema.get("description")]), *words,
                                              "A body that breaks one of these rules is 400 `validation_error`."])
        return jsonschema


def cross_field_constraints(groups: list[list[str]], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """JSON Schema for "at least one of each group" (`anyOf` of `required`) and "not both of each pair"."""
    constraints: dict[str, Any] = {}
    any_ofs = [[{"required": [name]} for name in group] for group in groups]
    if len(any_ofs) == 1:
        constraints["anyOf"] = any_ofs[0]
    elif any_ofs:
        constraints["allOf"] = [{"anyOf": any_of} for any_of in any_ofs]
    nots = [{"required": list(pair)} for pair in pairs]
    if nots:
        constraints["not"] = nots[0] if len(nots) == 1 else {"anyOf": nots}
    return constraints


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
    paths = _paths(app)
    used = {operation["tags"][0] for operations in paths.values() for operation in operations.values()}
    for name, blueprint in app.blueprints.items():  # in the order they are mounted
        if name in used:
            doc = (sys.modules[blueprint.import_name].__doc__ or name).strip()
            spec.tag({"name": name, "description": doc.splitlines()[0]})
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _paths(app: Flask) -> dict[str, dict[str, Any]]:
    """Every documented view's operation, by path and method."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op: Operation | None = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if op is None:
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        if len(methods) != 1:  # an operationId names one operation
            raise ValueError(f"{rule.endpoint}: a documented view answers one method, not {methods}")
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        paths.setdefault(path, {})[methods[0].lower()] = _operation(op, path, rule.endpoint)
    return paths
