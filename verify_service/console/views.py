"""The agent console: sign in, verify a caller, send a code, and the supervisor's customer page."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, make_response, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from verify_service.api.schemas import ACCOUNT_ID, CheckRequestSchema, CodeSendSchema, ReasonSchema
from verify_service.console import auth
from verify_service.console.i18n import LANGUAGES, MESSAGES, current_language, event_label, translate
from verify_service.console.words import factor_key, half_width, refusal_key
from verify_service.domain.checks import CheckRequest
from verify_service.domain.codes import SendRequest
from verify_service.domain.model import AuditQuery, round_up_to_second
from verify_service.domain.names import AuditEventName
from verify_service.errors import DependencyUnavailable, NotFound, RateLimited, VerifyError
from verify_service.web import client_ip, load_data, services

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="../templates",
               static_folder="../static", static_url_path="/static")
bp.after_request(auth.no_store)
SAY = {"verified": "say_verified", "rejected": "say_rejected", "locked": "say_locked", "frozen": "say_frozen"}
KEEP = ("account_id", "channel", "ticket_ref")  # what a page's address keeps of the form (never a secret)
TYPED = ("account_id", "pin", "code")  # fields an IME may type in full width


def local_time(moment: datetime | None) -> str:
    """A time in the agent's zone (from the `tz` cookie the page sets), with the zone named."""
    if moment is None:
        return ""
    default = "Asia/Tokyo" if current_language() == "ja" else "UTC"
    try:
        zone = ZoneInfo(unquote(request.cookies.get("tz", "")) or default)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(default)
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S} ({zone.key})"


def local_deadline(moment: datetime | None) -> str:
    """A deadline in the agent's zone, rounded up to the second (never shown earlier than it is)."""
    return local_time(round_up_to_second(moment) if moment is not None else None)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    """Template helpers: translation, language, CSRF token, user, times."""
    return {"t": translate, "lang": current_language(), "csrf_token": auth.csrf_token, "local_time": local_time,
            "local_deadline": local_deadline, "user": session.get("user"), "role": session.get("role"),
            "event_label": event_label, "factor_words": factor_words, "here": here()}


def factor_words(result: Any, given: bool) -> str:
    """One factor's result in words."""
    return translate(factor_key(result, given))


def here() -> str:
    """This page's address to come back to: a form post comes back to its page with the non-secret fields kept."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    if request.endpoint in ("console.verify", "console.send_code"):
        kept: dict[str, Any] = {k: v for k in KEEP if (v := read_field(k))}
        return url_for("console.verify_page", **kept)
    return url_for("console.login") if request.endpoint == "console.login" else url_for("console.verify_page")


def console_path(address: str) -> str | None:
    """The path and query of a console address on this site, or None (never a redirect off the site)."""
    parts = urlsplit(address)
    if parts.scheme not in ("", "http", "https") or parts.netloc not in ("", request.host):
        return None
    if not parts.path.startswith("/console") or "\\" in address or ".." in parts.path:
        return None
    if parts.path in ("/console/verify", "/console/send-code"):  # posted forms: back to the form's page
        return url_for("console.verify_page")
    return parts.path + (f"?{parts.query}" if parts.query else "")


def valid_account_id(value: str) -> bool:
    """True for a well-formed account id."""
    try:
        ACCOUNT_ID(value)
    except ValidationError:
        return False
    return True


def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a console page."""
    return make_response(render_template(f"console/{template}", **context), status)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """Sign in (throttled per user and per address; every attempt audited)."""
    notice = session.pop("flash", None)
    if request.method == "GET":
        return page("login.html", notice=notice and translate(notice))
    auth.check_csrf()
    username = request.form.get("username", "")[:64]
    try:
        user = services().users.sign_in(username, request.form.get("password", ""), client_ip())
    except RateLimited as error:
        return page("login.html", 429, error=translate("throttled", seconds=error.retry_after), username=username)
    except DependencyUnavailable:
        return page("login.html", 503, error=translate("unavailable"), username=username)
    except VerifyError:
        return page("login.html", 401, error=translate("wrong_sign_in"), username=username)
    auth.start_session(user.username, user.role, user.session_epoch)
    return redirect(url_for("console.verify_page"))


@bp.post("/logout")
@auth.signed_in()
def logout() -> Response:
    """Sign out."""
    services().users.audit(AuditEventName.CONSOLE_SIGNED_OUT, str(session["user"]), client_ip())
    services().users.bump_sessions(str(session["user"]))  # a copied cookie stops working too
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/lang/<code>")
def switch_language(code: str) -> Response:
    """Remember the chosen language in a cookie."""
    target = console_path(request.args.get("next", "")) or console_path(request.referrer or "")
    response = redirect(target or url_for("console.verify_page"))
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Strict", httponly=True)
    return response


@bp.get("")
@auth.signed_in()
def verify_page() -> Response:
    """The verify-a-caller form (an address may fill in the account, channel and ticket)."""
    form = {k: half_width(request.args.get(k, ""))[:64] for k in KEEP}
    return page("verify.html", form={**form, "channel": form["channel"] or "phone"})


