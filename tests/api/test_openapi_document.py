"""The OpenAPI document states what the server enforces, and the server does what the document says.

Each rule is checked both ways: the served /openapi.json (validated with a JSON Schema validator, the way a
client or schemathesis reads it) and the server's answer to the same input agree.
"""

import re
import sys
import unicodedata

import jsonschema_rs
import phonenumbers
import pytest
from apispec import APISpec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from tests.conftest import make_settings
from verify_service import create_app
from verify_service.api.openapi import Plugin
from verify_service.api.schemas import ACCOUNT_ID, CheckRequestSchema, CodeSendSchema, ReasonSchema, StrictSchema
from verify_service.domain.masking import normalise_phone

ALL_ROLES = ("agent", "portal", "admin")
PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def sqlite(make_harness):
    """One SQLite app (the document does not depend on the storage), with a key holding every role."""
    harness = make_harness("sqlite")
    harness.keys["all"] = harness.services.keys.create("document-all", list(ALL_ROLES))[1]
    return harness


@pytest.fixture
def spec(sqlite):
    return sqlite.client.get("/openapi.json").get_json()


_SPEC: dict = {}  # the served document, for the property tests (hypothesis takes no function-scoped fixture)


@pytest.fixture(autouse=True, scope="module")
def _served_spec(databases):
    app = create_app(settings=make_settings(**databases["sqlite"]))
    _SPEC.update(app.test_client().get("/openapi.json").get_json())
    yield
    app.extensions["verify"].close()


def validator(spec, name):
    """A validator for one component schema of the served document, with the `x-constraints` it states."""
    schema = spec["components"]["schemas"][name]
    return jsonschema_rs.Draft4Validator({"allOf": [{"$ref": f"#/components/schemas/{name}"},
                                                    schema.get("x-constraints", {})],
                                          "components": spec["components"]})


def pattern_of(spec, schema, field):
    return re.compile(spec["components"]["schemas"][schema]["properties"][field]["pattern"])


def free_text(text, *, multiline):
    """Text's own rule, from unicodedata: no Cc (but tab/newline in multiline text), Cf, Zl, Zp or surrogate."""
    allowed = "\t\n\r" if multiline else ""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") and c not in allowed for c in text)


def as_documented(text):
    """The text as the document's patterns judge it: they leave out the refused characters above U+FFFF
    (domain.text.refused_class, bmp_only), so those read as any other character there (here an emoji)."""
    return "".join("\U0001f600" if ord(c) > 0xFFFF and unicodedata.category(c) in ("Cf", "Cc", "Zl", "Zp") else c
                   for c in text)


def assert_error_shape(response, status, code):
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and isinstance(body["error"]["message"], str)
    return body["error"]


# PUT /v1/customers/{account_id}: 201 on creation and 200 on update, both documented.

def test_put_customer_documents_201_created_and_200_updated(spec, sqlite):
    responses = spec["paths"]["/v1/customers/{account_id}"]["put"]["responses"]
    summary = {"$ref": "#/components/schemas/CustomerSummary"}
    assert responses["201"]["content"]["application/json"]["schema"] == summary
    assert responses["200"]["content"]["application/json"]["schema"] == summary
    assert "404" not in responses  # a PUT creates the customer it does not find
    documented = set(spec["components"]["schemas"]["CustomerSummary"]["properties"])
    for expected in (201, 200):
        response = sqlite.call("PUT", "/v1/customers/JP1001", "portal", {"phone": "+819012345678"})
        assert response.status_code == expected and set(response.get_json()) == documented


def test_every_status_the_rate_limit_gives_is_documented(spec, make_harness):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert ("429" in operation["responses"]) == path.startswith("/v1/"), (method, path)
    harness = make_harness("sqlite", rate_limit_per_second=1)
    statuses = [harness.call("GET", "/v1/customers/JP1001", "agent").status_code for _ in range(7)]
    assert statuses[-1] == 429 and set(statuses) <= {404, 429}


# A required body is required: no body (or not an object) is a 400 in the error shape, as documented.

MISSING = {"_schema": ["Missing request body."]}
NOT_AN_OBJECT = {"_schema": ["Must be an object."]}


@pytest.mark.parametrize("data,content_type,details", [
    (None, None, MISSING), (b"", "application/json", MISSING), (b"  \n", "application/json", MISSING),
    (b"[]", "application/json", NOT_AN_OBJECT), (b"null", "application/json", NOT_AN_OBJECT),
    (b'"+819012345678"', "application/json", NOT_AN_OBJECT), (b"5", "application/json", NOT_AN_OBJECT)])
