"""The audit archive's pure parts: periods, checkpoint merging and signing, event records, cut MACs."""

from datetime import UTC, datetime

import pytest

from tests.fakes import SIGNER
from verify_service.domain.archive_format import (
    event_from_record,
    event_record,
    newest_heads,
    open_checkpoint,
    periods,
    sign_checkpoint,
)
from verify_service.domain.audit import ChainReport, cut_is_signed, sign_cut, verify_chains
from verify_service.domain.model import AuditEvent, ChainedEvent, ChainState
from verify_service.errors import ValidationFailed


def at(*parts):
    return datetime(*parts, tzinfo=UTC)


def test_a_run_cuts_at_each_month_start_then_at_the_cutoff():
    assert periods(at(2026, 11, 23), at(2027, 2, 10)) == [at(2026, 12, 1), at(2027, 1, 1), at(2027, 2, 1),
                                                          at(2027, 2, 10)]
    assert periods(at(2026, 11, 23), at(2026, 11, 30)) == [at(2026, 11, 30)]
    assert periods(at(2026, 12, 5), at(2027, 1, 1)) == [at(2027, 1, 1)]


def test_a_checkpoint_holds_every_chain_the_moved_ones_replaced():
    old = [("A", 3, "a3"), ("C", 1, "c1")]
    moved = [("A", 5, "a5"), ("B", 2, "b2")]
    assert list(newest_heads(iter(old), iter(moved))) == [("A", 5, "a5"), ("B", 2, "b2"), ("C", 1, "c1")]


def test_an_archived_event_reads_back_the_same():
    event = AuditEvent(event="pin_viewed", at=at(2026, 11, 23, 4, 5, 6), account_id="JP1", actor="k",
                       details={"n": 1, "ja": "確認"}, ip="203.0.113.1")
    item = ChainedEvent(id=7, event=event, chain="JP1", seq=2, prev_hash="p" * 64, hash="h" * 64, key_id="t")
    assert event_from_record(event_record(item)) == item


def test_a_checkpoint_altered_or_unsigned_is_refused():
    trailer = sign_checkpoint(SIGNER, {"segment": 1, "events": 3})
    assert open_checkpoint(SIGNER, trailer) == {"segment": 1, "events": 3}
    with pytest.raises(ValidationFailed, match="does not match"):
        open_checkpoint(SIGNER, {**trailer, "checkpoint": {"segment": 1, "events": 4}})
    with pytest.raises(ValidationFailed, match="signed checkpoint"):
        open_checkpoint(SIGNER, {"checkpoint": trailer["checkpoint"]})


def test_a_cut_moved_without_the_audit_key_does_not_verify():
    cut = sign_cut(SIGNER, "JP1", 4, "h" * 64)
    assert cut_is_signed(SIGNER, cut)
    moved = type(cut)(cut.chain, 5, "g" * 64, cut.key_id, cut.tag)
    assert not cut_is_signed(SIGNER, moved)


def test_a_chain_whose_events_were_all_archived_verifies_at_its_cut():
    cut = sign_cut(SIGNER, "JP1", 4, "h" * 64)
    report = verify_chains([ChainState("JP1", (4, "h" * 64), cut, iter(()))], SIGNER)
    assert report.ok and report.chains == 0
    behind = verify_chains([ChainState("JP1", (5, "g" * 64), cut, iter(()))], SIGNER)
    assert "last event does not match the chain head (removed?)" in behind.problems[0]


def test_an_anchor_on_an_archived_event_is_covered_by_the_cut():
    cut = sign_cut(SIGNER, "JP1", 4, "h" * 64)
    state = ChainState("JP1", (4, "h" * 64), cut, iter(()))
    assert verify_chains([state], SIGNER, {"JP1": (2, "x" * 64)}).ok
    state.events = iter(())
    report = verify_chains([state], SIGNER, {"JP1": (4, "x" * 64)})
    assert report.problems == ["chain JP1 #4: its archive checkpoint differs from the anchor"]
    assert isinstance(report, ChainReport)
