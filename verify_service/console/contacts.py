"""The console's side of reverse verification: start a contact, show its phrase and the customer's report."""

from __future__ import annotations

from typing import Any

from flask import redirect, session, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from verify_service.api.contact_schemas import CONTACT_ID, ContactStartSchema
from verify_service.api.schemas import ACCOUNT_ID
from verify_service.console import auth
from verify_service.console.i18n import gettext, value_words
from verify_service.console.views import KEEP, _explain, bp, page, read_field
from verify_service.console.words import invalid_words
from verify_service.domain.contacts import ContactView, StartRequest
from verify_service.errors import NotFound, VerifyError
from verify_service.web import load_data, services


@bp.app_context_processor
def _contact_helpers() -> dict[str, Any]:
    """The contact card's words."""
    return {"contact_state": contact_state}


def contact_state(status: Any) -> str:
    """A contact's state in a sentence, as the agent reads it (the catalogs' "contact state" words; a reported
    contact shows the stop order instead); a state with no words of its own reads as recorded."""
    return value_words("contact state", status) or str(status)


def _form(view: ContactView) -> dict[str, str]:
    """The verify form filled in from a contact, so the agent can go on to check the customer."""
    return {"account_id": view.account_id, "channel": view.channel, "ticket_ref": view.ticket_ref}


@bp.post("/contacts")
@auth.signed_in()
def start_contact() -> Response:
    """Start (or resume) the ticket's contact as the signed-in agent, then show it."""
    form = {k: read_field(k) for k in KEEP}
    try:
        ACCOUNT_ID(form["account_id"])
        body = load_data(ContactStartSchema, {"agent_id": session["user"], "channel": form["channel"] or "phone",
                                              "ticket_ref": form["ticket_ref"]})
        view, _ = services().contacts.start(StartRequest(form["account_id"], **body), auth.actor())
    except ValidationError:
        return page("verify.html", 400, form=form, error=invalid_words("account_id"))
    except VerifyError as error:
        return page("verify.html", error.status, form=form, error=_explain(error))
    # After a POST, a redirect: reloading the page refreshes the status instead of posting again.
    return redirect(url_for("console.contact_page", contact_id=view.contact_id))


@bp.get("/contacts/<contact_id>")
@auth.signed_in()
def contact_page(contact_id: str) -> Response:
    """The verify page with the contact's phrase, expiry and, above all, a customer's report."""
    try:
        CONTACT_ID(contact_id)
        view = services().contacts.get(contact_id, auth.actor())  # another user's contact is not found
    except (ValidationError, NotFound):
        return page("verify.html", 404, form={"channel": "phone"}, error=gettext("No such contact."))
    except VerifyError as error:
        return page("verify.html", error.status, form={"channel": "phone"}, error=_explain(error))
    return page("verify.html", form=_form(view), contact=view)


@bp.post("/contacts/<contact_id>/end")
@auth.signed_in()
def end_contact(contact_id: str) -> Response:
    """End the contact early; the customer's page stops showing it."""
    try:
        CONTACT_ID(contact_id)
        services().contacts.end(contact_id, auth.actor())
    except (ValidationError, NotFound):
        return page("verify.html", 404, form={"channel": "phone"}, error=gettext("No such contact."))
    except VerifyError as error:
        return page("verify.html", error.status, form={"channel": "phone"}, error=_explain(error))
    return redirect(url_for("console.contact_page", contact_id=contact_id))
