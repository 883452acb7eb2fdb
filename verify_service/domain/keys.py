"""API keys: named, role-bearing, shown once and stored only as a hash.

With a revocation feed (multi-instance mode: Redis pub/sub), live keys are cached in each process:
a revocation clears this process's cache at once, and every other process's when it next
authenticates after the feed's message arrived (sub-millisecond on one network). A cached entry is
never older than `cache_seconds`, the bound when a message is lost (Redis unreachable at revoke time);
while the feed is down nothing is cached. Without a feed every request looks its key up.

A key's agent_id patterns are fixed when it is made (to change them: a new key, then revoke the old one), so
a cached key is never stale about them, and every instance enforces them from the row it read.
"""

from __future__ import annotations

import builtins
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from verify_service.domain.agent_identity import check_patterns
from verify_service.domain.model import ApiKey
from verify_service.domain.ports import Clock, UnitOfWorkFactory
from verify_service.errors import Conflict, NotFound, ValidationFailed

ROLES = ("agent", "portal", "admin", "ivr")  # ivr: a voice platform's flow; keypad checks only
KEY_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}\Z")
# The audit trail's actor for console users, the operator's CLI and the service's own Twilio keypad flow.
RESERVED_NAMES = ("console", "cli", "twilio-ivr")
FeedState = Literal["live", "changed", "down"]
LIVE: FeedState = "live"  # subscribed, nothing revoked since the last poll: cached keys hold
CHANGED: FeedState = "changed"  # a revocation was announced (or the feed was re-made): drop the cache
DOWN: FeedState = "down"  # no subscription: revocations would go unseen, so cache nothing


class RevocationFeed(Protocol):
    """Tells every instance that a key was revoked."""

    def publish(self) -> bool:
        """Announce a revocation (after its commit); False when the announcement could not be made."""
        ...

    def poll(self) -> FeedState:
        """Whether this process's cached keys still hold (cheap: no waiting)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class KeyService:
    """Creates, revokes, lists and authenticates API keys."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, generate: Callable[[], str],
                 digest: Callable[[str], str], feed: RevocationFeed | None = None, cache_seconds: float = 0,
                 monotonic: Callable[[], float] = time.monotonic):
        self._uow, self._clock, self._generate, self._digest = uow, clock, generate, digest
        self._feed = feed if cache_seconds > 0 else None
        self._cache_seconds, self._monotonic = cache_seconds, monotonic
        self._cache: dict[str, tuple[ApiKey, float]] = {}  # key hash -> (live key, cached until)
        self._generation = 0  # moves on every clear: a lookup that raced a clear is not cached
        self._lock = threading.Lock()

    def create(self, name: str, roles: list[str], agent_ids: Sequence[str] = ()) -> tuple[ApiKey, str]:
        """A new key and its secret (the only time the secret exists in clear).

        `agent_ids`: glob patterns of the agent_ids the key may assert (an agent key's; none: any agent_id).
        """
        _check_name_and_roles(name, roles)
        patterns = check_patterns(agent_ids)
        if patterns and "agent" not in roles:
            raise ValidationFailed(details={"agent_ids": ["Only a key with the agent role asserts agent_ids."]})
        key = ApiKey(name=name, roles=tuple(sorted(set(roles))), created_at=self._clock.now(), agent_ids=patterns)
        secret = self._generate()
        with self._uow(write=True) as uow:
            if uow.api_keys.by_name(name) is not None:
                raise Conflict(f"A key named {name!r} exists already.")
            uow.api_keys.add(key, self._digest(secret))
            uow.commit()
        return key, secret

    def revoke(self, name: str) -> None:
        """Revoke a live key by name: refused from now on here, and by every instance the feed reaches."""
        with self._uow(write=True) as uow:
            if not uow.api_keys.revoke(name, self._clock.now()):
                raise NotFound(f"No live key named {name!r}.")
            uow.commit()
        if self._feed is not None:
            self._clear()
            self._feed.publish()

    def list(self) -> list[ApiKey]:
        """Every key, oldest first (never a secret: none is stored)."""
        with self._uow() as uow:
            return uow.api_keys.all()

    def unrestricted_agent_keys(self) -> builtins.list[ApiKey]:
        """Live agent keys that may assert any agent_id (but a console username)."""
        return [key for key in self.list() if key.unrestricted_agent]

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live key for this secret, or None (unknown and revoked keys are never cached)."""
        digest = self._digest(secret)
        if self._feed is None:
            return self._lookup(digest)
        now = self._monotonic()
        with self._lock:
            state = self._feed.poll()
            if state == CHANGED:
                self._clear_locked()
            elif state == DOWN:
                self._clear_locked()
                return self._lookup(digest)
            cached = self._cache.get(digest)
            if cached is not None and now < cached[1]:
                return cached[0]
            generation = self._generation
        key = self._lookup(digest)
        if key is not None:
            with self._lock:
                if generation == self._generation:
                    self._cache[digest] = (key, now + self._cache_seconds)
        return key

    def close(self) -> None:
        """Release the revocation feed's connections."""
        if self._feed is not None:
            self._feed.close()

    def _lookup(self, digest: str) -> ApiKey | None:
        """The live key with this hash, from the database."""
        with self._uow() as uow:
            return uow.api_keys.by_hash(digest)

    def _clear(self) -> None:
        """Drop every cached key."""
        with self._lock:
            self._clear_locked()

    def _clear_locked(self) -> None:
        self._cache.clear()
        self._generation += 1


def _check_name_and_roles(name: str, roles: list[str]) -> None:
    """ValidationFailed for a malformed or reserved name, or no or unknown roles."""
    if not KEY_NAME.match(name):
        raise ValidationFailed(details={"name": ["Must be 1-64 characters of A-Z, a-z, 0-9, _ . @ -."]})
    if name.lower() in RESERVED_NAMES:
        raise ValidationFailed(details={"name": [f"{name!r} is reserved: the audit trail names the console, "
                                                 "the CLI and the keypad flow so."]})
    unknown = sorted(set(roles) - set(ROLES)) or ([] if roles else ["(none given)"])
    if unknown:
        raise ValidationFailed(details={"role": [f"Unknown role {r}; use {', '.join(ROLES)}." for r in unknown]})
