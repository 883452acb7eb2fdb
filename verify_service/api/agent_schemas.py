"""Schemas of the agent misuse endpoints (GET /v1/agents/anomalies, POST .../clear)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from verify_service.api.schemas import FullMatch, StrictSchema, UtcDateTime
from verify_service.domain.names import AnomalyKind, AnomalySubject

ANOMALY_ID = FullMatch(r"^ano_[A-Za-z0-9_-]{1,60}$")


class AnomalyQuerySchema(StrictSchema):
    """GET /v1/agents/anomalies query parameters."""

    open = fields.Boolean(metadata={"description": "true: only open anomalies; false: only cleared ones; "
                                                   "absent: both"})
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=500))


class AnomalySchema(Schema):
    """One agent anomaly: open (blocking, with VERIFY_AGENT_BLOCK) until cleared."""

    anomaly_id = fields.String(metadata={"example": "ano_Xc81..."})
    subject = fields.String(validate=validate.OneOf(tuple(AnomalySubject)))
    subject_id = fields.String(metadata={"description": "the agent_id, or the API key's name"})
    agent_id = fields.String(allow_none=True, metadata={"description": "the agent_id the act that raised it "
                                                                       "asserted (null: none, or raised before "
                                                                       "this was kept)"})
    key = fields.String(attribute="key_name", allow_none=True,
                        metadata={"description": "the API key (`console` for a console user) of that act"})
    kind = fields.String(validate=validate.OneOf(tuple(AnomalyKind)))
    count = fields.Integer(metadata={"description": "the count that crossed the threshold"})
    threshold = fields.Integer()
    window_seconds = fields.Integer()
    raised_at = UtcDateTime()
    open = fields.Boolean()
    cleared_at = UtcDateTime(allow_none=True)
    cleared_by = fields.String(allow_none=True)
    clear_reason = fields.String(allow_none=True)


class AnomalyListSchema(Schema):
    """Anomalies, newest first."""

    anomalies = fields.List(fields.Nested(AnomalySchema))
