"""Builds the services from Settings: the one place that knows which adapter serves which port."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from verify_service.adapters.crypto import KeyRingVault, hash_api_key, new_api_key
from verify_service.adapters.redis.counters import RedisAttemptCounter, connect
from verify_service.adapters.sql.counters import SqlAttemptCounter
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.uow import SqlUnitOfWorkFactory
from verify_service.config import Settings
from verify_service.domain.audit import AuditReader
from verify_service.domain.checks import CheckService, Factor, NoPendingCode, PinFactor
from verify_service.domain.customers import CustomerService
from verify_service.domain.keys import KeyService
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.locks import LockService
from verify_service.domain.ports import AttemptCounter, Clock, PinVault


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """Now."""
        return datetime.now(UTC)


@dataclass
class Services:
    """Everything the entry points (HTTP, CLI) call."""

    settings: Settings
    db: SqlDatabase
    counter: AttemptCounter
    vault: PinVault
    clock: Clock
    uow: SqlUnitOfWorkFactory
    keys: KeyService
    customers: CustomerService
    checks: CheckService
    locks: LockService
    audit: AuditReader

    def close(self) -> None:
        """Release pooled connections."""
        self.db.dispose()


def policy_from(settings: Settings) -> LockoutPolicy:
    """The lockout policy the settings describe."""
    return LockoutPolicy(threshold=settings.lockout_threshold,
                         window=timedelta(seconds=settings.failure_window_seconds),
                         lock_for=timedelta(seconds=settings.lockout_seconds))


def build_counter(settings: Settings, db: SqlDatabase) -> AttemptCounter:
    """Redis when VERIFY_REDIS_URL is set, else the database (single-instance mode)."""
    if settings.redis_url:
        return RedisAttemptCounter(connect(settings.redis_url, timeout=settings.redis_timeout_seconds))
    return SqlAttemptCounter(db)


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    """Wire every port to its adapter."""
    clock = clock or SystemClock()
    db = SqlDatabase(settings.database_url, timeout=settings.db_timeout_seconds)
    uow = SqlUnitOfWorkFactory(db)
    vault = KeyRingVault.from_setting(settings.pin_keys)
    counter = build_counter(settings, db)
    policy = policy_from(settings)
    factors: dict[str, Factor] = {"pin": PinFactor(vault=vault), "code": NoPendingCode()}
    return Services(
        settings=settings, db=db, counter=counter, vault=vault, clock=clock, uow=uow,
        keys=KeyService(uow=uow, clock=clock, generate=new_api_key, digest=hash_api_key),
        customers=CustomerService(uow=uow, vault=vault, clock=clock, default_locale=settings.default_locale),
        checks=CheckService(uow=uow, counter=counter, clock=clock, policy=policy, factors=factors,
                            ttl=timedelta(seconds=settings.verification_ttl_seconds)),
        locks=LockService(uow=uow, counter=counter, clock=clock, policy=policy),
        audit=AuditReader(uow=uow),
    )
