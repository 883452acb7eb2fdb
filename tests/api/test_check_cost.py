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


def test_a_check_in_postgres_redis_mode_costs_four_statements_no_transaction_and_one_redis_call(make_harness,
                                                                                                 monkeypatch):
    harness = make_harness("postgres_redis")
    pin = harness.register()
    calls = []
    script = harness.services.counter._script
    monkeypatch.setattr(harness.services.counter, "_script", lambda **kw: calls.append(kw) or script(**kw))
    for typed in (pin, "000001" if pin != "000001" else "000002"):
        calls.clear()
        statements = count_statements(harness, lambda typed=typed: harness.check(pin=typed))
        # API key, customer, chain head (+ next event id), then record + event + head move in one statement.
        assert statements == ["SELECT", "SELECT", "SELECT", "WITH"]
        assert len(calls) == 1


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
    statements = count_statements(harness, lambda: harness.check(pin=pin))
    assert len([s for s in statements if s not in ("BEGIN", "COMMIT", "ROLLBACK")]) == 9
