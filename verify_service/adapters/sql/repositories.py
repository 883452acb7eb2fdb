"""SQL repositories for customers, verification records and API keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql import heads
from verify_service.adapters.sql.database import SqlDatabase, fetch_one_on_driver
from verify_service.adapters.sql.tables import (
    UTCDateTime,
    api_keys,
    approvals,
    challenges,
    console_users,
    contacts,
    customers,
    entry_links,
    outbox,
    verifications,
)
from verify_service.domain.model import ApiKey, ChecksQuery, Customer, SealedSecret, Verification
from verify_service.domain.users import ConsoleUser

_CUSTOMER_FIELDS = ("account_id", "phone", "email", "locale", "second_factor", "pin_issued_at",
                    "frozen_at", "locked_until", "unlocked_at", "phone_changed_at", "created_at", "updated_at",
                    "totp_last_step", "closed_at")
_SEALED_FIELDS = ("pin", "totp", "totp_pending")


def _sealed(row: RowMapping, name: str) -> SealedSecret | None:
    """A sealed secret from its `<name>_key_id` and `<name>_blob` columns."""
    blob = row[f"{name}_blob"]
    return SealedSecret(row[f"{name}_key_id"], bytes(blob)) if blob is not None else None


def _customer_from_row(row: RowMapping) -> Customer:
    """Map a customers row to the domain record."""
    sealed: dict[str, Any] = {name: _sealed(row, name) for name in _SEALED_FIELDS}
    return Customer(**sealed, **{name: row[name] for name in _CUSTOMER_FIELDS})


def _customer_values(customer: Customer) -> dict[str, Any]:
    """Map the domain record to column values."""
    values = {name: getattr(customer, name) for name in _CUSTOMER_FIELDS}
    for name in _SEALED_FIELDS:
        secret: SealedSecret | None = getattr(customer, name)
        values[f"{name}_key_id"] = secret.key_id if secret else None
        values[f"{name}_blob"] = secret.blob if secret else None
    return values


_CUSTOMER = sa.select(customers).where(customers.c.account_id == sa.bindparam("a"))
# The same read as plain SQL for psycopg (PostgreSQL): every check starts with it, so it also brings the
# customer's audit head and the next event id for the check's record write (heads.py).
_CUSTOMER_COLUMNS = tuple(column.name for column in customers.c)
_CUSTOMER_UTC = frozenset(column.name for column in customers.c if isinstance(column.type, UTCDateTime))
_CUSTOMER_SQL = (f"SELECT {', '.join('c.' + name for name in _CUSTOMER_COLUMNS)}, h.seq, h.hash, "
                 "nextval('audit_events_id_seq') FROM customers c LEFT JOIN audit_heads h "
                 "ON h.chain = c.account_id WHERE c.account_id = %s")
_WIDTH = len(_CUSTOMER_COLUMNS)
_CUSTOMER_FOR_UPDATE = _CUSTOMER.with_for_update()
_INSERT_VERIFICATION = verifications.insert()
_LIVE_KEY = sa.select(api_keys).where(api_keys.c.key_hash == sa.bindparam("h"), api_keys.c.revoked_at.is_(None))


class SqlCustomerRepository:
    """Customers in the `customers` table.

    `conn` may be a function giving the connection, so that a read sent to `driver` (a plain PostgreSQL read,
    its own autocommit transaction) needs no SQLAlchemy connection at all.
    """

    def __init__(self, conn: Connection | Callable[[], Connection], *, driver: SqlDatabase | None = None):
        self._get_conn = conn if callable(conn) else lambda: conn
        self._driver = driver

    @property
    def _conn(self) -> Connection:
        return self._get_conn()

    def _fetch_customer(self, account_id: str) -> tuple[Any, ...] | None:
        """The customer row with its audit head, straight from psycopg."""
        if self._driver is not None:
            with self._driver.driver() as conn:
                return conn.execute(_CUSTOMER_SQL, (account_id,)).fetchone()
        return fetch_one_on_driver(self._conn, _CUSTOMER_SQL, (account_id,))

    def get(self, account_id: str, *, for_update: bool = False) -> Customer | None:
        """One customer by account id."""
        if not for_update and (self._driver is not None or self._conn.dialect.name == "postgresql"):
            found = self._fetch_customer(account_id)
            if found is None:
                heads.remember(None)
                return None
            seq, digest, next_id = found[_WIDTH:]
            heads.remember(None if seq is None else heads.Head(account_id, seq, digest, int(next_id)))
            values = {name: value.astimezone(UTC) if name in _CUSTOMER_UTC and value is not None else value
                      for name, value in zip(_CUSTOMER_COLUMNS, found[:_WIDTH], strict=True)}
            return _customer_from_row(cast(RowMapping, values))
        query = _CUSTOMER_FOR_UPDATE if for_update else _CUSTOMER
        row = self._conn.execute(query, {"a": account_id}).mappings().first()
        return _customer_from_row(row) if row else None

    def add(self, customer: Customer) -> None:
        """Insert (DuplicateKey if a concurrent writer was first)."""
        self._conn.execute(customers.insert().values(**_customer_values(customer)))

    def save(self, customer: Customer) -> None:
        """Update every mutable column."""
        values = _customer_values(customer)
        values.pop("account_id")
        values.pop("totp_last_step")  # only advance_totp_step moves it, atomically
        self._conn.execute(customers.update().where(customers.c.account_id == customer.account_id)
                           .values(**values))

    def advance_totp_step(self, account_id: str, step: int) -> bool:
        """Record a used TOTP time step; False if it (or a later one) was used already."""
        last = customers.c.totp_last_step
        result = self._conn.execute(customers.update().where(
            customers.c.account_id == account_id, sa.or_(last.is_(None), last < step)).values(totp_last_step=step))
        return result.rowcount == 1

    def with_old_pin_key(self, newest_key_id: str, limit: int, after: str = "") -> Sequence[Customer]:
        """A batch of customers whose PIN is sealed under an older key, by account id after `after`."""
        query = (sa.select(customers).where(customers.c.pin_key_id != newest_key_id, customers.c.account_id > after)
                 .order_by(customers.c.account_id).limit(limit))
        return [_customer_from_row(row) for row in self._conn.execute(query).mappings()]

    def count_old_pin_key(self, newest_key_id: str) -> int:
        """How many PINs are still sealed under an older key."""
        query = sa.select(sa.func.count()).select_from(customers).where(customers.c.pin_key_id != newest_key_id)
        return int(self._conn.execute(query).scalar_one())

    def erase_traces(self, account_id: str) -> dict[str, int]:
        """Delete the account's codes, messages (not its security events), contacts, approvals and entry links:
        how many."""
        erased = {}
        for name, table, only in (("codes", challenges, ()), ("messages", outbox, (outbox.c.kind != "event",)),
                                  ("contacts", contacts, ()), ("approvals", approvals, ()),
                                  ("entry_links", entry_links, ())):
            result = self._conn.execute(table.delete().where(table.c.account_id == account_id, *only))
            erased[name] = int(result.rowcount)
        return erased

    def replace_pin(self, customer: Customer, old: SealedSecret, new: SealedSecret) -> bool:
        """Swap a sealed PIN only if nobody changed it meanwhile (for rekeying)."""
        result = self._conn.execute(
            customers.update()
            .where(customers.c.account_id == customer.account_id, customers.c.pin_key_id == old.key_id,
                   customers.c.pin_blob == old.blob)
            .values(pin_key_id=new.key_id, pin_blob=new.blob))
        return result.rowcount == 1


_VERIFICATION_FIELDS = ("account_id", "verified", "result", "level", "attempts_remaining", "locked_until",
                        "checked_at", "valid_until", "channel", "agent_id", "ticket_ref", "actor", "entry", "call_ref")


def verification_row(verification: Verification) -> dict[str, Any]:
    """The `verifications` row of a check record."""
    values = {name: getattr(verification, name) for name in _VERIFICATION_FIELDS}
    return {"id": verification.verification_id, "factor_pin": verification.factors["pin"],
            "factor_code": verification.factors["code"], "factor_approval": verification.factors.get("approval"),
            **values}


def _verification_from_row(row: RowMapping) -> Verification:
    """Map a `verifications` row."""
    factors = {"pin": row["factor_pin"], "code": row["factor_code"]}
    if row["factor_approval"] is not None:
        factors["approval"] = row["factor_approval"]
    return Verification(verification_id=row["id"], factors=factors,
                        **{name: row[name] for name in _VERIFICATION_FIELDS})


class SqlVerificationRepository:
    """Check records in the `verifications` table."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def add(self, verification: Verification) -> None:
        """Insert one record."""
        self._conn.execute(_INSERT_VERIFICATION, verification_row(verification))

    def get(self, verification_id: str) -> Verification | None:
        """One record by id."""
        row = self._conn.execute(
            sa.select(verifications).where(verifications.c.id == verification_id)).mappings().first()
        if row is None:
            return None
        return _verification_from_row(row)

    def of_call(self, call_ref: str, limit: int) -> list[Verification]:
        """Newest first, through the call_ref index."""
        query = (sa.select(verifications).where(verifications.c.call_ref == call_ref)
                 .order_by(verifications.c.checked_at.desc(), verifications.c.id).limit(limit))
        return [_verification_from_row(row) for row in self._conn.execute(query).mappings()]

    def page(self, query: ChecksQuery) -> list[Verification]:
        """Newest first, through the (agent_id, checked_at) or (actor, checked_at) index."""
        by_agent = query.agent_id is not None
        where = [verifications.c.agent_id == query.agent_id if by_agent else verifications.c.actor == query.key]
        if query.before is not None:
            at, last_id = query.before
            where.append(sa.or_(verifications.c.checked_at < at,
                                sa.and_(verifications.c.checked_at == at, verifications.c.id < last_id)))
        statement = (sa.select(verifications).where(*where)
                     .order_by(verifications.c.checked_at.desc(), verifications.c.id.desc()).limit(query.limit))
        return [_verification_from_row(row) for row in self._conn.execute(statement).mappings()]

    def outcomes_since(self, account_id: str, since: datetime, limit: int,
                       ) -> list[tuple[datetime, str, datetime | None]]:
        """Newest first, through the (account_id, checked_at) index."""
        query = (sa.select(verifications.c.checked_at, verifications.c.result, verifications.c.locked_until)
                 .where(verifications.c.account_id == account_id, verifications.c.checked_at > since,
                        verifications.c.result.in_(("verified", "rejected")))
                 .order_by(verifications.c.checked_at.desc()).limit(limit))
        return [(row.checked_at, row.result, row.locked_until) for row in self._conn.execute(query)]


