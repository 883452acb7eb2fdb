"""The customer read of every check goes straight to psycopg on PostgreSQL: same record, same failures."""

import time
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa

from verify_service.adapters.sql.repositories import SqlCustomerRepository


def test_the_driver_level_read_gives_the_same_customer_as_sqlalchemy(make_harness):
    harness = make_harness("postgres_redis")
    harness.register("JP1001", email="a@example.com")
    moment = datetime(2026, 11, 23, 4, 5, 6, 789012, tzinfo=UTC)
    with harness.services.db.engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL TimeZone = 'Asia/Tokyo'"))  # not UTC: the read must still give UTC
        conn.execute(sa.text(
            "UPDATE customers SET frozen_at = :m, locked_until = :m, unlocked_at = :m, phone_changed_at = :m, "
            "totp_last_step = 42, totp_key_id = 'k', totp_blob = '\\x0102'::bytea WHERE account_id = 'JP1001'"),
            {"m": moment})
    with harness.services.db.transaction(write=False) as conn:
        fast = SqlCustomerRepository(conn).get("JP1001")
        missing = SqlCustomerRepository(conn).get("NOBODY")
    with harness.services.db.transaction(write=True) as conn:
        slow = SqlCustomerRepository(conn).get("JP1001", for_update=True)  # through SQLAlchemy
    assert fast == slow and missing is None
    assert fast.locked_until == moment and fast.locked_until.tzinfo is UTC
    assert fast.totp is not None and fast.totp.blob == b"\x01\x02" and fast.pin is not None


@pytest.mark.parametrize("path", ["/v1/customers/JP1001", "check"])
def test_a_database_connection_the_server_ended_is_replaced_before_the_request_uses_it(make_harness, path):
    harness = make_harness("postgres_redis")
    pin = harness.register()
    harness.check(pin=pin)
    url = harness.services.db.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:  # not from the pool: every pooled one is dropped
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    time.sleep(0.3)  # the backends exit asynchronously

    def call():
        return harness.check(pin=pin) if path == "check" else harness.call("GET", path, "agent")

    first = call()  # the ended connections poll readable: new ones answer, nothing failed with 503
    body = first.get_json()
    assert first.status_code == 200, body
    assert body["result"] == "verified" if path == "check" else body["account_id"] == "JP1001"
    assert call().status_code == 200
