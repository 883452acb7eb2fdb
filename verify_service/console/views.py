"""The agent console: sign in, verify a caller, send a code, and the supervisor's customer page."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, make_response, redirect, render_template, request, session, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from verify_service.api.schemas import ACCOUNT_ID, CALL_REF, CheckRequestSchema, CodeSendSchema
from verify_service.console import auth
from verify_service.console.i18n import (
    LANGUAGES,
    current_language,
    gettext,
    local_deadline,
    local_time,
    value_words,
)
from verify_service.console.words import (
    approval_status_word,
    channel_word,
    contact_status_word,
    event_label,
    factor_words,
    half_width,
    invalid_words,
    language_name,
    refusal_words,
    second_factor_word,
    status_word,
)
from verify_service.domain.checks import CheckRequest
from verify_service.domain.codes import SendRequest
from verify_service.domain.model import AuditQuery, Verification
from verify_service.domain.names import AuditEventName
from verify_service.errors import DependencyUnavailable, NotFound, RateLimited, VerifyError
from verify_service.web import client_ip, load_data, services

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="../templates",
               static_folder="../static", static_url_path="/static")
bp.after_request(auth.no_store)
KEEP = ("account_id", "channel", "ticket_ref", "call_ref")  # what a page's address keeps (never a secret)
TYPED = ("account_id", "pin", "code")  # fields an IME may type in full width
CHECK_FIELDS = ("account_id", "pin", "code", "channel", "ticket_ref", "approval_id", "call_ref")
CHECK_EVENTS = (AuditEventName.VERIFICATION_SUCCEEDED, AuditEventName.VERIFICATION_FAILED,
                AuditEventName.VERIFICATION_BLOCKED)
CALL_CHECKS_SHOWN = 5
REPEAT_WAITS, REPEAT_WAIT_SECONDS = 10, 0.2  # a repeat may arrive while the first press is still recording


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    """Template helpers: language, CSRF token, user, times, values in words (gettext is Flask-Babel's)."""
    return {"lang": current_language(), "csrf_token": auth.csrf_token, "local_time": local_time,
            "local_deadline": local_deadline, "user": session.get("user"), "role": session.get("role"),
            "event_label": event_label, "factor_words": factor_words, "status_word": status_word,
            "second_factor_word": second_factor_word, "channel_word": channel_word, "here": here(),
            "approval_status_word": approval_status_word, "contact_status_word": contact_status_word,
            "language_name": language_name}


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


def valid_call_ref(value: str) -> bool:
    """True for a well-formed call reference (never cut to fit: a shortened one could name another call)."""
    try:
        CALL_REF(value)
    except ValidationError:
        return False
    return True


def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a console page (the verify page with the checks of the agent's current call, if it names one)."""
    if template == "verify.html" and "call" not in context:
        context["call"] = current_call(str((context.get("form") or {}).get("call_ref") or ""))
    return make_response(render_template(f"console/{template}", **context), status)


def flash_to(endpoint: str, words: str, **values: Any) -> Response:
    """After a form's act: redirect to a console page that shows `words` once (its `notice`)."""
    session[auth.FLASH] = words
    return redirect(url_for(endpoint, **values))


def flash_taken() -> str | None:
    """The notice kept for this page (`flash_to`'s words, or a sign-out's reason), in words; shown once."""
    notice = session.pop(auth.FLASH, None)
    return None if notice is None else notice_words(str(notice))


def notice_words(notice: str) -> str:
    """A kept notice in the page's language: a sign-out keeps only its reason (no page's language then)."""
    match notice:
        case auth.IDLE:
            return gettext("You were signed out after a period of inactivity.")
    return notice  # words flash_to kept, already in the agent's language


def current_call(call_ref: str) -> dict[str, Any] | None:
    """The call a CTI screen pop named (`?call_ref=`) and its checks, newest first; None without a valid one."""
    if not call_ref or not valid_call_ref(call_ref):
        return None
    try:
        return {"call_ref": call_ref, "checks": services().checks.of_call(call_ref, CALL_CHECKS_SHOWN)}
    except VerifyError:  # a store away: the verify page works without the call's checks
        return None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """Sign in (throttled per user and per address; every attempt audited)."""
    notice = flash_taken()  # a failed sign-in drops it too
    if request.method == "GET":
        return page("login.html", notice=notice)
    auth.check_csrf()
    username = request.form.get("username", "")[:64]
    try:
        user = services().users.sign_in(username, request.form.get("password", ""), client_ip())
    except RateLimited as error:
        return page("login.html", 429, error=gettext(
            "Too many failed sign-ins. Try again in %(seconds)s s.", seconds=error.retry_after), username=username)
    except DependencyUnavailable:
        return page("login.html", 503, error=gettext(
            "The service is unavailable for a moment. Please try again."), username=username)
    except VerifyError:
        return page("login.html", 401, error=gettext("Wrong username or password."), username=username)
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
    form["call_ref"] = ref if valid_call_ref(ref := request.args.get("call_ref", "")) else ""  # a CTI screen pop
    return page("verify.html", form={**form, "channel": form["channel"] or "phone"})


@bp.post("/verify")
@auth.signed_in()
def verify() -> Response:
    """Run a check as the signed-in agent and show the answer in large type."""
    form = {k: read_field(k) for k in (*KEEP, "pin", "code", "approval_id", "flow")}
    body = {k: v for k, v in form.items() if v and k in CHECK_FIELDS}
    body["agent_id"] = session["user"]
    given = {"pin": bool(form["pin"]), "code": bool(form["code"]), "approval": bool(form["approval_id"])}
    form["pin"] = form["code"] = ""  # never echo a secret back into the page
    try:
        check = CheckRequest(**load_data(CheckRequestSchema, body), repeat_guard=True)
        result = services().checks.check(check, auth.actor())
    except VerifyError as error:
        if (error.details or {}).get("reason") == "approval_used" and (first := _first_use(form)) is not None:
            return _answer(form, first, {**given, "pin": first.factors.get("pin") != "not_checked"},
                           notice=gettext("You pressed the button twice: this is the answer of the first press. "
                                          "The second counted nothing."))
        return page("verify.html", error.status, form=form, error=_explain(error))
    return _answer(form, result, given)


def _answer(form: dict[str, str], result: Verification, given: dict[str, bool], **context: Any) -> Response:
    """The verify page with a check's answer; a level-1 answer in a level-2 flow says it is not enough."""
    partial = result.verified and result.level < 2 and form["flow"] == "level2"
    if result.verified and not partial:
        form["flow"] = ""  # done: the next caller starts afresh
    say = "partial" if partial else ("locked" if result.locked_until else result.result)  # the locking check too
    return page("verify.html", form=form, result=result, given=given, partial=partial, say=say_next(say),
                **context)


def say_next(answer: str) -> str:
    """What the agent does next after an answer (the catalogs' "next step" words of each check result; `partial`:
    a level-1 answer in a level-2 flow, after the agent sent a code or an approval request)."""
    if answer == "partial":
        return gettext("Only one factor matched. You may answer questions, but do not change the account: for "
                       "that, verify again with the PIN and the code.")
    words = value_words("next step", answer)
    if words is None:
        raise ValueError(f"no words for the answer {answer!r}")
    return words


def _first_use(form: dict[str, str]) -> Verification | None:
    """The check by this agent that used the approval a repeated submission names (it may still be recording)."""
    try:
        used_at = services().approvals.get(form["approval_id"]).used_at
    except VerifyError:
        return None
    until = None if used_at is None else used_at + timedelta(milliseconds=1)  # its check began before it used it
    for _attempt in range(REPEAT_WAITS):
        events, _cursor = services().audit.page(AuditQuery(account_id=form["account_id"], until=until, limit=20))
        found = [event.details["verification_id"] for event in (item.event for item in events)
                 if event.event in CHECK_EVENTS and event.agent_id == session["user"]
                 and (event.details.get("factors") or {}).get("approval") == "match"]
        if found:
            return services().checks.get(str(found[0]))  # the newest up to the approval's use: the one
        time.sleep(REPEAT_WAIT_SECONDS)
    return None


@bp.post("/send-code")
@auth.signed_in()
def send_code() -> Response:
    """Send a one-time code and show where it went and when a resend is possible (the page's script sends it
    without reloading, so the PIN the agent typed stays in its field)."""
    form = {k: read_field(k) for k in (*KEEP, "flow")}
    try:
        ACCOUNT_ID(form["account_id"])
        body = load_data(CodeSendSchema, {"agent_id": session["user"], "ticket_ref": form["ticket_ref"] or None})
        challenge = services().codes.send(SendRequest(form["account_id"], **body), auth.actor())
    except VerifyError as error:
        return page("verify.html", error.status, form=form, error=_explain(error))
    except ValidationError:
        return page("verify.html", 400, form=form, error=invalid_words("account_id"))
    wait = int((challenge.resend_available_at - services().clock.now()).total_seconds())
    return page("verify.html", form=form, challenge=challenge, resend_seconds=max(0, wait))


def read_field(name: str) -> str:
    """A form field, trimmed; the account number, PIN and code also with full-width characters as ASCII."""
    value = request.form.get(name, "")
    return half_width(value) if name in TYPED else value.strip()


def _explain(error: VerifyError) -> str:
    """A refusal in the agent's language, from its code and reason (never the API's English message)."""
    return refusal_words(error, local_deadline)


@bp.get("/customers")
@auth.signed_in("supervisor")
def customer_page() -> Response:
    """A customer's status, lock, recent events, and the unlock and freeze forms."""
    account_id = request.args.get("account_id", "").strip()
    if not account_id:
        return page("customer.html", customer=None)
    try:
        ACCOUNT_ID(account_id)
        with services().watch.acting(account_id, None, auth.actor(), "lock_view"):  # counted; refused if blocked
            customer = services().customers.get(account_id)
    except (ValidationError, NotFound):
        return page("customer.html", 404, customer=None, error=gettext("No customer with that account number."),
                    account_id=account_id)
    except VerifyError as error:
        return page("customer.html", error.status, customer=None, error=_explain(error), account_id=account_id)
    events, _ = services().audit.page(AuditQuery(account_id=account_id, limit=20))
    return page("customer.html", customer=customer, now=services().clock.now(),
                lock=services().locks.standing(customer), events=events, notice=flash_taken())


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    """Console errors as pages, not JSON."""
    message = gettext("The form expired. Please try again.") if error.description == "csrf" else (
        gettext("Only supervisors can open this page.") if error.code == 403 else (error.description or ""))
    return page("error.html", error.code or 500, error=message)


from verify_service.console import agents as _agents  # noqa: E402,F401  (registers the agent alerts page)
from verify_service.console import approvals as _approvals  # noqa: E402,F401  (its routes join this blueprint)
from verify_service.console import calls as _calls  # noqa: E402,F401  (the screen pop joins this blueprint)
from verify_service.console import entry_links as _entry_links  # noqa: E402,F401  (Send entry link, live result)
from verify_service.console import supervisor as _supervisor  # noqa: E402,F401  (unlock, freeze; checks by agent)
