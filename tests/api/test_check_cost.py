"""What one verification check costs: SQL statements and Redis round trips (a regression guard, not a timing)."""

import psycopg
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


def test_a_check_in_postgres_redis_mode_costs_five_statements_and_one_redis_call(make_harness, monkeypatch):
    harness = make_harness("postgres_redis")
    pin = harness.register()
    first = count_statements(harness, lambda: harness.check(pin=pin))
    calls = []
    script = harness.services.counter._script
    monkeypatch.setattr(harness.services.counter, "_script", lambda **kw: calls.append(kw) or script(**kw))
    statements = count_statements(harness, lambda: harness.check(pin=pin))
    # The agent's key was looked up by the first check and is cached since (revocations clear it).
    assert [s for s in first if s not in ("BEGIN", "COMMIT", "ROLLBACK")][0] == "SELECT"
    assert len(first) == len(statements) + 1
    assert [s for s in statements if s not in ("BEGIN", "COMMIT", "ROLLBACK")] == [
        "SELECT", "INSERT", "SELECT", "UPDATE", "INSERT"]
    assert len(calls) == 1


def test_a_check_in_single_instance_mode_adds_the_counter_transaction(make_harness):
    harness = make_harness("sqlite")
    pin = harness.register()
    statements = count_statements(harness, lambda: harness.check(pin=pin))
    assert len([s for s in statements if s not in ("BEGIN", "COMMIT", "ROLLBACK")]) == 9
