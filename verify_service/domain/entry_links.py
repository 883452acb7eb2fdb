"""Entry links for chat: the agent sends a single-use link, the customer types the PIN on the service's own page.

The link's token (256 bits from the CSPRNG) is shown once, in the answer that made it; only a keyed MAC of it is
stored, so a copy of the database opens no link. A submission is a check through CheckService (`entry: link`, the
link's channel, agent_id and ticket), under the customer's one lockout. A wrong PIN leaves the link open for a retry
within the lockout rules; a match, a lock or a freeze kills it. An expired, used or unknown token is one answer: the
link is no longer valid. A link belongs to the credential that made it (its owner reads its status; admins read any).
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from verify_service.domain.checks import CheckRequest, CheckService
from verify_service.domain.contact_messages import generic_name
from verify_service.domain.customers import load_customer
from verify_service.domain.model import Actor, AuditEvent, SealedSecret, Verification, rfc3339_deadline
from verify_service.domain.names import AuditEventName, CheckResult, Entry, EntryLinkStatus
from verify_service.domain.ports import ActivityWatch, Clock, PinVault, Texts, UnitOfWork, UnitOfWorkFactory
from verify_service.domain.standing import Standing
from verify_service.errors import Conflict, NotFound, RateLimited, VerifyError

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
LINK_KEY_NAME = "entry-link"  # the `actor` of the checks the page makes (the customer has no key)
OPEN = frozenset({EntryLinkStatus.PENDING, EntryLinkStatus.REJECTED})
PIN_DIGITS = re.compile(r"[0-9]{6}")
# A claim older than this belongs to a request that died mid-check; the link may be used again.
CLAIM_TIMEOUT = timedelta(seconds=60)
_RESULT_STATUS = {CheckResult.VERIFIED: EntryLinkStatus.VERIFIED, CheckResult.REJECTED: EntryLinkStatus.REJECTED,
                  CheckResult.LOCKED: EntryLinkStatus.LOCKED, CheckResult.FROZEN: EntryLinkStatus.FROZEN}


def token_message(token: str) -> str:
    """What the stored MAC is of (a purpose prefix, so the MAC key's other uses never collide with it)."""
    return f"entry-link|{token}"


@dataclass
class EntryLink:
    """A link as stored: a MAC of its token, never the token."""

    link_id: str
    account_id: str
    agent_id: str
    channel: str
    ticket_ref: str | None
    token_mac: SealedSecret
    owner: str  # Actor.owner of who made it: only they read it (and admins, without the URL)
    created_at: datetime
    expires_at: datetime
    status: str = EntryLinkStatus.PENDING
    tries: int = 0
    verification_id: str | None = None  # the latest check made through the link
    submission: str | None = None  # the form (its nonce) whose check runs or ran last
    checking_since: datetime | None = None
    used_at: datetime | None = None

    def status_at(self, now: datetime) -> EntryLinkStatus:
        """The stored status, or `expired` for an open link past its lifetime."""
        status = EntryLinkStatus(self.status)
        return EntryLinkStatus.EXPIRED if status in OPEN and now >= self.expires_at else status

    def usable_at(self, now: datetime) -> bool:
        """Open and inside its lifetime."""
        return self.status_at(now) in OPEN


@dataclass(frozen=True)
class LinkAsk:
    """What the agent's tool (or the console) asked for."""

    account_id: str
    agent_id: str
    channel: str
    ticket_ref: str | None = None


@dataclass(frozen=True)
class CreatedLink:
    """A new link and its single-use URL (the only time the token is seen)."""

    link: EntryLink
    url: str


@dataclass(frozen=True)
class LinkView:
    """A link as its owner and admins see it: its status now and the latest check (never a digit)."""

    link_id: str
    account_id: str
    agent_id: str
    channel: str
    ticket_ref: str | None
    status: EntryLinkStatus
    tries: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    verification: Verification | None

    @property
    def verification_id(self) -> str | None:
        """The latest check's id."""
        return self.verification.verification_id if self.verification else None


@dataclass(frozen=True)
class LinkPage:
    """What the customer's page shows: the brand, who asked, the form's fields, and the customer's standing."""

    locale: str
    brand: str
    display_name: str
    needs_code: bool
    standing: Standing
    tries: int


@dataclass(frozen=True)
class Submitted:
    """A submission's outcome: `checked` (a check ran, or this form's earlier one), `invalid_input` (nothing counted),
    `busy` (this form's check still runs, or another form's)."""

    kind: str
    verification: Verification | None = None
    own: bool = True  # `busy`: this very form's check (False: another form's)
    locale: str = "en"  # the customer's language for the page that shows the answer


@dataclass(frozen=True)
class EntryLinkPolicy:
    """Lifetime, the page's public address, and the hourly caps."""

    ttl: timedelta = timedelta(minutes=10)
    public_url: str | None = None  # scheme and host the customer opens; None: entry links are off
    max_per_customer: int = 5
    max_per_agent: int = 30
    max_per_key: int = 600  # per credential (Actor.owner): an unbound key may assert any agent_id
    brand: str = "Support"


class PageLimit(Protocol):
    """How often one client address may open or post the customer's page (adapters/entry_page_limits.py)."""

    def hit(self, address: str, now: datetime) -> float | None:
        """Count one request from the address; None when allowed, else the seconds to wait. DependencyUnavailable
        when the count's store does not answer (the page fails closed)."""
        ...


class InvalidLink(VerifyError):
    """Expired, used, unknown or turned off: one answer, whatever the reason."""

    status, code, default_message = 404, "not_found", "This link is no longer valid."


class EntryLinkService:
    """Makes links (capped, owned, audited), shows the customer's page and checks what the customer types."""

    def __init__(self, *, uow: UnitOfWorkFactory, vault: PinVault, clock: Clock, checks: CheckService,
                 status: Callable[[str], Standing], policy: EntryLinkPolicy, texts: Texts,
                 watch: ActivityWatch | None = None):
        self._uow, self._vault, self._clock, self._checks = uow, vault, clock, checks
        self._status, self._policy, self._texts, self._watch = status, policy, texts, watch

    @property
    def enabled(self) -> bool:
        """Entry links are on (VERIFY_ENTRY_LINK_PUBLIC_URL is set)."""
        return self._policy.public_url is not None

    def create(self, ask: LinkAsk, actor: Actor) -> CreatedLink:
        """Admitted by the agent watch (agent_id bound to the credential, not blocked), which counts the customer."""
        if self._policy.public_url is None:
            raise NotFound("Entry links are not configured here (VERIFY_ENTRY_LINK_PUBLIC_URL).")
        watching = contextlib.nullcontext() if self._watch is None else \
            self._watch.acting(ask.account_id, ask.agent_id, actor, "entry_link")
        with watching:
            return self._create(ask, actor, self._policy.public_url)

    def _create(self, ask: LinkAsk, actor: Actor, public_url: str) -> CreatedLink:
        """Refuse a frozen or locked customer and a full cap; else store the link (its token only as a MAC)."""
        known = self._status(ask.account_id)  # 404 for an unknown customer
        if known.frozen:
            raise Conflict("The customer is frozen; no entry link is made.", details={"reason": "frozen"})
        if known.locked:
            raise Conflict("The customer is locked after too many failed checks; no entry link is made.",
                           details={"reason": "locked"})
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        with self._uow(write=True) as uow:
            customer = load_customer(uow, ask.account_id, for_update=True)  # serialises one customer's links
            self._enforce_caps(uow, ask, actor.owner, now)
            link = EntryLink(link_id=f"eln_{secrets.token_urlsafe(18)}", account_id=customer.account_id,
                             agent_id=ask.agent_id, channel=ask.channel, ticket_ref=ask.ticket_ref,
                             token_mac=self._vault.mac(token_message(token)), owner=actor.owner, created_at=now,
                             expires_at=now + self._policy.ttl)
            uow.entry_links.add(link)
            uow.audit.append(_event(AuditEventName.ENTRY_LINK_CREATED, link, now, actor.key_name, actor.ip,
                                    expires_at=rfc3339_deadline(link.expires_at)))
            uow.commit()
        return CreatedLink(link, f"{public_url.rstrip('/')}/entry/{token}")

    def _enforce_caps(self, uow: UnitOfWork, ask: LinkAsk, owner: str, now: datetime) -> None:
        """429 past the hourly caps: per customer (no flood of links), per agent (no harvest of many customers),
        per key (a key not bound to agent_ids could assert a new agent_id for each link)."""
        caps = (("customer", {"account_id": ask.account_id}, self._policy.max_per_customer),
                ("agent", {"agent_id": ask.agent_id}, self._policy.max_per_agent),
                ("key", {"owner": owner}, self._policy.max_per_key))
        for whose, which, cap in caps:
            recent = uow.entry_links.created_since(now - HOUR, **which)
            if len(recent) >= cap:
                wait = (recent[-cap] + HOUR - now).total_seconds()
                raise RateLimited(f"Too many entry links for this {whose} in the last hour.", retry_after=wait,
                                  details={"reason": f"{whose}_cap"})

    def get(self, link_id: str, actor: Actor) -> LinkView:
        """A link's status now with its latest check: its owner's, or any for an admin; else 404."""
        with self._uow() as uow:
            link = uow.entry_links.get(link_id)
            if link is None or (link.owner != actor.owner and "admin" not in actor.roles):
                raise NotFound(f"No entry link {link_id[:80]!r}.")
            found = uow.verifications.get(link.verification_id) if link.verification_id else None
        return LinkView(link_id=link.link_id, account_id=link.account_id, agent_id=link.agent_id,
                        channel=link.channel, ticket_ref=link.ticket_ref, status=link.status_at(self._clock.now()),
                        tries=link.tries, created_at=link.created_at, expires_at=link.expires_at,
                        used_at=link.used_at, verification=found)

    def page(self, token: str) -> LinkPage:
        """The customer's page of a usable link; InvalidLink for any other token (nothing is changed: chat apps
        open links to preview them)."""
        return self._page(self._usable(token))

    def _page(self, link: EntryLink) -> LinkPage:
        """The page of one link, in its customer's language."""
        standing = self._status(link.account_id)
        with self._uow() as uow:
            customer = load_customer(uow, link.account_id)
            profile = uow.agent_profiles.get(link.agent_id)
        if profile is not None and not profile.shown_for(link.owner):
            profile = None  # a name tied to keys is shown only for links those keys made (as contacts do)
        words = self._texts.language(customer.locale)
        name = profile.display_name if profile else generic_name(words, self._policy.brand)
        return LinkPage(locale=words.locale, brand=self._policy.brand, display_name=name,
                        needs_code=customer.totp is not None, standing=standing, tries=link.tries)

    def submit(self, token: str, submission: str, pin: str, code: str | None, ip: str | None) -> Submitted:
        """Check what the customer typed, once per form: a repeat of the same form gets the first answer."""
        if not 16 <= len(submission) <= 64:
            submission = secrets.token_urlsafe(16)  # a form without a nonce of its own: never a repeat
        link = self._find(token)
        if link is not None and link.submission == submission:
            return self._repeat(link)
        if link is None or not link.usable_at(self._clock.now()) or not self._agent_allowed(link):
            raise InvalidLink()
        page = self._page(link)
        if PIN_DIGITS.fullmatch(pin) is None or (page.needs_code and PIN_DIGITS.fullmatch(code or "") is None):
            return Submitted("invalid_input")
        if not self._claim(link, submission):
            taken = self._find(token)  # the same form sent at once (a double tap) took it: wait for its answer
            return self._repeat(taken) if taken and taken.submission == submission else Submitted("busy", own=False)
        verification = self._check(link, submission, pin, code if page.needs_code else None, ip)
        return Submitted("checked", verification, locale=page.locale)

    def _repeat(self, link: EntryLink) -> Submitted:
        """The same form again (a double tap, a reload): its check's answer, or `busy` while it runs."""
        if link.checking_since is not None or link.verification_id is None:
            return Submitted("busy")
        with self._uow() as uow:
            locale = load_customer(uow, link.account_id).locale
        return Submitted("checked", self._checks.get(link.verification_id),
                         locale=self._texts.language(locale).locale)

    def _claim(self, link: EntryLink, submission: str) -> bool:
        """Take the link for this form's check (one check at a time per link); False when another form holds it."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            taken = uow.entry_links.claim(link.link_id, submission, now, now - CLAIM_TIMEOUT)
            uow.commit()
        return taken

    def _check(self, link: EntryLink, submission: str, pin: str, code: str | None, ip: str | None) -> Verification:
        """The check, as the link's agent on the link's channel and ticket; then the link's new status."""
        request = CheckRequest(account_id=link.account_id, channel=link.channel, agent_id=link.agent_id, pin=pin,
                               code=code, ticket_ref=link.ticket_ref, entry=Entry.LINK)
        actor = Actor(key_name=LINK_KEY_NAME, ip=ip, roles=("link",))
        try:
            verification = self._checks.check(request, actor)
        except Exception:
            self._release(link.link_id, submission)  # nothing was counted: the same form may be sent again
            raise
        status = _RESULT_STATUS[CheckResult(verification.result)]
        if status is EntryLinkStatus.REJECTED and verification.locked_until is not None:
            status = EntryLinkStatus.LOCKED  # the wrong PIN that locked the customer
        now = self._clock.now()
        with self._uow(write=True) as uow:
            if uow.entry_links.finish(link.link_id, submission, status, verification.verification_id, now) \
                    and status not in OPEN:
                uow.audit.append(_event(AuditEventName.ENTRY_LINK_USED, link, now, LINK_KEY_NAME, ip,
                                        status=str(status), verification_id=verification.verification_id))
            uow.commit()
        return verification

    def _release(self, link_id: str, submission: str) -> None:
        """Give the link back after a check that failed (best effort: the store may be down too)."""
        try:
            with self._uow(write=True) as uow:
                uow.entry_links.release(link_id, submission)
                uow.commit()
        except Exception:
            log.warning("an entry link whose check failed could not be released; it frees itself in %d s",
                        CLAIM_TIMEOUT.seconds)

    def _agent_allowed(self, link: EntryLink) -> bool:
        """False while the agent who made the link is blocked by the agent watch (their links stop working too)."""
        if self._watch is None:
            return True
        kind, _, name = link.owner.partition(":")
        maker = Actor(key_name="console", agent_id=name) if kind == "user" else Actor(key_name=name, roles=("agent",))
        try:
            self._watch.guard(link.agent_id, maker, "entry_link")
        except RateLimited:
            return False
        return True

    def _usable(self, token: str) -> EntryLink:
        """The usable link of a token, else InvalidLink."""
        link = self._find(token)
        if link is None or not link.usable_at(self._clock.now()) or not self._agent_allowed(link):
            raise InvalidLink()
        return link

    def _find(self, token: str) -> EntryLink | None:
        """The link whose stored MAC is the token's under one of the ring's keys (compared in constant time)."""
        if self._policy.public_url is None or not 20 <= len(token) <= 64 or not token.isascii():
            return None  # links turned off open nothing, not even ones made before
        message = token_message(token)
        with self._uow() as uow:
            link = uow.entry_links.by_token_mac([mac.blob for mac in self._vault.macs(message)])
        return link if link is not None and self._vault.mac_matches(message, link.token_mac) else None


def _event(name: str, link: EntryLink, at: datetime, actor: str, ip: str | None, **details: object) -> AuditEvent:
    """An audit event about an entry link (never its token or URL)."""
    return AuditEvent(event=name, at=at, account_id=link.account_id, actor=actor, agent_id=link.agent_id,
                      channel=link.channel, ticket_ref=link.ticket_ref, ip=ip,
                      details={"entry_link_id": link.link_id, **details})