def test_put_without_a_json_object_body_is_400_even_for_an_existing_customer(harness, data, content_type, details):
    harness.register()
    before = harness.call("GET", "/v1/audit?account_id=JP1001", "admin").get_json()["events"]
    response = harness.call("PUT", "/v1/customers/JP1001", "portal", data=data, content_type=content_type)
    assert assert_error_shape(response, 400, "validation_error")["details"] == details
    assert harness.call("GET", "/v1/audit?account_id=JP1001", "admin").get_json()["events"] == before


def test_put_with_an_empty_object_updates_nothing_and_is_200(harness):
    harness.register()
    response = harness.call("PUT", "/v1/customers/JP1001", "portal", {})
    assert response.status_code == 200 and response.get_json()["phone_masked"] == "+81 *******678"


def test_put_documents_that_a_creation_without_phone_is_400_and_the_server_answers_so(spec, sqlite):
    put = spec["paths"]["/v1/customers/{account_id}"]["put"]
    assert "phone" in put["responses"]["400"]["description"] and "creat" in put["responses"]["400"]["description"]
    body_schema = spec["components"]["schemas"]["CustomerPut"]
    assert "required" not in body_schema  # `{}` is a valid update: JSON Schema cannot see whether the PUT creates
    assert "`phone` is required when the PUT creates the customer" in body_schema["description"]
    assert validator(spec, "CustomerPut").is_valid({})
    error = assert_error_shape(sqlite.call("PUT", "/v1/customers/JP1001", "portal", {}), 400, "validation_error")
    assert list(error["details"]) == ["phone"]


def test_totp_confirm_documents_a_wrong_code_as_409_with_its_reasons(spec):
    responses = spec["paths"]["/v1/customers/{account_id}/totp/confirm"]["post"]["responses"]
    assert "`mismatch`" in responses["409"]["description"] and "`not_pending`" in responses["409"]["description"]
    assert "details.reason" in responses["409"]["description"] and "6 ASCII digits" in responses["400"]["description"]


# A generated client names its functions after operationIds and groups them by tag; it models a body only when
# the body's schema is a plain object (openapi-python-client types a top-level anyOf/oneOf/not as `Any`).

OPERATION_IDS = {  # a generated client's function names: renaming a view changes them, so this list is pinned
    "healthz", "readyz", "listAnomalies", "clearAnomaly", "getApproval", "listEvents", "getCode", "getContact",
    "endContact", "putCustomer", "getCustomer", "requestApproval", "answerApproval", "pendingApprovals",
    "sendCode", "startContact", "reportContact", "activeContacts", "freeze", "unfreeze", "lockStatus", "unlock",
    "viewPin", "rotatePin", "enrolTotp", "removeTotp", "confirmTotp", "check", "getVerification"}


def test_every_operation_has_a_unique_operation_id_and_one_declared_tag(spec):
    operations = [operation for operations in spec["paths"].values() for operation in operations.values()]
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids)) and set(ids) >= OPERATION_IDS
    declared = {tag["name"]: tag for tag in spec["tags"]}
    assert all(tag["description"] for tag in declared.values())
    for operation in operations:
        assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, operation["operationId"]
    assert {tag for operation in operations for tag in operation["tags"]} == set(declared)
    check = spec["paths"]["/v1/verifications"]["post"]
    assert (check["operationId"], check["tags"]) == ("check", ["verifications"])


def test_no_request_body_schema_uses_any_of_one_of_or_not_at_its_top_level(spec):
    bodies = 0
    for operations in spec["paths"].values():
        for operation in operations.values():
            if "requestBody" not in operation:
                continue
            bodies += 1
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            name = schema["$ref"].rsplit("/", 1)[1]
            resolved = spec["components"]["schemas"][name]
            assert resolved["type"] == "object" and resolved["properties"], name
            assert not {"anyOf", "oneOf", "not", "allOf"} & set(resolved), (operation["operationId"], name)
    assert bodies >= 10


def test_every_operation_whose_body_the_document_requires_refuses_no_body(spec, sqlite):
    sqlite.register()
    contact = sqlite.call("POST", "/v1/customers/JP1001/contacts", "all",
                          {"agent_id": "a-1", "channel": "phone", "ticket_ref": "T-1"}).get_json()
    required = optional = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            url = path.replace("{account_id}", "JP1001").replace("{contact_id}", contact["contact_id"])
            response = sqlite.call(method.upper(), url, "all")
            if operation["requestBody"]["required"]:
                required += 1
                error = assert_error_shape(response, 400, "validation_error")
                assert error["details"] == MISSING, (method, path)
            else:
                optional += 1
                assert response.status_code < 400, (method, path, response.get_json())
    assert required >= 6 and optional >= 1


