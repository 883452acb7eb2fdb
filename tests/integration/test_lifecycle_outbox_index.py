"""Closure deletes the account's messages by outbox.account_id: on PostgreSQL through its index (0018), not a scan."""

import sqlalchemy as sa

from verify_service.adapters.sql.tables import outbox

OTHERS = 20_000  # messages of other accounts: a table big enough that a scan would show


def seed_outbox(h, at):
    """Delivered messages and security events of many other accounts, then fresh statistics."""
    with h.services.db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO outbox (message_id, kind, account_id, payload_key_id, payload_blob, status, attempts, "
            "next_attempt_at, created_at) SELECT 'msg_seed_' || g, CASE WHEN g % 4 = 0 THEN 'event' ELSE 'sms' END, "
            "'JP' || (100000 + g % 5000), 'k', '\\x00'::bytea, 'sent', 1, :at, :at "
            "FROM generate_series(1, :n) AS g"), {"at": at, "n": OTHERS})
        conn.exec_driver_sql("ANALYZE outbox")


def closure_statements(h, account):
    """The statements closing the account runs on the outbox (caught on their way to the database)."""
    caught = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if "outbox" in statement and statement.lstrip().upper().startswith("DELETE"):
            caught.append((statement, parameters))

    sa.event.listen(h.services.db.engine, "before_cursor_execute", catch)
    try:
        assert h.call("DELETE", f"/v1/customers/{account}", "portal", {"reason": "asked to close"}).status_code == 200
    finally:
        sa.event.remove(h.services.db.engine, "before_cursor_execute", catch)
    return caught


def test_the_model_declares_the_outbox_account_index():
    assert any([c.name for c in index.columns] == ["account_id"] for index in outbox.indexes)


def test_closures_outbox_delete_uses_the_account_index_on_postgresql(make_harness):
    h = make_harness("postgres_redis")
    h.register("JP1001", phone="+819012345678")
    assert h.call("POST", "/v1/customers/JP1001/codes", "agent", {"agent_id": "agent-42"}).status_code == 201
    seed_outbox(h, h.clock.now())
    statements = closure_statements(h, "JP1001")
    assert len(statements) == 1
    statement, parameters = statements[0]
    with h.services.db.engine.connect() as conn:  # EXPLAIN alone plans the statement; it does not run it
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))
    assert "ix_outbox_account_id" in plan, plan
    assert "Seq Scan" not in plan, plan
