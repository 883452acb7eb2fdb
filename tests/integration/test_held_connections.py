"""The hot path's held psycopg connections on real PostgreSQL: one per thread, closed when it ends, recycled."""

import threading
import time

import pytest

from verify_service.adapters.sql import held as held_module
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.errors import DependencyUnavailable


@pytest.fixture
def db(databases):
    database = SqlDatabase(databases["postgres"]["database_url"], timeout=2.0)
    yield database
    database.dispose()


def backend_pid(db):
    with db.driver() as conn:
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def gone(db, pid, seconds=5.0):
    """The server ended that backend (its exit is asynchronous to the client's close: poll a little)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with db.driver() as conn:
            if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0:
                return True
        time.sleep(0.02)
    return False


def test_a_thread_keeps_one_connection_in_autocommit(db):
    first = backend_pid(db)
    assert backend_pid(db) == first
    with db.driver() as conn:
        assert conn.autocommit


def test_each_thread_has_its_own_and_it_is_closed_when_the_thread_ends(db):
    seen = []
    worker = threading.Thread(target=lambda: seen.append(backend_pid(db)))
    worker.start()
    worker.join()
    assert seen and seen[0] != backend_pid(db)
    del worker
    assert gone(db, seen[0])  # a thread-per-request server does not pile up connections


def test_a_connection_past_the_recycle_age_is_replaced(db, monkeypatch):
    first = backend_pid(db)
    now = time.monotonic()
    monkeypatch.setattr(held_module, "monotonic", lambda: now + 1801)
    assert backend_pid(db) != first
    assert gone(db, first)


def test_a_connection_the_server_ended_is_replaced_before_use_without_a_503(db):
    """The server ended the backend (as a restart does): the next call sees it closed and connects again."""
    first = backend_pid(db)
    killer = SqlDatabase(db.url, timeout=2.0)
    try:
        with killer.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        assert gone(killer, first)
    finally:
        killer.dispose()
    assert backend_pid(db) != first


def test_a_connection_broken_during_a_statement_gives_a_503_once_and_the_next_call_connects_again(db):
    first = backend_pid(db)
    with pytest.raises(DependencyUnavailable), db.driver() as conn:
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert backend_pid(db) != first


def test_dispose_closes_the_held_connections(db):
    first = backend_pid(db)
    db.dispose()
    assert backend_pid(db) != first
    assert gone(db, first)