# POST /v1/verifications: "at least one of pin, code and approval_id" is anyOf of required, and "not code with
# approval_id" (both are the second factor) is `not` of required, in the schema's `x-constraints`.

def test_check_request_states_its_factor_rules_in_words_and_in_x_constraints_not_at_its_top_level(spec):
    schema = spec["components"]["schemas"]["CheckRequest"]
    assert schema["x-constraints"] == {
        "anyOf": [{"required": ["pin"]}, {"required": ["code"]}, {"required": ["approval_id"]}],
        "not": {"required": ["code", "approval_id"]}}
    assert not {"anyOf", "oneOf", "not", "allOf"} & set(schema)
    assert "Give at least one of pin, code and approval_id." in schema["description"]
    assert "Give code or approval_id, not both." in schema["description"]
    assert set(schema["required"]) == {"account_id", "channel", "agent_id"}


@pytest.mark.parametrize("factors,valid", [({}, False), ({"pin": "583920"}, True), ({"code": "119204"}, True),
                                           ({"pin": "583920", "code": "119204"}, True),
                                           ({"approval_id": "apr_x"}, True),
                                           ({"pin": "583920", "approval_id": "apr_x"}, True),
                                           ({"code": "119204", "approval_id": "apr_x"}, False)])
def test_server_and_document_agree_on_the_factors_a_check_needs(spec, sqlite, factors, valid):
    sqlite.register()
    body = {"account_id": "JP1001", "channel": "phone", "agent_id": "agent-42", **factors}
    assert validator(spec, "CheckRequest").is_valid(body) is valid
    response = sqlite.call("POST", "/v1/verifications", "agent", body)
    if valid:
        assert response.status_code == 200
    else:
        error = assert_error_shape(response, 400, "validation_error")
        expected = ({"approval_id": ["Give code or approval_id, not both."]} if factors else
                    {"pin": ["Give at least one of pin, code and approval_id."]})
        assert error["details"] == expected


def test_each_at_least_one_group_of_a_schema_is_stated_and_enforced():
    class Contact(StrictSchema):
        at_least_one = (("phone", "email"), ("name", "nickname"))
        phone, email = fields.String(), fields.String(data_key="mail")
        name, nickname = fields.String(), fields.String()

    class Nullable(StrictSchema):
        at_least_one = (("a", "b"),)
        a, b = fields.String(allow_none=True), fields.String()

    spec = APISpec(title="t", version="1", openapi_version="3.0.3", plugins=[Plugin()])
    spec.components.schema("Contact", schema=Contact)
    stated = spec.to_dict()["components"]["schemas"]["Contact"]
    assert stated["x-constraints"] == {"allOf": [
        {"anyOf": [{"required": ["phone"]}, {"required": ["mail"]}]},
        {"anyOf": [{"required": ["name"]}, {"required": ["nickname"]}]}]}
    assert "allOf" not in stated and "Give at least one of name and nickname." in stated["description"]
    with pytest.raises(ValidationError) as refused:
        Contact().load({"mail": "a@example.com"})
    assert refused.value.messages == {"name": ["Give at least one of name and nickname."]}
    assert Contact().load({"mail": "a@example.com", "nickname": "A"}) == {"email": "a@example.com", "nickname": "A"}
    with pytest.raises(ValueError, match="Nullable.a"):
        APISpec(title="t", version="1", openapi_version="3.0.3", plugins=[Plugin()]).components.schema(
            "Nullable", schema=Nullable)


# `reason`: 1-500 characters, no control characters, not only whitespace; the pattern says the same.

def test_reason_documents_length_and_a_pattern_that_needs_a_visible_character(spec):
    reason = spec["components"]["schemas"]["Reason"]["properties"]["reason"]
    assert (reason["minLength"], reason["maxLength"]) == (1, 500)
    pattern = re.compile(reason["pattern"])
    assert pattern.fullmatch("caller proved identity") and pattern.fullmatch(" line one\n\tline two ")
    for blank in (" ", "   ", "\t\n\r", "\u3000", "\xa0", "\u2028", " \u2003 \n"):
        assert pattern.fullmatch(blank) is None, repr(blank)


