"""The supervisor's agent alerts page: open anomalies in words, and the Clear form (reason required)."""

from __future__ import annotations

from flask import redirect, request, session, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.agent_schemas import ANOMALY_ID
from verify_service.api.schemas import ReasonSchema
from verify_service.console import auth
from verify_service.console.i18n import translate
from verify_service.console.views import bp, page
from verify_service.domain.agent_watch import Anomaly
from verify_service.errors import DependencyUnavailable, NotFound, VerifyError
from verify_service.web import load_data, services


def describe(anomaly: Anomaly) -> str:
    """An anomaly in the supervisor's language."""
    who = translate(f"anomaly_{anomaly.subject}", id=anomaly.subject_id)
    what = translate(f"anomaly_{anomaly.kind}", count=anomaly.count, threshold=anomaly.threshold,
                     minutes=max(1, anomaly.window_seconds // 60))
    return f"{who}: {what}"


@bp.get("/agents")
@auth.signed_in("supervisor")
def agents_page() -> Response:
    """Open agent anomalies, oldest concern first, each with a Clear form."""
    try:
        found = services().watch.anomalies(open_only=True)
    except DependencyUnavailable:
        return page("agents.html", 503, anomalies=[], error=translate("unavailable"))
    return page("agents.html", anomalies=[(a, describe(a)) for a in found], notice=session.pop("flash", None))


@bp.post("/agents/<anomaly_id>/clear")
@auth.signed_in("supervisor")
def clear_anomaly(anomaly_id: str) -> Response:
    """Clear one anomaly with a required reason."""
    try:
        ANOMALY_ID(anomaly_id)
        reason = load_data(ReasonSchema, {"reason": request.form.get("reason", "")})["reason"]
        services().watch.clear(anomaly_id, reason, auth.actor())
    except (NotFound, ValidationError):
        session["flash"] = translate("no_anomaly")
    except VerifyError as error:
        session["flash"] = translate("no_anomaly") if error.status == 409 else translate(
            "error", message=error.message)
    else:
        session["flash"] = translate("done")
    return redirect(url_for("console.agents_page"))
