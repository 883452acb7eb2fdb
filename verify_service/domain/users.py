"""Agent console users: supervisors and agents who sign in with a password, throttled per user and address."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.model import AuditEvent
from verify_service.domain.names import AuditEventName
from verify_service.domain.ports import AttemptCounter, Clock, UnitOfWorkFactory
from verify_service.errors import Conflict, NotFound, RateLimited, Unauthorized, ValidationFailed

CONSOLE_ROLES = ("agent", "supervisor")
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}\Z")
RESERVED_USERNAMES = ("ivr",)  # the agent_id of the service's own keypad flow: no person may hold it
MIN_PASSWORD = 12
USER_THROTTLE = LockoutPolicy(threshold=5, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))
_ONCE_PER_WINDOW = LockoutPolicy(threshold=1, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))
ADDRESS_THROTTLE = LockoutPolicy(threshold=20, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))


@dataclass(frozen=True)
class ConsoleUser:
    """A person who uses the console."""

    username: str
    role: str
    created_at: datetime
    password_hash: str = ""
    disabled_at: datetime | None = None
    session_epoch: int = 0


def check_password(password: str) -> None:
    """Refuse a password shorter than MIN_PASSWORD."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(details={"password": [f"Must be at least {MIN_PASSWORD} characters."]})


class PasswordHasher(Protocol):
    """Slow password hashing (argon2) for people's passwords."""

    def hash(self, password: str) -> str:
        """A salted hash."""
        ...

    def verify(self, password: str, password_hash: str) -> bool:
        """Constant-time check against a hash."""
        ...


class SignInFailed(Unauthorized):
    """Wrong username or password (never says which)."""

    default_message = "Wrong username or password."


