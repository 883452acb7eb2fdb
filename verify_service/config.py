"""Settings read once from the VERIFY_* environment; bad values fail fast."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from verify_service.errors import ConfigError
from verify_service.secret_rules import repeated_secrets, secret_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-secret-key-change-me"
# Development key ring: a newcomer's `make run` works without configuration,
# and production refuses to start with it (see Settings.check_production).
DEV_PIN_KEYS = "dev:dev-only-pin-key-never-use-in-production-0000"
DEV_AUDIT_KEYS = "dev:dev-only-audit-key-never-use-in-production-00"
SUPPORTED_LOCALES = ("ja", "en", "zh", "ko")
IVR_LANGUAGES = ("ja", "en")  # the keypad call's prompts (verify_service/api/ivr_prompts.py)
DELIVERY_BACKENDS = ("console", "webhook", "twilio")
# How long each kind of data is kept in the database (RETENTION_VARIABLES; README "Retention" says why).
RETENTION_DEFAULTS = {
    "verifications": timedelta(days=400),  # check records: a year of disputes, plus a month
    "audit_events": timedelta(days=400),  # archived before they leave the database
    "codes": timedelta(days=30),  # one-time codes (their MACs) and their status
    "outbox": timedelta(days=30),  # messages delivered or given up (pending ones are never removed)
    "contacts": timedelta(days=30),  # agents' contacts (sealed phrases), after they expired
    "approvals": timedelta(days=30),  # approval requests, after they expired
    "entry_links": timedelta(days=30),  # entry links for chat (a MAC of their token), after they expired
    "agent_activity": timedelta(days=7),  # the agent watch's window rows (single-instance mode)
    "anomalies": timedelta(days=400),  # cleared agent anomalies (open ones are never removed)
    "console_sessions": timedelta(days=7),  # console sign-in throttles: usernames and client addresses
}
RETENTION_KINDS = tuple(RETENTION_DEFAULTS)
RETENTION_VARIABLES = {
    "verifications": "VERIFY_RETENTION_VERIFICATIONS", "audit_events": "VERIFY_RETENTION_AUDIT_EVENTS",
    "codes": "VERIFY_RETENTION_CODES", "outbox": "VERIFY_RETENTION_OUTBOX", "contacts": "VERIFY_RETENTION_CONTACTS",
    "approvals": "VERIFY_RETENTION_APPROVALS", "entry_links": "VERIFY_RETENTION_ENTRY_LINKS",
    "agent_activity": "VERIFY_RETENTION_AGENT_ACTIVITY",
    "anomalies": "VERIFY_RETENTION_ANOMALIES", "console_sessions": "VERIFY_RETENTION_CONSOLE_SESSIONS",
}


def _default_database_url() -> str:
    """SQLite file under var/ (the embedded, single-instance default)."""
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'verify.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    """Every knob of the service, typed and validated."""

    env: str = "development"
    database_url: str = field(default_factory=_default_database_url)
    redis_url: str | None = None
    lockout_threshold: int = 5
    failure_window_seconds: int = 86400
    lockout_seconds: int = 86400
    verification_ttl_seconds: int = 900
    code_ttl_seconds: int = 300
    code_resend_seconds: int = 30
    code_max_sends_per_hour: int = 5
    code_max_wrong: int = 3
    phone_change_hold_seconds: int = 86400
    default_locale: str = "ja"
    brand_name: str = ""  # unset: customers read "Customer Support" in their language (domain.brand)
    delivery_backend: str = "console"
    sms_webhook_url: str | None = None
    sms_webhook_secret: str | None = None
    events_webhook_url: str | None = None
    events_webhook_secret: str | None = None
    secret_key: str = DEV_SECRET_KEY
    pin_keys: str = DEV_PIN_KEYS
    audit_keys: str = DEV_AUDIT_KEYS
    sms_allowed_countries: tuple[str, ...] = ()
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    outbox_give_up_seconds: int = 3600
    outbox_inprocess: bool = True
    rate_limit_per_second: int = 200
    console_idle_seconds: int = 900
    trusted_proxies: int = 0
    sms_max_per_number_per_hour: int = 10
    sms_max_per_key_per_hour: int = 1000
    sms_max_per_hour: int = 10000
    http_timeout_seconds: float = 5.0
    redis_timeout_seconds: float = 1.0
    db_timeout_seconds: float = 5.0
    audit_anchor_file: str | None = None
    audit_anchor_webhook: bool = False
    audit_anchor_seconds: int = 300
    audit_archive_dir: str | None = None
    contact_ttl_seconds: int = 600
    approval_ttl_seconds: int = 300
    approval_max_per_hour: int = 5

    @property
    def audit_anchoring(self) -> bool:
        """Scheduled anchors are on: a destination is set and the period is not 0."""
        return self.audit_anchor_seconds > 0 and bool(self.audit_anchor_file or self.audit_anchor_webhook)
    # Multi-instance mode (Redis): live API keys are cached per process; a revocation reaches every
    # instance through Redis pub/sub at once, and this bounds an entry's age should that message be lost.
    # 0 looks every key up on every request. Without Redis keys are never cached.
    api_key_cache_seconds: int = 5
    # Agent misuse detection (docs/API.md "Agent misuse detection" says why these defaults).
    agent_max_customers: int = 30
    agent_max_failures: int = 10
    agent_window_seconds: int = 600
    agent_keypad_max_failures: int = 100
    agent_block: bool = False
    # false: a PIN typed by an agent is refused (409); callers enter it on the keypad (IVR) or an entry link.
    agent_pin_entry: bool = True
    # Keypad entry on phone calls (Twilio Programmable Voice): on when the public URL is set.
    ivr_public_url: str | None = None
    ivr_transfer: str | None = None
    ivr_languages: tuple[tuple[str, str], ...] = ()  # (dialled number in E.164, language)
    ivr_default_language: str = "ja"
    ivr_account_prefix: str = ""
    ivr_max_tries: int = 3
    # Entry links for chat: on when the public URL (scheme and host of the customer's page) is set.
    entry_link_public_url: str | None = None
    entry_link_ttl_seconds: int = 600
    entry_link_max_per_customer_per_hour: int = 5
    entry_link_max_per_agent_per_hour: int = 30
    # Per API key (or console user): a key not bound to agent_ids could assert a new agent_id per link.
    entry_link_max_per_key_per_hour: int = 600
    # Requests to /entry/ per client address (IPv6: per /64) per minute, page views and form posts together.
    entry_page_max_per_address_per_minute: int = 30
    # Retention: how long each kind is kept (None: kept forever), how often the worker sweeps (0: never).
    retention: dict[str, timedelta | None] = field(default_factory=dict)
    retention_schedule_seconds: int = 3600

    def keep(self, kind: str) -> timedelta | None:
        """How long `kind` is kept (None: forever): the setting, else the default."""
        return self.retention[kind] if kind in self.retention else RETENTION_DEFAULTS[kind]

    @property
    def single_instance(self) -> bool:
        """True when counters live in the database (no Redis configured)."""
        return self.redis_url is None

    def check_production(self) -> None:
        """Refuse to run production with a weak, default or missing secret, naming each variable."""
        if self.env != "production":
            return
        problems = _weak_secrets(self)
        if self.delivery_backend == "webhook" and not self.sms_webhook_secret:
            problems.append("VERIFY_SMS_WEBHOOK_SECRET is missing")
        if self.events_webhook_url and not self.events_webhook_secret:
            problems.append("VERIFY_EVENTS_WEBHOOK_SECRET is missing")
        if self.delivery_backend == "console":
            problems.append("VERIFY_DELIVERY_BACKEND=console prints codes; choose webhook or twilio")
        if self.audit_anchor_seconds and not self.audit_anchoring:
            problems.append("audit anchors have nowhere to go: set VERIFY_AUDIT_ANCHOR_FILE or "
                            "VERIFY_AUDIT_ANCHOR_WEBHOOK=true (VERIFY_AUDIT_ANCHOR_SECONDS=0 turns them off)")
        if problems:
            raise ConfigError("; ".join(problems))


def _ring_secrets(raw: str) -> list[str]:
    """The secrets of a `KEYID:SECRET,...` ring setting (unparseable parts are left to the ring parser)."""
    return [part.split(":", 1)[1].strip() for part in raw.split(",") if ":" in part]


_DEV_SECRETS = frozenset([DEV_SECRET_KEY, *_ring_secrets(DEV_PIN_KEYS), *_ring_secrets(DEV_AUDIT_KEYS)])


def _weak_secrets(settings: Settings) -> list[str]:
    """Production problems with the secrets (the rules of secret_rules.py), naming each variable."""
    optional = [settings.sms_webhook_secret, settings.events_webhook_secret]
    named = [("VERIFY_SECRET_KEY", [settings.secret_key], True),
             ("VERIFY_PIN_KEYS", _ring_secrets(settings.pin_keys), True),
             ("VERIFY_AUDIT_KEYS", _ring_secrets(settings.audit_keys), True),
             ("VERIFY_SMS_WEBHOOK_SECRET", [optional[0]] if optional[0] else [], False),
             ("VERIFY_EVENTS_WEBHOOK_SECRET", [optional[1]] if optional[1] else [], False)]
    problems = []
    for name, secrets, required in named:
        if required and not secrets:
            problems.append(f"{name} is missing")
        found = [problem for secret in secrets if (problem := secret_problem(name, secret, _DEV_SECRETS))]
        problems.extend(sorted(set(found)))
    return problems + repeated_secrets((name, secrets) for name, secrets, _ in named)


_INT_FIELDS = {
    "lockout_threshold": ("VERIFY_LOCKOUT_THRESHOLD", 1),
    "failure_window_seconds": ("VERIFY_FAILURE_WINDOW_SECONDS", 1),
    "lockout_seconds": ("VERIFY_LOCKOUT_SECONDS", 1),
    "verification_ttl_seconds": ("VERIFY_VERIFICATION_TTL_SECONDS", 1),
    "code_ttl_seconds": ("VERIFY_CODE_TTL_SECONDS", 1),
    "code_resend_seconds": ("VERIFY_CODE_RESEND_SECONDS", 0),
    "code_max_sends_per_hour": ("VERIFY_CODE_MAX_SENDS_PER_HOUR", 1),
    "code_max_wrong": ("VERIFY_CODE_MAX_WRONG", 1),
    "phone_change_hold_seconds": ("VERIFY_PHONE_CHANGE_HOLD_SECONDS", 0),
    "outbox_give_up_seconds": ("VERIFY_OUTBOX_GIVE_UP_SECONDS", 1),
    "rate_limit_per_second": ("VERIFY_RATE_LIMIT_PER_SECOND", 0),
    "console_idle_seconds": ("VERIFY_CONSOLE_IDLE_SECONDS", 1),
    "trusted_proxies": ("VERIFY_TRUSTED_PROXIES", 0),
    "sms_max_per_number_per_hour": ("VERIFY_SMS_MAX_PER_NUMBER_PER_HOUR", 1),
    "sms_max_per_key_per_hour": ("VERIFY_SMS_MAX_PER_KEY_PER_HOUR", 1),
    "sms_max_per_hour": ("VERIFY_SMS_MAX_PER_HOUR", 1),
    "audit_anchor_seconds": ("VERIFY_AUDIT_ANCHOR_SECONDS", 0),
    "api_key_cache_seconds": ("VERIFY_API_KEY_CACHE_SECONDS", 0),
    "contact_ttl_seconds": ("VERIFY_CONTACT_TTL_SECONDS", 1),
    "approval_ttl_seconds": ("VERIFY_APPROVAL_TTL_SECONDS", 1),
    "approval_max_per_hour": ("VERIFY_APPROVAL_MAX_PER_HOUR", 1),
    "agent_max_customers": ("VERIFY_AGENT_MAX_CUSTOMERS", 1),
    "agent_max_failures": ("VERIFY_AGENT_MAX_FAILURES", 1),
    "agent_window_seconds": ("VERIFY_AGENT_WINDOW_SECONDS", 1),
    "agent_keypad_max_failures": ("VERIFY_AGENT_KEYPAD_MAX_FAILURES", 1),
    "ivr_max_tries": ("VERIFY_IVR_MAX_TRIES", 1),
    "entry_link_ttl_seconds": ("VERIFY_ENTRY_LINK_TTL_SECONDS", 60),
    "entry_link_max_per_customer_per_hour": ("VERIFY_ENTRY_LINK_MAX_PER_CUSTOMER_PER_HOUR", 1),
    "entry_link_max_per_agent_per_hour": ("VERIFY_ENTRY_LINK_MAX_PER_AGENT_PER_HOUR", 1),
    "entry_link_max_per_key_per_hour": ("VERIFY_ENTRY_LINK_MAX_PER_KEY_PER_HOUR", 1),
    "entry_page_max_per_address_per_minute": ("VERIFY_ENTRY_PAGE_MAX_PER_ADDRESS_PER_MINUTE", 1),
    "retention_schedule_seconds": ("VERIFY_RETENTION_SCHEDULE_SECONDS", 0),
}
_STR_FIELDS = {
    "env": "VERIFY_ENV",
    "database_url": "VERIFY_DATABASE_URL",
    "redis_url": "VERIFY_REDIS_URL",
    "default_locale": "VERIFY_DEFAULT_LOCALE",
    "brand_name": "VERIFY_BRAND_NAME",
    "delivery_backend": "VERIFY_DELIVERY_BACKEND",
    "sms_webhook_url": "VERIFY_SMS_WEBHOOK_URL",
    "sms_webhook_secret": "VERIFY_SMS_WEBHOOK_SECRET",
    "events_webhook_url": "VERIFY_EVENTS_WEBHOOK_URL",
    "events_webhook_secret": "VERIFY_EVENTS_WEBHOOK_SECRET",
    "secret_key": "VERIFY_SECRET_KEY",
    "pin_keys": "VERIFY_PIN_KEYS",
    "audit_keys": "VERIFY_AUDIT_KEYS",
    "twilio_account_sid": "VERIFY_TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "VERIFY_TWILIO_AUTH_TOKEN",
    "twilio_from": "VERIFY_TWILIO_FROM",
    "twilio_base_url": "VERIFY_TWILIO_BASE_URL",
    "audit_anchor_file": "VERIFY_AUDIT_ANCHOR_FILE",
    "audit_archive_dir": "VERIFY_AUDIT_ARCHIVE_DIR",
    "ivr_public_url": "VERIFY_IVR_PUBLIC_URL",
    "ivr_transfer": "VERIFY_IVR_TRANSFER",
    "ivr_default_language": "VERIFY_IVR_DEFAULT_LANGUAGE",
    "ivr_account_prefix": "VERIFY_IVR_ACCOUNT_PREFIX",
    "entry_link_public_url": "VERIFY_ENTRY_LINK_PUBLIC_URL",
}


def _parse_int(name: str, raw: str, minimum: int) -> int:
    """An integer setting, or a ConfigError that names the variable."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _parse_countries(raw: str) -> tuple[str, ...]:
    """`JP,US` as ISO 3166 alpha-2 region codes."""
    codes = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    bad = [code for code in codes if len(code) != 2 or not code.isalpha()]
    if bad:
        raise ConfigError(f"VERIFY_SMS_ALLOWED_COUNTRIES must list two-letter country codes, got {', '.join(bad)}")
    return codes


