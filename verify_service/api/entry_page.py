"""The customer's entry link page (public, under /entry/): type the support PIN, and the authenticator code if enrolled.

Outside /v1: the link's token is the credential. The page sets no cookie, loads nothing from elsewhere (its style is
inline, allowed by its hash), and is sent with a strict CSP, no-store and no-referrer. An expired, used or unknown
token gets one page, byte for byte, in the language of the browser. Nothing here logs the path (the access log
names the route, `/entry/<token>`; verify_service.logs redacts any /entry/ path a line might still hold).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import secrets
import time
import unicodedata
from pathlib import Path
from typing import Any

import flask_babel
from flask import Blueprint, Response, render_template, request

from verify_service.api.http import client_ip, services
from verify_service.config import SUPPORTED_LOCALES
from verify_service.domain.entry_links import InvalidLink, LinkPage, Submitted
from verify_service.domain.model import Verification
from verify_service.errors import DependencyUnavailable, NotFound, VerifyError

bp = Blueprint("entry_page", __name__, template_folder="../templates")
STYLE = (Path(__file__).resolve().parent.parent / "templates" / "entry" / "entry.css").read_text("utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Pragma": "no-cache",
           "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "X-Robots-Tag": "noindex, nofollow", "Cross-Origin-Resource-Policy": "same-origin"}
BUSY_WAIT_SECONDS = 5.0  # how long a repeated form waits for its first copy's check before saying "try again"


@bp.before_request
def limit_per_address() -> Response | None:
    """429 past VERIFY_ENTRY_PAGE_MAX_PER_ADDRESS_PER_MINUTE from one client address; 503 if the count's store is
    down (fail closed). Counted before any token is looked up, so a flood costs no database read or PIN check."""
    try:
        wait = services().entry_page_limit.hit(address_key(client_ip()), services().clock.now())
    except VerifyError as error:
        return _unavailable(error)
    if wait is None:
        return None
    response = _render("too_many", _browser_language(), 429, brand=services().settings.brand_name)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def address_key(address: str | None) -> str:
    """What one client is counted by: its IPv4 address, or its IPv6 /64 (one subscriber's usual allocation, so
    rotating addresses inside it gains nothing). The address comes from ProxyFix only with VERIFY_TRUSTED_PROXIES."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@bp.get("/entry/<token>")
def entry_page(token: str) -> Response:
    """The form of a usable link; the "no longer valid" page for any other token. Changes nothing."""
    try:
        link = services().entry_links.page(token)
    except (InvalidLink, NotFound):
        return _invalid()
    except VerifyError as error:
        return _unavailable(error)
    return _form_page(link, token)


@bp.post("/entry/<token>")
def entry_submit(token: str) -> Response:
    """Check what the customer typed (one check per form, however often it is sent)."""
    submission = request.form.get("submission", "")[:64]
    pin, code = _digits("pin"), _digits("code")
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    try:
        while True:
            done = services().entry_links.submit(token, submission, pin, code or None, client_ip())
            if done.kind != "busy" or not done.own or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # the same form sent twice: wait for the first copy's answer
        return _answer(done, token)
    except (InvalidLink, NotFound):
        return _invalid()
    except VerifyError as error:
        return _unavailable(error)


def _answer(done: Submitted, token: str) -> Response:
    """The page after a submission: the result, or the form again with what went wrong."""
    if done.kind == "checked":
        assert done.verification is not None
        return _result(done.verification, done.locale, token)
    page = services().entry_links.page(token)  # InvalidLink if it died meanwhile
    problem = "input" if done.kind == "invalid_input" else "busy"
    return _form_page(page, token, problem=problem, status=400 if problem == "input" else 409)


def _result(verification: Verification, locale: str, token: str) -> Response:
    """Verified, locked or frozen end the link; a wrong entry shows the form again (the link stays open)."""
    if verification.result == "rejected" and verification.locked_until is None:
        page = services().entry_links.page(token)
        return _form_page(page, token, problem="wrong", remaining=verification.attempts_remaining)
    state = "locked" if verification.result == "rejected" else verification.result
    return _render("result", locale, state=state, brand=services().settings.brand_name)


def _form_page(page: LinkPage, token: str, *, problem: str | None = None, remaining: int | None = None,
               status: int = 200) -> Response:
    """The PIN form (or the clear page of a frozen or locked customer: no form, nothing to count)."""
    if page.standing.frozen or page.standing.locked:
        state = "frozen" if page.standing.frozen else "locked"
        return _render("result", page.locale, state=state, brand=page.brand)
    return _render("form", page.locale, status, page=page, problem=problem, remaining=remaining,
                   submission=secrets.token_urlsafe(16))


def _invalid() -> Response:
    """One page for every token that opens nothing (same status and body whatever the reason)."""
    return _render("invalid", _browser_language(), 404, brand=services().settings.brand_name)


def _unavailable(error: VerifyError) -> Response:
    """A store is down: try again shortly (nothing was counted)."""
    response = _render("unavailable", _browser_language(), 503, brand=services().settings.brand_name)
    if isinstance(error, DependencyUnavailable):
        response.headers.update(error.headers)
    else:
        response.status_code = error.status if error.status >= 400 else 503
    return response


def _render(view: str, locale: str, status: int = 200, **context: Any) -> Response:
    """A page of the entry link in one language, with the page's headers."""
    with flask_babel.force_locale(locale):
        html = render_template("entry/page.html", view=view, page_lang=locale, style=STYLE, **context)
    return Response(html, status, headers=HEADERS, mimetype="text/html")


def _digits(name: str) -> str:
    """A typed field with full-width digits (a Japanese IME) as ASCII, spaces dropped."""
    value = unicodedata.normalize("NFKC", request.form.get(name, "")[:32])
    return "".join(value.split())


def _browser_language() -> str:
    """The best of Accept-Language among the shipped languages, else the default locale."""
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or services().settings.default_locale
