"""Reverse verification: agents start and end contacts; the customer's account page shows and reports them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.contact_schemas import (
    CONTACT_ID,
    ActiveContactsSchema,
    ContactReportSchema,
    ContactSchema,
    ContactStartSchema,
)
from verify_service.api.http import account_id_arg, dump, load_body, path_id, requires, services
from verify_service.api.openapi import documented
from verify_service.domain.contacts import StartRequest
from verify_service.domain.model import Actor

bp = Blueprint("contacts", __name__)


def _contact_id(contact_id: str) -> str:
    """A path contact_id; a malformed one names nothing (404)."""
    return path_id(contact_id, CONTACT_ID, "contact")


@bp.post("/v1/customers/<account_id>/contacts")
@requires("agent")
@documented("Start a contact with the customer (one per ticket): the phrase to read out and the name they see.",
            ok=(201, 200), response=ContactSchema, body=ContactStartSchema, errors=(404, 409))
def start_contact(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """201 with a new contact, or 200 with the ticket's active one."""
    account_id = account_id_arg(account_id)
    request = StartRequest(account_id=account_id, **load_body(ContactStartSchema))
    view, created = services().contacts.start(request, actor)
    return dump(ContactSchema, view, 201 if created else 200)


@bp.get("/v1/contacts/<contact_id>")
@requires("agent", "admin")
@documented("A contact's current status and whether the customer reported it.", response=ContactSchema,
            errors=(404,))
def get_contact(contact_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """The contact now (the agent's tool polls this for the customer's report); another key's contact is 404."""
    return dump(ContactSchema, services().contacts.get(_contact_id(contact_id), actor))


@bp.delete("/v1/contacts/<contact_id>")
@requires("agent")
@documented("End a contact early (an ended or expired one is returned as it is).", response=ContactSchema,
            errors=(404,))
def end_contact(contact_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """End the contact; the customer's page stops showing it at once."""
    return dump(ContactSchema, services().contacts.end(_contact_id(contact_id), actor))


@bp.get("/v1/customers/<account_id>/contacts/active")
@requires("portal")
@documented("Who from support is contacting the signed-in customer now, with a sentence in their locale.",
            response=ActiveContactsSchema, errors=(400, 404))
def active_contacts(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """The customer's active contacts and the account page's sentence."""
    return dump(ActiveContactsSchema, services().contacts.active(account_id_arg(account_id)))


@bp.post("/v1/customers/<account_id>/contacts/<contact_id>/report")
@requires("portal")
@documented("The customer says this contact is not them / they did not ask for it (a security event, once).",
            response=ContactSchema, body=ContactReportSchema, errors=(404,), body_required=False)
def report_contact(account_id: str, contact_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Mark the contact reported (idempotent); ended and expired contacts can be reported too."""
    account_id = account_id_arg(account_id)
    contact_id = _contact_id(contact_id)
    reason = load_body(ContactReportSchema).get("reason")
    return dump(ContactSchema, services().contacts.report(account_id, contact_id, reason, actor))
