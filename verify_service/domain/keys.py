"""API keys: named, role-bearing, shown once and stored only as a hash."""

from __future__ import annotations

import re
from collections.abc import Callable

from verify_service.domain.model import ApiKey
from verify_service.domain.ports import Clock, UnitOfWorkFactory
from verify_service.errors import Conflict, NotFound, ValidationFailed

ROLES = ("agent", "portal", "admin")
KEY_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}\Z")


class KeyService:
    """Creates, revokes, lists and authenticates API keys."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, generate: Callable[[], str],
                 digest: Callable[[str], str]):
        self._uow, self._clock, self._generate, self._digest = uow, clock, generate, digest

    def create(self, name: str, roles: list[str]) -> tuple[ApiKey, str]:
        """A new key and its secret (the only time the secret exists in clear)."""
        if not KEY_NAME.match(name):
            raise ValidationFailed(details={"name": ["Must be 1-64 characters of A-Z, a-z, 0-9, _ . @ -."]})
        unknown = sorted(set(roles) - set(ROLES)) or ([] if roles else ["(none given)"])
        if unknown:
            raise ValidationFailed(details={"role": [f"Unknown role {r}; use {', '.join(ROLES)}." for r in unknown]})
        key = ApiKey(name=name, roles=tuple(sorted(set(roles))), created_at=self._clock.now())
        secret = self._generate()
        with self._uow(write=True) as uow:
            if uow.api_keys.by_name(name) is not None:
                raise Conflict(f"A key named {name!r} exists already.")
            uow.api_keys.add(key, self._digest(secret))
            uow.commit()
        return key, secret

    def revoke(self, name: str) -> None:
        """Revoke a live key by name."""
        with self._uow(write=True) as uow:
            if not uow.api_keys.revoke(name, self._clock.now()):
                raise NotFound(f"No live key named {name!r}.")
            uow.commit()

    def list(self) -> list[ApiKey]:
        """Every key, oldest first (never a secret: none is stored)."""
        with self._uow() as uow:
            return uow.api_keys.all()

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live key for this secret, or None."""
        with self._uow() as uow:
            return uow.api_keys.by_hash(self._digest(secret))
