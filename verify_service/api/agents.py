"""Agent misuse anomalies, for supervisors: list them, clear one (lifting its block)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from verify_service.api.agent_schemas import ANOMALY_ID, AnomalyListSchema, AnomalyQuerySchema, AnomalySchema
from verify_service.api.http import dump, load_body, load_data, path_id, query_args, requires, services
from verify_service.api.openapi import documented
from verify_service.api.schemas import ReasonSchema
from verify_service.domain.model import Actor

bp = Blueprint("agents", __name__)


@bp.get("/v1/agents/anomalies")
@requires("admin")
@documented("Agent anomalies, newest first (`open=true`: only the open ones, which block with VERIFY_AGENT_BLOCK).",
            response=AnomalyListSchema, query=AnomalyQuerySchema, errors=(400,))
def list_anomalies(actor: Actor) -> tuple[dict[str, Any], int]:
    """Anomalies, newest first, optionally only open or only cleared ones."""
    args = load_data(AnomalyQuerySchema, query_args())
    found = services().watch.anomalies(args.get("open"), args["limit"])
    return dump(AnomalyListSchema, {"anomalies": found})


@bp.post("/v1/agents/anomalies/<anomaly_id>/clear")
@requires("admin")
@documented("Clear an open anomaly: its block lifts and its subject's window counts reset; the reason is audited.",
            response=AnomalySchema, body=ReasonSchema, errors=(404, 409))
def clear_anomaly(anomaly_id: str, actor: Actor) -> tuple[dict[str, Any], int]:
    """Clear an open anomaly, with a reason."""
    reason = load_body(ReasonSchema)["reason"]  # the body first, as every endpoint that requires one
    anomaly_id = path_id(anomaly_id, ANOMALY_ID, "anomaly")
    return dump(AnomalySchema, services().watch.clear(anomaly_id, reason, actor))
