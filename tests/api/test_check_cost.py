"""What one verification check costs: SQL statements and Redis round trips (a regression guard, not a timing)."""

from sqlalchemy import event


def count_statements(harness, action):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    event.listen(harness.services.db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(harness.services.db.engine, "before_cursor_execute", record)
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
