"""Fixtures of the API tests that stop and start a database server."""

from collections.abc import Iterator

import pytest

from tests.conftest import make_settings, migrate
from tests.servers import PostgresServer


@pytest.fixture
def throwaway_postgres(databases: object) -> Iterator[PostgresServer]:
    """A migrated PostgreSQL cluster of this test's own, stopped and started at will."""
    server = PostgresServer().start()
    try:
        migrate(make_settings(database_url=server.url))
        yield server
    finally:
        server.stop()
