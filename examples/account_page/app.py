"""An example account page: the platform's own backend, calling verify-service with a portal key.

It is what a trading platform would put on its signed-in customer page: the support PIN, "is this really
support?" (each agent contacting the customer now in a block of its own, with the phrase they read out and a report
button, or the report already made), approval requests from support to approve or deny (valid until a time shown in
the customer's own time zone), and the self-service unlock that the agent console promises a locked-out caller.
The sign-in here is a stand-in (one demo password): a real platform signs its customers in with its own login and
passes their account number to verify-service.

Self-service unlock (`DELETE /v1/customers/{id}/lock` with the portal key, audited as `customer_unlocked` with the
portal key as actor and the reason below): only for the signed-in customer's own account, only with the session's
CSRF token, and only after the customer types their password again. A stolen or left-open session alone cannot
unlock, and an attacker who has the password already sees the PIN on this page, so unlocking gives them nothing
new. A frozen account (security's hold) is never unfrozen here.

Run:  VERIFY_URL=http://127.0.0.1:8000 VERIFY_PORTAL_KEY=... DEMO_PASSWORD=... \
      .venv/bin/flask --app examples/account_page/app.py run --port 8001
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask, abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

UNLOCK_REASON = "Unlocked by the customer on their account page (password confirmed)"
ZONES = {"ja": "Asia/Tokyo", "en": "UTC"}  # until the browser's script shows the time in the customer's own zone

WORDS = {
    "en": {"title": "Your account", "sign_in": "Sign in", "account": "Account number", "password": "Password",
           "sign_out": "Sign out", "pin": "Support PIN", "show_pin": "Show my support PIN",
           "pin_help": "Read it out only when you called or chatted with support yourself.",
           "contacts": "Is this really support?", "report": "This is not me / I did not ask for this",
           "reported": "Thank you. Our security team has been told; the agent sees your report.",
           "phrase": "Phrase", "approvals": "Requests from support", "approve": "Approve", "deny": "Deny",
           "approved": "Approved.", "denied": "Denied. Our security team has been told.", "refresh": "Refresh",
           "wrong": "Wrong account number or password.", "unavailable": "The service is unavailable; try again.",
           "expires": "valid until", "ticket": "Ticket", "from": "From",
           "contact_reported": "You reported this contact. Our security team has been told and the agent sees it.",
           "locked": "Support cannot check your PIN right now: it was locked after too many wrong entries, until",
           "locked_help": "If that was you, unlock it now. If it was not, someone may know your account number: "
                          "unlock it and change your PIN.",
           "unlock": "Unlock my support PIN checks", "unlock_password": "Your password (to confirm it is you)",
           "unlocked": "Unlocked. Support can check your PIN again.",
           "unlock_wrong": "Wrong password: nothing was unlocked.",
           "frozen": "Your account is on hold for your protection. Please contact our security team."},
    "ja": {"title": "マイページ", "sign_in": "サインイン", "account": "口座番号", "password": "パスワード",
           "sign_out": "サインアウト", "pin": "サポートPIN", "show_pin": "サポートPINを表示",
           "pin_help": "ご自身でサポートに電話・チャットしたときだけお伝えください。",
           "contacts": "本当にサポートからの連絡ですか？", "report": "心当たりがない／依頼していない",
           "reported": "ご報告ありがとうございます。セキュリティ担当に通知し、担当者にも表示されます。",
           "phrase": "合言葉", "approvals": "サポートからの承認依頼", "approve": "承認する", "deny": "拒否する",
           "approved": "承認しました。", "denied": "拒否しました。セキュリティ担当に通知しました。",
           "refresh": "更新", "wrong": "口座番号またはパスワードが違います。",
           "unavailable": "サービスが利用できません。もう一度お試しください。", "expires": "有効期限",
           "ticket": "チケット", "from": "担当",
           "contact_reported": "この連絡を報告済みです。セキュリティ担当に通知し、担当者の画面にも表示されています。",
           "locked": "暗証番号の入力誤りが続いたため、サポートでのPIN確認がロックされています。ロック解除予定：",
           "locked_help": "ご自身による誤入力であれば、ここでロックを解除できます。お心当たりがない場合は、"
                          "口座番号を知る第三者がいるおそれがあります。ロックを解除し、PINを変更してください。",
           "unlock": "PIN確認のロックを解除する", "unlock_password": "パスワード（ご本人確認のため）",
           "unlocked": "ロックを解除しました。サポートで再びPINを確認できます。",
           "unlock_wrong": "パスワードが違います。ロックは解除されていません。",
           "frozen": "お客様保護のため、アカウントを一時停止しています。セキュリティ担当までご連絡ください。"},
}


class VerifyApi:
    """The few verify-service calls an account page makes, with the portal key."""

    def __init__(self, base_url: str, key: str):
        self.base_url, self.key = base_url.rstrip("/"), key

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """One request; the status and the JSON answer (an error's body too)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def customer(self, account_id: str) -> str:
        """The path of a customer."""
        return "/v1/customers/" + urllib.parse.quote(account_id, safe="")


def create_app(*, verify_url: str | None = None, portal_key: str | None = None,
               demo_password: str | None = None) -> Flask:
    """The example account page, talking to verify-service at verify_url."""
    app = Flask(__name__)
    app.secret_key = secrets.token_hex(32)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    api = VerifyApi(verify_url or os.environ.get("VERIFY_URL", "http://127.0.0.1:8000"),
                    portal_key or os.environ["VERIFY_PORTAL_KEY"])
    password = demo_password or os.environ["DEMO_PASSWORD"]
    app.add_template_filter(_local_time, "local_time")
    _routes(app, api, password)
    _unlock_route(app, api, password)
    return app


def _local_time(value: str | None, lang: str) -> str:
    """An API time (RFC 3339, UTC) in the page's language; the page's script then shows it in the browser's zone."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return str(format_datetime(moment, "medium", tzinfo=ZoneInfo(ZONES.get(lang, "UTC")), locale=lang))


def _csrf() -> str:
    """The session's form token."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def _check_csrf() -> None:
    """Refuse a form post without the session's token."""
    if not hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "-")):
        abort(400)


