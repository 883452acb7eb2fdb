"""Supervisors' acts and what they show: unlock, freeze and unfreeze said back with the reason, and the recent
checks of one agent_id or one API key (where an agent alert links)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.schemas import CHECKS_CURSOR, KEY_NAME, ReasonSchema
from verify_service.api.verifications import read_cursor, write_cursor
from verify_service.console import auth
from verify_service.console.i18n import gettext
from verify_service.console.views import _explain, bp, flash_to, page, valid_account_id
from verify_service.console.words import action_done, event_reason
from verify_service.domain.locks import LockService
from verify_service.domain.model import Actor, ChecksQuery
from verify_service.errors import VerifyError
from verify_service.web import load_data, services

CHECKS_SHOWN = 25
# The supervisor's acts on a customer: the only actions the route takes, each a LockService call with a reason.
OPERATIONS: dict[str, Callable[[LockService, str, str, Actor], object]] = {
    "unlock": LockService.unlock, "freeze": LockService.freeze, "unfreeze": LockService.unfreeze,
}


@bp.app_context_processor
def _supervisor_helpers() -> dict[str, Any]:
    """Template helpers of the supervisor's pages."""
    return {"event_reason": event_reason}


@bp.post("/customers/<account_id>/actions/<action>")
@auth.signed_in("supervisor")
def supervise(account_id: str, action: str) -> Response:
    """Unlock, freeze or unfreeze with a required reason, then say what happened and why."""
    if action not in OPERATIONS or not valid_account_id(account_id):
        return page("customer.html", 404, customer=None, error=gettext("No customer with that account number."))
    try:
        reason = load_data(ReasonSchema, {"reason": request.form.get("reason", "")})["reason"]
        OPERATIONS[action](services().locks, account_id, reason, auth.actor())
    except VerifyError as error:
        words = _explain(error)
    else:
        words = action_done(action, account_id, reason)
    return flash_to("console.customer_page", words, account_id=account_id)


@bp.get("/checks")
@auth.signed_in("supervisor")
def checks_page() -> Response:
    """The recent checks of one agent_id (`?agent_id=`) or one API key (`?key=`), newest first, page by page."""
    agent_id, key = request.args.get("agent_id", "")[:64], request.args.get("key", "")
    cursor = request.args.get("cursor", "")
    try:
        if bool(agent_id) == bool(key):
            raise ValidationError("one of agent_id and key")
        if key:
            KEY_NAME(key)
        before = read_cursor(CHECKS_CURSOR(cursor)) if cursor else None
    except ValidationError:
        return page("checks.html", 404, checks=[], error=gettext("Choose an agent or an API key from the alerts."))
    query = ChecksQuery(agent_id=agent_id or None, key=key or None, limit=CHECKS_SHOWN, before=before)
    try:
        found, after = services().checks.page(query)
    except VerifyError as error:
        return page("checks.html", error.status, checks=[], error=_explain(error))
    return page("checks.html", checks=found, agent_id=agent_id, key=key,
                older=write_cursor(after) if after else None)
