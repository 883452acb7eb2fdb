"""Retention on SQLite and PostgreSQL (+ Redis): what each sweep removes, what it never touches, and the lockout."""

import threading
from datetime import timedelta

import psycopg
import pytest
import redis
import sqlalchemy as sa

from tests.servers import flush_redis
from verify_service.adapters.sql.retention import SqlTurns
from verify_service.adapters.sql.tables import agent_activity, agent_anomalies, attempt_counters, outbox
from verify_service.domain.lockout import to_ms

DAY = timedelta(days=1)
CONTACT = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-1"}
APPROVAL = {"reason": "change withdrawal address", "agent_id": "agent-42", "channel": "phone"}


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


def activity(h, account, phone):
    """A customer with a check of each outcome, a delivered code, a contact and an approval request, now."""
    pin = h.register(account, phone=phone)
    h.check(account, pin=pin)
    h.check(account, pin=wrong(pin))
    assert h.call("POST", f"/v1/customers/{account}/codes", "agent", {"agent_id": "agent-42"}).status_code == 201
    while h.services.outbox.dispatch_due():
        pass
    assert h.call("POST", f"/v1/customers/{account}/contacts", "agent", CONTACT).status_code == 201
    assert h.call("POST", f"/v1/customers/{account}/approvals", "agent", APPROVAL).status_code == 201
    return pin


def seed_direct(h, at):
    """Rows no API call leaves old on demand: a pending message, anomalies, a quiet subject, sign-in throttles."""
    with h.services.db.engine.begin() as conn:
        conn.execute(outbox.insert().values(message_id=f"msg_pending_{at:%s}", kind="sms", payload_key_id="k",
                                            payload_blob=b"x", status="pending", attempts=0,
                                            next_attempt_at=at + 1000 * DAY,  # never due in this test
                                            created_at=at))
        for name, cleared in (("open", None), ("cleared", at)):
            conn.execute(agent_anomalies.insert().values(
                id=f"ano_{name}_{at:%s}", subject_kind="agent", subject_id="agent-9", kind="failures", count=10,
                threshold=10, window_seconds=600, raised_at=at, cleared_at=cleared,
                open_key=f"agent:agent-9:failures:{at:%s}" if cleared is None else None))
        conn.execute(agent_activity.insert().values(subject=f"agent:quiet-{at:%s}", account_id="JP1001",
                                                    is_check=True, failed=False, at=at))
        conn.execute(attempt_counters.insert().values(key=f"signin-ip:{at:%s}", failures=str(to_ms(at)),
                                                      locked_until_ms=None))


def counts(h):
    tables = ("verifications", "challenges", "outbox", "contacts", "approvals", "agent_activity", "agent_anomalies",
              "attempt_counters", "customers")
    with h.services.db.engine.connect() as conn:
        return {name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() for name in tables}


def test_each_kind_loses_only_what_is_older_than_its_setting(make_harness, mode):
    h = make_harness(mode)
    activity(h, "JP1001", "+819012345678")
    old = h.clock.now()
    seed_direct(h, old)
    h.clock.advance(401 * 86400)
    activity(h, "JP2002", "+819087654321")
    seed_direct(h, h.clock.now())
    before = counts(h)
    dry = {r.kind: r.removed for r in h.services.retention.run(dry_run=True)}
    assert counts(h) == before  # a dry run removes nothing
    reports = {r.kind: r.removed for r in h.services.retention.run(batch=2)}  # several batches a kind
    assert reports == dry
    after = counts(h)
    assert after["customers"] == before["customers"] == 2  # customers are never swept
    assert before["verifications"] - after["verifications"] == reports["verifications"] == 2
    assert reports["codes"] == 1 and reports["contacts"] == 1 and reports["approvals"] == 1
    assert reports["outbox"] >= 1  # the delivered code (a pending message is never removed)
    with h.services.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar() == 2
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM agent_anomalies ORDER BY id"))]
        left = {r[0] for r in conn.execute(sa.text("SELECT account_id FROM verifications"))}
    assert reports["anomalies"] == 1 and len(ids) == 3 and f"ano_cleared_{old:%s}" not in ids
    assert left == {"JP2002"}
    assert reports["agent_activity"] >= 1 and reports["console_sessions"] == 1
    assert h.services.retention.run()[0].removed == 0  # nothing more to do