def _parse_bool(name: str, raw: str) -> bool:
    """true/false, 1/0, yes/no, on/off."""
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return value in ("true", "1", "yes", "on")


def _validate_backend(values: dict[str, Any]) -> None:
    """The chosen delivery backend has what it needs."""
    backend = values.get("delivery_backend", "console")
    if backend == "webhook" and not values.get("sms_webhook_url"):
        raise ConfigError("VERIFY_DELIVERY_BACKEND=webhook needs VERIFY_SMS_WEBHOOK_URL")
    if backend == "twilio":
        needed = ("twilio_account_sid", "twilio_auth_token", "twilio_from")
        missing = [f"VERIFY_{name.upper()}" for name in needed if not values.get(name)]
        if missing:
            raise ConfigError(f"VERIFY_DELIVERY_BACKEND=twilio needs {', '.join(missing)}")


def _validate_anchors(values: dict[str, Any]) -> None:
    """Scheduled audit anchors have a usable destination and a sensible period."""
    seconds = values.get("audit_anchor_seconds", 300)
    if 0 < seconds < 10:
        raise ConfigError(f"VERIFY_AUDIT_ANCHOR_SECONDS must be 0 (off) or at least 10, got {seconds}")
    if values.get("audit_anchor_webhook") and not values.get("events_webhook_url"):
        raise ConfigError("VERIFY_AUDIT_ANCHOR_WEBHOOK=true needs VERIFY_EVENTS_WEBHOOK_URL")
    path = values.get("audit_anchor_file")
    if path:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise ConfigError(f"VERIFY_AUDIT_ANCHOR_FILE: the folder {folder} does not exist or is not writable")
    archive = values.get("audit_archive_dir")
    if archive and not (os.path.isabs(archive) and os.path.isdir(archive) and os.access(archive, os.W_OK)):
        raise ConfigError(f"VERIFY_AUDIT_ARCHIVE_DIR must be an absolute path to an existing, writable folder, "
                          f"got {archive!r}")


