"""The screen pop: `/console/calls/<call_ref>` shows the checks made on a phone call (a CTI opens it).

Results, levels and how the PIN was entered; never a digit (a check record holds none).
"""

from __future__ import annotations

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.schemas import CALL_REF
from verify_service.console import auth
from verify_service.console.i18n import gettext
from verify_service.console.views import _explain, bp, page
from verify_service.errors import VerifyError
from verify_service.web import services

CALL_CHECKS_SHOWN = 20


@bp.get("/calls/<call_ref>")
@auth.signed_in()
def call_page(call_ref: str) -> Response:
    """A call's checks, newest first, in large type."""
    try:
        CALL_REF(call_ref)
    except ValidationError:
        return page("call.html", 404, call_ref=None, checks=[], error=gettext("That is not a call reference."))
    try:
        checks = services().checks.of_call(call_ref, CALL_CHECKS_SHOWN)
    except VerifyError as error:
        return page("call.html", error.status, call_ref=call_ref, checks=[], error=_explain(error))
    return page("call.html", call_ref=call_ref, checks=checks, now=services().clock.now())
