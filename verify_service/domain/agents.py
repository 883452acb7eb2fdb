"""Agents' display names: what a customer sees instead of the agent_id when support contacts them.

A name may be tied to API keys (`agents name AGENT_ID NAME --key KEY`): it is then shown only for contacts one of
those keys started, so a key that asserts the agent_id cannot borrow the name; customers see the generic name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from verify_service.domain.model import Actor, ApiKey, AuditEvent
from verify_service.domain.names import AuditEventName
from verify_service.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from verify_service.domain.text import refused_character
from verify_service.errors import ValidationFailed

MAX_AGENT_ID = 64
MAX_DISPLAY_NAME = 64
MAX_TIED_KEYS = 500  # the agent_profiles.keys column, key names joined by commas


@dataclass(frozen=True)
class AgentProfile:
    """The name the operator chose for an agent (an API agent_id, or a console username)."""

    agent_id: str
    display_name: str
    updated_at: datetime
    keys: tuple[str, ...] = ()  # the key names allowed to show it; none: whoever may assert the agent_id

    def shown_for(self, owner: str | None) -> bool:
        """Whether a contact started by `owner` (Actor.owner) shows this name."""
        return not self.keys or owner in {f"key:{name}" for name in self.keys}


def _printable(value: str) -> bool:
    """No control, format or unassigned characters, no line or paragraph separators (nothing that hides,
    reorders or breaks text on a page)."""
    return all(unicodedata.category(c)[0] != "C" for c in value) and refused_character(value) is None


def check_agent_id(agent_id: str) -> str:
    """An agent_id as checks and codes accept it: 1-64 printable characters."""
    if not 1 <= len(agent_id) <= MAX_AGENT_ID or not _printable(agent_id) or not agent_id.strip():
        raise ValidationFailed(details={"agent_id": [f"Must be 1-{MAX_AGENT_ID} printable characters."]})
    return agent_id


def check_display_name(display_name: str) -> str:
    """A display name: 1-64 printable characters once surrounding whitespace is trimmed."""
    name = display_name.strip()
    if not 1 <= len(name) <= MAX_DISPLAY_NAME or not _printable(name):
        raise ValidationFailed(details={"display_name": [f"Must be 1-{MAX_DISPLAY_NAME} printable characters."]})
    return name


def _check_keys(uow: UnitOfWork, names: Sequence[str]) -> None:
    """ValidationFailed unless every name is a live key with the agent role (and all fit the column)."""
    bad = [name for name in names if not _live_agent_key(uow.api_keys.by_name(name))]
    if bad:
        raise ValidationFailed(details={"keys": [f"No live agent key named {name!r}." for name in bad]})
    if len(",".join(names)) > MAX_TIED_KEYS:
        raise ValidationFailed(details={"keys": [f"At most {MAX_TIED_KEYS} characters of key names in all."]})


def _live_agent_key(key: ApiKey | None) -> bool:
    """A key that exists, is not revoked and holds the agent role."""
    return key is not None and key.revoked_at is None and "agent" in key.roles


class AgentNames:
    """Sets and lists agents' display names (the operator's CLI); every change is audited."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock):
        self._uow, self._clock = uow, clock

    def name(self, agent_id: str, display_name: str, actor: Actor, keys: Sequence[str] = ()) -> AgentProfile:
        """Set (or replace) an agent's display name, tied to the agent keys named in `keys` (none: untied)."""
        profile = AgentProfile(check_agent_id(agent_id), check_display_name(display_name), self._clock.now(),
                               tuple(sorted(set(keys))))
        with self._uow(write=True) as uow:
            _check_keys(uow, profile.keys)
            previous = uow.agent_profiles.get(profile.agent_id)
            uow.agent_profiles.put(profile)
            uow.audit.append(AuditEvent(
                event=AuditEventName.AGENT_NAMED, at=profile.updated_at, actor=actor.key_name, ip=actor.ip,
                agent_id=profile.agent_id,
                details={"display_name": profile.display_name, "keys": list(profile.keys),
                         "previous": previous.display_name if previous else None}))
            uow.commit()
        return profile

    def all(self) -> list[AgentProfile]:
        """Every named agent, by agent_id."""
        with self._uow() as uow:
            return uow.agent_profiles.all()