@bp.post("/verify")
@auth.signed_in()
def verify() -> Response:
    """Run a check as the signed-in agent and show the answer in large type."""
    form = {k: read_field(k) for k in ("account_id", "pin", "code", "channel", "ticket_ref", "approval_id")}
    body = {k: v for k, v in form.items() if v}
    body["agent_id"] = session["user"]
    try:
        check = CheckRequest(**load_data(CheckRequestSchema, body))
        result = services().checks.check(check, auth.actor())
    except VerifyError as error:
        form["pin"] = form["code"] = ""
        return page("verify.html", error.status, form=form, error=_explain(error))
    given = {"pin": bool(form["pin"]), "code": bool(form["code"]), "approval": bool(form["approval_id"])}
    form["pin"] = form["code"] = ""  # never echo a secret back into the page
    say = SAY["locked"] if result.locked_until else SAY[result.result]  # the locking check says "locked" too
    return page("verify.html", form=form, result=result, given=given, say=translate(say))


@bp.post("/send-code")
@auth.signed_in()
def send_code() -> Response:
    """Send a one-time code and show where it went and when a resend is possible."""
    form = {k: read_field(k) for k in KEEP}
    try:
        ACCOUNT_ID(form["account_id"])
        body = load_data(CodeSendSchema, {"agent_id": session["user"], "ticket_ref": form["ticket_ref"] or None})
        challenge = services().codes.send(SendRequest(form["account_id"], **body), auth.actor())
    except VerifyError as error:
        return page("verify.html", error.status, form=form, error=_explain(error))
    except ValidationError:
        return page("verify.html", 400, form=form, error=translate("invalid_account_id"))
    wait = int((challenge.resend_available_at - services().clock.now()).total_seconds())
    return page("verify.html", form=form, challenge=challenge, resend_seconds=max(0, wait))


def read_field(name: str) -> str:
    """A form field, trimmed; the account number, PIN and code also with full-width characters as ASCII."""
    value = request.form.get(name, "")
    return half_width(value) if name in TYPED else value.strip()


def _explain(error: VerifyError) -> str:
    """A refusal in the agent's language, from its code and reason (never the API's English message)."""
    reason = error.details.get("reason") if error.details else None
    if isinstance(reason, str) and f"why_{reason}" in MESSAGES["en"]:  # a refusal a feature explains itself
        return translate(f"why_{reason}")
    if reason == "agent_blocked":
        return translate("agent_blocked")
    key, values = refusal_key(error)
    if key == "refuse_phone_changed":
        values["until"] = local_deadline(_parse_deadline(str(values["until"])))
    return translate(key, **values)


def _parse_deadline(value: str) -> datetime | None:
    """An RFC 3339 deadline from a refusal's details, or None."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@bp.get("/customers")
@auth.signed_in("supervisor")
def customer_page() -> Response:
    """A customer's status, lock, recent events, and the unlock and freeze forms."""
    account_id = request.args.get("account_id", "").strip()
    if not account_id:
        return page("customer.html", customer=None)
    try:
        ACCOUNT_ID(account_id)
        customer = services().customers.get(account_id)
    except (ValidationError, NotFound):
        return page("customer.html", 404, customer=None, error=translate("no_customer"), account_id=account_id)
    events, _ = services().audit.page(AuditQuery(account_id=account_id, limit=20))
    return page("customer.html", customer=customer, now=services().clock.now(),
                lock=services().locks.standing(customer), events=events, notice=session.pop("flash", None))


@bp.post("/customers/<account_id>/<action>")
@auth.signed_in("supervisor")
def customer_action(account_id: str, action: str) -> Response:
    """Unlock, freeze or unfreeze, with a required reason."""
    operations = {"unlock": services().locks.unlock, "freeze": services().locks.freeze,
                  "unfreeze": services().locks.unfreeze}
    if action not in operations or not valid_account_id(account_id):
        return page("customer.html", 404, customer=None, error=translate("no_customer"))
    try:
        reason = load_data(ReasonSchema, {"reason": request.form.get("reason", "")})["reason"]
        operations[action](account_id, reason, auth.actor())
    except VerifyError as error:
        session["flash"] = _explain(error)
        return redirect(url_for("console.customer_page", account_id=account_id))
    session["flash"] = translate("done")
    return redirect(url_for("console.customer_page", account_id=account_id))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    """Console errors as pages, not JSON."""
    message = translate("csrf") if error.description == "csrf" else (
        translate("forbidden") if error.code == 403 else (error.description or ""))
    return page("error.html", error.code or 500, error=message)


from verify_service.console import agents as _agents  # noqa: E402,F401  (registers the agent alerts page)
from verify_service.console import approvals as _approvals  # noqa: E402,F401  (its routes join this blueprint)
from verify_service.console import calls as _calls  # noqa: E402,F401  (the screen pop joins this blueprint)
