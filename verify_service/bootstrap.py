"""Builds the services from Settings: the one place that knows which adapter serves which port."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from verify_service.adapters.anchors import FileAnchorSink
from verify_service.adapters.archive_files import SegmentFiles
from verify_service.adapters.crypto import (
    ArgonPasswordHasher,
    AuditSigner,
    KeyRingVault,
    hash_api_key,
    new_api_key,
)
from verify_service.adapters.delivery.senders import ConsoleSender, TwilioSender, WebhookSender
from verify_service.adapters.delivery.worker import BackgroundChore, OutboxWorker
from verify_service.adapters.entry_page_limits import InProcessPageLimit, RedisPageLimit
from verify_service.adapters.metrics import (
    record_agent_anomaly,
    record_agent_blocked,
    record_approval,
    record_check,
    record_code_sent,
    record_delivery,
    record_sms_refusal,
    record_watch_missed,
)
from verify_service.adapters.ratelimit import TokenBucketLimiter
from verify_service.adapters.redis.agent_watch import RedisAgentActivity
from verify_service.adapters.redis.client import connect
from verify_service.adapters.redis.counters import RedisAttemptCounter
from verify_service.adapters.redis.revocations import RedisRevocationFeed
from verify_service.adapters.sql.agent_watch import SqlAgentActivity
from verify_service.adapters.sql.archive import SqlArchiveLedger
from verify_service.adapters.sql.counters import SqlAttemptCounter
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.records import PostgresCheckRecorder
from verify_service.adapters.sql.retention import SqlTurns, sql_sweeps
from verify_service.adapters.sql.uow import SqlUnitOfWorkFactory
from verify_service.adapters.texts import BabelTexts
from verify_service.config import RETENTION_KINDS, Settings, retention_floors
from verify_service.domain.agent_identity import AgentIdentity
from verify_service.domain.agent_watch import AgentWatch, WatchPolicy
from verify_service.domain.agents import AgentNames
from verify_service.domain.approvals import ApprovalFactor, ApprovalPolicy, ApprovalService
from verify_service.domain.archive import AuditArchiver
from verify_service.domain.audit import AuditAnchoring, AuditReader
from verify_service.domain.checks import CheckService, Factor, PinFactor
from verify_service.domain.closure import ClosureService
from verify_service.domain.codes import CodeFactor, CodePolicy, CodeService
from verify_service.domain.contacts import ContactPolicy, ContactService
from verify_service.domain.customers import CustomerService
from verify_service.domain.delivery import DeliveryPolicy, OutboxAnchorSink, OutboxService
from verify_service.domain.entry_links import EntryLinkPolicy, EntryLinkService, PageLimit
from verify_service.domain.keypad import KeypadCalls, KeypadPolicy
from verify_service.domain.keys import KeyService
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.locks import CheckHistory, LockService
from verify_service.domain.ports import (
    AgentActivity,
    AnchorSink,
    AttemptCounter,
    Clock,
    FailureHistory,
    MessageSender,
    PinVault,
)
from verify_service.domain.retention import RetentionPolicy, RetentionService, Sweep
from verify_service.domain.sms_guard import SmsCaps, SmsGuard
from verify_service.domain.totp import TotpService
from verify_service.domain.users import UserService

log = logging.getLogger(__name__)


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
    anchors: AuditAnchoring
    archive: AuditArchiver
    codes: CodeService
    totp: TotpService
    outbox: OutboxService
    worker: OutboxWorker
    limiter: TokenBucketLimiter
    users: UserService
    contacts: ContactService
    agents: AgentNames
    approvals: ApprovalService
    watch: AgentWatch
    keypad: KeypadCalls
    entry_links: EntryLinkService
    entry_page_limit: PageLimit
    closure: ClosureService
    retention: RetentionService
    redis_client: redis.Redis | None = None

    def scheduled_retention(self) -> BackgroundChore:
        """The worker chore that runs retention when this process takes the deployment's turn."""
        return BackgroundChore(self.retention.due, self.retention.run_logged, "retention")

    def close(self) -> None:
        """Stop the outbox thread and release pooled connections."""
        self.worker.stop()
        self.keys.close()
        self.db.dispose()
        if self.redis_client is not None:
            self.redis_client.close()