# Where a keypad call goes after its check: a Twilio queue, a TaskRouter workflow, a SIP address, a Voice SDK client
# or a phone number (verify_service/api/ivr_twiml.py carries the verification id to each).
IVR_TRANSFER = re.compile(r"^(queue:[A-Za-z0-9_.-]{1,64}|workflow:WW[0-9a-f]{32}|sip:[A-Za-z0-9_.+-]{1,64}@"
                          r"[A-Za-z0-9.-]{1,190}(:[0-9]{1,5})?|client:[A-Za-z0-9_.-]{1,64}|\+[1-9][0-9]{5,18})\Z")
IVR_PREFIX = re.compile(r"^[A-Za-z0-9_-]{0,32}\Z")


def _parse_ivr_languages(raw: str) -> tuple[tuple[str, str], ...]:
    """`+81312345678=ja,+18005550100=en`: the prompts' language by the number the caller dialled."""
    pairs = []
    for part in (part.strip() for part in raw.split(",") if part.strip()):
        number, _, language = part.partition("=")
        if not re.fullmatch(r"\+[1-9][0-9]{5,18}", number.strip()) or language.strip() not in IVR_LANGUAGES:
            raise ConfigError("VERIFY_IVR_LANGUAGES must list NUMBER=LANGUAGE pairs, the number in E.164 and the "
                              f"language one of {', '.join(IVR_LANGUAGES)}, e.g. +81312345678=ja,+18005550100=en")
        pairs.append((number.strip(), language.strip()))
    return tuple(pairs)


