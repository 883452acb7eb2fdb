"""Reverse verification ("is this really support?"): an agent's contact that the customer sees, and can report,
on their signed-in account page.

One active contact per customer and ticket; a contact expires by the clock (no sweeper); the phrase the agent
reads out is sealed at rest and never written to an audit event, a log line or an error. A contact belongs to
the credential that started it (an API key, or a console user): only it reads the phrase, ends it or gets it
back by starting again; to anyone else it does not exist (admins read it without the phrase).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from verify_service.domain.contact_messages import contacts_message, generic_name
from verify_service.domain.customers import load_customer
from verify_service.domain.model import Actor, AuditEvent, Customer, SealedSecret, rfc3339_deadline
from verify_service.domain.names import AuditEventName, ContactStatus
from verify_service.domain.ports import ActivityWatch, Clock, PinVault, Texts, UnitOfWork, UnitOfWorkFactory
from verify_service.domain.text import check_ticket_ref, redact, ticket_key
from verify_service.errors import Conflict, NotFound

log = logging.getLogger(__name__)

# Read aloud and read off a screen: no 0/O, 1/I/L, 2/Z, 5/S, 8/B or U/V to mistake for one another.
PHRASE_ALPHABET = "ACDEFGHJKMNPQRTWXY34679"
PHRASE_LENGTH = 4
PHRASE_PURPOSE = "contact"  # the vault binds a sealed phrase to its customer and this purpose
CHANNELS = ("phone", "chat")


def generate_phrase(length: int = PHRASE_LENGTH) -> str:
    """A phrase from the CSPRNG."""
    return "".join(secrets.choice(PHRASE_ALPHABET) for _ in range(length))


@dataclass
class Contact:
    """An agent contacting a customer about one ticket, as stored (the phrase sealed)."""

    contact_id: str
    account_id: str
    agent_id: str
    channel: str
    ticket_ref: str
    phrase: SealedSecret
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    reported_at: datetime | None = None
    report_reason: str | None = None
    owner: str | None = None  # Actor.owner of who started it; None (made before owners were kept): nobody's

    def status_at(self, now: datetime) -> ContactStatus:
        """`ended` once ended, `expired` from expires_at on, else `active`."""
        if self.ended_at is not None:
            return ContactStatus.ENDED
        return ContactStatus.EXPIRED if now >= self.expires_at else ContactStatus.ACTIVE

    @property
    def ticket_key(self) -> str:
        """The ticket as contacts are matched by (`T-100`, `t-100 ` and `Ｔ‐100` are one ticket)."""
        return ticket_key(self.ticket_ref)


@dataclass(frozen=True)
class ContactView:
    """A contact as agents and the customer see it: the status now, the phrase only while active."""

    contact_id: str
    account_id: str
    agent_id: str
    display_name: str
    named: bool
    channel: str
    ticket_ref: str
    phrase: str | None
    status: ContactStatus
    started_at: datetime
    expires_at: datetime
    reported_at: datetime | None

    @property
    def reported(self) -> bool:
        """The customer said this contact is not them / they did not ask for it."""
        return self.reported_at is not None


@dataclass(frozen=True)
class CustomerContacts:
    """What the account page shows: the active contacts and one sentence about them in the customer's locale."""

    account_id: str
    contacts: list[ContactView] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class StartRequest:
    """What the agent's tool (or the console) asked for."""

    account_id: str
    agent_id: str
    channel: str
    ticket_ref: str


@dataclass(frozen=True)
class ContactPolicy:
    """How long a contact lasts, and the brand its texts name."""

    ttl: timedelta = timedelta(minutes=10)
    brand: str = ""  # VERIFY_BRAND_NAME; unset: texts name "Customer Support" (domain.brand)


