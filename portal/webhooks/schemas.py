"""Marshmallow schemas of the webhook API."""

from __future__ import annotations

from marshmallow import Schema, fields


class DeliverySchema(Schema):
    id = fields.UUID()
    job_id = fields.UUID()
    attempt = fields.Integer(metadata={"example": 1})
    event = fields.String(metadata={"example": "job.completed"})
    url = fields.String(metadata={"example": "https://example.com/hooks/quantum-hub"})
    replay = fields.Boolean()
    state = fields.String(metadata={"example": "SUCCEEDED", "description": "PENDING, "
                                    "SUCCEEDED (2xx) or FAILED"})  # fmt: skip
    status_code = fields.Integer(allow_none=True, metadata={"example": 200})
    response_excerpt = fields.String(
        allow_none=True, metadata={"description": "The first 500 characters of the answer"}
    )
    error = fields.String(allow_none=True, metadata={"description": "Why no answer came"})
    duration_ms = fields.Integer(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True, metadata={"description": "When due"})
    attempted_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema))


class SecretSchema(Schema):
    secret = fields.String(
        allow_none=True,
        metadata={"example": "whsec_…", "description": "Verifies QH-Signature (null: none yet; "
                  "rotating makes one)"},
    )  # fmt: skip
    updated_at = fields.DateTime(allow_none=True)
