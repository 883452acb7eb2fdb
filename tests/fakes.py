"""Hand-written fakes that record what happened (for domain unit tests) and a fake clock."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from verify_service.adapters.crypto import AuditSigner
from verify_service.domain.audit import GENESIS_HASH, chain_input, chain_of
from verify_service.domain.lockout import AttemptState, CounterRecord, FailureOutcome, LockoutPolicy, to_ms
from verify_service.domain.model import (
    ApiKey,
    AuditEvent,
    AuditQuery,
    ChainedEvent,
    Customer,
    SealedSecret,
    Verification,
)
from verify_service.errors import DuplicateKey

START = datetime(2026, 11, 23, 4, 5, 6, tzinfo=UTC)
SIGNER = AuditSigner.from_setting("t:fake-audit-key-000000000000000000000000")


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, start: datetime = START):
        self.current = start

    def now(self) -> datetime:
        """The fake now."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.current += timedelta(seconds=seconds)


class FakeAttemptCounter:
    """The lockout counter in a dict, behind a lock (the rule itself is the domain's)."""

    def __init__(self) -> None:
        self.records: dict[str, CounterRecord] = {}
        self._lock = threading.Lock()

    def _record(self, key: str) -> CounterRecord:
        return self.records.setdefault(key, CounterRecord([]))

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy) -> FailureOutcome:
        with self._lock:
            return self._record(key).fail(to_ms(now), policy)

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy) -> datetime | None:
        with self._lock:
            return self._record(key).succeed(to_ms(now), policy)

    def forget_failure(self, key: str, at: datetime, policy: LockoutPolicy) -> bool:
        with self._lock:
            return self._record(key).forget(to_ms(at), policy)

    def state(self, key: str, now: datetime, policy: LockoutPolicy) -> AttemptState:
        with self._lock:
            return self._record(key).state(to_ms(now), policy)

    def clear(self, key: str) -> None:
        with self._lock:
            self.records.pop(key, None)

    def ping(self) -> None:
        return None


class FakeStore:
    """The committed state the fake units of work share."""

    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.verifications: dict[str, Verification] = {}
        self.events: list[ChainedEvent] = []
        self.heads: dict[str, tuple[int, str]] = {}
        self.anchored_at: datetime | None = None
        self.keys: dict[str, tuple[ApiKey, str]] = {}


class _Customers:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def get(self, account_id: str, *, for_update: bool = False) -> Customer | None:
        found = self._uow.state.customers.get(account_id)
        return copy.deepcopy(found)

    def add(self, customer: Customer) -> None:
        if customer.account_id in self._uow.state.customers:
            raise DuplicateKey(customer.account_id)
        self._uow.state.customers[customer.account_id] = copy.deepcopy(customer)

    def save(self, customer: Customer) -> None:
        self._uow.state.customers[customer.account_id] = copy.deepcopy(customer)

    def with_old_pin_key(self, newest_key_id: str, limit: int, after: str = "") -> Sequence[Customer]:
        olds = sorted((c for c in self._uow.state.customers.values()
                       if c.pin and c.pin.key_id != newest_key_id and c.account_id > after),
                      key=lambda c: c.account_id)
        return [copy.deepcopy(c) for c in olds[:limit]]

    def count_old_pin_key(self, newest_key_id: str) -> int:
        return sum(1 for c in self._uow.state.customers.values() if c.pin and c.pin.key_id != newest_key_id)

    def replace_pin(self, customer: Customer, old: SealedSecret, new: SealedSecret) -> bool:
        stored = self._uow.state.customers.get(customer.account_id)
        if stored is None or stored.pin != old:
            return False
        stored.pin = new
        return True


class _Verifications:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, verification: Verification) -> None:
        self._uow.state.verifications[verification.verification_id] = verification

    def get(self, verification_id: str) -> Verification | None:
        return self._uow.state.verifications.get(verification_id)

    def outcomes_since(self, account_id: str, since: datetime, limit: int,
                       ) -> list[tuple[datetime, str, datetime | None]]:
        found = [(v.checked_at, v.result, v.locked_until) for v in self._uow.state.verifications.values()
                 if v.account_id == account_id and v.checked_at > since and v.result in ("verified", "rejected")]
        return sorted(found, key=lambda item: item[0], reverse=True)[:limit]