class UserService:
    """Creates users and signs them in, with throttling and an audit event each time."""

    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, counter: AttemptCounter, clock: Clock):
        self._uow, self._hasher, self._counter, self._clock = uow, hasher, counter, clock

    @functools.cached_property
    def _dummy_hash(self) -> str:
        """A hash to check against when the user does not exist, so timing does not tell (made on first use)."""
        return self._hasher.hash("not a real password, equalises timing")

    def create(self, username: str, role: str, password: str) -> ConsoleUser:
        """A new user; the password is stored only as an argon2 hash."""
        if not USERNAME.match(username):
            raise ValidationFailed(details={"username": ["Must be 1-64 characters of A-Z, a-z, 0-9, _ . @ -."]})
        if username.casefold() in RESERVED_USERNAMES:
            raise ValidationFailed(details={"username": [f"{username!r} is reserved: the keypad flow's checks "
                                                         "carry that agent_id."]})
        if role not in CONSOLE_ROLES:
            raise ValidationFailed(details={"role": [f"Must be one of {', '.join(CONSOLE_ROLES)}."]})
        check_password(password)
        user = ConsoleUser(username, role, self._clock.now(), self._hasher.hash(password))
        with self._uow(write=True) as uow:
            if uow.users.by_username(username) is not None:
                raise Conflict(f"A user named {username!r} exists already.")
            uow.users.add(user)
            uow.audit.append(self._admin_event(AuditEventName.CONSOLE_USER_CREATED, username, "cli", role=role))
            uow.commit()
        return user

    def sign_in(self, username: str, password: str, ip: str | None) -> ConsoleUser:
        """The user, or SignInFailed / RateLimited; every attempt is audited.

        The per-user attempt is counted *before* the password is checked, so concurrent guesses
        cannot all slip in under the limit; a successful sign-in clears the count.
        """
        now = self._clock.now()
        user_key = f"signin-user:{username.lower()[:40]}"
        address_key = f"signin-ip:{ip or '-'}"
        if not USERNAME.match(username):
            raise SignInFailed()
        blocked = self._counter.state(address_key, now, ADDRESS_THROTTLE).locked_until
        attempt = self._counter.record_failure(user_key, now, USER_THROTTLE)
        if blocked is not None or not attempt.counted:
            until = blocked or attempt.locked_until or now
            throttled = address_key if blocked is not None else user_key
            # Audited once per throttle window, not once per refused try (a flood would fill the trail).
            if self._counter.record_failure(f"audited:{throttled}", now, _ONCE_PER_WINDOW).counted:
                self._audit(AuditEventName.CONSOLE_SIGN_IN_THROTTLED, now, None, ip)
            raise RateLimited("Too many failed sign-ins; try again later.",
                              retry_after=(until - now).total_seconds())
        with self._uow() as uow:
            user = uow.users.by_username(username)
        stored = user.password_hash if user and not user.disabled_at else self._dummy_hash
        if not self._hasher.verify(password, stored) or user is None or user.disabled_at:
            self._counter.record_failure(address_key, now, ADDRESS_THROTTLE)
            # The typed name is kept only for a real user: people type passwords into that field.
            self._audit(AuditEventName.CONSOLE_SIGN_IN_FAILED, now, username if user else None, ip)
            raise SignInFailed()
        self._counter.clear(user_key)
        self._audit(AuditEventName.CONSOLE_SIGNED_IN, now, username, ip)
        return user

    def current(self, username: str) -> ConsoleUser | None:
        """A live (not disabled) user by name, for checking a session on every request."""
        with self._uow() as uow:
            user = uow.users.by_username(username)
        return user if user is not None and user.disabled_at is None else None

    def bump_sessions(self, username: str) -> None:
        """End every session of the user (sign-out, disable)."""
        with self._uow(write=True) as uow:
            uow.users.bump_epoch(username, disable_at=None)
            uow.commit()

    def disable(self, username: str, by: str = "cli") -> None:
        """Disable a user: no sign-in, and every open session ends at its next request; audited."""
        with self._uow(write=True) as uow:
            if not uow.users.bump_epoch(username, disable_at=self._clock.now()):
                raise NotFound(f"No console user {username!r}.")
            uow.audit.append(self._admin_event(AuditEventName.CONSOLE_USER_DISABLED, username, by))
            uow.commit()

    def enable(self, username: str, by: str = "cli") -> None:
        """Re-enable a disabled user (sessions from before stay ended); audited."""
        with self._uow(write=True) as uow:
            if not uow.users.update(username, enable=True):
                raise NotFound(f"No console user {username!r}.")
            uow.audit.append(self._admin_event(AuditEventName.CONSOLE_USER_ENABLED, username, by))
            uow.commit()

    def reset_password(self, username: str, password: str, by: str = "cli") -> None:
        """Set a new password (argon2 hash only), end the user's sessions and lift their sign-in throttle; audited."""
        check_password(password)
        password_hash = self._hasher.hash(password)
        with self._uow(write=True) as uow:
            if not uow.users.update(username, password_hash=password_hash):
                raise NotFound(f"No console user {username!r}.")
            uow.audit.append(self._admin_event(AuditEventName.CONSOLE_PASSWORD_RESET, username, by))
            uow.commit()
        self._counter.clear(f"signin-user:{username.lower()[:40]}")

    def all(self, by: str = "cli") -> list[ConsoleUser]:
        """Every user, disabled ones included (no password hash); the listing is audited."""
        with self._uow(write=True) as uow:
            found = uow.users.all()
            uow.audit.append(self._admin_event(AuditEventName.CONSOLE_USERS_LISTED, None, by, count=len(found)))
            uow.commit()
        return found

    def _admin_event(self, event: str, username: str | None, by: str, **details: object) -> AuditEvent:
        """An event about console users by an operator (`by`: the CLI), on the system chain."""
        return AuditEvent(event=event, at=self._clock.now(), actor=by, agent_id=username, details=dict(details))

    def audit(self, event: str, username: str, ip: str | None, **details: object) -> None:
        """Record a console event under the user's name (sign-out, for instance)."""
        self._audit(event, self._clock.now(), username, ip, **details)

    def _audit(self, event: str, now: datetime, username: str | None, ip: str | None, **details: object) -> None:
        """One event on the system chain, with the username as agent_id."""
        with self._uow(write=True) as uow:
            uow.audit.append(AuditEvent(event=event, at=now, actor="console", agent_id=username, ip=ip,
                                        details=dict(details)))
            uow.commit()
