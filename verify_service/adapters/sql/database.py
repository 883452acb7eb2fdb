"""Engine set-up for SQLite and PostgreSQL, transactions and error translation."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.compiler import SQLCompiler

from verify_service.adapters.sql.held import HeldConnections, closed_by_server
from verify_service.adapters.sql.tables import metadata
from verify_service.errors import DependencyUnavailable, DuplicateKey

log = logging.getLogger(__name__)
WRITE = "verify_write"
RECYCLE_SECONDS = 1800  # pooled and held connections alike are replaced at this age
BATCH_STATEMENT_TIMEOUT = "30min"  # a statement of a snapshot read (a batch job over the whole audit trail)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _private_file(path: Path) -> None:
    """The SQLite file readable by its owner only (SQLite gives its -wal and -shm files the same mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def _sqlite_engine(url: str, timeout: float) -> Engine:
    """SQLite in WAL mode; write transactions take the lock up front (BEGIN IMMEDIATE)."""
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        _private_file(Path(database))
    engine = sa.create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when and how transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Read-then-write transactions must not upgrade a shared lock (SQLITE_BUSY
        # without waiting); taking the write lock at BEGIN serialises writers cleanly.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def _postgres_engine(url: str, timeout: float) -> Engine:
    """PostgreSQL through psycopg 3, with connect and statement timeouts."""
    millis = int(timeout * 1000)
    engine = sa.create_engine(
        url, pool_size=10, max_overflow=10, pool_timeout=timeout, pool_recycle=RECYCLE_SECONDS,
        connect_args={"connect_timeout": max(1, int(timeout)),
                      "options": f"-c statement_timeout={millis} -c lock_timeout={millis}"})

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # No pre-ping (a round trip per checkout): a poll of the socket instead. A connection a restart closed
        # is replaced by the pool (up to three tries) before anything is sent on it, so the first request after
        # a restart is answered and no statement is ever sent twice (closed_by_server).
        if closed_by_server(dbapi_conn):
            raise exc.DisconnectionError("the server closed this pooled connection")

    return engine


class SqlDatabase:
    """The engine and metadata; Flask-Migrate reads `.engine` and `.metadata`."""

    metadata = metadata

    def __init__(self, url: str, *, timeout: float = 5.0):
        url = normalise_url(url)
        self.url = url
        if url.startswith("sqlite"):
            self.engine = _sqlite_engine(url, timeout)
        else:
            self.engine = _postgres_engine(url, timeout)
        # The hot path's own connections: one per thread (a sync worker has one), kept out of the pool.
        self._held = HeldConnections(self._connect_driver, recycle=RECYCLE_SECONDS)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self, *, write: bool, snapshot: bool = False) -> Iterator[Connection]:
        """A connection in a transaction; rolled back unless committed inside.

        On PostgreSQL a plain read runs in autocommit (no BEGIN/ROLLBACK round trips: every read
        here is one statement); `snapshot` reads see one consistent snapshot (audit verify, the archive). They
        stream the whole trail, so one statement (a sort of every event) may take longer than the request timeout.
        """
        with translate_errors(), self.engine.connect() as conn:
            options: dict[str, Any] = {WRITE: write}
            if not write and self.dialect == "postgresql":
                options["isolation_level"] = "REPEATABLE READ" if snapshot else "AUTOCOMMIT"
            conn = conn.execution_options(**options)
            transaction = conn.begin()
            if snapshot and self.dialect == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{BATCH_STATEMENT_TIMEOUT}'")
            try:
                yield conn
            finally:
                # Only an explicit commit makes work durable; anything else is rolled back.
                if transaction.is_active:
                    transaction.rollback()

    @contextlib.contextmanager
    def driver(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's own psycopg connection in autocommit, for hot-path statements sent straight to the driver.

        PostgreSQL only. Every statement is its own transaction: when it returns, what it wrote is as durable
        as a COMMIT. The connection is taken from the engine once (its connect arguments and timeouts) and then
        kept by the thread, detached from the pool: a check pays no pool checkout, no reset and no SQLAlchemy
        connection. So a worker holds at most one connection more than its pool. Outages become 503s; a broken
        connection is dropped (with the pool's), and the next call connects again.
        """
        conn = self._held.get()
        try:
            yield conn
        except psycopg.Error as error:
            if conn.broken or conn.closed:
                self._held.drop()
                self.engine.dispose()
            translated = _driver_error(error)
            if translated is None:
                raise
            raise translated from error

    def _connect_driver(self) -> psycopg.Connection[Any]:
        """A new psycopg connection made by the engine (its connect arguments), detached from the pool."""
        with translate_errors():
            try:
                fairy = self.engine.raw_connection()
            except psycopg.Error as error:  # the connect itself (the pool hands back the driver's error)
                raise (_driver_error(error) or DependencyUnavailable(retry_after=2)) from error
        conn = fairy.driver_connection
        assert isinstance(conn, psycopg.Connection)
        fairy.detach()
        return conn

    def insert_ignore(self, table: sa.Table, **values: Any) -> Any:
        """INSERT that does nothing when the primary key exists."""
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table).values(**values).on_conflict_do_nothing()

    def ping(self) -> None:
        """Raise DependencyUnavailable when the database does not answer."""
        with self.transaction(write=False) as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        """Close pooled connections and this process's held ones (tests, shutdown)."""
        self.engine.dispose()
        self._held.close_all()


def fetch_one_on_driver(conn: Connection, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row of a hot-path SELECT sent straight to psycopg on `conn`'s connection and transaction.

    SQLAlchemy's execution (context, result metadata, row processing) costs several times the round
    trip itself; the caller maps the row. Outages still become 503s, and a broken connection is
    dropped with the pool's other connections, as SQLAlchemy does when it sees a disconnect.
    """
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        return driver.execute(sql, params).fetchone()
    except psycopg.Error as error:
        if driver.broken or driver.closed:
            conn.invalidate()
            conn.engine.dispose()
        translated = _driver_error(error)
        if translated is None:
            raise
        raise translated from error


def _driver_error(error: psycopg.Error) -> Exception | None:
    """What a psycopg error on the hot path becomes (503 for an outage, DuplicateKey); None: itself."""
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        log.warning("database unavailable: %s", type(error).__name__)
        return DependencyUnavailable(retry_after=2)
    if isinstance(error, psycopg.errors.UniqueViolation):
        return DuplicateKey(str(error))
    return None


class DriverStatement:
    """A SQLAlchemy statement compiled once for psycopg, run on a bare driver connection (hot path).

    The SQL text and each parameter's bind processing (JSON, UTC datetimes) are SQLAlchemy's own, taken once;
    only the per-execution machinery (execution context, compiled cache lookup, result wrapping) is skipped.
    """

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect):
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self._processors = [(name, processor) for name, bind in compiled.binds.items()
                            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None]

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """The driver's parameters for these values (processed as SQLAlchemy would)."""
        processed = dict(values)
        for name, processor in self._processors:
            if processed.get(name) is not None:
                processed[name] = processor(processed[name])
        return processed


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Database outages become 503s; unique violations become DuplicateKey."""
    try:
        yield
    except exc.IntegrityError as error:
        raise DuplicateKey(str(error.orig)) from error
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
        log.warning("database unavailable: %s", type(error).__name__)
        raise DependencyUnavailable(retry_after=2) from error
    except exc.DBAPIError as error:
        if error.connection_invalidated:
            raise DependencyUnavailable(retry_after=2) from error
        raise