def _key_from_row(row: RowMapping) -> ApiKey:
    """Map an api_keys row."""
    patterns = tuple(row["agent_ids"].split(",")) if row["agent_ids"] else ()
    return ApiKey(name=row["name"], roles=tuple(row["roles"].split(",")), created_at=row["created_at"],
                  revoked_at=row["revoked_at"], agent_ids=patterns)


class SqlApiKeyRepository:
    """API keys in the `api_keys` table, by hash."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def add(self, key: ApiKey, key_hash: str) -> None:
        """Insert a key's hash and roles."""
        self._conn.execute(api_keys.insert().values(
            name=key.name, key_hash=key_hash, roles=",".join(key.roles), created_at=key.created_at,
            agent_ids=",".join(key.agent_ids) or None))

    def by_hash(self, key_hash: str) -> ApiKey | None:
        """The live key with this hash."""
        row = self._conn.execute(_LIVE_KEY, {"h": key_hash}).mappings().first()
        return _key_from_row(row) if row else None

    def by_name(self, name: str) -> ApiKey | None:
        """A key by name."""
        row = self._conn.execute(sa.select(api_keys).where(api_keys.c.name == name)).mappings().first()
        return _key_from_row(row) if row else None

    def revoke(self, name: str, at: datetime) -> bool:
        """Mark a live key revoked."""
        result = self._conn.execute(api_keys.update().where(
            api_keys.c.name == name, api_keys.c.revoked_at.is_(None)).values(revoked_at=at))
        return result.rowcount == 1

    def all(self) -> list[ApiKey]:
        """Every key, oldest first."""
        rows = self._conn.execute(sa.select(api_keys).order_by(api_keys.c.id)).mappings()
        return [_key_from_row(row) for row in rows]


