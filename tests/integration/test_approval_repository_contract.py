"""One contract for ApprovalRepository: the fake and the SQL adapter (SQLite, PostgreSQL) behave alike."""

from datetime import timedelta

import pytest

from tests.fakes import START, FakeUnitOfWorkFactory
from verify_service.domain.model import Approval

LATER = START + timedelta(minutes=1)


@pytest.fixture(params=["fake", "sqlite", "postgres_redis"])
def uow(request, make_harness):
    if request.param == "fake":
        return FakeUnitOfWorkFactory()
    return make_harness(request.param).services.uow


def approval(approval_id, account_id="JP1001", created=START, ttl=300, status="pending"):
    return Approval(approval_id=approval_id, account_id=account_id, reason="change withdrawal address",
                    agent_id="agent-42", channel="phone", created_at=created,
                    expires_at=created + timedelta(seconds=ttl), status=status, ticket_ref="T-1", actor="key")


def store(uow, *approvals):
    with uow(write=True) as work:
        for item in approvals:
            work.approvals.add(item)
        work.commit()


def read(uow, method, *args):
    with uow() as work:
        return getattr(work.approvals, method)(*args)


def change(uow, method, *args):
    with uow(write=True) as work:
        result = getattr(work.approvals, method)(*args)
        work.commit()
    return result


def test_a_stored_request_reads_back_whole(uow):
    store(uow, approval("apr_a"))
    assert read(uow, "get", "apr_a") == approval("apr_a")
    assert read(uow, "get", "apr_none") is None


def test_pending_lists_the_customer_s_live_pending_requests_newest_first(uow):
    store(uow, approval("apr_old"), approval("apr_new", created=LATER), approval("apr_gone", ttl=30),
          approval("apr_done", status="approved"), approval("apr_other", account_id="JP2002"))
    assert [a.approval_id for a in read(uow, "pending", "JP1001", START + timedelta(seconds=60))] == [
        "apr_new", "apr_old"]


def test_created_since_counts_every_request_of_the_customer_oldest_first(uow):
    store(uow, approval("apr_b", created=LATER), approval("apr_a"), approval("apr_x", account_id="JP2002"),
          approval("apr_c", status="denied", created=LATER + timedelta(seconds=1)))
    assert read(uow, "created_since", "JP1001", START - timedelta(seconds=1)) == [
        START, LATER, LATER + timedelta(seconds=1)]
    assert read(uow, "created_since", "JP1001", START) == [LATER, LATER + timedelta(seconds=1)]


def test_supersede_retires_only_live_pending_requests_and_names_them(uow):
    store(uow, approval("apr_a"), approval("apr_b"), approval("apr_expired", ttl=10),
          approval("apr_approved", status="approved"))
    assert change(uow, "supersede_pending", "JP1001", START + timedelta(seconds=20)) == ["apr_a", "apr_b"]
    assert [read(uow, "get", i).status for i in ("apr_a", "apr_expired", "apr_approved")] == [
        "superseded", "pending", "approved"]


def test_a_transition_is_guarded_by_status_and_expiry_and_stamps_its_time(uow):
    store(uow, approval("apr_a"))
    assert change(uow, "transition", "apr_a", "approved", "used", LATER) is False  # not approved yet
    assert change(uow, "transition", "apr_a", "pending", "approved", LATER) is True
    assert read(uow, "get", "apr_a").answered_at == LATER
    assert change(uow, "transition", "apr_a", "pending", "denied", LATER) is False  # answered already
    assert change(uow, "transition", "apr_a", "approved", "used", START + timedelta(seconds=300)) is False  # expired
    assert change(uow, "transition", "apr_a", "approved", "used", LATER) is True
    used = read(uow, "get", "apr_a")
    assert (used.status, used.used_at) == ("used", LATER)
    assert change(uow, "transition", "apr_a", "approved", "used", LATER) is False  # single use


def test_a_reopened_request_loses_its_answer_time(uow):
    store(uow, approval("apr_a"))
    change(uow, "transition", "apr_a", "pending", "denied", LATER)
    assert change(uow, "transition", "apr_a", "denied", "pending", LATER) is True
    reopened = read(uow, "get", "apr_a")
    assert (reopened.status, reopened.answered_at) == ("pending", None)