def _require_sign_in() -> None:
    """Refuse a form post from someone who is not signed in."""
    if "account_id" not in session:
        abort(401)


def _routes(app: Flask, api: VerifyApi, password: str) -> None:
    """The sign-in, the account page and its three forms."""

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        """Demo sign-in: an account number that verify-service knows, and the demo password."""
        lang = request.accept_languages.best_match(["ja", "en"]) or "ja"
        if request.method == "GET":
            return render_template("login.html", w=WORDS[lang], lang=lang, csrf=_csrf())
        _check_csrf()
        account_id = request.form.get("account_id", "").strip()
        status, _ = api.call("GET", api.customer(account_id)) if account_id else (404, None)
        if status != 200 or not hmac.compare_digest(request.form.get("password", ""), password):
            page = render_template("login.html", w=WORDS[lang], lang=lang, csrf=_csrf(), error=WORDS[lang]["wrong"])
            return page, 401
        session.clear()
        session["account_id"] = account_id
        return redirect(url_for("account"))

    @app.get("/")
    def account() -> Any:
        """The account page: PIN button, contacts now, pending approvals."""
        if "account_id" not in session:
            return redirect(url_for("login"))
        path = api.customer(session["account_id"])
        status, customer = api.call("GET", path)
        if status != 200:
            return render_template("login.html", w=WORDS["en"], lang="en", csrf=_csrf(),
                                   error=WORDS["en"]["unavailable"]), 503
        lang = customer["locale"] if customer["locale"] in WORDS else "en"
        _, contacts = api.call("GET", path + "/contacts/active")
        _, approvals = api.call("GET", path + "/approvals/pending")
        pin = api.call("GET", path + "/pin")[1] if request.args.get("pin") == "show" else None
        return render_template("account.html", w=WORDS[lang], lang=lang, csrf=_csrf(), customer=customer,
                               contacts=contacts, approvals=approvals, pin=pin, notice=session.pop("notice", None))

    @app.post("/contacts/<contact_id>/report")
    def report(contact_id: str) -> Response:
        """The customer says a contact is not them or that they did not ask for it."""
        _check_csrf()
        _require_sign_in()
        path = f"{api.customer(session['account_id'])}/contacts/{urllib.parse.quote(contact_id, safe='')}/report"
        status, _ = api.call("POST", path, {})
        session["notice"] = "reported" if status == 200 else "unavailable"
        return redirect(url_for("account"))

    @app.post("/approvals/<approval_id>/<answer>")
    def answer(approval_id: str, answer: str) -> Response:
        """Approve or deny a request from support."""
        _check_csrf()
        _require_sign_in()
        if answer not in ("approve", "deny"):
            abort(404)
        path = f"{api.customer(session['account_id'])}/approvals/{urllib.parse.quote(approval_id, safe='')}/answer"
        status, _ = api.call("POST", path, {"answer": answer})
        session["notice"] = ("approved" if answer == "approve" else "denied") if status == 200 else "unavailable"
        return redirect(url_for("account"))

    @app.post("/logout")
    def logout() -> Response:
        """Sign out."""
        _check_csrf()
        session.clear()
        return redirect(url_for("login"))


def _unlock_route(app: Flask, api: VerifyApi, password: str) -> None:
    """The self-service unlock the agent console promises a locked-out caller."""

    @app.post("/unlock")
    def unlock() -> Response:
        """Unlock the signed-in customer's own PIN checks, after they type their password again."""
        _check_csrf()
        _require_sign_in()
        if not hmac.compare_digest(request.form.get("password", ""), password):
            session["notice"] = "unlock_wrong"  # a real platform also throttles and audits wrong passwords
            return redirect(url_for("account"))
        status, _ = api.call("DELETE", api.customer(session["account_id"]) + "/lock", {"reason": UNLOCK_REASON})
        session["notice"] = "unlocked" if status == 200 else "unavailable"
        return redirect(url_for("account"))