@pytest.mark.parametrize("reason", ["   ", "\t\n", "\u3000\u3000", "\xa0", "\u2003 "])
def test_whitespace_reason_is_refused_by_server_and_document(spec, harness, reason):
    harness.register()
    assert not validator(spec, "Reason").is_valid({"reason": reason})
    for method, path in (("POST", "/freeze"), ("DELETE", "/freeze"), ("DELETE", "/lock")):
        response = harness.call(method, f"/v1/customers/JP1001{path}", "admin", {"reason": reason})
        assert assert_error_shape(response, 400, "validation_error")["details"] == {"reason": ["Must not be blank."]}
    response = harness.call("POST", "/v1/customers/JP1001/freeze", "admin", {"reason": f"{reason}takeover{reason}"})
    assert response.status_code == 200


def test_reason_pattern_and_server_agree_on_every_single_character(spec):
    pattern = pattern_of(spec, "Reason", "reason")
    field = ReasonSchema().fields["reason"]
    for code_point in range(sys.maxunicode + 1):
        c = chr(code_point)
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        expected = free_text(c, multiline=True) and not c.isspace()  # the server's rule: not blank when stripped
        # The pattern names the refused characters of the BMP only (domain.text.refused_class, bmp_only).
        assert bool(pattern.fullmatch(c)) is (expected or code_point > 0xFFFF), hex(code_point)
        if code_point < 0x3100 or c.isspace() or not expected:  # the server itself, where the characters differ
            try:
                field.deserialize(c)
                accepted = True
            except ValidationError:
                accepted = False
            assert accepted is expected, hex(code_point)


@PROPERTY
@given(text=st.text(max_size=520) | st.text(alphabet=" \t\n\r\x85\xa0\u2000\u3000x\x07", max_size=20))
@example(text="x" * 501)
@example(text="\n")
@example(text="ok \U000e0041\u202e")
def test_reason_document_and_server_agree(text):
    try:
        ReasonSchema().load({"reason": as_documented(text)})
        accepted = True
    except ValidationError:
        accepted = False
    assert validator(_SPEC, "Reason").is_valid({"reason": text}) is accepted


# Other strings the server refuses: the document refuses them too.

@PROPERTY
@given(text=st.text(max_size=70) | st.from_regex(r"[A-Za-z0-9_-]{0,66}\n?", fullmatch=True))
@example(text="JP1001\n")
@example(text="a" * 65)
def test_account_id_pattern_and_server_agree(text):
    try:
        ACCOUNT_ID(text)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(pattern_of(_SPEC, "CheckRequest", "account_id").fullmatch(text)) is accepted
    path_pattern = _SPEC["paths"]["/v1/customers/{account_id}"]["get"]["parameters"][0]["schema"]["pattern"]
    assert bool(re.fullmatch(path_pattern, text)) is accepted


@PROPERTY
@given(text=st.text(max_size=70), field=st.sampled_from(["agent_id", "ticket_ref", "challenge_id"]),
       schema=st.sampled_from([CheckRequestSchema, CodeSendSchema]))
@example(text="   ", field="agent_id", schema=CheckRequestSchema)
@example(text="", field="agent_id", schema=CheckRequestSchema)
@example(text="a\tb", field="ticket_ref", schema=CodeSendSchema)
def test_single_line_text_fields_document_and_server_agree(text, field, schema):
    if field not in schema().fields:
        return
    name = schema.__name__.removesuffix("Schema")
    try:
        schema().fields[field].deserialize(as_documented(text))
        accepted = True
    except ValidationError:
        accepted = False
    property_schema = {"$ref": f"#/components/schemas/{name}/properties/{field}", "components": _SPEC["components"]}
    assert jsonschema_rs.Draft4Validator(property_schema).is_valid(text) is accepted


def test_phone_pattern_admits_every_number_the_server_accepts(spec):
    pattern = pattern_of(spec, "CustomerPut", "phone")
    numbers = []
    regions = phonenumbers.SUPPORTED_REGIONS
    for region in regions:
        for kind in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                numbers.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            numbers.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    accepted = [n for n in numbers if normalise_phone(n) is not None]
    assert len(accepted) > 1000
    assert [n for n in accepted if not pattern.fullmatch(n)] == []
    for refused in ("819012345678", "+81 90 1234 5678", "+819012345678\n", "+0819012345678", "+81-90-1234-5678"):
        assert normalise_phone(refused) is None and pattern.fullmatch(refused) is None


@PROPERTY
@given(text=st.text(max_size=25) | st.from_regex(r"\+?[0-9 ()-]{0,22}", fullmatch=True))
def test_a_phone_the_document_refuses_the_server_refuses(text):
    if not pattern_of(_SPEC, "CustomerPut", "phone").fullmatch(text):
        assert normalise_phone(text) is None


