"""The SQL unit of work: one transaction shared by every repository."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from verify_service.adapters.sql.agent_watch import SqlAnomalyRepository
from verify_service.adapters.sql.approvals import SqlApprovalRepository
from verify_service.adapters.sql.audit import SqlAuditLog
from verify_service.adapters.sql.codes import SqlChallengeRepository, SqlOutboxRepository
from verify_service.adapters.sql.contacts import SqlAgentProfileRepository, SqlContactRepository
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.repositories import (
    SqlApiKeyRepository,
    SqlCustomerRepository,
    SqlUserRepository,
    SqlVerificationRepository,
)
from verify_service.domain.delivery import SecurityEventAuditLog
from verify_service.domain.ports import ChainSigner, PinVault


class SqlUnitOfWork:
    """Opens a transaction on enter; rolls back on exit unless committed."""

    customers: SqlCustomerRepository
    verifications: SqlVerificationRepository
    audit: SqlAuditLog | SecurityEventAuditLog
    api_keys: SqlApiKeyRepository
    challenges: SqlChallengeRepository
    approvals: SqlApprovalRepository
    outbox: SqlOutboxRepository
    users: SqlUserRepository
    contacts: SqlContactRepository
    agent_profiles: SqlAgentProfileRepository
    anomalies: SqlAnomalyRepository

    def __init__(self, db: SqlDatabase, signer: ChainSigner, *, write: bool = False, snapshot: bool = False,
                 events_vault: PinVault | None = None, after_outbox: Callable[[], None] | None = None):
        self._db, self._signer, self._write, self._events_vault = db, signer, write, events_vault
        self._snapshot = snapshot
        self._after_outbox = after_outbox
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> SqlUnitOfWork:
        """Begin a transaction (BEGIN IMMEDIATE on SQLite when writing)."""
        conn = self._stack.enter_context(self._db.transaction(write=self._write, snapshot=self._snapshot))
        self._conn = conn
        self.customers = SqlCustomerRepository(conn)
        self.verifications = SqlVerificationRepository(conn)
        self.api_keys = SqlApiKeyRepository(conn)
        self.challenges = SqlChallengeRepository(conn)
        self.approvals = SqlApprovalRepository(conn)
        self.outbox = SqlOutboxRepository(conn)
        self.users = SqlUserRepository(conn)
        self.contacts, self.agent_profiles = SqlContactRepository(conn), SqlAgentProfileRepository(conn)
        self.anomalies = SqlAnomalyRepository(conn, self._db)
        self.audit = SqlAuditLog(conn, self._db, self._signer)
        if self._events_vault is not None:
            self.audit = SecurityEventAuditLog(self.audit, self, self._events_vault)
        return self

    def __exit__(self, *exc: Any) -> None:
        """Roll back what was not committed and release the connection."""
        self._stack.__exit__(*exc)

    def commit(self) -> None:
        """Commit the transaction; wake the outbox if this work queued messages."""
        self._conn.commit()
        if self.outbox.added and self._after_outbox is not None:
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
