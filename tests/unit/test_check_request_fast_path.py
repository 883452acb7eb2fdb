"""The check's body skips marshmallow when it has the common shape: only for bodies the schema loads unchanged."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from verify_service.api.schemas import CheckRequestSchema
from verify_service.api.verifications import valid_check_request

SCHEMA = CheckRequestSchema()
FIELDS = ("account_id", "pin", "code", "challenge_id", "channel", "agent_id", "ticket_ref")
TEXTS = st.one_of(
    st.sampled_from(["", "JP1001", "583920", "12345", "1234567", "phone", "chat", "PHONE", "agent-42", "a" * 64,
                     "a" * 65, "x\n", "x\t", "x\x7f", "\ud800", "١٢٣٤٥٦", "58392O", "583920\n", "JP 1001", "T-1",
                     "ｊｐ1001", "chl_abc"]),
    st.text(max_size=70))
VALUES = st.one_of(TEXTS, st.none(), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))


def loads_unchanged(raw):
    try:
        return SCHEMA.load(raw) == raw
    except ValidationError:
        return False


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS + ("extra",)), VALUES, max_size=8))
def test_vouches_only_for_bodies_the_schema_loads_unchanged(raw):
    if valid_check_request(raw):
        assert loads_unchanged(raw), raw


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"account_id": TEXTS, "channel": TEXTS, "agent_id": TEXTS},
                             optional={"pin": TEXTS, "code": TEXTS, "challenge_id": TEXTS,
                                       "ticket_ref": st.one_of(st.none(), TEXTS)}))
def test_vouches_only_for_bodies_the_schema_loads_unchanged_near_the_valid_shape(raw):
    if valid_check_request(raw):
        assert loads_unchanged(raw), raw


@pytest.mark.parametrize("raw", [
    {"account_id": "JP1001", "channel": "phone", "agent_id": "agent-42", "pin": "583920"},
    {"account_id": "JP1001", "channel": "chat", "agent_id": "a", "code": "119204", "challenge_id": "chl_x"},
    {"account_id": "JP1001", "channel": "phone", "agent_id": "a", "pin": "583920", "code": "119204",
     "ticket_ref": None},
    {"account_id": "JP1001", "channel": "phone", "agent_id": "a", "pin": "583920", "ticket_ref": ""},
])
def test_the_common_shapes_take_the_fast_path(raw):
    assert valid_check_request(raw) and loads_unchanged(raw)


@pytest.mark.parametrize("raw", [
    {"account_id": "JP1001", "channel": "phone", "agent_id": "a"},  # no factor: the schema says why
    {"account_id": "JP1001", "channel": "phone", "agent_id": "a", "pin": None, "code": "119204"},
    {"account_id": "JP1001", "channel": "phone", "agent_id": "a", "pin": "583920", "extra": 1},
    {"account_id": "JP1001", "channel": "phone", "agent_id": "a\n", "pin": "583920"},
    {"account_id": "JP1001", "channel": "phone", "agent_id": "a", "pin": "583920", "challenge_id": ""},
])
def test_anything_else_goes_through_the_schema(raw):
    assert not valid_check_request(raw)