def _validate_ivr(values: dict[str, Any]) -> None:
    """Keypad entry (VERIFY_IVR_PUBLIC_URL set) has its signing token, a transfer target and sane values."""
    if values.get("ivr_default_language", "ja") not in IVR_LANGUAGES:
        raise ConfigError(f"VERIFY_IVR_DEFAULT_LANGUAGE must be one of {', '.join(IVR_LANGUAGES)}")
    if not IVR_PREFIX.match(values.get("ivr_account_prefix", "")):
        raise ConfigError("VERIFY_IVR_ACCOUNT_PREFIX must be up to 32 characters of A-Z, a-z, 0-9, _ and -")
    url = values.get("ivr_public_url")
    if not url:
        return
    production = values.get("env") == "production"
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?" if production else
                        r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", url.rstrip("/")):
        raise ConfigError("VERIFY_IVR_PUBLIC_URL must be the scheme and host Twilio calls, with no path, e.g. "
                          "https://verify.example.com" + (" (https in production)" if production else ""))
    if not values.get("twilio_auth_token"):
        raise ConfigError("VERIFY_IVR_PUBLIC_URL needs VERIFY_TWILIO_AUTH_TOKEN (it checks X-Twilio-Signature)")
    if not IVR_TRANSFER.match(values.get("ivr_transfer") or ""):
        raise ConfigError("VERIFY_IVR_PUBLIC_URL needs VERIFY_IVR_TRANSFER: queue:NAME, workflow:WW..., "
                          "sip:user@host, client:NAME or a number in E.164")


