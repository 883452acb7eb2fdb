"""Which agent_ids a credential may assert.

A console session asserts its own username and nothing else. An agent key asserts the agent_ids its patterns
match (`keys create --agent-ids desk1-*`), or any agent_id when it has none; never a console user's name,
whatever its patterns: that name belongs to the person who signs in with it (their blocks, their audit trail,
the name customers see).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from verify_service.domain.model import Actor
from verify_service.errors import Forbidden, ValidationFailed

if TYPE_CHECKING:
    from verify_service.domain.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)
# A glob over agent_ids: `*` any run, `?` one character; no `[...]` sets and no commas (they separate patterns).
PATTERN = re.compile(r"^[A-Za-z0-9_.@:*?-]{1,64}\Z")
MAX_PATTERNS_LENGTH = 200
# Credentials whose agent_id is bound: agents' tools, and voice platforms' flows (an `ivr` key), whose checks the
# watch counts under the agent_id they assert just the same.
AGENT_ROLES = frozenset({"agent", "ivr"})  # the api_keys.agent_ids column, patterns joined by commas


def check_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    """The patterns, validated and sorted (ValidationFailed names `agent_ids`)."""
    found = tuple(sorted({pattern.strip() for pattern in patterns}))
    problems = [f"{p!r}: use 1-64 characters of A-Z, a-z, 0-9, _ . @ : - and the wildcards * and ?."
                for p in found if not PATTERN.match(p)]
    problems += [f"{p!r} matches any agent_id: name a prefix or a fixed part, e.g. desk1-*." for p in found
                 if PATTERN.match(p) and not p.strip("*?")]
    if len(",".join(found)) > MAX_PATTERNS_LENGTH:
        problems.append(f"At most {MAX_PATTERNS_LENGTH} characters in all.")
    if problems:
        raise ValidationFailed(details={"agent_ids": problems})
    return found


def matches(patterns: Sequence[str], agent_id: str) -> bool:
    """Whether one of the patterns matches the whole agent_id (case-sensitive, as agent_ids are)."""
    return any(fnmatch.fnmatchcase(agent_id, pattern) for pattern in patterns)


def folded(name: str) -> str:
    """A name as compared with console usernames: NFKC, case-folded (`ＲＴvictim` is `rtvictim`)."""
    return unicodedata.normalize("NFKC", name).casefold()


class AgentIdentity:
    """Refuses (403 forbidden) an agent_id the credential may not assert.

    Console usernames are read from the database at most once per `cache_seconds` per process (0: every time),
    so a check pays no query for them; a user created meanwhile is protected within that bound.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, cache_seconds: float = 0,
                 monotonic: Callable[[], float] = time.monotonic):
        self._uow, self._cache_seconds, self._monotonic = uow, cache_seconds, monotonic
        self._names: tuple[frozenset[str], float] | None = None
        self._lock = threading.Lock()

    def claim(self, agent_id: str | None, actor: Actor) -> None:
        """Return when the actor may act as `agent_id` (None: no agent_id asserted), else raise Forbidden."""
        if agent_id is None:
            return
        if actor.agent_id is not None:  # a console session
            if agent_id != actor.agent_id:
                self._refuse(agent_id, actor, "not the signed-in user")
            return
        if not AGENT_ROLES & set(actor.roles):
            return  # portal and admin keys are not agents' tools (a customer's deny carries its request's agent_id)
        if actor.agent_ids and not matches(actor.agent_ids, agent_id):
            self._refuse(agent_id, actor, "outside the key's agent_ids")
        if folded(agent_id) in self._console_names():
            self._refuse(agent_id, actor, "a console username")

    def _refuse(self, agent_id: str, actor: Actor, why: str) -> None:
        """Log the refusal (names and ids only) and raise Forbidden."""
        log.warning("agent_id refused: %s may not assert agent_id %r (%s)", actor.owner, agent_id[:64], why)
        raise Forbidden(f"This credential may not act as agent_id {agent_id[:64]!r}.",
                        details={"agent_id": [f"Not allowed for this credential ({why})."]})

    def _console_names(self) -> frozenset[str]:
        """Every console username, folded (cached for `cache_seconds`)."""
        now = self._monotonic()
        cached = self._names
        if cached is not None and now < cached[1]:
            return cached[0]
        with self._uow() as uow:
            names = frozenset(folded(name) for name in uow.users.usernames())
        if self._cache_seconds > 0:
            with self._lock:
                self._names = (names, now + self._cache_seconds)
        return names
