"""The check's answer is written out by hand on the hot path: it must be VerificationSchema's dump, byte for byte."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from verify_service.api.schemas import VerificationSchema
from verify_service.api.verifications import verification_body
from verify_service.domain.model import Verification

AT = datetime(2026, 11, 23, 4, 5, 6, 250000, tzinfo=UTC)
BASE = Verification(verification_id="ver_abc", account_id="JP1001", verified=True, result="verified",
                    factors={"pin": "match", "code": "not_checked"}, level=1, attempts_remaining=5,
                    locked_until=None, checked_at=AT, valid_until=AT + timedelta(seconds=900), channel="phone",
                    agent_id="agent-42", ticket_ref="T-1", actor="desk")
CASES = [
    BASE,
    replace(BASE, checked_at=AT.replace(microsecond=0), valid_until=AT.replace(microsecond=0)),
    replace(BASE, verified=False, result="rejected", factors={"pin": "mismatch", "code": "not_checked"}, level=0,
            attempts_remaining=0, locked_until=AT + timedelta(days=1), valid_until=None),
    replace(BASE, verified=False, result="locked", factors={"pin": "not_checked", "code": "not_checked"}, level=0,
            attempts_remaining=0, locked_until=AT.replace(microsecond=1), valid_until=None),
    replace(BASE, verified=False, result="frozen", level=0, attempts_remaining=0, valid_until=None, ticket_ref=None),
    replace(BASE, level=2, factors={"pin": "match", "code": "match"}),
    replace(BASE, verified=False, result="rejected", factors={"pin": "not_checked", "code": "expired"}, level=0,
            attempts_remaining=3, valid_until=None),
    replace(BASE, level=2, factors={"pin": "match", "code": "not_checked", "approval": "match"}),
    replace(BASE, verified=False, result="rejected", factors={"pin": "not_checked", "code": "not_checked",
                                                              "approval": "expired"}, level=0, valid_until=None),
    replace(BASE, checked_at=datetime(2026, 11, 23, 13, 5, 6, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))),
]


@pytest.mark.parametrize("verification", CASES)
def test_the_hand_written_body_is_the_schema_dump(verification):
    expected = VerificationSchema().dump(verification)
    got = verification_body(verification)
    assert json.dumps(got) == json.dumps(expected)  # same keys, same order, same values
    assert list(got) == list(VerificationSchema().fields)