class _Audit:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def append(self, event: AuditEvent) -> ChainedEvent:
        state = self._uow.state
        chain = chain_of(event)
        seq, prev = state.heads.get(chain, (0, GENESIS_HASH))
        event_id = len(state.events) + 1
        digest = SIGNER.sign("t", chain_input(prev, chain, seq + 1, event, event_id))
        item = ChainedEvent(event_id, event, chain, seq + 1, prev, digest, "t")
        state.events.append(item)
        state.heads[chain] = (seq + 1, digest)
        return item

    def query(self, query: AuditQuery) -> list[ChainedEvent]:
        items = [e for e in reversed(self._uow.state.events)
                 if (query.account_id is None or e.event.account_id == query.account_id)
                 and (query.event is None or e.event.event == query.event)
                 and (query.before_id is None or e.id < query.before_id)]
        return items[: query.limit]

    def walk(self) -> Iterator[ChainedEvent]:
        return iter(sorted(self._uow.state.events, key=lambda e: (e.chain, e.seq)))

    def heads(self, since: datetime | None = None) -> dict[str, tuple[int, str]]:
        moved = {e.chain for e in self._uow.state.events if since is None or e.event.at >= since}
        return {chain: head for chain, head in self._uow.state.heads.items() if chain in moved}

    def claim_anchor(self, now: datetime, every: timedelta) -> tuple[bool, datetime | None]:
        previous = self._uow.state.anchored_at
        if previous is not None and previous <= now + every and now < previous + every:
            return False, previous
        self._uow.state.anchored_at = now
        return True, previous


class _Keys:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, key: ApiKey, key_hash: str) -> None:
        self._uow.state.keys[key.name] = (key, key_hash)

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return next((k for k, h in self._uow.state.keys.values() if h == key_hash and not k.revoked_at), None)

    def by_name(self, name: str) -> ApiKey | None:
        found = self._uow.state.keys.get(name)
        return found[0] if found else None

    def revoke(self, name: str, at: datetime) -> bool:
        found = self._uow.state.keys.get(name)
        if not found or found[0].revoked_at:
            return False
        key, digest = found
        self._uow.state.keys[name] = (ApiKey(key.name, key.roles, key.created_at, at), digest)
        return True

    def all(self) -> list[ApiKey]:
        return [k for k, _ in self._uow.state.keys.values()]


class FakeUnitOfWork:
    """Works on a copy of the store; commit publishes it, like a transaction."""

    def __init__(self, store: FakeStore, log: list[str]):
        self._store, self._log = store, log
        self.committed = False

    def __enter__(self) -> FakeUnitOfWork:
        self.state = copy.deepcopy(self._store)
        self.customers, self.verifications = _Customers(self), _Verifications(self)
        self.audit, self.api_keys = _Audit(self), _Keys(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.committed:
            self._log.append("rollback")

    def commit(self) -> None:
        self._store.__dict__.update(self.state.__dict__)
        self.committed = True
        self._log.append("commit")


class FakeUnitOfWorkFactory:
    """Makes fake units of work over one shared store."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.log: list[str] = []

    def __call__(self, *, write: bool = False, snapshot: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, self.log)


class FakeSendLog:
    """Code sends in a list, with every destination lock taken (records what the SMS guard asked)."""

    def __init__(self) -> None:
        self.sends: list[tuple[datetime, bytes | None, str | None]] = []
        self.locked: list[bytes] = []

    def record(self, at: datetime, destination_mac: bytes | None = None, actor: str | None = None) -> None:
        """A send that happened."""
        self.sends.append((at, destination_mac, actor))

    def lock_destination(self, destination_mac: bytes) -> None:
        self.locked.append(destination_mac)

    def nth_latest_send(self, since: datetime, n: int, *, destination_mac: bytes | None = None,
                        actor: str | None = None) -> datetime | None:
        times = sorted((at for at, mac, key in self.sends if at > since
                        and destination_mac in (None, mac) and actor in (None, key)), reverse=True)
        return times[n - 1] if len(times) >= n else None
