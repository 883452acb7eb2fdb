"""The audit trail, for supervisors and security staff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.http import dump, load_data, query_args, requires, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import AuditPageSchema, AuditQuerySchema
from verify_service.domain.model import Actor, AuditQuery, ChainedEvent

bp = Blueprint("audit", __name__)


def _flatten(item: ChainedEvent) -> dict[str, Any]:
    """An event with its chain fields, as the contract lists them."""
    event = item.event
    return {"id": item.id, "at": event.at, "event": event.event, "account_id": event.account_id,
            "actor": event.actor, "agent_id": event.agent_id, "channel": event.channel,
            "ticket_ref": event.ticket_ref, "ip": event.ip, "details": event.details,
            "prev_hash": item.prev_hash, "hash": item.hash}


@bp.get("/v1/audit")
@requires("admin")
@documented("The audit trail, newest first, filtered, a page at a time (`next_cursor`).",
            response=AuditPageSchema, query=AuditQuerySchema, errors=(400,))
def list_events(actor: Actor) -> tuple[dict[str, Any], int]:
    """Filtered events, newest first, with a cursor to the next page."""
    args = load_data(AuditQuerySchema, query_args())
    cursor = args.pop("cursor", None)
    query = AuditQuery(before_id=int(cursor) if cursor else None, **args)
    events, next_id = services().audit.page(query)
    page = {"events": [_flatten(e) for e in events], "next_cursor": str(next_id) if next_id else None}
    return dump(AuditPageSchema, page)
