"""Shared fixtures: real PostgreSQL, Redis and SQLite, one database per run, a fake clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from tests.fakes import FakeClock
from tests.gateway import Gateway
from tests.servers import PostgresServer, RedisServer, postgres_answers, redis_answers
from verify_service import create_app
from verify_service.adapters.sql.tables import metadata
from verify_service.bootstrap import Services
from verify_service.config import Settings

PG_URL = os.environ.get("VERIFY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("VERIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_PIN_KEYS = "k2:test-pin-key-two-000000000000000000000,k1:test-pin-key-one-000000000000000000000"
MODES = ("sqlite", "postgres_redis")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """The machine's PostgreSQL, or a throwaway one when none answers."""
    if postgres_answers(PG_URL):
        yield PG_URL
        return
    try:
        server = PostgresServer().start()
    except (RuntimeError, OSError) as error:
        pytest.exit(f"No PostgreSQL at {PG_URL} and none could be started: {error}", returncode=3)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def new_postgres_database(postgres_admin_url: str) -> Iterator[Callable[[], str]]:
    """Makes empty databases of this run's own; drops them at the end."""
    created: list[str] = []
    base = postgres_admin_url.rsplit("/", 1)[0]

    def make() -> str:
        name = f"verify_test_{os.getpid()}_{len(created)}"
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{base}/{name}"

    yield make
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_base_url() -> Iterator[str]:
    """The machine's Redis, or a throwaway one when none answers."""
    if redis_answers(REDIS_URL):
        yield REDIS_URL
        return
    try:
        server = RedisServer().start()
    except (RuntimeError, OSError) as error:
        pytest.exit(f"No Redis at {REDIS_URL} and none could be started: {error}", returncode=3)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def new_redis_url(redis_base_url: str) -> Iterator[Callable[[], str]]:
    """Claims logical Redis databases for this run alone (flushed, released at the end)."""
    admin = redis.Redis.from_url(redis_base_url)
    claimed: list[str] = []

    def claim() -> str:
        for index in range(1, 16):
            if admin.set(f"verify-test:claim:{index}", os.getpid(), nx=True, ex=3600):
                url = f"{redis_base_url.rsplit('/', 1)[0]}/{index}"
                redis.Redis.from_url(url).flushdb()
                claimed.append(url)
                return url
        pytest.exit("every Redis logical database 1-15 is claimed by another test run", returncode=3)

    yield claim
    for url in claimed:
        redis.Redis.from_url(url).flushdb()
        admin.delete(f"verify-test:claim:{url.rsplit('/', 1)[1]}")


@pytest.fixture(scope="session")
def redis_url(new_redis_url: Callable[[], str]) -> str:
    """The logical Redis database of the in-process API tests."""
    return new_redis_url()


def migrate(settings: Settings) -> None:
    """Run the Alembic migrations against the settings' database."""
    app = create_app(settings=settings)
    with app.app_context():
        upgrade()
    app.extensions["verify"].close()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory, new_postgres_database: Callable[[], str],
              redis_url: str) -> dict[str, dict[str, Any]]:
    """One migrated database per mode for the whole run."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'verify.sqlite3'}"
    modes = {"sqlite": {"database_url": sqlite_url, "redis_url": None},
             "postgres": {"database_url": new_postgres_database(), "redis_url": None},
             "postgres_redis": {"database_url": "", "redis_url": redis_url}}
    modes["postgres_redis"]["database_url"] = modes["postgres"]["database_url"]
    migrate(make_settings(**modes["sqlite"]))
    migrate(make_settings(**modes["postgres"]))
    return modes


def make_settings(**overrides: Any) -> Settings:
    """Test settings: short nothing, known keys; override what a test needs."""
    values: dict[str, Any] = {"env": "test", "pin_keys": TEST_PIN_KEYS, "redis_timeout_seconds": 0.5,
                              "outbox_inprocess": False}
    values.update(overrides)
    return Settings(**values)


def wipe(services: Services) -> None:
    """Empty every table (and our Redis database) so each test starts clean."""
    with services.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names}"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    if services.settings.redis_url:
        redis.Redis.from_url(services.settings.redis_url).flushdb()


@dataclass
class Harness:
    """An app under test with its clock and one API key per role."""

    app: Flask
    clock: FakeClock
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        """The app's wired services."""
        return self.app.extensions["verify"]  # type: ignore[no-any-return]

    @property
    def client(self) -> FlaskClient:
        """A test client."""
        return self.app.test_client()

    def call(self, method: str, path: str, role: str | None = "agent", json: Any = None,
             **kwargs: Any) -> Any:
        """One request with the role's key."""
        headers = kwargs.pop("headers", {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.open(path, method=method, json=json, headers=headers, **kwargs)

    def register(self, account_id: str = "JP1001", phone: str = "+819012345678", **extra: Any) -> str:
        """Register a customer through the API; return their PIN."""
        response = self.call("PUT", f"/v1/customers/{account_id}", "portal", {"phone": phone, **extra})
        assert response.status_code in (200, 201), response.get_json()
        pin = self.call("GET", f"/v1/customers/{account_id}/pin", "portal")
        return str(pin.get_json()["pin"])

    def check(self, account_id: str = "JP1001", pin: str | None = None, **extra: Any) -> Any:
        """A PIN check as an agent; returns the response."""
        body = {"account_id": account_id, "channel": "phone", "agent_id": "agent-42", **extra}
        if pin is not None:
            body["pin"] = pin
        return self.call("POST", "/v1/verifications", "agent", body)


@pytest.fixture
def make_harness(databases: dict[str, dict[str, Any]]) -> Iterator[Callable[..., Harness]]:
    """Builds harnesses for a mode; every app is closed at the end of the test."""
    made: list[Harness] = []

    def make(mode: str, *, clean: bool = True, **overrides: Any) -> Harness:
        clock = FakeClock()
        settings = make_settings(**{**databases[mode], **overrides})
        app = create_app(settings=settings, clock=clock)
        harness = Harness(app, clock)
        if clean:
            wipe(harness.services)
        for role in ("agent", "portal", "admin"):
            name = f"{role}-{len(made)}-{os.urandom(3).hex()}"
            harness.keys[role] = harness.services.keys.create(name, [role])[1]
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.services.close()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each test runs on SQLite alone and on PostgreSQL + Redis."""
    return str(request.param)


@pytest.fixture
def harness(make_harness: Callable[..., Harness], mode: str) -> Harness:
    """The app in one mode, clean, with keys for every role."""
    return make_harness(mode)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """A local HTTP server standing in for an SMS gateway or an events receiver."""
    server = Gateway().start()
    yield server
    server.stop()


@pytest.fixture
def root() -> Path:
    """The project directory."""
    return Path(__file__).resolve().parent.parent
