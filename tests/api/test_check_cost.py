"""What one verification check costs: SQL statements and Redis round trips (a regression guard, not a timing)."""

import psycopg
import redis
from sqlalchemy import event


def count_statements(harness, action):
    """Statements sent to the database: through SQLAlchemy, or straight to psycopg on a hot path."""
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    engine = harness.services.db.engine
    original = psycopg.Connection.execute

    def driver_execute(self, query, *args, **kwargs):
        statements.append(str(query).split()[0].upper())
        return original(self, query, *args, **kwargs)

    event.listen(engine, "before_cursor_execute", record)
    psycopg.Connection.execute = driver_execute
    try:
        action()
    finally:
        psycopg.Connection.execute = original
        event.remove(engine, "before_cursor_execute", record)
    return statements


def test_a_check_in_postgres_redis_mode_costs_two_statements_no_transaction_and_one_redis_call(make_harness,
                                                                                                monkeypatch):
    harness = make_harness("postgres_redis")
    pin = harness.register()
    first = count_statements(harness, lambda: harness.check(pin=pin))
    calls = []
    sent = redis.Redis.execute_command
    monkeypatch.setattr(redis.Redis, "execute_command", lambda self, *a, **k: calls.append(a[0]) or sent(self, *a, **k))
    for typed in (pin, "000001" if pin != "000001" else "000002"):
        calls.clear()
        statements = count_statements(harness, lambda typed=typed: harness.check(pin=typed))
        # Customer with its chain head (+ next event id), then record + event + head move in one statement;
        # the agent's key was looked up by the first check and is cached since (revocations clear it).
        assert statements == ["SELECT", "WITH"]
        # One Redis round trip: the lockout count, with the agent watch's count riding on it.
        assert calls == ["EVALSHA"]
    # The first check also looked the key up, and the console usernames no key may assert (cached since).
    assert first == ["SELECT", "SELECT", *statements]


def test_a_check_whose_chain_moved_since_its_customer_read_reads_the_head_again(make_harness, monkeypatch):
    from verify_service.adapters.sql import heads

    harness = make_harness("postgres_redis")
    pin = harness.register()
    harness.check(pin=pin)
    counter = harness.services.counter
    original = counter.record_success

    def another_check_first(*args, **kwargs):
        # Between this check's customer read and its record write, another check lands on the same chain.
        seen = heads.take("JP1001")
        monkeypatch.setattr(counter, "record_success", original)
        assert harness.check(pin=pin).status_code == 200
        heads.remember(seen)
        return original(*args, **kwargs)

    monkeypatch.setattr(counter, "record_success", another_check_first)
    statements = count_statements(harness, lambda: harness.check(pin=pin))
    assert statements[-3:] == ["WITH", "SELECT", "WITH"]  # lost the race, read the head, written
    assert harness.app.test_cli_runner().invoke(args=["audit", "verify", "--no-anchor"]).exit_code == 0


def test_a_check_whose_chain_keeps_moving_falls_back_to_the_locking_transaction(make_harness, monkeypatch):
    from verify_service.adapters.sql import records

    harness = make_harness("postgres_redis")
    pin = harness.register()
    monkeypatch.setattr(records, "MAX_TRIES", 0)
    statements = count_statements(harness, lambda: harness.check(pin=pin))
    assert statements[-4:] == ["INSERT", "WITH", "UPDATE", "INSERT"]  # record, head lock, head move, event
    assert harness.app.test_cli_runner().invoke(args=["audit", "verify", "--no-anchor"]).exit_code == 0


def test_a_check_in_single_instance_mode_adds_the_counter_transaction(make_harness):
    harness = make_harness("sqlite")
    pin = harness.register()
    harness.check(pin=pin)  # reads the console usernames no key may assert (cached for VERIFY_API_KEY_CACHE_SECONDS)
    statements = count_statements(harness, lambda: harness.check(pin=pin))
    # 9 for the check, 3 for the agent watch's window (drop aged-out acts, insert, count).
    assert len([s for s in statements if s not in ("BEGIN", "COMMIT", "ROLLBACK")]) == 12
