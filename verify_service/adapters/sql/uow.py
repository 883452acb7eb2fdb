"""The SQL unit of work: one transaction shared by every repository."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from verify_service.adapters.sql.agent_watch import SqlAnomalyRepository
from verify_service.adapters.sql.approvals import SqlApprovalRepository
from verify_service.adapters.sql.audit import SqlAuditLog
from verify_service.adapters.sql.codes import SqlChallengeRepository, SqlOutboxRepository
from verify_service.adapters.sql.contacts import SqlAgentProfileRepository, SqlContactRepository
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.entry_links import SqlEntryLinkRepository
from verify_service.adapters.sql.repositories import (
    SqlApiKeyRepository,
    SqlCustomerRepository,
    SqlUserRepository,
    SqlVerificationRepository,
)
from verify_service.domain.delivery import SecurityEventAuditLog
from verify_service.domain.ports import ChainSigner, PinVault

T = TypeVar("T")


class _lazy(Generic[T]):  # noqa: N801 (used like functools.cached_property)
    """A value made on first access and kept on the instance.

    Not functools.cached_property: on Python 3.11 that holds one lock per property for every instance, so a
    thread waiting for SQLite's write lock inside `_conn` would stall every other thread's first `_conn`,
    including the one holding the write lock (a deadlock until busy_timeout).
    """

    def __init__(self, make: Callable[[Any], T]):
        self._make, self._name = make, make.__name__

    def __get__(self, instance: Any, owner: Any = None) -> T:
        if instance is None:  # read from the class (introspection, autospec): the descriptor itself
            return self  # type: ignore[return-value]
        value = self._make(instance)
        instance.__dict__[self._name] = value  # found there from now on: this is a non-data descriptor
        return value


class SqlUnitOfWork:
    """Opens a transaction on first use; rolls back on exit unless committed.

    Repositories are made when first asked for, and the connection is taken only when one needs it: a check's
    customer read on PostgreSQL goes straight to the driver (autocommit) and takes no SQLAlchemy connection.
    """

    def __init__(self, db: SqlDatabase, signer: ChainSigner, *, write: bool = False, snapshot: bool = False,
                 events_vault: PinVault | None = None, after_outbox: Callable[[], None] | None = None):
        self._db, self._signer, self._write, self._events_vault = db, signer, write, events_vault
        self._snapshot = snapshot
        self._after_outbox = after_outbox
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> SqlUnitOfWork:
        """Nothing is opened yet: the first repository call begins the transaction (BEGIN IMMEDIATE on SQLite
        when writing)."""
        return self

    def __exit__(self, *exc: Any) -> None:
        """Roll back what was not committed and release the connection."""
        self._stack.__exit__(*exc)

    @_lazy
    def _conn(self) -> Connection:
        """This unit's connection, in its transaction."""
        return self._stack.enter_context(self._db.transaction(write=self._write, snapshot=self._snapshot))

    def _connection(self) -> Connection:
        return self._conn

    @_lazy
    def customers(self) -> SqlCustomerRepository:
        """Customers; a plain PostgreSQL read of one customer goes to the driver."""
        fast = not self._write and not self._snapshot and self._db.dialect == "postgresql"
        return SqlCustomerRepository(self._connection, driver=self._db if fast else None)

    @_lazy
    def verifications(self) -> SqlVerificationRepository:
        return SqlVerificationRepository(self._conn)

    @_lazy
    def api_keys(self) -> SqlApiKeyRepository:
        return SqlApiKeyRepository(self._conn)

    @_lazy
    def challenges(self) -> SqlChallengeRepository:
        return SqlChallengeRepository(self._conn)

    @_lazy
    def approvals(self) -> SqlApprovalRepository:
        return SqlApprovalRepository(self._conn)

    @_lazy
    def outbox(self) -> SqlOutboxRepository:
        return SqlOutboxRepository(self._conn)

    @_lazy
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self._conn)

    @_lazy
    def contacts(self) -> SqlContactRepository:
        return SqlContactRepository(self._conn)

    @_lazy
    def entry_links(self) -> SqlEntryLinkRepository:
        return SqlEntryLinkRepository(self._conn)

    @_lazy
    def agent_profiles(self) -> SqlAgentProfileRepository:
        return SqlAgentProfileRepository(self._conn)

    @_lazy
    def anomalies(self) -> SqlAnomalyRepository:
        return SqlAnomalyRepository(self._conn, self._db)

    @_lazy
    def audit(self) -> SqlAuditLog | SecurityEventAuditLog:
        log = SqlAuditLog(self._conn, self._db, self._signer)
        return log if self._events_vault is None else SecurityEventAuditLog(log, self, self._events_vault)

    def commit(self) -> None:
        """Commit the transaction; wake the outbox if this work queued messages."""
        if "_conn" not in self.__dict__:
            return  # nothing was read or written through the transaction
        self._conn.commit()
        if "outbox" in self.__dict__ and self.outbox.added and self._after_outbox is not None:
            self._after_outbox()


class SqlUnitOfWorkFactory:
    """Makes SQL units of work on one database; with events_vault, security events are queued."""

    def __init__(self, db: SqlDatabase, signer: ChainSigner, *, events_vault: PinVault | None = None):
        self._db, self._signer, self._events_vault = db, signer, events_vault
        self.after_outbox: Callable[[], None] | None = None

    def __call__(self, *, write: bool = False, snapshot: bool = False) -> SqlUnitOfWork:
        """A new unit of work."""
        return SqlUnitOfWork(self._db, self._signer, write=write, snapshot=snapshot,
                             events_vault=self._events_vault, after_outbox=self.after_outbox)
