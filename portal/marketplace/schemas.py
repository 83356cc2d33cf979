"""Marshmallow schemas of the Marketplace and subscriptions API (they validate and document)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.accounts.models import ApiKeyStatus
from portal.apps.models import AppType
from portal.core.apipaging import PageArgs, PageMeta
from portal.core.inputs import Int
from portal.execution.models import JobRunMode
from portal.marketplace.listings import (
    ANNUAL_MONTHS,
    CURRENCIES,
    MAX_TRIAL_DAYS,
    MAX_TRIAL_USAGE,
    SORTS,
    price_for,
)
from portal.marketplace.models import (
    MarketplaceListingStatus,
    SubscriptionStatus,
    SubscriptionType,
)
from portal.marketplace.subscriptions import effective_status

PLANS = [t.name for t in SubscriptionType]
PAID = ["MONTHLY", "ANNUAL", "PAY_AS_YOU_GO"]


class PublishSchema(Schema):
    price = fields.Decimal(
        required=True,
        places=2,
        as_string=True,
        metadata={
            "example": "19.00",
            "description": (
                f"Monthly price; ANNUAL = {ANNUAL_MONTHS} x price a year; PAY_AS_YOU_GO = per pack"
            ),
        },
    )
    currency = fields.String(load_default="USD", validate=validate.OneOf(CURRENCIES))
    subscription_types = fields.List(
        fields.String(validate=validate.OneOf(PLANS)),
        load_default=lambda: ["TRIAL", "MONTHLY"],
        metadata={"example": ["TRIAL", "MONTHLY", "ANNUAL"]},
    )
    trial_usage_limit = Int(
        load_default=10,
        validate=validate.Range(min=0, max=MAX_TRIAL_USAGE),
        metadata={"example": 10},
    )
    trial_days = Int(
        load_default=14,
        validate=validate.Range(min=0, max=MAX_TRIAL_DAYS),
        metadata={"example": 14},
    )
    paid_usage_limit = Int(
        load_default=None, allow_none=True, validate=validate.Range(min=1),
        metadata={"example": 1000, "description": "Runs per period (null = unlimited)"},
    )  # fmt: skip
    support_email = fields.Email(allow_none=True, metadata={"example": "help@example.com"})
    support_url = fields.Url(allow_none=True, validate=validate.Length(max=255))
    preview_enabled = fields.Boolean(load_default=True)


class ListingUpdateSchema(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(["ACTIVE", "PAUSED", "DELISTED"]),
        metadata={"example": "PAUSED"},
    )


class ListingSchema(Schema):
    id = fields.UUID()
    quantum_app_id = fields.UUID()
    name = fields.Function(lambda listing: listing.app.name, metadata={"example": "Bell Pair"})
    description = fields.Function(lambda listing: listing.app.description)
    app_type = fields.Function(lambda listing: listing.app.type.name)
    provider = fields.Function(lambda listing: listing.app.developer.username)
    price = fields.Decimal(as_string=True, metadata={"example": "19.00"})
    annual_price = fields.Function(
        lambda listing: str(price_for(listing, SubscriptionType.ANNUAL)[0])
    )
    currency = fields.String(metadata={"example": "USD"})
    status = fields.Enum(MarketplaceListingStatus)
    subscription_types = fields.List(fields.String(), metadata={"example": ["TRIAL", "MONTHLY"]})
    trial_usage_limit = fields.Integer()
    trial_days = fields.Integer()
    paid_usage_limit = fields.Integer(allow_none=True)
    rating = fields.Float(metadata={"example": 4.5})
    rating_count = fields.Integer(metadata={"example": 12})
    number_of_subscriptions = fields.Function(
        lambda listing: listing.app.metrics.number_of_subscriptions if listing.app.metrics else 0
    )
    preview_enabled = fields.Boolean()
    support_email = fields.String(allow_none=True)
    support_url = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ListingDetailSchema(ListingSchema):
    readme = fields.Function(lambda listing: listing.app.readme_content)
    latest_version = fields.Function(
        lambda listing: (
            listing.app.latest_version.version_number if listing.app.latest_version else None
        )
    )
    preview = fields.Method("_preview")

    def _preview(self, listing):
        version = listing.app.latest_version
        if not listing.preview_enabled or version is None:
            return None
        return {"input_schema": version.input_schema, "program": version.entry_program}


class ListingPageSchema(PageMeta):
    items = fields.List(fields.Nested(ListingSchema))


class BrowseArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=200), metadata={"example": "bell"})
    type = fields.String(validate=validate.OneOf([t.name for t in AppType]))
    offers = fields.String(validate=validate.OneOf(PLANS), metadata={"example": "TRIAL"})
    max_price = fields.Decimal(places=2, validate=validate.Range(min=0), metadata={"minimum": 0})
    min_rating = fields.Float(validate=validate.Range(min=0, max=5))
    sort = fields.String(load_default="popularity", validate=validate.OneOf(SORTS))


class SubscribeSchema(Schema):
    subscription_type = fields.String(
        required=True, validate=validate.OneOf(PAID), metadata={"example": "MONTHLY"}
    )
    success_url = fields.Url(require_tld=False, metadata={"description": "Where to return"})
    cancel_url = fields.Url(require_tld=False)


class SubscriptionSchema(Schema):
    id = fields.UUID()
    quantum_app_id = fields.UUID()
    app_name = fields.Function(lambda sub: sub.app.name)
    subscription_type = fields.Enum(SubscriptionType)
    status = fields.Function(lambda sub: effective_status(sub).name, metadata={"example": "ACTIVE"})
    start_date = fields.DateTime()
    end_date = fields.DateTime(allow_none=True)
    rate = fields.Decimal(as_string=True, allow_none=True)
    usage_limit = fields.Integer(allow_none=True, metadata={"description": "null = unlimited"})
    remaining_usage_count = fields.Integer(allow_none=True, metadata={"example": 9})
    usage_resets_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class CheckoutSchema(Schema):
    subscription = fields.Nested(SubscriptionSchema)
    checkout_url = fields.String(metadata={"description": "Send the buyer here to pay"})
    checkout_session_id = fields.String()
    provider = fields.String(metadata={"example": "local"})


class SubscriptionPageSchema(PageMeta):
    items = fields.List(fields.Nested(SubscriptionSchema))


class SubscriptionArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.name for s in SubscriptionStatus]))


class SubscriptionUpdateSchema(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(["CANCELLED"]),
        metadata={"description": "CANCELLED cancels (same as DELETE)"},
    )


class KeyCreateSchema(Schema):
    name = fields.String(load_default="default", validate=validate.Length(1, 100))
    rate_limit = fields.String(
        load_default=None, allow_none=True, metadata={"example": "60/minute"}
    )
    usage_cap = Int(
        load_default=None, allow_none=True, validate=validate.Range(min=1),
        metadata={"description": "Optional cap on this key's runs (within the subscription's)"},
    )  # fmt: skip


class KeySchema(Schema):
    id = fields.UUID()
    name = fields.String()
    prefix = fields.String(metadata={"example": "qhs_AbCdEfGh"})
    status = fields.Enum(ApiKeyStatus)
    rate_limit = fields.String(allow_none=True)
    remaining_usage_count = fields.Integer(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class NewKeySchema(KeySchema):
    key = fields.String(metadata={"description": "Shown once; store it now"})


class KeyListSchema(Schema):
    items = fields.List(fields.Nested(KeySchema))


class ReviewSchema(Schema):
    id = fields.UUID(dump_only=True)
    user = fields.Function(lambda review: review.user.username, dump_only=True)
    rating = Int(
        required=True,
        validate=validate.Range(1, 5, error="A rating is a whole number of stars from 1 to 5."),
        metadata={"example": 5},
    )
    title = fields.String(allow_none=True, validate=validate.Length(max=100))
    content = fields.String(allow_none=True, validate=validate.Length(max=5000))
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ReviewPageSchema(PageMeta):
    items = fields.List(fields.Nested(ReviewSchema))


class RunSchema(Schema):
    inputs = fields.Dict(keys=fields.String(), load_default=dict, metadata={"example": {}})
    device = fields.String(load_default=None, metadata={"example": "aer-simulator"})
    shots = Int(load_default=None, minimum=1, metadata={"example": 1024})
    run_mode = fields.Enum(JobRunMode, load_default=JobRunMode.ASYNC)
    tags = fields.List(fields.String(validate=validate.Length(max=50)))
    notification_email = fields.Email(allow_none=True)


class RunResultSchema(Schema):
    id = fields.UUID()
    status = fields.Function(lambda job: job.status.name)
    subscription_id = fields.UUID()
    app_version_id = fields.UUID()
    device = fields.String(attribute="device_id")
    shots = fields.Integer()
    remaining_usage_count = fields.Integer(
        allow_none=True,
        metadata={"description": "Runs left on the subscription (null = unlimited)"},
    )
    result_url = fields.Function(lambda job: f"/api/v1/jobs/{job.id}/result")
