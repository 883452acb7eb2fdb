"""Console sessions: signed cookie, idle timeout, CSRF tokens, and the signed-in user as an Actor."""

from __future__ import annotations

import functools
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import abort, redirect, request, session, url_for
from werkzeug.wrappers import Response

from verify_service.domain.model import Actor
from verify_service.web import client_ip, services

F = TypeVar("F", bound=Callable[..., Any])
FLASH = "flash"  # the session key of the notice the next page shows once (views.flash_to, views.flash_taken)
IDLE = "idle"  # the notice of an idle sign-out: its words are chosen when the sign-in page shows it


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return cast(str, session["csrf"])


def check_csrf() -> None:
    """Every console POST carries the session's token (SameSite=Strict is the second line)."""
    given = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(400, description="csrf")


MAX_SESSION_SECONDS = 12 * 3600


def start_session(username: str, role: str, epoch: int) -> None:
    """A fresh session for a signed-in user (new id and CSRF token: no fixation)."""
    now = time.time()
    session.clear()
    session.update(user=username, role=role, epoch=epoch, born=now, seen=now, csrf=secrets.token_urlsafe(32))


def current_user() -> tuple[str, str] | None:
    """(username, role) of a live session: not idle, not too old, and the user still enabled with the
    same role and session epoch (sign-out and `users disable` end every session at once)."""
    if "user" not in session:
        return None
    now, idle = time.time(), services().settings.console_idle_seconds
    user = services().users.current(str(session["user"]))
    if now - float(session.get("seen", 0)) > idle:
        session.clear()
        session[FLASH] = IDLE
        return None
    if (user is None or user.session_epoch != session.get("epoch") or user.role != session.get("role")
            or now - float(session.get("born", 0)) > MAX_SESSION_SECONDS):
        session.clear()
        return None
    if request.headers.get("X-Console-Poll") != "1":  # the page's own polling is not the agent being active
        session["seen"] = now
    return user.username, user.role


def actor() -> Actor:
    """The signed-in user as the actor of domain calls (audited under their name as agent_id)."""
    return Actor(key_name="console", ip=client_ip(), agent_id=cast(str, session["user"]))


def signed_in(*roles: str) -> Callable[[F], F]:
    """Require a live session (and one of the roles, if given); POSTs also need the CSRF token."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("console.login"))
            if roles and user[1] not in roles:
                abort(403)
            if request.method == "POST":
                check_csrf()
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def no_store(response: Response) -> Response:
    """Console pages are never cached (they show customer data)."""
    response.headers["Cache-Control"] = "no-store"
    return response
