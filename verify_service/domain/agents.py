"""Agents' display names: what a customer sees instead of the agent_id when support contacts them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from verify_service.domain.model import Actor, AuditEvent
from verify_service.domain.names import AuditEventName
from verify_service.domain.ports import Clock, UnitOfWorkFactory
from verify_service.domain.text import refused_character
from verify_service.errors import ValidationFailed

MAX_AGENT_ID = 64
MAX_DISPLAY_NAME = 64


@dataclass(frozen=True)
class AgentProfile:
    """The name the operator chose for an agent (an API agent_id, or a console username)."""

    agent_id: str
    display_name: str
    updated_at: datetime


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


class AgentNames:
    """Sets and lists agents' display names (the operator's CLI); every change is audited."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock):
        self._uow, self._clock = uow, clock

    def name(self, agent_id: str, display_name: str, actor: Actor) -> AgentProfile:
        """Set (or replace) an agent's display name."""
        profile = AgentProfile(check_agent_id(agent_id), check_display_name(display_name), self._clock.now())
        with self._uow(write=True) as uow:
            previous = uow.agent_profiles.get(profile.agent_id)
            uow.agent_profiles.put(profile)
            uow.audit.append(AuditEvent(
                event=AuditEventName.AGENT_NAMED, at=profile.updated_at, actor=actor.key_name, ip=actor.ip,
                agent_id=profile.agent_id,
                details={"display_name": profile.display_name,
                         "previous": previous.display_name if previous else None}))
            uow.commit()
        return profile

    def all(self) -> list[AgentProfile]:
        """Every named agent, by agent_id."""
        with self._uow() as uow:
            return uow.agent_profiles.all()