def _validate_entry_links(values: dict[str, Any]) -> None:
    """The entry link page's public URL is a scheme and host (https in production), with no path."""
    url = values.get("entry_link_public_url")
    if not url:
        return
    production = values.get("env") == "production"
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?" if production else
                        r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", url.rstrip("/")):
        raise ConfigError("VERIFY_ENTRY_LINK_PUBLIC_URL must be the scheme and host customers open, with no path, "
                          "e.g. https://verify.example.com" + (" (https in production)" if production else ""))


MULTI_HOST_FORM = "postgresql+psycopg://user@/db?host=h1:5432&host=h2:5432&target_session_attrs=read-write"


def _validate_database_url(url: str) -> None:
    """A PostgreSQL or SQLite URL SQLAlchemy can use (never quoted back: it may hold a password)."""
    scheme, _, rest = url.partition("://")
    if "," in rest.split("/", 1)[0].rsplit("@", 1)[-1]:
        raise ConfigError("VERIFY_DATABASE_URL: the libpq multi-host form (postgresql://u@h1:p1,h2:p2/db) is not "
                          f"understood; list the hosts as query parameters: {MULTI_HOST_FORM}")
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ConfigError("VERIFY_DATABASE_URL is not a database URL SQLAlchemy understands "
                          "(postgresql://user:password@host:5432/db, or sqlite:////absolute/path)") from None
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigError(f"VERIFY_DATABASE_URL must be a PostgreSQL or SQLite URL, got a {scheme}:// URL")


