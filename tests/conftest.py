"""Shared fixtures: real PostgreSQL, Redis and SQLite, databases of each xdist worker's own, a fake clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from tests.fakes import FakeClock
from tests.gateway import Gateway
from tests.servers import (
    PostgresServer,
    RedisClaims,
    RedisServer,
    flush_redis,
    postgres_answers,
    redis_answers,
)
from verify_service import create_app
from verify_service.adapters.sql.tables import metadata
from verify_service.bootstrap import Services
from verify_service.config import Settings

PG_URL = os.environ.get("VERIFY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("VERIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_PIN_KEYS = "k2:test-pin-key-two-000000000000000000000,k1:test-pin-key-one-000000000000000000000"
MODES = ("sqlite", "postgres_redis")
MIGRATION_NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
# What --sqlite-only leaves out: these parameter values, and tests using these fixtures.
NEEDS_SERVERS = {"postgres", "postgres_redis", "redis", "sql_postgres"}
SERVER_FIXTURES = {"postgres_admin_url", "redis_base_url", "quiet_redis_url", "own_redis"}
# Test folders whose session fixtures start servers (gunicorn per mode, timer scenarios): under
# `--dist loadgroup` each runs whole on one xdist worker, so those are started once, not once per worker.
SHARED_SERVERS = ("tests/blackbox/",)


def sqlite_only(config: pytest.Config) -> bool:
    """True under --sqlite-only (make test-fast): no PostgreSQL, no Redis."""
    return bool(config.getoption("sqlite_only"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """--sqlite-only: run the SQLite mode alone and skip what needs PostgreSQL or Redis."""
    parser.addoption("--sqlite-only", action="store_true", default=bool(os.environ.get("VERIFY_TEST_SQLITE_ONLY")),
                     help="SQLite mode only: deselect tests that need PostgreSQL or Redis (make test-fast)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --sqlite-only, drop the PostgreSQL/Redis parametrisations and tests that need those servers."""
    if not sqlite_only(config):
        return
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        other_mode = any(value in NEEDS_SERVERS for value in params.values() if isinstance(value, str))
        (drop if other_mode or SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """loadgroup, plus one group per SHARED_SERVERS folder (chosen by path: xdist 3.8 cannot read groups
    added at collection under pytest 9.2, pytest-dev/pytest-xdist#1386)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FolderGroups(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            folder = next((folder for folder in SHARED_SERVERS if nodeid.startswith(folder)), None)
            return folder or str(super()._split_scope(nodeid))

    return FolderGroups(config, log)


def _no_servers_under_sqlite_only(request: pytest.FixtureRequest) -> None:
    """Skip a test that reaches for a server under --sqlite-only."""
    if sqlite_only(request.config):
        pytest.skip("needs PostgreSQL or Redis (not run under --sqlite-only)")


@pytest.fixture(scope="session")
def postgres_admin_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine's PostgreSQL, or a throwaway one when none answers."""
    _no_servers_under_sqlite_only(request)
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
def new_postgres_database(postgres_admin_url: str, worker_id: str) -> Iterator[Callable[[], str]]:
    """Makes empty databases of this worker's own (named after the worker and its pid); drops only those."""
    created: list[str] = []
    base = postgres_admin_url.rsplit("/", 1)[0]
    run = f"{worker_id}_{os.getpid()}_{os.urandom(3).hex()}".lower()

    def make() -> str:
        name = f"verify_test_{run}_{len(created)}"
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # fails, dropping nothing, if the name is taken
        created.append(name)
        return f"{base}/{name}"

    yield make
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine's Redis, or a throwaway one when none answers."""
    _no_servers_under_sqlite_only(request)
    if redis_answers(REDIS_URL):
        yield REDIS_URL
        return
    server = start_redis_or_exit()
    yield server.url
    server.stop()


def start_redis_or_exit() -> RedisServer:
    """A throwaway redis-server, or end the run saying how to install one."""
    try:
        return RedisServer().start()
    except (RuntimeError, OSError) as error:
        pytest.exit(f"No Redis at {REDIS_URL} and none could be started: {error}", returncode=3)


@pytest.fixture(scope="session")
def new_redis_url(redis_base_url: str) -> Iterator[Callable[[], str]]:
    """Claims empty logical Redis databases for this worker alone (tests/servers.py); released at the end.

    A database holding anyone else's keys is skipped, never flushed; when none is free, a throwaway
    redis-server of our own is used.
    """
    claims = RedisClaims(redis_base_url)

    def claim() -> str:
        try:
            return claims.claim()
        except (RuntimeError, OSError) as error:
            pytest.exit(f"No free Redis database at {redis_base_url} and no redis-server could be started: {error}",
                        returncode=3)

    yield claim
    claims.close()


@pytest.fixture(scope="session")
def worker_redis_url(new_redis_url: Callable[[], str]) -> str:
    """The logical Redis database of this worker's in-process API tests (`databases` asks for it by this name,
    which no test module overrides: a module's own `redis_url` must not become every later test's)."""
    return new_redis_url()


@pytest.fixture(scope="session")
def redis_url(worker_redis_url: str) -> str:
    """The logical Redis database of the in-process API tests."""
    return worker_redis_url


@pytest.fixture
def own_redis(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A redis-server of this test's own, so stalling or stopping it harms nobody else."""
    _no_servers_under_sqlite_only(request)
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def quiet_redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Redis of this worker's own, for tests that count pub/sub messages.

    Channels are server-wide, not per logical database: on a shared server other workers' revocations
    would reach these tests' subscriptions.
    """
    _no_servers_under_sqlite_only(request)
    server = start_redis_or_exit()
    yield server.url
    server.stop()


def migrate(settings: Settings) -> None:
    """Run the Alembic migrations against the settings' database."""
    app = create_app(settings=settings)
    with app.app_context():
        upgrade()
    app.extensions["verify"].close()


class Modes(dict[str, dict[str, Any]]):
    """Each mode's settings; a mode that was not set up (--sqlite-only) skips the test that asks for it."""

    def __missing__(self, mode: str) -> dict[str, Any]:
        pytest.skip(f"the {mode} mode needs PostgreSQL or Redis (not run under --sqlite-only)")


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Modes:
    """One migrated database per mode for the whole run (of this worker)."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'verify.sqlite3'}"
    modes = Modes(sqlite={"database_url": sqlite_url, "redis_url": None})
    migrate(make_settings(**modes["sqlite"]))
    if sqlite_only(request.config):
        return modes
    postgres_url = request.getfixturevalue("new_postgres_database")()
    modes["postgres"] = {"database_url": postgres_url, "redis_url": None}
    modes["postgres_redis"] = {"database_url": postgres_url, "redis_url": request.getfixturevalue("worker_redis_url")}
    migrate(make_settings(**modes["postgres"]))
    return modes


@pytest.fixture(params=["sqlite", "postgres"])
def unmigrated_app(request: pytest.FixtureRequest, tmp_path: Path,
                   new_postgres_database: Callable[[], str]) -> Iterator[Flask]:
    """An app on an empty database of each kind, for migration tests that upgrade step by step."""
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}" if request.param == "sqlite" else new_postgres_database()
    app = create_app(settings=make_settings(database_url=url), clock=FakeClock(MIGRATION_NOW))
    yield app
    app.extensions["verify"].close()


def assert_retry_later(response: Any) -> None:
    """503 in the contract's error shape, with Retry-After."""
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


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
        flush_redis(services.settings.redis_url)


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
def make_harness(databases: Modes) -> Iterator[Callable[..., Harness]]:
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

