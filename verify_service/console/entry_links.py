"""The console's entry links: **Send entry link** on the verify page, then the result live (polled), never a digit.

The signed-in user makes the link as themselves (agent_id = username, owner `user:<username>`): only they see it.
The URL is shown once, on the page that made it; a reload of the link's page shows its status without it.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, session
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.entry_link_schemas import ENTRY_LINK_ID, EntryLinkCreateSchema
from verify_service.console import auth
from verify_service.console.i18n import gettext, local_deadline, value_words
from verify_service.console.views import KEEP, _explain, bp, page, read_field, valid_account_id
from verify_service.console.words import invalid_words
from verify_service.domain.entry_links import OPEN, LinkAsk, LinkView
from verify_service.errors import NotFound, VerifyError
from verify_service.web import load_data, services

POLL_SECONDS = 2  # how often the page asks for the link's status


def status_body(view: LinkView) -> dict[str, Any]:
    """What the live view shows: the status in words, the level and validity of a verified check; no digit."""
    check = view.verification
    detail = ""
    if check is not None and check.verified and str(view.status) == "verified":
        detail = gettext("Level %(level)s", level=check.level) + " · " + gettext(
            "Valid until %(until)s.", until=local_deadline(check.valid_until))
    return {"status": str(view.status), "words": status_words(str(view.status)), "detail": detail,
            "done": view.status not in OPEN, "tries": view.tries, "verification_id": view.verification_id}


def status_words(status: str) -> str:
    """What the agent reads about a link's status, and does next (the catalogs' "entry link status" words)."""
    words = value_words("entry link status", status)
    if words is None:
        raise ValueError(f"no words for the entry link status {status!r}")
    return words


@bp.app_context_processor
def _entry_link_helpers() -> dict[str, Any]:
    """`entry_links_enabled()`: the verify page offers the button only when links are configured."""
    return {"entry_links_enabled": lambda: services().entry_links.enabled}


def _with_link(view: LinkView, url: str | None = None, status: int = 200) -> Response:
    """The verify page with the link's live view (and its URL, on the page that made it)."""
    form = {"account_id": view.account_id, "channel": view.channel, "ticket_ref": view.ticket_ref or ""}
    return page("verify.html", status, form=form, entry_link=view, entry_link_url=url,
                entry_link_state=status_body(view), entry_link_poll=POLL_SECONDS)


@bp.post("/entry-links")
@auth.signed_in()
def create_entry_link() -> Response:
    """Make a link for the verify form's customer, channel and ticket, as the signed-in agent; show its URL once."""
    form = {k: read_field(k) for k in KEEP}
    try:
        if not valid_account_id(form["account_id"]):
            raise ValidationError("account_id")
        body = load_data(EntryLinkCreateSchema, {"agent_id": session["user"], "channel": form["channel"] or "chat",
                                                 "ticket_ref": form["ticket_ref"] or None})
        made = services().entry_links.create(LinkAsk(form["account_id"], **body), auth.actor())
        view = services().entry_links.get(made.link.link_id, auth.actor())
    except ValidationError:
        return page("verify.html", 400, form=form, error=invalid_words("account_id"))
    except VerifyError as error:
        return page("verify.html", error.status, form=form, error=_explain(error))
    return _with_link(view, made.url, 201)


@bp.get("/entry-links/<entry_link_id>")
@auth.signed_in()
def entry_link_page(entry_link_id: str) -> Response:
    """The verify page with one of the user's links (its status live; the URL is not shown again)."""
    try:
        ENTRY_LINK_ID(entry_link_id)
        return _with_link(services().entry_links.get(entry_link_id, auth.actor()))
    except (ValidationError, NotFound):
        return page("verify.html", 404, form={"channel": "chat"}, error=gettext("No such entry link."))
    except VerifyError as error:
        return page("verify.html", error.status, form={"channel": "chat"}, error=_explain(error))


@bp.get("/entry-links/<entry_link_id>/status")
@auth.signed_in()
def entry_link_status(entry_link_id: str) -> Response:
    """The link's status as JSON for the live view (another user's link is 404)."""
    try:
        ENTRY_LINK_ID(entry_link_id)
        view = services().entry_links.get(entry_link_id, auth.actor())
    except (ValidationError, NotFound):
        return Response(status=404)
    except VerifyError as error:
        return Response(status=error.status, headers=error.headers)
    return jsonify(status_body(view))