def warn_unrestricted_agent_keys(services: Services) -> list[str]:
    """Production start-up: one warning per live agent key that may assert any agent_id; their names."""
    try:
        names = [key.name for key in services.keys.unrestricted_agent_keys()]
    except Exception:  # not migrated yet (`db upgrade` builds the app too), or the database is down
        log.info("could not list API keys at start-up to warn about unrestricted agent keys")
        return []
    for name in names:
        log.warning("API key %r (agent) may assert any agent_id but a console username: replace it with a key "
                    "made with `keys create --agent-ids PATTERN`, then revoke it (README, API keys)", name)
    return names


def policy_from(settings: Settings) -> LockoutPolicy:
    """The lockout policy the settings describe."""
    return LockoutPolicy(threshold=settings.lockout_threshold,
                         window=timedelta(seconds=settings.failure_window_seconds),
                         lock_for=timedelta(seconds=settings.lockout_seconds))


def code_policy_from(settings: Settings) -> CodePolicy:
    """The one-time code policy the settings describe."""
    return CodePolicy(ttl=timedelta(seconds=settings.code_ttl_seconds),
                      resend_after=timedelta(seconds=settings.code_resend_seconds),
                      max_sends_per_hour=settings.code_max_sends_per_hour, max_wrong=settings.code_max_wrong,
                      phone_change_hold=timedelta(seconds=settings.phone_change_hold_seconds),
                      allowed_countries=settings.sms_allowed_countries, brand=settings.brand_name)


def approval_policy_from(settings: Settings) -> ApprovalPolicy:
    """The approval request policy the settings describe."""
    return ApprovalPolicy(ttl=timedelta(seconds=settings.approval_ttl_seconds),
                          max_per_hour=settings.approval_max_per_hour, brand=settings.brand_name)


def entry_link_policy_from(settings: Settings) -> EntryLinkPolicy:
    """The entry link policy the settings describe."""
    return EntryLinkPolicy(ttl=timedelta(seconds=settings.entry_link_ttl_seconds),
                           public_url=settings.entry_link_public_url,
                           max_per_customer=settings.entry_link_max_per_customer_per_hour,
                           max_per_agent=settings.entry_link_max_per_agent_per_hour,
                           max_per_key=settings.entry_link_max_per_key_per_hour, brand=settings.brand_name)


def build_page_limit(settings: Settings, redis_client: redis.Redis | None) -> PageLimit:
    """The entry page's count per client address: shared in Redis when there is a client, else per process."""
    per_minute = settings.entry_page_max_per_address_per_minute
    if redis_client is not None:
        return RedisPageLimit(redis_client, per_minute)
    return InProcessPageLimit(per_minute)


def sms_caps_from(settings: Settings) -> SmsCaps:
    """The SMS pumping caps the settings describe."""
    return SmsCaps(per_number=settings.sms_max_per_number_per_hour, per_key=settings.sms_max_per_key_per_hour,
                   total=settings.sms_max_per_hour)


def delivery_policy_from(settings: Settings) -> DeliveryPolicy:
    """A claim's lease outlasts a whole batch of slow sends, so no second worker takes them over."""
    batch = 10
    lease = timedelta(seconds=batch * (settings.http_timeout_seconds + 1) + 30)
    return DeliveryPolicy(give_up=timedelta(seconds=settings.outbox_give_up_seconds), lease=lease, batch=batch)


def build_counter(db: SqlDatabase, redis_client: redis.Redis | None, history: FailureHistory | None = None,
                  activity: AgentActivity | None = None) -> AttemptCounter:
    """Redis when there is a client (a forgotten counter is rebuilt from `history`), else the database.

    With the agent watch's window in the same store (`activity`), checks count both in one script call (Redis)
    or one write transaction (SQL).
    """
    if redis_client is not None:
        watch = activity if isinstance(activity, RedisAgentActivity) else None
        return RedisAttemptCounter(redis_client, history=history, watch=watch)
    return SqlAttemptCounter(db, watch=activity if isinstance(activity, SqlAgentActivity) else None)


def watch_policy_from(settings: Settings) -> WatchPolicy:
    """The agent misuse thresholds the settings describe."""
    return WatchPolicy(max_customers=settings.agent_max_customers, max_failures=settings.agent_max_failures,
                       window=timedelta(seconds=settings.agent_window_seconds), block=settings.agent_block,
                       keypad_max_failures=settings.agent_keypad_max_failures)


def build_activity(db: SqlDatabase, redis_client: redis.Redis | None) -> AgentActivity:
    """The agent watch's window: in Redis when there is a client, else in the database."""
    if redis_client is not None:
        return RedisAgentActivity(redis_client)
    return SqlAgentActivity(db)