class ContactService:
    """Starts, shows, ends and takes reports of contacts; every change is audited."""

    def __init__(self, *, uow: UnitOfWorkFactory, vault: PinVault, clock: Clock, policy: ContactPolicy, texts: Texts,
                 watch: ActivityWatch | None = None):
        self._uow, self._vault, self._clock, self._policy, self._texts = uow, vault, clock, policy, texts
        self._watch = watch

    def start(self, request: StartRequest, actor: Actor) -> tuple[ContactView, bool]:
        """The ticket's active contact by this agent and credential (False), or a new one (True).

        The agent watch admits the start (agent_id allowed, not blocked) and counts the customer. Locked and frozen
        customers may be contacted: that is when support most needs to reach the real one.
        """
        with self._acting(request, actor):
            return self._start(request, actor)

    def _acting(self, request: StartRequest, actor: Actor) -> contextlib.AbstractContextManager[None]:
        """The agent watch around a start (nothing without a watch)."""
        if self._watch is None:
            return contextlib.nullcontext()
        return self._watch.acting(request.account_id, request.agent_id, actor, "contact_start")

    def _start(self, request: StartRequest, actor: Actor) -> tuple[ContactView, bool]:
        """Start, or return the ticket's active contact, in one transaction under the customer's row lock."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            # The customer's row lock serialises starts, so a ticket never gets two active contacts.
            customer = load_customer(uow, request.account_id, for_update=True)
            existing = uow.contacts.active(customer.account_id, now, ticket_key=check_ticket_ref(request.ticket_ref))
            if existing:
                return self._existing(uow, customer, existing[0], request, actor, now), False
            phrase = generate_phrase()
            contact = Contact(
                contact_id=f"con_{secrets.token_urlsafe(18)}", account_id=customer.account_id,
                agent_id=request.agent_id, channel=request.channel, ticket_ref=request.ticket_ref,
                phrase=self._vault.seal(customer.account_id, phrase, purpose=PHRASE_PURPOSE),
                started_at=now, expires_at=now + self._policy.ttl, owner=actor.owner)
            uow.contacts.add(contact)
            uow.audit.append(_event(AuditEventName.CONTACT_STARTED, contact, actor, now, agent_id=contact.agent_id,
                                    expires_at=rfc3339_deadline(contact.expires_at)))
            view = self._view(uow, customer, contact, now, phrase, reveal=True)
            uow.commit()
        return view, True

    def _existing(self, uow: UnitOfWork, customer: Customer, contact: Contact, request: StartRequest, actor: Actor,
                  now: datetime) -> ContactView:
        """The same agent and credential get the same contact back; anyone else must wait for it to end.

        Another credential's contact is not named (its id would open nothing, but says nothing either).
        """
        if contact.owner != actor.owner or contact.agent_id != request.agent_id:
            own = {"contact_id": [contact.contact_id]} if contact.owner == actor.owner else {}
            raise Conflict(f"Ticket {request.ticket_ref!r} already has an active contact by another agent; "
                           "it must end before another one starts.", details=own)
        return self._view(uow, customer, contact, now, reveal=True)

    def get(self, contact_id: str, actor: Actor) -> ContactView:
        """A contact with its status now: its owner's (with the phrase), or any for an admin (without); else 404."""
        now = self._clock.now()
        with self._uow() as uow:
            contact = _load(uow, contact_id, actor=actor, admin_reads=True)
            return self._view(uow, load_customer(uow, contact.account_id), contact, now,
                              reveal=contact.owner == actor.owner)

    def end(self, contact_id: str, actor: Actor) -> ContactView:
        """End the owner's active contact early; an ended or expired one is returned as it is."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            contact = _load(uow, contact_id, actor=actor)
            customer = load_customer(uow, contact.account_id)
            if contact.status_at(now) is ContactStatus.ACTIVE and uow.contacts.end(contact_id, now):
                contact.ended_at = now
                uow.audit.append(_event(AuditEventName.CONTACT_ENDED, contact, actor, now,
                                        agent_id=actor.agent_id or contact.agent_id))
            view = self._view(uow, customer, contact, now, reveal=True)
            uow.commit()
        return view

    def active(self, account_id: str) -> CustomerContacts:
        """The customer's active contacts, oldest first, and the sentence the account page shows."""
        now = self._clock.now()
        with self._uow() as uow:
            customer = load_customer(uow, account_id)
            views = [self._view(uow, customer, contact, now, reveal=True)  # the customer is who the phrase is for
                     for contact in uow.contacts.active(account_id, now)]
        return CustomerContacts(account_id, views, contacts_message(
            self._texts.language(customer.locale), self._policy.brand, views))

    def report(self, account_id: str, contact_id: str, reason: str | None, actor: Actor) -> ContactView:
        """The customer says "this is not me / I did not ask for this": a security event, once per contact.

        Allowed after the contact ended or expired too (a customer may report late); it freezes nothing.
        """
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id)
            contact = _load(uow, contact_id, account_id=account_id)
            if contact.reported_at is None:
                self._record_report(uow, contact, reason, actor, now)
            view = self._view(uow, customer, contact, now, reveal=True)
            uow.commit()
        return view

    def _record_report(self, uow: UnitOfWork, contact: Contact, reason: str | None, actor: Actor,
                       now: datetime) -> None:
        """Mark the contact reported and audit it (the audit log queues the security event)."""
        if reason is not None:
            reason = redact(reason, self._vault.open(contact.account_id, contact.phrase, purpose=PHRASE_PURPOSE))
        if not uow.contacts.report(contact.contact_id, now, reason):
            return  # a concurrent report was first: one event per contact
        status = contact.status_at(now)
        contact.reported_at, contact.report_reason = now, reason
        # The events webhook gets only the details: they name the agent and ticket for the security team.
        uow.audit.append(_event(AuditEventName.CONTACT_REPORTED, contact, actor, now, agent_id=contact.agent_id,
                                status=str(status), reason=reason, reported_agent_id=contact.agent_id,
                                ticket_ref=contact.ticket_ref, channel=contact.channel))

    def _view(self, uow: UnitOfWork, customer: Customer, contact: Contact, now: datetime,
              phrase: str | None = None, *, reveal: bool = False) -> ContactView:
        """What callers see: the display name in the customer's language, the phrase only while active (and only
        with `reveal`: to the contact's owner and the customer)."""
        status = contact.status_at(now)
        shown = status is ContactStatus.ACTIVE and reveal
        if shown and phrase is None:
            phrase = self._vault.open(contact.account_id, contact.phrase, purpose=PHRASE_PURPOSE)
        profile = uow.agent_profiles.get(contact.agent_id)
        if profile is not None and not profile.shown_for(contact.owner):
            profile = None  # a name tied to keys is shown only for contacts those keys started
        words = self._texts.language(customer.locale)
        name = profile.display_name if profile else generic_name(words, self._policy.brand)
        return ContactView(
            contact_id=contact.contact_id, account_id=contact.account_id, agent_id=contact.agent_id,
            display_name=name, named=profile is not None, channel=contact.channel, ticket_ref=contact.ticket_ref,
            phrase=phrase if shown else None, status=status,
            started_at=contact.started_at, expires_at=contact.expires_at, reported_at=contact.reported_at)


def _load(uow: UnitOfWork, contact_id: str, *, account_id: str | None = None, actor: Actor | None = None,
          admin_reads: bool = False) -> Contact:
    """The contact, or NotFound: also for another customer's contact and, with `actor`, for a contact another
    credential started (unless `admin_reads` and the actor is an admin): its existence is not revealed."""
    contact = uow.contacts.get(contact_id)
    if contact is None or (account_id is not None and contact.account_id != account_id):
        raise NotFound(f"No contact {contact_id[:80]!r}.")
    if actor is not None and contact.owner != actor.owner and not (admin_reads and "admin" in actor.roles):
        log.warning("contact %s refused to %s: not its owner", contact.contact_id, actor.owner)
        raise NotFound(f"No contact {contact_id[:80]!r}.")
    return contact


def _event(name: str, contact: Contact, actor: Actor, now: datetime, *, agent_id: str | None,
           **details: object) -> AuditEvent:
    """An audit event about a contact (never its phrase)."""
    return AuditEvent(event=name, at=now, account_id=contact.account_id, actor=actor.key_name, ip=actor.ip,
                      agent_id=agent_id, channel=contact.channel, ticket_ref=contact.ticket_ref,
                      details={"contact_id": contact.contact_id, **details})