DURATION = re.compile(r"(\d{1,6})([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _parse_duration(name: str, raw: str) -> timedelta | None:
    """`400d`, `12h`, `30m`, `90s`, or `off` (None: kept forever)."""
    value = raw.strip().lower()
    if value == "off":
        return None
    match = DURATION.fullmatch(value)
    if match is None or int(match[1]) == 0:
        raise ConfigError(f"{name} must be a duration such as 400d, 30d, 12h or 90m (or off), got {raw!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def retention_floors(values: dict[str, Any]) -> dict[str, timedelta]:
    """The shortest retention each kind may have: what the service still reads, plus a day.

    Check records rebuild a forgotten lockout counter (failures in the window and the lock they set), so they
    stay for the failure window plus the lock period; the agent watch reads its window; the rest a day.
    """
    day = timedelta(days=1)
    lockout = values.get("failure_window_seconds", 86400) + values.get("lockout_seconds", 86400)
    floors = dict.fromkeys(RETENTION_KINDS, day)
    floors["verifications"] = day + timedelta(seconds=lockout)
    floors["agent_activity"] = day + timedelta(seconds=values.get("agent_window_seconds", 600))
    return floors


def _validate_retention(values: dict[str, Any]) -> None:
    """No kind is kept for less than its floor (a too-short setting would break the lockout, say)."""
    floors = retention_floors(values)
    for kind, keep in values.get("retention", {}).items():
        if keep is not None and keep < floors[kind]:
            raise ConfigError(f"{RETENTION_VARIABLES[kind]} must be at least {_days(floors[kind])} "
                              f"({_FLOOR_WHY.get(kind, 'a day')}), got {_days(keep)}")


_FLOOR_WHY = {
    "verifications": "VERIFY_FAILURE_WINDOW_SECONDS + VERIFY_LOCKOUT_SECONDS + a day: lockout counters are "
                     "rebuilt from check records",
    "agent_activity": "VERIFY_AGENT_WINDOW_SECONDS + a day",
}


def _days(span: timedelta) -> str:
    """A span as the settings write it: whole days when it is, else seconds."""
    seconds = int(span.total_seconds())
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds}s"


def _validate(values: dict[str, Any]) -> None:
    """Cross-field and enumerated checks."""
    if values.get("env", "development") not in ("development", "production", "test"):
        raise ConfigError("VERIFY_ENV must be development, production or test")
    if values.get("default_locale", "ja") not in SUPPORTED_LOCALES:
        raise ConfigError(f"VERIFY_DEFAULT_LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}")
    if values.get("delivery_backend", "console") not in DELIVERY_BACKENDS:
        raise ConfigError(f"VERIFY_DELIVERY_BACKEND must be one of {', '.join(DELIVERY_BACKENDS)}")
    _validate_backend(values)
    _validate_anchors(values)
    _validate_ivr(values)
    _validate_entry_links(values)
    _validate_retention(values)
    if "database_url" in values:
        _validate_database_url(values["database_url"])
    redis_url = values.get("redis_url")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("VERIFY_REDIS_URL must start with redis://, rediss:// or unix://")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment, then apply explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for attr, (name, minimum) in _INT_FIELDS.items():
        if env.get(name, "").strip():
            values[attr] = _parse_int(name, env[name], minimum)
    for attr, name in _STR_FIELDS.items():
        if env.get(name, "").strip():
            values[attr] = env[name].strip()
    if env.get("VERIFY_SMS_ALLOWED_COUNTRIES", "").strip():
        values["sms_allowed_countries"] = _parse_countries(env["VERIFY_SMS_ALLOWED_COUNTRIES"])
    if env.get("VERIFY_OUTBOX_INPROCESS", "").strip():
        values["outbox_inprocess"] = _parse_bool("VERIFY_OUTBOX_INPROCESS", env["VERIFY_OUTBOX_INPROCESS"])
    if env.get("VERIFY_AUDIT_ANCHOR_WEBHOOK", "").strip():
        values["audit_anchor_webhook"] = _parse_bool("VERIFY_AUDIT_ANCHOR_WEBHOOK", env["VERIFY_AUDIT_ANCHOR_WEBHOOK"])
    if env.get("VERIFY_AGENT_BLOCK", "").strip():
        values["agent_block"] = _parse_bool("VERIFY_AGENT_BLOCK", env["VERIFY_AGENT_BLOCK"])
    if env.get("VERIFY_IVR_LANGUAGES", "").strip():
        values["ivr_languages"] = _parse_ivr_languages(env["VERIFY_IVR_LANGUAGES"])
    if env.get("VERIFY_AGENT_PIN_ENTRY", "").strip():
        values["agent_pin_entry"] = _parse_bool("VERIFY_AGENT_PIN_ENTRY", env["VERIFY_AGENT_PIN_ENTRY"])
    retention = {kind: _parse_duration(name, env[name])
                 for kind, name in RETENTION_VARIABLES.items() if env.get(name, "").strip()}
    if retention:
        values["retention"] = retention
    values.update(overrides)
    _validate(values)
    settings = Settings(**values)
    settings.check_production()
    return settings