def test_retention_run_prints_what_it_removed_per_kind(make_harness):
    h = make_harness("sqlite", retention={"anomalies": None})
    activity(h, "JP1001", "+819012345678")
    h.clock.advance(401 * 86400)
    runner = h.app.test_cli_runner()
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and "verifications: would remove 2 row(s) older than" in dry.output
    assert "anomalies: kept forever (VERIFY_RETENTION_ANOMALIES=off)" in dry.output
    done = runner.invoke(args=["retention", "run", "--batch", "1"])
    assert done.exit_code == 0 and "verifications: removed 2 row(s)" in done.output
    lines = done.output.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == h.services.retention.kinds


# The shortest setting config accepts (the window, the lock and a day), and one it refuses: the floor holds anyway.
@pytest.mark.parametrize("setting", [3 * DAY, timedelta(hours=1)])
def test_check_records_the_lockout_rebuilds_from_are_never_swept(make_harness, setting):
    h = make_harness("postgres_redis", retention={"verifications": setting})
    pin = h.register()
    for _ in range(3):
        h.clock.advance(1)
        h.check(pin=wrong(pin))
    h.clock.advance(23 * 3600)  # still inside the 24 h failure window
    flush_redis(redis.Redis.from_url(h.services.settings.redis_url))  # Redis forgot every count
    h.services.retention.run()
    assert h.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 3
    flush_redis(redis.Redis.from_url(h.services.settings.redis_url))
    h.services.retention.run()
    fourth, fifth = (h.check(pin=wrong(pin)).get_json() for _ in range(2))
    assert fourth["attempts_remaining"] == 1 and fifth["locked_until"] is not None
    assert h.check(pin=pin).get_json()["result"] == "locked"


def test_one_process_takes_each_scheduled_turn(make_harness, mode):
    h = make_harness(mode)
    now, every = h.clock.now(), timedelta(hours=1)
    with h.services.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM schedule_turns"))
    turns = [SqlTurns(h.services.db) for _ in range(6)]
    start, taken = threading.Barrier(6), []

    def claim(turn):
        start.wait()
        taken.append(turn.claim("retention", now, every))

    threads = [threading.Thread(target=claim, args=(turn,)) for turn in turns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [False] * 5 + [True]
    assert not turns[0].claim("retention", now + every / 2, every)
    assert turns[1].claim("retention", now + every, every)


def test_the_worker_runs_the_scheduled_sweep_on_a_thread_of_its_own(make_harness, mode):
    h = make_harness(mode)
    activity(h, "JP1001", "+819012345678")
    h.clock.advance(401 * 86400)
    with h.services.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM schedule_turns"))
    chore = h.services.scheduled_retention()
    chore()
    chore.join(30)
    assert counts(h)["verifications"] == 0
    other = make_harness(mode, clean=False)  # another process of the deployment, ten minutes later
    other.clock.advance((h.clock.now() - other.clock.now()).total_seconds() + 600)
    seed_direct(h, h.clock.now() - 400 * DAY)
    other_chore = other.services.scheduled_retention()
    other_chore()  # this period's turn was taken: nothing runs
    other_chore.join(30)
    assert counts(h)["agent_anomalies"] == 2
    other.clock.advance(3600)
    other_chore()
    other_chore.join(30)
    assert counts(h)["agent_anomalies"] == 1


def test_a_sweep_never_waits_on_a_customer_row_or_an_audit_head_a_check_holds(make_harness):
    h = make_harness("postgres_redis")
    activity(h, "JP1001", "+819012345678")
    h.clock.advance(401 * 86400)
    url = h.services.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as holder:  # a check in flight: the customer's row and chain head locked
        holder.execute("SELECT * FROM customers WHERE account_id = 'JP1001' FOR UPDATE")
        holder.execute("SELECT * FROM audit_heads FOR UPDATE")
        holder.execute("SELECT * FROM verifications FOR UPDATE")  # even rows a reader holds are skipped
        reports = {r.kind: r for r in h.services.retention.run()}
        assert reports["verifications"].error is None and reports["verifications"].removed == 0
        assert reports["codes"].removed == 1
        holder.rollback()
    assert h.services.retention.run()[0].removed == 2


def test_a_check_does_not_wait_on_a_sweep_batch_in_progress(make_harness):
    h = make_harness("postgres_redis")
    pin = activity(h, "JP1001", "+819012345678")
    h.clock.advance(401 * 86400)
    url = h.services.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as sweeper:  # a batch deleting the customer's old checks, not yet committed
        sweeper.execute("SET lock_timeout = '10s'")
        deleted = sweeper.execute("DELETE FROM verifications WHERE account_id = 'JP1001'").rowcount
        assert deleted == 2
        for _ in range(3):
            assert h.check(pin=pin).get_json()["result"] == "verified"
        h.check(pin=wrong(pin))
        assert h.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["failed_attempts"] == 1
        sweeper.commit()
