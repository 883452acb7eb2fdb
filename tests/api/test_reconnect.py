"""PostgreSQL restarted under a running service: the first request after it answers, and nothing runs twice.

A restart breaks every connection the service holds (its pool and the hot path's own). The database is a
throwaway PostgreSQL cluster of the test's own, stopped and started for real; never a mock of our storage.
"""

import time

import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import assert_retry_later
from verify_service.errors import DependencyUnavailable

PHONE = "+819012345678"

pytestmark = pytest.mark.slow


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


@pytest.fixture
def h(make_harness, throwaway_postgres):
    """Multi-instance mode (PostgreSQL + Redis) on the throwaway cluster."""
    return make_harness("postgres_redis", database_url=throwaway_postgres.url)


def restart(server):
    """Stop the cluster (fast: every backend is terminated) and start it again."""
    server.stop()
    server.start()


def warm(h, pin):
    """Use the database as traffic does, so the service holds connections for the restart to break."""
    assert h.check(pin=pin).get_json()["result"] == "verified"
    assert h.call("GET", "/v1/customers/JP1001", "portal").status_code == 200


def lock_state(h):
    response = h.call("GET", "/v1/customers/JP1001/lock", "agent")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_right_pin_verifies_on_the_first_try_after_a_restart(h, throwaway_postgres):
    pin = h.register(phone=PHONE)
    warm(h, pin)
    restart(throwaway_postgres)
    response = h.check(pin=pin)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"] == "verified"
    stored = h.call("GET", f"/v1/verifications/{response.get_json()['verification_id']}", "agent")
    assert stored.status_code == 200 and stored.get_json()["result"] == "verified"


def test_a_wrong_pin_after_a_restart_counts_exactly_one_failure(h, throwaway_postgres):
    pin = h.register(phone=PHONE)
    warm(h, pin)
    restart(throwaway_postgres)
    response = h.check(pin=wrong(pin))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"] == "rejected"
    assert response.get_json()["attempts_remaining"] == lock_state(h)["threshold"] - 1
    assert lock_state(h)["failed_attempts"] == 1
    with h.services.db.engine.connect() as conn:  # one record of the check, not one per try
        rows = conn.execute(sa.text("SELECT result FROM verifications WHERE account_id = 'JP1001' "
                                    "AND result = 'rejected'")).scalars().all()
    assert rows == ["rejected"]


def test_a_customer_read_and_a_code_send_answer_on_the_first_try_after_a_restart(h, throwaway_postgres):
    pin = h.register(phone=PHONE)
    warm(h, pin)
    restart(throwaway_postgres)
    read = h.call("GET", "/v1/customers/JP1001", "portal")
    assert read.status_code == 200, read.get_json()
    assert read.get_json()["account_id"] == "JP1001"
    restart(throwaway_postgres)
    sent = h.call("POST", "/v1/customers/JP1001/codes", "agent", {})
    assert sent.status_code == 201, sent.get_json()
    assert h.services.outbox.backlog()[0] == 1  # queued once


def test_with_the_database_still_down_each_answers_503_then_each_answers_once_it_is_back(h, throwaway_postgres):
    pin = h.register(phone=PHONE)
    warm(h, pin)
    throwaway_postgres.stop()
    for call in (lambda: h.check(pin=pin), lambda: h.check(pin=wrong(pin)),
                 lambda: h.call("GET", "/v1/customers/JP1001", "portal"),
                 lambda: h.call("POST", "/v1/customers/JP1001/codes", "agent", {})):
        started = time.monotonic()
        assert_retry_later(call())
        assert time.monotonic() - started < 8  # the connect timeout, not a hang
    throwaway_postgres.start()
    assert lock_state(h)["failed_attempts"] == 0  # the wrong PIN answered 503 counted nothing
    assert h.check(pin=pin).get_json()["result"] == "verified"
    assert h.call("GET", "/v1/customers/JP1001", "portal").status_code == 200
    assert h.call("POST", "/v1/customers/JP1001/codes", "agent", {}).status_code == 201


def test_a_write_transaction_broken_after_its_first_write_is_not_retried(h, throwaway_postgres):
    """The server stops while a transaction that already wrote is open: 503, and nothing of it is stored.

    Retrying there would run the rest of the work on a new connection without the first write (or write twice).
    """
    h.register(phone=PHONE)
    db = h.services.db
    with pytest.raises(DependencyUnavailable), db.transaction(write=True) as conn:
        conn.execute(sa.text("UPDATE customers SET email = 'first@example.com' WHERE account_id = 'JP1001'"))
        restart(throwaway_postgres)  # back before the transaction's next statement: still not retried
        conn.execute(sa.text("UPDATE customers SET phone = '+819000000000' WHERE account_id = 'JP1001'"))
        conn.commit()
    with db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT email, phone FROM customers WHERE account_id = 'JP1001'")).one()
    assert (row.email, row.phone) == (None, PHONE)


def test_a_write_transaction_whose_first_statement_meets_a_broken_connection_runs_once(h, throwaway_postgres):
    """A unit of work begun after the restart, on a pooled connection the restart broke, writes once."""
    h.register(phone=PHONE)
    db = h.services.db
    with db.transaction(write=True) as conn:  # a pooled connection, back in the pool afterwards
        conn.execute(sa.text("SELECT 1"))
    restart(throwaway_postgres)
    with db.transaction(write=True) as conn:
        conn.execute(sa.text("UPDATE customers SET email = 'once@example.com' WHERE account_id = 'JP1001'"))
        conn.execute(sa.text("INSERT INTO audit_heads (chain, seq, hash) VALUES ('reconnect-test', 0, '')"))
        conn.commit()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT email FROM customers WHERE account_id = 'JP1001'")).scalar() \
            == "once@example.com"
        assert conn.execute(sa.text("SELECT count(*) FROM audit_heads WHERE chain = 'reconnect-test'")).scalar() == 1


def backends(server):
    """The client backends connected to the cluster, other than the one asking."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        return {pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = "
                                               "'client backend' AND pid <> pg_backend_pid()")}


def test_without_a_restart_checks_keep_their_connections(h, throwaway_postgres):
    """The check before using a connection finds nothing to say on a healthy one: no reconnect per request."""
    pin = h.register(phone=PHONE)
    warm(h, pin)
    before = backends(throwaway_postgres)
    for _ in range(5):
        warm(h, pin)
        assert h.call("POST", "/v1/customers/JP1001/codes", "agent", {}).status_code in (201, 429)
    assert before and backends(throwaway_postgres) <= before