def build_watch(settings: Settings, activity: AgentActivity, uow: SqlUnitOfWorkFactory, clock: Clock) -> AgentWatch:
    """The agent watch over its window, with the binding of agent_ids to credentials (console usernames cached
    as long as API keys are)."""
    identity = AgentIdentity(uow=uow, cache_seconds=settings.api_key_cache_seconds)
    return AgentWatch(uow=uow, activity=activity, clock=clock, policy=watch_policy_from(settings),
                      on_raised=record_agent_anomaly, on_refused=record_agent_blocked, identity=identity,
                      on_missed=record_watch_missed)


def build_senders(settings: Settings) -> dict[str, MessageSender]:
    """The sender for SMS messages (by VERIFY_DELIVERY_BACKEND) and for security events."""
    timeout = settings.http_timeout_seconds
    sms: MessageSender
    if settings.delivery_backend == "webhook":
        assert settings.sms_webhook_url is not None
        sms = WebhookSender(settings.sms_webhook_url, settings.sms_webhook_secret, timeout=timeout)
    elif settings.delivery_backend == "twilio":
        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        sms = TwilioSender(account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
                           sender=settings.twilio_from, base_url=settings.twilio_base_url, timeout=timeout)
    else:
        sms = ConsoleSender()
    senders: dict[str, MessageSender] = {"sms": sms}
    if settings.events_webhook_url:
        senders["event"] = WebhookSender(settings.events_webhook_url, settings.events_webhook_secret, timeout=timeout)
    return senders


def anchor_sinks(settings: Settings, vault: KeyRingVault, signer: AuditSigner) -> list[AnchorSink]:
    """Where scheduled audit anchors go (none: anchoring is off); the file first, as the anchors' age is read
    from the first."""
    if not settings.audit_anchoring:
        return []
    sinks: list[AnchorSink] = []
    if settings.audit_anchor_file:
        sinks.append(FileAnchorSink(Path(settings.audit_anchor_file), signer))
    if settings.audit_anchor_webhook:
        sinks.append(OutboxAnchorSink(vault, signer))
    return sinks


def archive_store(settings: Settings) -> SegmentFiles | None:
    """Where audit archive segments go (None: audit events are never archived, so never deleted)."""
    return SegmentFiles(Path(settings.audit_archive_dir)) if settings.audit_archive_dir else None
def retention_policy_from(settings: Settings) -> RetentionPolicy:
    """How long each kind is kept, and the floors no setting goes under (config.retention_floors)."""
    values = {"failure_window_seconds": settings.failure_window_seconds, "lockout_seconds": settings.lockout_seconds,
              "agent_window_seconds": settings.agent_window_seconds}
    return RetentionPolicy(keep={kind: settings.keep(kind) for kind in RETENTION_KINDS},
                           floors=retention_floors(values))


