"""Marshmallow schemas of the billing API."""

from __future__ import annotations

from marshmallow import Schema, fields

from portal.billing import services
from portal.core.apipaging import PageArgs, PageMeta


class BillListArgs(PageArgs):
    pass


class BillItemSchema(Schema):
    id = fields.UUID()
    kind = fields.String(metadata={"example": "job", "description": "job, subscription, usage"})
    description = fields.String(metadata={"example": "Job bell on aer-simulator: 1000 shots"})
    quantity = fields.Integer(metadata={"example": 1, "description": "runs for a job line"})
    unit_price = fields.Decimal(
        as_string=True, metadata={"example": "0.02", "description": "quantity x unit = amount"}
    )
    amount = fields.Decimal(as_string=True, metadata={"example": "0.02"})
    job_id = fields.UUID(allow_none=True)
    subscription_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()


class BillSummarySchema(Schema):
    id = fields.UUID()
    period_start = fields.DateTime(metadata={"example": "2025-03-01T00:00:00+00:00"})
    period_end = fields.DateTime(metadata={"example": "2025-04-01T00:00:00+00:00"})
    currency = fields.String(metadata={"example": "USD"})
    total = fields.Function(
        lambda bill: str(services.bill_total(bill)), metadata={"example": "12.34"}
    )
    paid_amount = fields.Decimal(as_string=True, metadata={"example": "10.00"})
    pending_amount = fields.Decimal(as_string=True, metadata={"example": "2.34"})
    payment_status = fields.String(metadata={"example": "PENDING"})
    billing_date = fields.DateTime()
    due_date = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    invoice_url = fields.String(allow_none=True)
    download_url = fields.Function(lambda bill: f"/api/v1/bills/{bill.id}/download")


class BillSchema(BillSummarySchema):
    items = fields.List(fields.Nested(BillItemSchema))


class BillPageSchema(PageMeta):
    items = fields.List(fields.Nested(BillSummarySchema))
