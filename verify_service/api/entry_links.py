"""Entry links: an agent makes a single-use link for the customer to type the PIN on the service's own page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.entry_link_schemas import (
    ENTRY_LINK_ID,
    CreatedEntryLinkSchema,
    EntryLinkCreateSchema,
    EntryLinkSchema,
)
from verify_service.api.http import account_id_arg, load_body, path_id, requires, schema_instance, services
from verify_service.api.openapi import documented
from verify_service.domain.entry_links import LinkAsk
from verify_service.domain.model import Actor

bp = Blueprint("entry_links", __name__)


@bp.post("/v1/customers/<account_id>/entry-links")
@requires("agent")
@documented("Make a single-use entry link (paste its URL into the chat): the customer types the PIN on the "
            "service's page, as a check with `entry: link`.", ok=201, response=CreatedEntryLinkSchema,
            body=EntryLinkCreateSchema, errors=(400, 404, 409, 429),
            explain={404: "Unknown customer, or entry links are off (VERIFY_ENTRY_LINK_PUBLIC_URL unset).",
                     409: "The customer is frozen or locked (`details.reason`).",
                     429: "Past the hourly cap per customer, per agent or per key (`details.reason` "
                          "`customer_cap`, `agent_cap`, `key_cap`), or the agent is blocked; see Retry-After."})
def create_entry_link(account_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """201 with the link and its URL (shown only here)."""
    account_id = account_id_arg(account_id)
    made = services().entry_links.create(LinkAsk(account_id=account_id, **load_body(EntryLinkCreateSchema)), actor)
    body: dict[str, Any] = schema_instance(CreatedEntryLinkSchema).dump(made.link)
    body["status"] = made.link.status_at(services().clock.now())
    body["url"] = made.url
    return body, 201


@bp.get("/v1/entry-links/<entry_link_id>")
@requires("agent", "admin")
@documented("An entry link's status and its latest check's verification_id (another key's link is 404; admins "
            "read any). Never the URL.", response=EntryLinkSchema, errors=(404,))
def get_entry_link(entry_link_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """The link now (the agent's tool polls this)."""
    view = services().entry_links.get(path_id(entry_link_id, ENTRY_LINK_ID, "entry link"), actor)
    return schema_instance(EntryLinkSchema).dump(view), 200
