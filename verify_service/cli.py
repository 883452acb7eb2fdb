"""Command line: keys, pins rekey, audit verify (db comes from Flask-Migrate)."""

from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from verify_service.adapters.anchors import read_anchor_documents
from verify_service.adapters.archive_files import SegmentFiles
from verify_service.adapters.delivery.worker import OutboxWorker
from verify_service.adapters.pacing import background_priority
from verify_service.bootstrap import Services
from verify_service.domain.audit import AnchorSet
from verify_service.domain.keys import ROLES
from verify_service.domain.masking import normalise_phone
from verify_service.domain.model import Actor
from verify_service.domain.phone_refs import REF_HEX_CHARS, REF_PREFIX, phone_ref_input
from verify_service.domain.retention import DEFAULT_BATCH
from verify_service.domain.users import CONSOLE_ROLES, UserService
from verify_service.errors import ConfigError, VerifyError

F = TypeVar("F", bound=Callable[..., Any])
DEMO_ROLES = ("agent", "portal", "admin")


def _services() -> Services:
    """The running app's services."""
    return cast(Services, current_app.extensions["verify"])


def _refusals_as_errors(command: F) -> F:
    """Print a refusal's message and exit 1, with no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except VerifyError as error:
            details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in error.details.items())
            raise click.ClickException(f"{error.message} {details}".strip()) from None

    return cast(F, wrapper)


keys = AppGroup("keys", help="Create, revoke and list API keys.")


@keys.command("create")
@click.option("--name", required=True, help="A unique name; it appears as `actor` in the audit trail.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES), help="Repeatable.")
@click.option("--agent-ids", "agent_ids", multiple=True, metavar="PATTERN",
              help="The agent_ids this agent key may assert, a glob matched in full (desk1-*); repeatable. "
                   "Without it the key may assert any agent_id but a console username.")
@_refusals_as_errors
def create_key(name: str, roles: tuple[str, ...], agent_ids: tuple[str, ...]) -> None:
    """Create a key; the key itself is printed alone on the last line, once."""
    key, secret = _services().keys.create(name, list(roles), agent_ids)
    scope = f", agent_ids {', '.join(key.agent_ids)}" if key.agent_ids else ""
    click.echo(f"created key {key.name!r} with roles {', '.join(key.roles)}{scope}; store it now, it is not kept:")
    click.echo(secret)


@keys.command("revoke")
@click.argument("name")
@_refusals_as_errors
def revoke_key(name: str) -> None:
    """Revoke a key by name; it stops working at once."""
    _services().keys.revoke(name)
    click.echo(f"revoked key {name!r}")


@keys.command("list")
@_refusals_as_errors
def list_keys() -> None:
    """Name, roles, creation, revocation and agent_id patterns of every key (never the key)."""
    for key in _services().keys.list():
        state = f"revoked {key.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if key.revoked_at else "active"
        scope = ",".join(key.agent_ids) if key.agent_ids else ("any-agent-id" if "agent" in key.roles else "-")
        click.echo(f"{key.name}\t{','.join(key.roles)}\t{key.created_at:%Y-%m-%dT%H:%M:%SZ}\t{state}\t{scope}")


def _write_env_file(path: Path, values: dict[str, str]) -> None:
    """KEY=value lines, readable by the owner only (they hold demo secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    os.chmod(path, 0o600)


def _read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a small env file."""
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


@keys.command("demo")
@click.option("--file", "path", type=click.Path(path_type=Path), default=Path("var/demo-keys.env"),
              show_default=True)
@_refusals_as_errors
def demo_keys(path: Path) -> None:
    """Development only: one key per role, kept in a file and reused on later runs."""
    services = _services()
    if services.settings.env == "production":
        raise click.ClickException("demo keys are refused when VERIFY_ENV=production")
    saved = _read_env_file(path)
    names = [f"{role.upper()}_KEY" for role in DEMO_ROLES]
    if not all(saved.get(n) and services.keys.authenticate(saved[n]) for n in names):
        suffix = secrets.token_hex(3)
        saved = {f"{role.upper()}_KEY": services.keys.create(f"demo-{role}-{suffix}", [role])[1]
                 for role in DEMO_ROLES}
        _write_env_file(path, saved)
        click.echo(f"created demo keys, saved in {path} (reused on later runs):")
    else:
        click.echo(f"reusing demo keys from {path}:")
    for name in names:
        click.echo(f"  {name}={saved[name]}")


pins = AppGroup("pins", help="Support PIN maintenance.")


@pins.command("rekey")
@click.option("--batch", default=500, show_default=True, help="Customers per transaction.")
@_refusals_as_errors
def rekey(batch: int) -> None:
    """Re-seal every PIN under the newest key of VERIFY_PIN_KEYS, online; exit 1 if any is left behind."""
    result = _services().customers.rekey_pins(Actor(key_name="cli"), batch=batch)
    click.echo(f"re-sealed {result.moved} PIN(s) under key {result.key_id!r}")
    if result.left:
        raise click.ClickException(f"{result.left} PIN(s) are still under an older key; run rekey again")


audit = AppGroup("audit", help="The tamper-evident audit trail.")


@audit.command("verify")
@click.option("--anchor", "anchor_path", type=click.Path(path_type=Path),
              help="Anchors to check against (default: VERIFY_AUDIT_ANCHOR_FILE): a file of scheduled anchors, "
                   "one per line, or one written by `audit anchor`.")
@click.option("--no-anchor", is_flag=True, help="Recompute the chains only, with no anchor.")
@click.option("--allow-stale-anchor", is_flag=True,
              help="Accept a newest scheduled anchor older than two periods (warn instead of failing).")
@click.option("--archive", "archive_dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Also check the archive segments in DIR offline, end to end, before the database.")
@_refusals_as_errors
def verify_audit(anchor_path: Path | None, no_anchor: bool, allow_stale_anchor: bool,
                 archive_dir: Path | None) -> None:
    """Recompute every hash chain and compare with the anchors; exit 1 if an event was altered or removed."""
    services = _services()
    archived = _check_archive(services, archive_dir) if archive_dir else []
    reader = services.audit
    configured = services.settings.audit_anchor_file
    path = None if no_anchor else anchor_path or (Path(configured) if configured else None)
    anchors = None
    if path is not None:
        try:
            anchors = reader.load_anchors(read_anchor_documents(path))
        except ConfigError as error:
            raise click.ClickException(f"{error} (pass --no-anchor to verify without it)") from None
    report = reader.verify(anchors.heads if anchors else None)
    problems = archived + (anchors.problems if anchors else []) + report.problems
    stale = _stale_anchor(services, anchors, scheduled=anchor_path is None) if anchors else None
    if stale and allow_stale_anchor:
        click.echo(f"WARNING: {stale} (accepted with --allow-stale-anchor)", err=True)
    elif stale:
        problems.append(f"{stale} (pass --allow-stale-anchor to accept it)")
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if anchors is None:
        click.echo("no anchor: removing the newest events or a whole chain would go unseen "
                   "(set VERIFY_AUDIT_ANCHOR_FILE, or pass --anchor FILE)", err=True)
    elif anchors.newest is not None:
        click.echo(f"checked against {anchors.count} anchor(s) in {path}, the newest written "
                   f"{anchors.newest:%Y-%m-%dT%H:%M:%SZ}")
    else:
        click.echo(f"checked against {anchors.count} anchor(s) in {path}")
    if report.archived_chains and not archive_dir:
        click.echo(f"{report.archived_chains} chain(s) continue from an archive checkpoint: `--archive DIR` checks "
                   "the archived events too")
    if report.legacy_events:
        click.echo(f"{report.legacy_events} event(s) predate chained event ids: their ids are checked for order only")
    if problems:
        raise click.ClickException(f"audit trail is NOT intact: {len(problems)} problem(s)")
    click.echo(f"audit trail intact: {report.events} event(s) in {report.chains} chain(s)")


def _check_archive(services: Services, folder: Path) -> list[str]:
    """Check the segments in `folder` offline: their problems (warnings are printed)."""
    report = services.archive.check(SegmentFiles(folder))
    for warning in report.warnings:
        click.echo(f"WARNING: {warning}", err=True)
    click.echo(f"archive: {report.segments} segment(s), {report.chains.events} archived event(s) checked in {folder}")
    return report.problems


@audit.command("archive")
@click.option("--before", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), metavar="DATE",
              help="Archive the events written before this date (UTC).")
@click.option("--older-than", type=click.IntRange(min=1), metavar="DAYS", help="Archive events older than DAYS.")
@click.option("--dry-run", is_flag=True, help="Only count what would leave the database.")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Events deleted per transaction.")
@_refusals_as_errors
def archive_audit(before: datetime | None, older_than: int | None, dry_run: bool, batch: int) -> None:
    """Write old events to signed segments in VERIFY_AUDIT_ARCHIVE_DIR, then delete them from the database."""
    services = _services()
    if (before is None) == (older_than is None):
        raise click.UsageError("give one of --before DATE or --older-than DAYS")
    cutoff = before.replace(tzinfo=UTC) if before else services.clock.now() - timedelta(days=older_than or 0)
    background_priority()
    try:
        removed = services.archive.run(cutoff, dry_run=dry_run, batch=batch)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    stamp = f"{cutoff:%Y-%m-%dT%H:%M:%SZ}"
    if dry_run:
        click.echo(f"would archive and delete {removed} audit event(s) written before {stamp}")
    else:
        click.echo(f"archived and deleted {removed} audit event(s) written before {stamp} "
                   f"(segments in {services.settings.audit_archive_dir})")


def _stale_anchor(services: Services, anchors: AnchorSet, *, scheduled: bool) -> str | None:
    """Why the newest scheduled anchor is too old to rely on (None when it is recent, or anchoring is off).

    Older than two periods means the schedule stopped or was stopped: events removed since then go unseen.
    `scheduled`: the anchors are VERIFY_AUDIT_ANCHOR_FILE's, so they must hold a scheduled anchor at all.
    """
    seconds = services.settings.audit_anchor_seconds
    if not services.settings.audit_anchoring or (anchors.newest is None and not scheduled):
        return None  # no schedule to hold them to, or one anchor exported by `audit anchor`
    if anchors.newest is None:
        return "no scheduled anchor was written: events removed since the schedule began would go unseen"
    age = (services.clock.now() - anchors.newest).total_seconds()
    if age <= 2 * seconds:
        return None
    return (f"the newest anchor was written {anchors.newest:%Y-%m-%dT%H:%M:%SZ}, {age:.0f} s ago, more than two "
            f"periods ({2 * seconds} s): the schedule stopped or was stopped, and events removed since then "
            "would go unseen")


@audit.command("phone-ref")
@click.argument("number")
def phone_ref_audit(number: str) -> None:
    """The phone_ref a number has in audit events, under each key of VERIFY_PIN_KEYS (newest first).

    Audit events name a phone only by this keyed reference; this is how an investigator with a caller's number
    finds its events (compare with the events' `phone_ref` under the same `phone_ref_key`).
    """
    e164 = normalise_phone(number)
    if e164 is None:
        raise click.BadParameter("give a valid number in E.164 form, such as +819012345678", param_hint="NUMBER")
    for mac in _services().vault.macs(phone_ref_input(e164)):
        click.echo(f"{mac.key_id} {REF_PREFIX}{mac.blob.hex()[:REF_HEX_CHARS]}")


@audit.command("anchor")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Where to write it (off the DB host).")
@_refusals_as_errors
def anchor_audit(out: Path) -> None:
    """Export every chain's head, signed; later `audit verify --anchor FILE` proves nothing was rolled back."""
    document = _services().audit.anchor()
    out.write_text(json.dumps(document, sort_keys=True))
    click.echo(f"anchored {len(document['heads'])} chain(s) in {out}")


users = AppGroup("users", help="Agent console users.")


def _read_password() -> str:
    """A password, asked for twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(CONSOLE_ROLES))
@_refusals_as_errors
def create_user(username: str, role: str) -> None:
    """Create a console user; the password is asked for (or read from stdin when piped); audited."""
    user = _services().users.create(username, role, _read_password())
    click.echo(f"created console user {user.username!r} ({user.role})")


def _acts_on_user(name: str, done: str) -> Callable[[Callable[[UserService, str], None]], click.Command]:
    """Register `users NAME USERNAME`: the act (the service audits it), then `done` said with the user's name."""

    def register(act: Callable[[UserService, str], None]) -> click.Command:
        @users.command(name, help=act.__doc__)
        @click.argument("username")
        @_refusals_as_errors
        def command(username: str) -> None:
            act(_services().users, username)
            click.echo(done.format(user=repr(username)))

        return command

    return register


@_acts_on_user("disable", "disabled console user {user}")
def disable_user(service: UserService, username: str) -> None:
    """Disable a console user; their open sessions end at their next request; audited."""
    service.disable(username)


@_acts_on_user("enable", "enabled console user {user}")
def enable_user(service: UserService, username: str) -> None:
    """Re-enable a disabled console user (their old sessions stay ended); audited."""
    service.enable(username)


@_acts_on_user("reset-password", "new password set for console user {user}; their sessions have ended")
def reset_password(service: UserService, username: str) -> None:
    """Set a new password (asked for, or read from stdin when piped); ends the user's sessions; audited."""
    service.reset_password(username, _read_password())


@users.command("list")
@_refusals_as_errors
def list_users() -> None:
    """username, role, created, and `active` or `disabled <when>`, one user per line (never a hash); audited."""
    for user in _services().users.all():
        state = f"disabled {user.disabled_at:%Y-%m-%dT%H:%M:%SZ}" if user.disabled_at else "active"
        click.echo(f"{user.username}\t{user.role}\t{user.created_at:%Y-%m-%dT%H:%M:%SZ}\t{state}")


@users.command("demo")
@click.option("--file", "path", type=click.Path(path_type=Path), default=Path("var/demo-users.env"),
              show_default=True)
@_refusals_as_errors
def demo_users(path: Path) -> None:
    """Development only: a demo agent and supervisor with random passwords, kept in a file."""
    services = _services()
    if services.settings.env == "production":
        raise click.ClickException("demo users are refused when VERIFY_ENV=production")
    saved = _read_env_file(path)
    if not saved.get("AGENT_USER"):
        suffix = secrets.token_hex(2)
        saved = {}
        for role in CONSOLE_ROLES:
            name, password = f"demo-{role}-{suffix}", secrets.token_urlsafe(12)
            services.users.create(name, role, password)
            saved[f"{role.upper()}_USER"], saved[f"{role.upper()}_PASSWORD"] = name, password
        _write_env_file(path, saved)
    click.echo(f"console sign-in (saved in {path}):")
    for role in CONSOLE_ROLES:
        click.echo(f"  {role}: {saved[f'{role.upper()}_USER']} / {saved[f'{role.upper()}_PASSWORD']}")


agents = AppGroup("agents", help="Agents' display names (what customers see when support contacts them).")


@agents.command("name")
@click.argument("agent_id")
@click.argument("display_name")
@click.option("--key", "keys_", multiple=True, metavar="KEY",
              help="Show the name only for contacts this agent key started (repeatable); others see the generic name.")
@_refusals_as_errors
def name_agent(agent_id: str, display_name: str, keys_: tuple[str, ...]) -> None:
    """Set the name customers see for AGENT_ID (an API agent_id or a console username); audited."""
    profile = _services().agents.name(agent_id, display_name, Actor(key_name="cli"), keys_)
    tied = f" for contacts started by key {', '.join(profile.keys)}" if profile.keys else ""
    click.echo(f"agent {profile.agent_id!r} is shown to customers as {profile.display_name!r}{tied}")


@agents.command("names")
@_refusals_as_errors
def list_agent_names() -> None:
    """agent_id, display name, when it was set and the keys it is tied to (`-`: none), one agent per line."""
    for profile in _services().agents.all():
        tied = ",".join(profile.keys) or "-"
        click.echo(f"{profile.agent_id}\t{profile.display_name}\t{profile.updated_at:%Y-%m-%dT%H:%M:%SZ}\t{tied}")


outbox = AppGroup("outbox", help="The durable message outbox.")


@outbox.command("run")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls when idle.")
def run_outbox(interval: float) -> None:
    """Deliver queued messages (and write scheduled audit anchors, run scheduled retention) until stopped."""
    services = _services()
    worker = OutboxWorker(services.outbox, interval=interval, anchors=services.anchors,
                          chores=[services.scheduled_retention()])
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    click.echo(f"outbox worker running (backend {services.settings.delivery_backend}); Ctrl-C stops it")
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    click.echo("outbox worker stopped")


@outbox.command("status")
def outbox_status() -> None:
    """How many messages wait, and since when."""
    count, oldest = _services().outbox.backlog()
    since = f", oldest queued {oldest:%Y-%m-%dT%H:%M:%SZ}" if oldest else ""
    click.echo(f"{count} message(s) pending{since}")


retention = AppGroup("retention", help="Remove data older than its VERIFY_RETENTION_<KIND> setting.")


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@click.option("--batch", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")
def run_retention(dry_run: bool, batch: int) -> None:
    """Remove every kind of data older than its setting, in small batches; print what went, per kind."""
    background_priority()  # it shares the machine with the web workers: checks first
    reports = _services().retention.run(dry_run=dry_run, batch=batch)
    verb = "would remove" if dry_run else "removed"
    for report in reports:
        if report.cutoff is None:
            click.echo(f"{report.kind}: kept forever (VERIFY_RETENTION_{report.kind.upper()}=off)")
        elif report.error is not None:
            click.echo(f"{report.kind}: FAILED ({report.error})", err=True)
        else:
            click.echo(f"{report.kind}: {verb} {report.removed} row(s) older than {report.cutoff:%Y-%m-%dT%H:%M:%SZ}")
    failed = [report.kind for report in reports if report.error is not None]
    if failed:
        raise click.ClickException(f"retention failed for {', '.join(failed)}; run it again")


def register_cli(app: Flask) -> None:
    """Attach the command groups to `flask --app wsgi`."""
    for group in (keys, pins, audit, outbox, users, agents, retention):
        app.cli.add_command(group)
