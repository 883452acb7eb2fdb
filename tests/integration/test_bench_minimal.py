"""The bench's minimal design answers as the service does: a reference that fails is fast for the wrong reason,
and every ratio in bench/RESULTS.md would be wrong (it once answered 500s after the counting script changed)."""

from __future__ import annotations

import importlib
import sys

import pytest

from bench.seed import seed
from tests.conftest import TEST_PIN_KEYS, make_settings, migrate
from tests.servers import flush_redis


@pytest.fixture
def minimal(new_postgres_database, worker_redis_url, monkeypatch):
    """bench.minimal_app on a migrated PostgreSQL database with 3 customers, an agent key and this run's Redis."""
    url = new_postgres_database()
    settings = make_settings(database_url=url, redis_url=worker_redis_url)
    migrate(settings)
    for name, value in {"VERIFY_ENV": "test", "VERIFY_DATABASE_URL": url, "VERIFY_REDIS_URL": worker_redis_url,
                        "VERIFY_PIN_KEYS": TEST_PIN_KEYS}.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("bench.minimal_app", None)  # it reads its settings when imported
    module = importlib.import_module("bench.minimal_app")
    from verify_service import create_app

    app = create_app(settings=settings)
    key = app.extensions["verify"].keys.create("bench-minimal-test", ["agent"])[1]
    app.extensions["verify"].close()
    yield module.app.test_client(), key, seed(url, 3, TEST_PIN_KEYS, 3)[-1]
    flush_redis(worker_redis_url)
    sys.modules.pop("bench.minimal_app", None)


def test_the_minimal_design_answers_a_right_and_a_wrong_pin_like_the_service(minimal):
    client, key, (account_id, pin) = minimal
    answers = [client.post("/v1/verifications", headers={"Authorization": f"Bearer {key}"},
                           json={"account_id": account_id, "pin": given, "channel": "phone", "agent_id": "a"})
               for given in (pin, "000001" if pin != "000001" else "000002")]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.get_json()["result"] for a in answers] == ["verified", "rejected"]
    assert answers[1].get_json()["attempts_remaining"] == 4