class SqlUserRepository:
    """Console users in the `console_users` table."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def add(self, user: ConsoleUser) -> None:
        """Insert a user."""
        self._conn.execute(console_users.insert().values(
            username=user.username, password_hash=user.password_hash, role=user.role, created_at=user.created_at))

    def by_username(self, username: str) -> ConsoleUser | None:
        """A user by name."""
        query = sa.select(console_users).where(console_users.c.username == username)
        row = self._conn.execute(query).mappings().first()
        if row is None:
            return None
        return ConsoleUser(username=row["username"], role=row["role"], created_at=row["created_at"],
                           password_hash=row["password_hash"], disabled_at=row["disabled_at"],
                           session_epoch=row["session_epoch"])

    def bump_epoch(self, username: str, *, disable_at: datetime | None) -> bool:
        """Invalidate the user's sessions (and disable the user when disable_at is given)."""
        values: dict[str, Any] = {"session_epoch": console_users.c.session_epoch + 1}
        if disable_at is not None:
            values["disabled_at"] = disable_at
        result = self._conn.execute(console_users.update().where(console_users.c.username == username)
                                    .values(**values))
        return result.rowcount == 1

    def usernames(self) -> list[str]:
        """Every user's name, disabled ones included."""
        return list(self._conn.execute(sa.select(console_users.c.username)).scalars())

    def all(self) -> list[ConsoleUser]:
        """Every user, by name."""
        rows = self._conn.execute(sa.select(console_users).order_by(console_users.c.username)).mappings()
        return [ConsoleUser(username=row["username"], role=row["role"], created_at=row["created_at"],
                            disabled_at=row["disabled_at"], session_epoch=row["session_epoch"]) for row in rows]

    def update(self, username: str, *, enable: bool = False, password_hash: str | None = None) -> bool:
        """Re-enable and/or set a password; every change ends the user's sessions."""
        values: dict[str, Any] = {"session_epoch": console_users.c.session_epoch + 1}
        if enable:
            values["disabled_at"] = None
        if password_hash is not None:
            values["password_hash"] = password_hash
        result = self._conn.execute(console_users.update().where(console_users.c.username == username)
                                    .values(**values))
        return result.rowcount == 1
