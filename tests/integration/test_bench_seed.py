"""The bench's seeding (bench/seed.py) makes a database the service checks against: sealed PINs that open, and a
stored history of checks whose audit events pass `audit verify` and whose chains the next check continues."""

from __future__ import annotations

import psycopg
import pytest

from bench.seed import History, seed, seed_history
from tests.conftest import TEST_PIN_KEYS, make_settings, migrate
from tests.servers import flush_redis
from verify_service import create_app

CUSTOMERS, STORED = 4, 10  # two full rounds and a partial one: chains of 3, 3, 2 and 2 events


@pytest.fixture
def seeded(new_postgres_database, worker_redis_url):
    """A migrated PostgreSQL database with the bench's customers and history, the service on it, an agent key."""
    url = new_postgres_database()
    settings = make_settings(database_url=url, redis_url=worker_redis_url)
    migrate(settings)
    sample = seed(url, CUSTOMERS, TEST_PIN_KEYS, CUSTOMERS)
    seed_history(url, CUSTOMERS, STORED, History(settings.audit_keys, settings.lockout_threshold,
                                                 settings.verification_ttl_seconds))
    app = create_app(settings=settings)
    services = app.extensions["verify"]
    key = services.keys.create("bench-seed-test", ["agent"])[1]
    yield app, services, key, sample, url.replace("postgresql+psycopg://", "postgresql://")
    services.close()
    flush_redis(worker_redis_url)


def test_seeded_history_passes_audit_verify_with_one_chain_per_customer(seeded):
    _, services, _, _, url = seeded
    report = services.audit.verify()
    assert report.problems == []
    assert (report.events, report.chains) == (STORED, CUSTOMERS)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT result, count(*) FROM verifications GROUP BY result ORDER BY result").fetchall()
        pairs = conn.execute("SELECT count(*) FROM verifications v JOIN audit_events e "
                             "ON e.details->>'verification_id' = v.id AND e.chain = v.account_id").fetchone()
    assert sum(count for _, count in rows) == STORED
    assert {result for result, _ in rows} <= {"verified", "rejected"}
    assert pairs == (STORED,)  # every stored check has its audit event, as the service writes them


def test_a_check_on_a_seeded_customer_opens_its_pin_and_continues_its_chain(seeded):
    app, services, key, sample, url = seeded
    account_id, pin = sample[0]
    answer = app.test_client().post("/v1/verifications", headers={"Authorization": f"Bearer {key}"},
                                    json={"account_id": account_id, "pin": pin, "channel": "phone", "agent_id": "a"})
    assert answer.status_code == 200
    assert answer.get_json()["result"] == "verified"
    with psycopg.connect(url) as conn:
        seq = conn.execute("SELECT max(seq) FROM audit_events WHERE chain = %s", (account_id,)).fetchone()
    assert seq == (4,)  # three seeded events, then this check's
    report = services.audit.verify()
    assert report.problems == []
    assert report.events == STORED + 1
