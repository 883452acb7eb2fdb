"""The agent console's approval requests: send one from the verify page, refresh its status, verify with it."""

from __future__ import annotations

from flask import request, session
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.approval_schemas import ApprovalRequestSchema
from verify_service.api.schemas import APPROVAL_ID
from verify_service.console import auth
from verify_service.console.i18n import MESSAGES, translate
from verify_service.console.views import _explain, bp, page, valid_account_id
from verify_service.domain.approvals import ApprovalAsk
from verify_service.domain.model import Approval
from verify_service.errors import NotFound, VerifyError
from verify_service.web import load_data, services

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "approval": "Approval", "approval_heading": "Approval request on the customer's account page",
        "approval_reason": "Reason shown to the customer", "send_approval": "Send approval request",
        "approval_sent": "Approval request sent. Ask the customer to open their account page and approve it.",
        "approval_asked": "Asked: {reason}. Valid until {until}.", "refresh": "Refresh",
        "verify_with_approval": "Verify with approval",
        "approval_pending": "PENDING: waiting for the customer to answer on their account page.",
        "approval_approved": "APPROVED by the customer. Verify with it (with the PIN for level 2).",
        "approval_denied": "DENIED by the customer. Do not continue: the customer did not ask for this.",
        "approval_expired": "EXPIRED. Send a new request if the customer is still with you.",
        "approval_superseded": "REPLACED by a newer request.", "approval_used": "USED by a check already.",
        "why_approval_pending": "The customer has not approved the request yet. Press Refresh, then verify.",
        "no_approval": "No such approval request.",
    },
    "ja": {
        "approval": "承認", "approval_heading": "お客様のマイページへの承認リクエスト",
        "approval_reason": "お客様に表示する理由", "send_approval": "承認リクエストを送信",
        "approval_sent": "承認リクエストを送信しました。お客様にマイページを開いて承認していただくようお伝えください。",
        "approval_asked": "依頼内容：{reason}。{until} まで有効です。", "refresh": "更新",
        "verify_with_approval": "承認で確認する",
        "approval_pending": "承認待ち：お客様がマイページで回答するのを待っています。",
        "approval_approved": "お客様が承認しました。この承認で確認してください（PINと合わせるとレベル2）。",
        "approval_denied": "お客様が拒否しました。手続きを進めないでください。お客様ご本人の依頼ではありません。",
        "approval_expired": "期限切れです。お客様との通話が続いていれば、もう一度送信してください。",
        "approval_superseded": "新しいリクエストに置き換えられました。", "approval_used": "本人確認に使用済みです。",
        "why_approval_pending": "お客様はまだ承認していません。「更新」を押してから確認してください。",
        "no_approval": "この承認リクエストは見つかりません。",
    },
}
for _language, _texts in TEXTS.items():
    MESSAGES[_language].update(_texts)


def _with_approval(approval: Approval, status: int = 200, **context: object) -> Response:
    """The verify page showing one approval request (and the form filled for its customer)."""
    form = {"account_id": approval.account_id, "channel": approval.channel, "ticket_ref": approval.ticket_ref or ""}
    return page("verify.html", status, form=form, approval=approval,
                approval_status=approval.status_at(services().clock.now()), **context)


@bp.post("/approvals")
@auth.signed_in()
def send_approval() -> Response:
    """Ask the customer to approve on their account page, as the signed-in agent."""
    form = {k: request.form.get(k, "").strip() for k in ("account_id", "channel", "ticket_ref", "reason")}
    try:
        if not valid_account_id(form["account_id"]):
            raise NotFound()
        body = load_data(ApprovalRequestSchema, {"reason": form["reason"], "agent_id": session["user"],
                                                 "channel": form["channel"] or "phone",
                                                 "ticket_ref": form["ticket_ref"] or None})
        approval = services().approvals.request(ApprovalAsk(form["account_id"], **body), auth.actor())
    except VerifyError as error:
        return page("verify.html", error.status, form=form, error=_explain(error))
    return _with_approval(approval, notice=translate("approval_sent"))


@bp.get("/approvals/<approval_id>")
@auth.signed_in()
def approval_status(approval_id: str) -> Response:
    """The request's status now (the Refresh link)."""
    try:
        APPROVAL_ID(approval_id)
        approval = services().approvals.get(approval_id)
    except (ValidationError, NotFound):
        return page("verify.html", 404, form={"channel": "phone"}, error=translate("no_approval"))
    except VerifyError as error:
        return page("verify.html", error.status, form={"channel": "phone"}, error=_explain(error))
    return _with_approval(approval)
