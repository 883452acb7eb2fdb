"""The agent console's approval requests: send one from the verify page, refresh its status, verify with it."""

from __future__ import annotations

from flask import request, session
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.approval_schemas import ApprovalRequestSchema
from verify_service.api.schemas import APPROVAL_ID
from verify_service.console import auth
from verify_service.console.i18n import gettext
from verify_service.console.views import _explain, bp, page, valid_account_id
from verify_service.domain.approvals import ApprovalAsk
from verify_service.domain.model import Approval
from verify_service.errors import NotFound, VerifyError
from verify_service.web import load_data, services


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
    return _with_approval(approval, notice=gettext(
        "Approval request sent. Ask the customer to open their account page and approve it."))


@bp.get("/approvals/<approval_id>")
@auth.signed_in()
def approval_status(approval_id: str) -> Response:
    """The request's status now (the Refresh link)."""
    try:
        APPROVAL_ID(approval_id)
        approval = services().approvals.get(approval_id)
    except (ValidationError, NotFound):
        return page("verify.html", 404, form={"channel": "phone"}, error=gettext("No such approval request."))
    except VerifyError as error:
        return page("verify.html", error.status, form={"channel": "phone"}, error=_explain(error))
    return _with_approval(approval)
