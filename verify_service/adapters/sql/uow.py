"""The SQL unit of work: one transaction shared by every repository."""

from __future__ import annotations

import contextlib
from typing import Any

from verify_service.adapters.sql.audit import SqlAuditLog
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.repositories import (
    SqlApiKeyRepository,
    SqlCustomerRepository,
    SqlVerificationRepository,
)


class SqlUnitOfWork:
    """Opens a transaction on enter; rolls back on exit unless committed."""

    customers: SqlCustomerRepository
    verifications: SqlVerificationRepository
    audit: SqlAuditLog
    api_keys: SqlApiKeyRepository

    def __init__(self, db: SqlDatabase, *, write: bool = False):
        self._db, self._write = db, write
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> SqlUnitOfWork:
        """Begin a transaction (BEGIN IMMEDIATE on SQLite when writing)."""
        conn = self._stack.enter_context(self._db.transaction(write=self._write))
        self._conn = conn
        self.customers = SqlCustomerRepository(conn)
        self.verifications = SqlVerificationRepository(conn)
        self.audit = SqlAuditLog(conn, self._db)
        self.api_keys = SqlApiKeyRepository(conn)
        return self

    def __exit__(self, *exc: Any) -> None:
        """Roll back what was not committed and release the connection."""
        self._stack.__exit__(*exc)

    def commit(self) -> None:
        """Commit the transaction."""
        self._conn.commit()


class SqlUnitOfWorkFactory:
    """Makes SQL units of work on one database."""

    def __init__(self, db: SqlDatabase):
        self._db = db

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        """A new unit of work."""
        return SqlUnitOfWork(self._db, write=write)
