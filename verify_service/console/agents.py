"""The supervisor's agent alerts page: open anomalies in words, and the Clear form (reason required)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.agent_schemas import ANOMALY_ID
from verify_service.api.schemas import ReasonSchema
from verify_service.console import auth
from verify_service.console.i18n import gettext
from verify_service.console.views import bp, flash_taken, flash_to, page
from verify_service.domain.agent_watch import Anomaly
from verify_service.errors import DependencyUnavailable, NotFound, VerifyError
from verify_service.web import load_data, services


@dataclass(frozen=True)
class Alert:
    """An anomaly as the alerts table shows it: who, what, how many."""

    who: str
    what: str
    count: int


def describe(anomaly: Anomaly) -> Alert:
    """An anomaly in the supervisor's language, one table row."""
    who = (gettext("API key %(id)s", id=anomaly.subject_id) if anomaly.subject == "key"
           else gettext("Agent %(id)s", id=anomaly.subject_id))
    values = {"threshold": anomaly.threshold, "minutes": max(1, anomaly.window_seconds // 60)}
    if anomaly.kind == "distinct_customers":
        what = gettext("Different customers looked up (limit %(threshold)s in %(minutes)s min)", **values)
    else:
        what = gettext("Failed checks (limit %(threshold)s in %(minutes)s min)", **values)
    return Alert(who=who, what=what, count=anomaly.count)


@bp.get("/agents")
@auth.signed_in("supervisor")
def agents_page() -> Response:
    """Open agent anomalies, oldest concern first, each with a Clear form."""
    try:
        found = services().watch.anomalies(open_only=True)
    except DependencyUnavailable:
        return page("agents.html", 503, anomalies=[], error=gettext(
            "The service is unavailable for a moment. Please try again."))
    return page("agents.html", anomalies=[(a, describe(a)) for a in found], notice=flash_taken())


@bp.post("/agents/<anomaly_id>/clear")
@auth.signed_in("supervisor")
def clear_anomaly(anomaly_id: str) -> Response:
    """Clear one anomaly with a required reason."""
    try:
        ANOMALY_ID(anomaly_id)
        reason = load_data(ReasonSchema, {"reason": request.form.get("reason", "")})["reason"]
        cleared = services().watch.clear(anomaly_id, reason, auth.actor())
    except (NotFound, ValidationError):
        words = gettext("That alert is not open any more.")
    except VerifyError as error:
        words = gettext("That alert is not open any more.") if error.status == 409 else gettext(
            "Something went wrong: %(message)s", message=error.message)
    else:
        words = gettext("Alert cleared for %(who)s; reason: %(reason)s", who=describe(cleared).who, reason=reason)
    return flash_to("console.agents_page", words)