def build_retention(settings: Settings, db: SqlDatabase, clock: Clock, archive: AuditArchiver) -> RetentionService:
    """Every retention sweep, run by `retention run` and on the worker's schedule. Audit events leave the database
    only through the archive (signed segments first): with no VERIFY_AUDIT_ARCHIVE_DIR they are kept."""
    sweeps: list[Sweep] = sql_sweeps(db)
    if archive.enabled:
        sweeps.append(archive)
    every = settings.retention_schedule_seconds
    return RetentionService(sweeps=sweeps, policy=retention_policy_from(settings), clock=clock, turns=SqlTurns(db),
                            every=timedelta(seconds=every) if every else None)


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    """Wire every port to its adapter."""
    clock = clock or SystemClock()
    db = SqlDatabase(settings.database_url, timeout=settings.db_timeout_seconds)
    vault = KeyRingVault.from_setting(settings.pin_keys)
    signer = AuditSigner.from_setting(settings.audit_keys)
    uow = SqlUnitOfWorkFactory(db, signer, events_vault=vault if settings.events_webhook_url else None)
    # One Redis client (a thread-safe pool) for every adapter in Redis; Services.close releases it.
    redis_client = connect(settings.redis_url, timeout=settings.redis_timeout_seconds) if settings.redis_url else None
    activity = build_activity(db, redis_client)
    counter = build_counter(db, redis_client, CheckHistory(uow=uow), activity)
    policy, code_policy = policy_from(settings), code_policy_from(settings)
    sinks = anchor_sinks(settings, vault, signer)
    webhook_sink = next((sink for sink in sinks if isinstance(sink, OutboxAnchorSink)), None)
    outbox = OutboxService(uow=uow, vault=vault, clock=clock, senders=build_senders(settings),
                           policy=delivery_policy_from(settings), on_result=record_delivery,
                           on_delivered=webhook_sink.delivered if webhook_sink else None)
    anchors = AuditAnchoring(uow=uow, signer=signer, clock=clock, sinks=sinks,
                             every=timedelta(seconds=settings.audit_anchor_seconds or 300))
    worker = OutboxWorker(outbox, anchors=anchors)
    if settings.outbox_inprocess:
        uow.after_outbox = worker.kick  # deliver promptly after the commit that queued a message
    totp = TotpService(uow=uow, vault=vault, clock=clock, issuer=settings.brand_name or "Customer Support")
    watch = build_watch(settings, activity, uow, clock)
    factors: dict[str, Factor] = {"pin": PinFactor(vault=vault),
                                  "code": CodeFactor(uow=uow, vault=vault, totp=totp, max_wrong=code_policy.max_wrong),
                                  "approval": ApprovalFactor(uow=uow, on_used=record_approval)}
    checks = CheckService(uow=uow, counter=counter, clock=clock, policy=policy, factors=factors,
                          ttl=timedelta(seconds=settings.verification_ttl_seconds),
                          separate_counter=not settings.single_instance,
                          recorder=PostgresCheckRecorder(db, signer) if db.dialect == "postgresql" else None,
                          on_checked=record_check, watch=watch, on_unwatched=record_watch_missed,
                          agent_pin_entry=settings.agent_pin_entry)
    worker.chores.append(checks.settle)  # counts answered 503 are settled within a turn once Redis answers
    archive = AuditArchiver(ledger=SqlArchiveLedger(db), signer=signer, clock=clock, store=archive_store(settings))
    retention = build_retention(settings, db, clock, archive)
    texts = BabelTexts()
    locks = LockService(uow=uow, counter=counter, clock=clock, policy=policy)
    services = Services(
        settings=settings, db=db, counter=counter, vault=vault, clock=clock, uow=uow,
        keys=KeyService(uow=uow, clock=clock, generate=new_api_key, digest=hash_api_key,
                        feed=RedisRevocationFeed(settings.redis_url, timeout=settings.redis_timeout_seconds)
                        if settings.redis_url else None, cache_seconds=settings.api_key_cache_seconds),
        customers=CustomerService(uow=uow, vault=vault, clock=clock, default_locale=settings.default_locale),
        checks=checks,
        locks=locks,
        audit=AuditReader(uow=uow, signer=signer), anchors=anchors,
        archive=archive,
        codes=CodeService(uow=uow, vault=vault, clock=clock, counter=counter, policy=code_policy, lock_policy=policy,
                          guard=SmsGuard(caps=sms_caps_from(settings), vault=vault, on_refused=record_sms_refusal),
                          texts=texts, on_sent=record_code_sent, watch=watch),
        totp=totp, outbox=outbox, worker=worker,
        limiter=TokenBucketLimiter(settings.rate_limit_per_second, 5 * settings.rate_limit_per_second),
        # Sign-in throttles have no check records to rebuild from.
        users=UserService(uow=uow, hasher=ArgonPasswordHasher(), counter=build_counter(db, redis_client), clock=clock),
        contacts=ContactService(uow=uow, vault=vault, clock=clock, policy=ContactPolicy(
            ttl=timedelta(seconds=settings.contact_ttl_seconds), brand=settings.brand_name), watch=watch,
        texts=texts),
        agents=AgentNames(uow=uow, clock=clock),
        approvals=ApprovalService(uow=uow, clock=clock, counter=counter, checks=checks,
                                  policy=approval_policy_from(settings), lock_policy=policy, texts=texts,
                                  on_event=record_approval, watch=watch),
        watch=watch, redis_client=redis_client, retention=retention,
        closure=ClosureService(uow=uow, counter=counter, clock=clock),
        keypad=KeypadCalls(checks=checks, status=locks.status, policy=KeypadPolicy(
            account_prefix=settings.ivr_account_prefix, max_tries=settings.ivr_max_tries)),
        entry_links=EntryLinkService(uow=uow, vault=vault, clock=clock, checks=checks, status=locks.status,
                                     policy=entry_link_policy_from(settings), texts=texts, watch=watch),
        entry_page_limit=build_page_limit(settings, redis_client),
    )
    worker.chores.append(services.scheduled_retention())
    return services
